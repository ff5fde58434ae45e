//===- onerec-tokenize.cpp - item embeddings -> semantic-ID catalog -------===//
//
// onerec-tokenize EMB.npy -o catalog.safetensors [options]
// onerec-tokenize --ckpt CKPT.safetensors --tensor NAME -o catalog ...
//
// Balanced RQ-KMeans (data/include/onerec/Data/RqKMeans.h) over the rows of
// an embedding matrix, row r being dataset item id r; the codes, their trie
// and the codebooks are written as a catalog (Catalog.h, docs/tokenizer.md).
// Progress goes to stderr, the statistics as JSON to stdout.
//
// Exit status: 0 ok, 1 an error in the inputs, 2 a usage error. Links no
// LLVM or MLIR.
//
//===----------------------------------------------------------------------===//

#include "NpyReader.h"

#include "onerec/Data/Catalog.h"
#include "onerec/Data/Dataset.h"
#include "onerec/Data/RqKMeans.h"
#include "onerec/Runtime/Safetensors.h"
#include "onerec/Runtime/TensorIO.h"

#include "../common/ToolArgs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace onerec;
using runtime::printableText;
using runtime::Status;
using runtime::StatusOr;

using onerec::tools::ToolArgs;

namespace {

constexpr const char *kUsage =
    R"(usage: onerec-tokenize EMB.npy -o CATALOG [options]
       onerec-tokenize --ckpt CKPT.safetensors --tensor NAME -o CATALOG [options]

Item embeddings (row r = dataset item id r) -> semantic IDs by balanced
RQ-KMeans, written as a catalog (safetensors: item_ids, codes, trie,
codebooks, statistics). See docs/tokenizer.md.

options:
  -o, --output FILE    the catalog to write (atomically)
  --levels L           codes per item (default 3)
  --codebook K         codes per level (default 256; 8192 for large catalogs)
  --seed S             k-means initialisation seed (default 0)
  --iters N            k-means iterations per level at most (default 20)
  --first-row F        skip rows before F, e.g. 1 for padding row 0 (default 0)
  --data DIR           check that every item 1..items of this dataset has a row
  --stats FILE         also write the statistics JSON to FILE
  --threads T          worker threads (default: one per core; codes do not
                       depend on it)
  --quiet              no progress on stderr
  -h, --help
)";

int error(const std::string &message) {
  fmt::print(stderr, "onerec-tokenize: error: {}\n", printableText(message));
  return 1;
}

int usageError(const std::string &message) {
  fmt::print(stderr, "onerec-tokenize: error: {}\n{}", printableText(message),
             kUsage);
  return 2;
}

size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

/// The tensor `name` of a checkpoint as a float matrix (F32, F16 or BF16,
/// rank 2); an unknown name lists the nearest matrices.
StatusOr<tools::FloatMatrix> readCheckpointTensor(const std::string &path,
                                                  const std::string &name) {
  auto opened = runtime::SafetensorsFile::open(path);
  if (!opened)
    return opened.status();
  const runtime::SafetensorsFile &file = **opened;
  auto isFloat = [](runtime::DType t) {
    return t == runtime::DType::f32 || t == runtime::DType::f16 ||
           t == runtime::DType::bf16;
  };
  const runtime::SafetensorsEntry *entry = file.find(name);
  if (!entry) {
    std::vector<std::pair<size_t, std::string>> near;
    for (const runtime::SafetensorsEntry &e : file.entries())
      if (e.shape.rank == 2 && isFloat(e.dtype))
        near.push_back({editDistance(name, e.name), e.name});
    std::sort(near.begin(), near.end());
    std::string list;
    for (size_t i = 0; i < near.size() && i < 3; ++i)
      list += fmt::format("{}'{}' {}", i ? ", " : "", near[i].second,
                          file.find(near[i].second)->shape.toString());
    return Status::error(Status::Code::NotFound,
                         fmt::format("{}: no tensor '{}'{}", path, name,
                                     list.empty()
                                         ? " (and no float matrix at all)"
                                         : "; did you mean " + list + "?"));
  }
  if (entry->shape.rank != 2 || !isFloat(entry->dtype))
    return Status::error(
        Status::Code::InvalidArgument,
        fmt::format("{}: tensor '{}' is {} {}, expected a float matrix "
                    "(items x dimensions)",
                    path, name, runtime::safetensorsDTypeName(entry->dtype),
                    entry->shape.toString()));
  tools::FloatMatrix m;
  m.rows = entry->shape[0];
  m.cols = entry->shape[1];
  m.values.resize(static_cast<size_t>(m.rows * m.cols));
  runtime::TensorView view{entry->dtype, entry->shape,
                           const_cast<std::byte *>(file.data(*entry))};
  if (entry->dtype == runtime::DType::f32) {
    std::memcpy(m.values.data(), view.data, m.values.size() * sizeof(float));
  } else {
    for (size_t i = 0; i < m.values.size(); ++i)
      m.values[i] = static_cast<float>(
          runtime::elementAsDouble(view, static_cast<int64_t>(i)));
  }
  return m;
}

