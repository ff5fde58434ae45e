//===- Catalog.cpp - semantic IDs, the code trie, the catalog file --------===//
//
// The trie is rebuilt from the code table whenever a catalog is made
// (fromCodes) or read (load): the rows are sorted by their codes, then each
// depth's nodes are split by the next code. Processing a depth's nodes in
// node order and numbering children as they appear gives BFS numbering and
// edges sorted by code for free, so the CSR arrays come out in one pass.
//
//===----------------------------------------------------------------------===//

#include "onerec/Data/Catalog.h"
#include "onerec/Runtime/Safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>

namespace onerec::data {

using runtime::Status;
using runtime::StatusOr;
using Code = Status::Code;

namespace {

constexpr const char *kCatalogFormat = "onerec-catalog";
constexpr const char *kCatalogVersion = "1";

std::string codeText(const int32_t *codes, int64_t levels) {
  std::string text = "(";
  for (int64_t l = 0; l < levels; ++l)
    text += (l ? ", " : "") + std::to_string(codes[l]);
  return text + ")";
}

/// A strict decimal integer in [min, max].
std::optional<int64_t> parseInteger(const std::string &text, int64_t min,
                                    int64_t max) {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9')
      return std::nullopt;
  errno = 0;
  long long v = std::strtoll(text.c_str(), nullptr, 10);
  if (errno != 0 || v < min || v > max)
    return std::nullopt;
  return v;
}

/// Copies a tensor's (possibly unaligned) bytes into a vector.
template <typename T>
std::vector<T> copyTensor(const runtime::SafetensorsFile &file,
                          const runtime::SafetensorsEntry &entry) {
  std::vector<T> out((entry.end - entry.begin) / sizeof(T));
  if (!out.empty())
    std::memcpy(out.data(), file.data(entry), out.size() * sizeof(T));
  return out;
}

} // namespace

StatusOr<Catalog> Catalog::fromCodes(int64_t levels, int64_t codebook,
                                     std::vector<int64_t> itemIds,
                                     std::vector<int32_t> codes) {
  if (levels < 1 || levels > 64)
    return Status::error(Code::InvalidArgument,
                         fmt::format("levels {} is not in 1..64", levels));
  if (codebook < 1 || codebook > std::numeric_limits<int32_t>::max())
    return Status::error(Code::InvalidArgument,
                         fmt::format("codebook size {} is not in 1..{}",
                                     codebook,
                                     std::numeric_limits<int32_t>::max()));
  size_t n = itemIds.size();
  if (n == 0)
    return Status::error(Code::InvalidArgument, "a catalog needs an item");
  if (codes.size() != n * static_cast<size_t>(levels))
    return Status::error(
        Code::InvalidArgument,
        fmt::format("the code table has {} codes, {} items x {} levels need {}",
                    codes.size(), n, levels, n * levels));
  // Edges (and node ids) are int32 in the file; a trie has at most n *
  // levels edges.
  if (n * static_cast<size_t>(levels) >=
      static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status::error(
        Code::InvalidArgument,
        fmt::format("{} items x {} levels is too many for a catalog", n,
                    levels));

  Catalog c;
  c.levels_ = levels;
  c.codebook_ = codebook;
  c.itemIds_ = std::move(itemIds);
  c.codes_ = std::move(codes);
  c.rowOfItem_.reserve(n);
  for (size_t row = 0; row < n; ++row) {
    const int32_t *rc = c.codes(row);
    for (int64_t l = 0; l < levels; ++l)
      if (rc[l] < 0 || rc[l] >= codebook)
        return Status::error(
            Code::InvalidArgument,
            fmt::format("row {} (item {}): code {} at level {} is not in "
                        "0..{}",
                        row, c.itemIds_[row], rc[l], l, codebook - 1));
    auto [it, inserted] = c.rowOfItem_.emplace(c.itemIds_[row], row);
    if (!inserted)
      return Status::error(Code::InvalidArgument,
                           fmt::format("item {} is in rows {} and {}",
                                       c.itemIds_[row], it->second, row));
  }

  // Rows in code order (ties, which are errors, in row order).
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::lexicographical_compare(c.codes(a), c.codes(a) + levels,
                                        c.codes(b), c.codes(b) + levels);
  });
  for (size_t i = 1; i < n; ++i)
    if (std::equal(c.codes(order[i - 1]), c.codes(order[i - 1]) + levels,
                   c.codes(order[i])))
      return Status::error(
          Code::InvalidArgument,
          fmt::format("items {} and {} (rows {} and {}) share the semantic "
                      "ID {}",
                      c.itemIds_[order[i - 1]], c.itemIds_[order[i]],
                      order[i - 1], order[i],
                      codeText(c.codes(order[i]), levels)));

  // Nodes of the current depth: [begin, end) of `order` each.
  struct Range {
    size_t begin, end;
  };
  std::vector<Range> depthNodes{{0, n}}, nextNodes;
  c.offsets_.assign(1, 0);
  int32_t nodeCount = 1; // the root

  for (int64_t depth = 0; depth < levels; ++depth) {
    nextNodes.clear();
    for (const Range &node : depthNodes) {
      size_t i = node.begin;
      while (i < node.end) {
        int32_t code = c.codes(order[i])[depth];
        size_t j = i + 1;
        while (j < node.end && c.codes(order[j])[depth] == code)
          ++j;
        c.edgeCodes_.push_back(code);
        // Every node of depth `depth` exists before the first of depth + 1.
        c.edgeNodes_.push_back(nodeCount++);
        nextNodes.push_back({i, j});
        i = j;
      }
      c.offsets_.push_back(static_cast<uint32_t>(c.edgeCodes_.size()));
    }
    depthNodes.swap(nextNodes);
  }
  // The leaves: one row each, no edges.
  size_t inner = c.offsets_.size() - 1;
  c.leafRows_.assign(inner + depthNodes.size(), -1);
  for (size_t k = 0; k < depthNodes.size(); ++k) {
    c.leafRows_[inner + k] = static_cast<int64_t>(order[depthNodes[k].begin]);
    c.offsets_.push_back(static_cast<uint32_t>(c.edgeCodes_.size()));
  }
  return c;
}

std::optional<size_t> Catalog::rowOf(int64_t itemId) const {
  auto it = rowOfItem_.find(itemId);
  if (it == rowOfItem_.end())
    return std::nullopt;
  return it->second;
}

int32_t Catalog::child(int32_t node, int32_t code) const {
  if (node < 0 || static_cast<size_t>(node) >= nodes())
    return -1;
  auto begin = edgeCodes_.begin() + offsets_[node];
  auto end = edgeCodes_.begin() + offsets_[node + 1];
  auto it = std::lower_bound(begin, end, code);
  if (it == end || *it != code)
    return -1;
  return edgeNodes_[it - edgeCodes_.begin()];
}

int64_t Catalog::leafRow(int32_t node) const {
  if (node < 0 || static_cast<size_t>(node) >= nodes())
    return -1;
  return leafRows_[node];
}

Status Catalog::save(
    const std::string &path, const std::vector<std::vector<float>> &codebooks,
    int64_t dim,
    const std::vector<std::pair<std::string, std::string>> &metadata) const {
  using runtime::DType;
  using runtime::NamedTensorView;
  using runtime::Shape;
  using runtime::TensorView;
  if (!codebooks.empty()) {
    if (codebooks.size() != static_cast<size_t>(levels_) || dim < 1)
      return Status::error(
          Code::InvalidArgument,
          fmt::format("{}: {} codebooks of dimension {} for a catalog of {} "
                      "levels (need one per level, dimension >= 1)",
                      path, codebooks.size(), dim, levels_));
    for (size_t l = 0; l < codebooks.size(); ++l)
      if (codebooks[l].size() != static_cast<size_t>(codebook_ * dim))
        return Status::error(
            Code::InvalidArgument,
            fmt::format("{}: codebook {} has {} values, [{}, {}] needs {}",
                        path, l, codebooks[l].size(), codebook_, dim,
                        codebook_ * dim));
  }
  std::map<std::string, std::string> meta = {
      {"format", kCatalogFormat},
      {"version", kCatalogVersion},
      {"levels", std::to_string(levels_)},
      {"codebook", std::to_string(codebook_)}};
  for (const auto &[key, value] : metadata)
    if (!meta.emplace(key, value).second)
      return Status::error(Code::InvalidArgument,
                           fmt::format("{}: metadata key '{}' is reserved or "
                                       "given twice",
                                       path, key));

  std::vector<int64_t> offsets(offsets_.begin(), offsets_.end());
  int64_t n = static_cast<int64_t>(size());
  int64_t edges = static_cast<int64_t>(edgeCodes_.size());
  auto view = [](DType dtype, Shape shape, const void *data) {
    return TensorView{dtype, shape, const_cast<void *>(data)};
  };
  std::vector<NamedTensorView> tensors = {
      {"item_ids", view(DType::i64, Shape{n}, itemIds_.data())},
      {"codes", view(DType::i32, Shape{n, levels_}, codes_.data())},
      {"trie.offsets",
       view(DType::i64, Shape{static_cast<int64_t>(offsets.size())},
            offsets.data())},
      {"trie.codes", view(DType::i32, Shape{edges}, edgeCodes_.data())},
      {"trie.children", view(DType::i32, Shape{edges}, edgeNodes_.data())}};
  for (size_t l = 0; l < codebooks.size(); ++l)
    tensors.push_back(
        {fmt::format("codebook.{}", l),
         view(DType::f32, Shape{codebook_, dim}, codebooks[l].data())});
  return runtime::writeSafetensors(path, tensors, meta);
}