int run(int argc, char **argv) {
  ToolArgs args(argc, argv, 1, {{"-o", "--output"}, {"-h", "--help"}});
  std::string message =
      args.parse({"--output", "--levels", "--codebook", "--seed", "--iters",
                  "--first-row", "--data", "--stats", "--threads", "--ckpt",
                  "--tensor", "!--quiet", "!--help"});
  if (!message.empty())
    return usageError(message);
  if (args.flag("--help")) {
    fmt::print("{}", kUsage);
    return 0;
  }
  std::optional<std::string> ckpt = args.value("--ckpt"),
                             tensor = args.value("--tensor"),
                             output = args.value("--output");
  if (ckpt && !args.positionals().empty())
    return usageError("give either EMB.npy or --ckpt, not both");
  if (!ckpt && args.positionals().size() != 1)
    return usageError(args.positionals().empty()
                          ? "no embeddings: give EMB.npy or --ckpt FILE "
                            "--tensor NAME"
                          : "more than one EMB.npy");
  if (ckpt && !tensor)
    return usageError("--ckpt needs --tensor NAME (e.g. item_emb)");
  if (tensor && !ckpt)
    return usageError("--tensor needs --ckpt FILE");
  if (!output)
    return usageError("no output: give -o CATALOG");

  data::RqKMeansOptions options;
  int64_t firstRow = 0;
  unsigned threads = 0;
  for (const std::string &m :
       {args.integer("--levels", options.levels, 1, 64),
        args.integer("--codebook", options.codebook, 1, INT32_MAX),
        args.integer("--seed", options.seed, 0, INT64_MAX),
        args.integer("--iters", options.iterations, 1, 100000),
        args.integer("--first-row", firstRow, 0, INT64_MAX),
        args.integer("--threads", threads, 0, 4096)})
    if (!m.empty())
      return usageError(m);
  options.threads = threads;
  bool quiet = args.flag("--quiet");

  // The embeddings.
  std::string source = ckpt ? *ckpt : args.positionals()[0];
  StatusOr<tools::FloatMatrix> read = ckpt
                                          ? readCheckpointTensor(*ckpt, *tensor)
                                          : tools::readNpyMatrix(source);
  if (!read)
    return error(read.status().message());
  tools::FloatMatrix &matrix = *read;
  std::string what =
      ckpt ? fmt::format("{} tensor '{}'", source, *tensor) : source;
  if (firstRow >= matrix.rows)
    return error(fmt::format("--first-row {} leaves no rows: {} has {}",
                             firstRow, what, matrix.rows));
  int64_t rows = matrix.rows - firstRow;
  if (options.codebook > rows)
    return error(fmt::format("--codebook {} is larger than the {} items ({} "
                             "rows from row {}); use at most {}",
                             options.codebook, rows, what, firstRow, rows));

  // Every item of the dataset needs a row, and no row may be padding or an
  // item the dataset lacks.
  if (auto dir = args.value("--data")) {
    auto dataset = data::Dataset::open(*dir);
    if (!dataset)
      return error(dataset.status().message());
    int64_t items = static_cast<int64_t>((*dataset)->numItems());
    if (firstRow == 0)
      return error(fmt::format("{}: row 0 is item 0, the padding id of {}; "
                               "skip it with --first-row 1",
                               what, *dir));
    if (firstRow > 1)
      return error(fmt::format("--first-row {} skips items 1..{} of {}",
                               firstRow, firstRow - 1, *dir));
    if (matrix.rows - 1 != items)
      return error(fmt::format("{} has rows for items 1..{} but {} has items "
                               "1..{}",
                               what, matrix.rows - 1, *dir, items));
  }

  if (!quiet) {
    fmt::print(stderr,
               "onerec-tokenize: {} items x {} dims from {}, {} levels x {} "
               "codes, seed {}\n",
               rows, matrix.cols, what, options.levels, options.codebook,
               options.seed);
    options.progress = [&, begin = std::chrono::steady_clock::now()](
                           const data::RqKMeansProgress &p) {
      double elapsed = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - begin)
                           .count();
      fmt::print(stderr,
                 "level {}/{} iteration {}: loss {:.6g}, {} changed ({:.1f} "
                 "s)\n",
                 p.level + 1, options.levels, p.iteration, p.loss, p.changed,
                 elapsed);
    };
  }
  auto start = std::chrono::steady_clock::now();
  auto result =
      data::trainRqKMeans(matrix.values.data() + firstRow * matrix.cols, rows,
                          matrix.cols, options);
  if (!result)
    return error(fmt::format("{}: {}", what, result.status().message()));

  std::vector<int64_t> itemIds(rows);
  for (int64_t r = 0; r < rows; ++r)
    itemIds[r] = firstRow + r;
  auto catalog = data::Catalog::fromCodes(options.levels, options.codebook,
                                          std::move(itemIds), result->codes);
  if (!catalog)
    return error(fmt::format("internal: the tokenizer's codes do not make a "
                             "catalog: {}",
                             catalog.status().message()));
  nlohmann::json stats = data::rqKMeansStatsJson(result->stats);
  if (Status s = catalog->save(*output, result->codebooks, matrix.cols,
                               {{"stats", stats.dump()}});
      !s)
    return error(s.message());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  nlohmann::json out = stats;
  out["input"] = what;
  out["first_row"] = firstRow;
  out["seed"] = options.seed;
  out["output"] = *output;
  out["seconds"] = seconds;
  std::string text = out.dump(2);
  if (auto path = args.value("--stats")) {
    std::ofstream file(*path, std::ios::binary | std::ios::trunc);
    file << text << "\n";
    if (!file.flush())
      return error(fmt::format("{}: cannot write the statistics", *path));
  }
  fmt::print("{}\n", text);
  if (!quiet)
    fmt::print(stderr,
               "onerec-tokenize: wrote {} ({} items, reconstruction mse {:.6g} "
               "= {:.4f} of the input, {} moved) in {:.2f} s\n",
               *output, rows, result->stats.loss, result->stats.relativeLoss,
               result->stats.itemsMoved, seconds);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    return error(fmt::format("internal: {}", e.what()));
  }
}