StatusOr<Catalog> Catalog::load(const std::string &path) {
  using runtime::DType;
  using runtime::SafetensorsEntry;
  auto opened = runtime::SafetensorsFile::open(path);
  if (!opened)
    return opened.status();
  const runtime::SafetensorsFile &file = **opened;
  auto corrupt = [&](const std::string &what) {
    return Status::error(Code::Corrupt, fmt::format("{}: {}", path, what));
  };

  // Metadata.
  const auto &meta = file.metadata();
  auto field = [&](const char *key) -> std::optional<std::string> {
    auto it = meta.find(key);
    if (it == meta.end())
      return std::nullopt;
    return it->second;
  };
  std::optional<std::string> format = field("format");
  if (!format || *format != kCatalogFormat)
    return corrupt(fmt::format(
        "not a catalog (metadata format is {}, expected '{}')",
        format ? "'" + runtime::printableText(*format, 40) + "'" : "missing",
        kCatalogFormat));
  std::optional<std::string> version = field("version");
  if (!version || *version != kCatalogVersion)
    return Status::error(
        Code::Unsupported,
        fmt::format("{}: catalog version {} is not supported (this build "
                    "reads version {})",
                    path,
                    version ? "'" + runtime::printableText(*version, 40) + "'"
                            : "(missing)",
                    kCatalogVersion));
  std::optional<int64_t> levels, codebook;
  if (auto text = field("levels"))
    levels = parseInteger(*text, 1, 64);
  if (!levels)
    return corrupt("metadata 'levels' is missing or not an integer in 1..64");
  if (auto text = field("codebook"))
    codebook = parseInteger(*text, 1, std::numeric_limits<int32_t>::max());
  if (!codebook)
    return corrupt("metadata 'codebook' is missing or not a positive int32");

  // Tensors: names, dtypes, ranks.
  const std::string kNames[] = {"item_ids", "codes", "trie.offsets",
                                "trie.codes", "trie.children"};
  for (const SafetensorsEntry &entry : file.entries()) {
    bool known = std::find(std::begin(kNames), std::end(kNames), entry.name) !=
                 std::end(kNames);
    if (!known && entry.name.rfind("codebook.", 0) == 0) {
      std::optional<int64_t> l = parseInteger(entry.name.substr(9), 0, 63);
      known = l && *l < *levels;
    }
    if (!known)
      return corrupt(fmt::format("unexpected tensor '{}'",
                                 runtime::printableText(entry.name, 80)));
  }
  auto expect = [&](const std::string &name, DType dtype, int rank,
                    const SafetensorsEntry *&out) -> Status {
    out = file.find(name);
    if (!out)
      return corrupt(fmt::format("no tensor '{}'", name));
    if (out->dtype != dtype || out->shape.rank != rank)
      return corrupt(fmt::format(
          "tensor '{}' is {} {}, expected {} of rank {}", name,
          runtime::safetensorsDTypeName(out->dtype), out->shape.toString(),
          runtime::safetensorsDTypeName(dtype), rank));
    return Status::ok();
  };
  const SafetensorsEntry *ids, *codes, *offsets, *edgeCodes, *edgeNodes;
  for (Status s : {expect("item_ids", DType::i64, 1, ids),
                   expect("codes", DType::i32, 2, codes),
                   expect("trie.offsets", DType::i64, 1, offsets),
                   expect("trie.codes", DType::i32, 1, edgeCodes),
                   expect("trie.children", DType::i32, 1, edgeNodes)})
    if (!s.isOk())
      return s;
  int64_t n = ids->shape[0];
  if (codes->shape[0] != n || codes->shape[1] != *levels)
    return corrupt(fmt::format("tensor 'codes' is {}, expected [{}, {}] "
                               "(item_ids by levels)",
                               codes->shape.toString(), n, *levels));

  auto made = fromCodes(*levels, *codebook, copyTensor<int64_t>(file, *ids),
                        copyTensor<int32_t>(file, *codes));
  if (!made)
    return Status::error(Code::Corrupt,
                         fmt::format("{}: {}", path, made.status().message()));
  Catalog c = std::move(made).value();

  // The stored trie must be the one the table spells.
  auto compare = [&](const char *name, auto stored,
                     const auto &rebuilt) -> Status {
    if (stored.size() != rebuilt.size())
      return corrupt(fmt::format("{} has {} elements, the trie of the code "
                                 "table has {}",
                                 name, stored.size(), rebuilt.size()));
    for (size_t i = 0; i < stored.size(); ++i)
      if (static_cast<int64_t>(stored[i]) != static_cast<int64_t>(rebuilt[i]))
        return corrupt(fmt::format("{} does not match the trie of the code "
                                   "table (element {}: {}, expected {})",
                                   name, i, stored[i], rebuilt[i]));
    return Status::ok();
  };
  for (Status s :
       {compare("trie.offsets", copyTensor<int64_t>(file, *offsets),
                c.offsets_),
        compare("trie.codes", copyTensor<int32_t>(file, *edgeCodes),
                c.edgeCodes_),
        compare("trie.children", copyTensor<int32_t>(file, *edgeNodes),
                c.edgeNodes_)})
    if (!s.isOk())
      return s;

  // Codebooks: all levels or none, [codebook, D] each with one D.
  for (int64_t l = 0; l < *levels; ++l) {
    std::string name = fmt::format("codebook.{}", l);
    const SafetensorsEntry *entry = file.find(name);
    if (!entry) {
      if (l > 0 && !c.codebooks_.empty())
        return corrupt(fmt::format("has codebook.0 but no '{}'", name));
      continue;
    }
    if (l > 0 && c.codebooks_.empty())
      return corrupt(fmt::format("has '{}' but no codebook.0", name));
    if (entry->dtype != DType::f32 || entry->shape.rank != 2 ||
        entry->shape[0] != *codebook || entry->shape[1] < 1 ||
        (l > 0 && entry->shape[1] != c.codebookDim_))
      return corrupt(fmt::format(
          "tensor '{}' is {} {}, expected F32 [{}, {}]", name,
          runtime::safetensorsDTypeName(entry->dtype), entry->shape.toString(),
          *codebook, l > 0 ? std::to_string(c.codebookDim_) : "D"));
    c.codebookDim_ = entry->shape[1];
    c.codebooks_.push_back(copyTensor<float>(file, *entry));
  }
  if (auto stats = field("stats"))
    c.stats_ = *stats;
  return c;
}

Status fillHistoryCodes(const Catalog &catalog, const int64_t *items,
                        size_t count, int64_t slots, bool truncate,
                        int64_t *out) {
  if (slots < 0)
    return Status::error(Code::InvalidArgument,
                         fmt::format("{} history slots", slots));
  size_t keep = count;
  if (count > static_cast<size_t>(slots)) {
    if (!truncate)
      return Status::error(
          Code::InvalidArgument,
          fmt::format("a history of {} items does not fit in {} slots", count,
                      slots));
    keep = static_cast<size_t>(slots);
  }
  size_t first = count - keep;
  int64_t levels = catalog.levels();
  std::vector<size_t> rows(keep);
  for (size_t i = 0; i < keep; ++i) {
    std::optional<size_t> row = catalog.rowOf(items[first + i]);
    if (!row)
      return Status::error(
          Code::NotFound,
          fmt::format("item {} (history position {}) is not in the catalog",
                      items[first + i], first + i));
    rows[i] = *row;
  }
  size_t pad = static_cast<size_t>(slots) - keep;
  std::fill(out, out + pad * levels, int64_t(0));
  for (size_t i = 0; i < keep; ++i) {
    const int32_t *codes = catalog.codes(rows[i]);
    std::copy(codes, codes + levels, out + (pad + i) * levels);
  }
  return Status::ok();
}

} // namespace onerec::data
