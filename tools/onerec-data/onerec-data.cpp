//===- onerec-data.cpp - the dataset tool ---------------------------------===//
//
// onerec-data import INPUT --out DIR   sequence file or CSV/TSV log -> dataset
// onerec-data info DIR [--json]        describe and verify a dataset
// onerec-data synth --out DIR          a synthetic dataset with a known best
//                                      accuracy
//
// Exit status: 0 ok, 1 an error in the data (named by file and line or
// offset), 2 a usage error. Links no LLVM or MLIR.
//
//===----------------------------------------------------------------------===//

#include "onerec/Data/Dataset.h"
#include "onerec/Data/DatasetWriter.h"
#include "onerec/Data/Importer.h"
#include "onerec/Data/SyntheticGenerator.h"

#include "../common/ToolArgs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace onerec::data;
using onerec::runtime::printableText;
using json = nlohmann::json;

using onerec::tools::ToolArgs;

namespace {

constexpr const char *kUsage = R"(usage: onerec-data <command> [options]

commands:
  import INPUT --out DIR   a sequence file (`user item item ...` per line) or
                           a CSV/TSV interaction log with a header -> dataset
      --format seq|log     (default: .csv/.tsv are logs, else sequences)
      --ids numeric|string (default: numeric for sequences, string for logs)
      --split loo|time|none            (default loo)
      --valid-from T1 --test-from T2   for --split time
      --user-col C --item-col C --time-col C --label-cols A,B
      --delimiter CHAR     (default: tab if the header has one, else comma)
      --shard-users N      users per shard (default 8192)
      --skip-bad           skip bad records, report them, continue
      --force              replace DIR if it exists
  info DIR [--json] [--no-verify]
                           counts, lengths, splits, schema, shards (checksums
                           verified unless --no-verify)
  synth --out DIR [--users U] [--items N] [--len-min A] [--len-max B]
        [--seed S] [--branching K] [--dominant P] [--shard-users N]
        [--text FILE] [--force]
                           Markov-chain sequences with a known Bayes-optimal
                           HR@1/HR@10 (defaults: 2000 users, 300 items,
                           lengths 10-30, K 4, P 0.8, seed 1)
)";

int error(const std::string &message) {
  fmt::print(stderr, "onerec-data: error: {}\n", printableText(message));
  return 1;
}

int usageError(const std::string &message) {
  fmt::print(stderr, "onerec-data: error: {}\n{}", printableText(message),
             kUsage);
  return 2;
}

int runImport(const ToolArgs &args) {
  if (args.positionals().size() != 1)
    return usageError("import needs exactly one INPUT file");
  std::optional<std::string> out = args.value("--out");
  if (!out)
    return usageError("import needs --out DIR");
  ImportOptions options;
  options.skipBad = args.flag("--skip-bad");
  if (auto format = args.value("--format")) {
    if (*format == "seq" || *format == "sequences")
      options.format = ImportOptions::Format::Sequences;
    else if (*format == "log")
      options.format = ImportOptions::Format::Log;
    else
      return usageError(
          fmt::format("--format '{}' is not seq or log", *format));
  }
  if (auto ids = args.value("--ids")) {
    if (*ids == "numeric")
      options.ids = ImportOptions::Ids::Numeric;
    else if (*ids == "string")
      options.ids = ImportOptions::Ids::String;
    else
      return usageError(
          fmt::format("--ids '{}' is not numeric or string", *ids));
  }
  options.userCol = args.value("--user-col").value_or("");
  options.itemCol = args.value("--item-col").value_or("");
  options.timeCol = args.value("--time-col").value_or("");
  if (auto labels = args.value("--label-cols")) {
    options.labelColsGiven = true;
    size_t start = 0;
    while (start <= labels->size() && !labels->empty()) {
      size_t comma = labels->find(',', start);
      std::string name =
          labels->substr(start, comma == std::string::npos ? std::string::npos
                                                           : comma - start);
      if (name.empty())
        return usageError(
            fmt::format("--label-cols '{}' has an empty name", *labels));
      options.labelCols.push_back(name);
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
  }
  if (auto delimiter = args.value("--delimiter")) {
    if (*delimiter == "\\t" || *delimiter == "tab")
      options.delimiter = '\t';
    else if (delimiter->size() == 1 && (*delimiter)[0] != '"')
      options.delimiter = (*delimiter)[0];
    else
      return usageError(
          fmt::format("--delimiter '{}' is not one character", *delimiter));
  }
  SplitPolicy split;
  if (auto kind = args.value("--split")) {
    auto parsed = parseSplitKind(*kind);
    if (!parsed)
      return usageError(parsed.status().message());
    split.kind = *parsed;
  }
  bool hasValid = args.value("--valid-from").has_value();
  bool hasTest = args.value("--test-from").has_value();
  if (split.kind == SplitPolicy::Kind::Time && !(hasValid && hasTest))
    return usageError("--split time needs --valid-from T1 and --test-from T2");
  if (split.kind != SplitPolicy::Kind::Time && (hasValid || hasTest))
    return usageError("--valid-from/--test-from need --split time");
  WriteOptions write;
  write.outDir = *out;
  write.overwrite = args.flag("--force");
  for (std::string message :
       {args.integer("--valid-from", split.validFrom, INT64_MIN, INT64_MAX),
        args.integer("--test-from", split.testFrom, INT64_MIN, INT64_MAX),
        args.integer("--shard-users", write.shardUsers, 1, INT32_MAX)})
    if (!message.empty())
      return usageError(message);

  const std::string &input = args.positionals()[0];
  ImportReport report;
  auto contents = importFile(input, options, report);
  if (!contents)
    return error(contents.status().message());
  if (Status s = applySplit(*contents, split); !s)
    return error(s.message());
  contents->source["skipped"] = report.skipped;
  contents->source["skipped_by_reason"] = report.skippedByReason;
  if (Status s = writeDataset(*contents, write); !s)
    return error(s.message());
  if (report.skipped) {
    fmt::print(stderr, "onerec-data: warning: {}: {}\n", input,
               report.summary());
    for (const std::string &example : report.examples)
      fmt::print(stderr, "  {}\n", printableText(example));
    if (report.skipped > report.examples.size())
      fmt::print(stderr, "  ... and {} more\n",
                 report.skipped - report.examples.size());
  }
  const DatasetContents &c = *contents;
  fmt::print("imported {} ({}): {} users, {} items, {} interactions -> {} "
             "({} shards, split {})\n",
             input, report.format, c.numUsers(), c.itemIds.size(),
             c.items.size(), *out,
             (c.numUsers() + write.shardUsers - 1) / write.shardUsers,
             c.split.value("policy", std::string("?")));
  return 0;
}

int runInfo(const ToolArgs &args) {
  if (args.positionals().size() != 1)
    return usageError("info needs exactly one dataset DIR");
  const std::string &dir = args.positionals()[0];
  OpenOptions options;
  bool verify = !args.flag("--no-verify");
  options.check.verifyChecksums = verify;
  options.check.verifyContents = verify;
  auto opened = Dataset::open(dir, options);
  if (!opened)
    return error(opened.status().message());
  const Dataset &d = **opened;
  const Manifest &m = d.manifest();

  std::vector<uint64_t> lengths(d.numUsers());
  uint64_t trainItems = 0, validUsers = 0, testUsers = 0, trainRows = 0;
  for (uint64_t u = 0; u < d.numUsers(); ++u) {
    lengths[u] = d.length(u);
    uint32_t trainEnd = d.trainEnd(u), validEnd = d.validEnd(u);
    trainItems += trainEnd;
    trainRows += trainEnd >= 2;
    validUsers += validEnd > trainEnd && trainEnd > 0;
    testUsers += lengths[u] > validEnd && validEnd > 0;
  }
  std::sort(lengths.begin(), lengths.end());
  size_t n = lengths.size();
  double median = n == 0  ? 0
                  : n % 2 ? double(lengths[n / 2])
                          : (lengths[n / 2 - 1] + lengths[n / 2]) / 2.0;
  double mean = n ? double(d.numInteractions()) / double(n) : 0;

  json out;
  out["directory"] = dir;
  out["users"] = d.numUsers();
  out["items"] = d.numItems();
  out["interactions"] = d.numInteractions();
  out["schema"] = m.json["schema"]["columns"];
  out["sequence_length"] = {{"min", n ? lengths.front() : 0},
                            {"median", median},
                            {"mean", mean},
                            {"max", n ? lengths.back() : 0}};
  out["split"] = {{"policy", m.splitPolicy},
                  {"train_interactions", trainItems},
                  {"train_rows", trainRows},
                  {"valid_rows", validUsers},
                  {"test_rows", testUsers}};
  json shards = json::array();
  for (const ShardInfo &s : m.shards)
    shards.push_back({{"file", s.file},
                      {"first_user", s.firstUser},
                      {"users", s.users},
                      {"interactions", s.interactions},
                      {"bytes", s.bytes},
                      {"checksum", checksumText(s.checksum)},
                      {"verified", verify}});
  out["shards"] = shards;
  if (m.json.contains("synthetic"))
    out["synthetic"] = m.json["synthetic"];
  if (m.json.contains("source"))
    out["source"] = m.json["source"];

  if (args.flag("--json")) {
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("dataset {}\n", dir);
  fmt::print("  users {}, items {} (ids 1..{}, 0 = padding), interactions {}\n",
             d.numUsers(), d.numItems(), d.numItems(), d.numInteractions());
  std::string schema;
  for (const json &column : out["schema"])
    schema +=
        fmt::format("{}{} {}{}", schema.empty() ? "" : ", ",
                    column.value("name", ""), column.value("dtype", ""),
                    column.value("role", "") == "label" ? " (label)" : "");
  fmt::print("  schema: {}\n", schema);
  fmt::print("  sequence length: min {}, median {}, mean {:.2f}, max {}\n",
             n ? lengths.front() : 0, median, mean, n ? lengths.back() : 0);
  fmt::print("  split {}: train {} interactions ({} train rows), valid {} "
             "rows, test {} rows\n",
             m.splitPolicy, trainItems, trainRows, validUsers, testUsers);
  fmt::print("  shards: {} ({})\n", m.shards.size(),
             verify ? "headers, checksums and contents verified"
                    : "headers checked, checksums not verified");
  for (const ShardInfo &s : m.shards)
    fmt::print("    {}  users {}..{}  interactions {}  bytes {}  {}\n", s.file,
               s.firstUser, s.firstUser + s.users - (s.users ? 1 : 0),
               s.interactions, s.bytes, checksumText(s.checksum));
  if (m.json.contains("synthetic")) {
    const json &bayes = m.json["synthetic"].value("bayes_optimal", json());
    if (bayes.is_object())
      fmt::print("  synthetic: Bayes-optimal HR@1 {:.4f}, HR@10 {:.4f}, "
                 "NDCG@10 {:.4f} (empirical on the test targets: HR@1 {:.4f}, "
                 "HR@10 {:.4f})\n",
                 bayes.value("hr@1", 0.0), bayes.value("hr@10", 0.0),
                 bayes.value("ndcg@10", 0.0),
                 bayes.value("empirical_hr@1", 0.0),
                 bayes.value("empirical_hr@10", 0.0));
  }
  return 0;
}

int runSynth(const ToolArgs &args) {
  if (!args.positionals().empty())
    return usageError(fmt::format("synth takes no positional argument ('{}')",
                                  args.positionals()[0]));
  std::optional<std::string> out = args.value("--out");
  if (!out)
    return usageError("synth needs --out DIR");
  SyntheticOptions o;
  WriteOptions write;
  write.outDir = *out;
  write.overwrite = args.flag("--force");
  for (std::string message :
       {args.integer("--users", o.users, 1, 100'000'000),
        args.integer("--items", o.items, 1, 10'000'000),
        args.integer("--len-min", o.lenMin, 3, 100'000),
        args.integer("--len-max", o.lenMax, 3, 100'000),
        args.integer("--seed", o.seed, 0, INT64_MAX),
        args.integer("--branching", o.branching, 1, 10'000'000),
        args.integer("--shard-users", write.shardUsers, 1, INT32_MAX)})
    if (!message.empty())
      return usageError(message);
  if (auto p = args.value("--dominant")) {
    char *end = nullptr;
    o.dominant = std::strtod(p->c_str(), &end);
    if (p->empty() || *end != '\0' || !(o.dominant > 0 && o.dominant <= 1))
      return usageError(fmt::format("--dominant '{}' is not in (0, 1]", *p));
  }
  auto generated = generateSynthetic(o);
  if (!generated)
    return usageError(generated.status().message());
  if (Status s = writeDataset(generated->contents, write); !s)
    return error(s.message());
  if (auto text = args.value("--text")) {
    std::ofstream file(*text, std::ios::binary | std::ios::trunc);
    file << sequenceFileText(generated->contents);
    if (!file.flush())
      return error(
          fmt::format("{}: cannot write: {}", *text, std::strerror(errno)));
  }
  const SyntheticAccuracy &a = generated->accuracy;
  const DatasetContents &c = generated->contents;
  fmt::print("synthesized {} users, {} items, {} interactions -> {} (split "
             "loo)\n",
             c.numUsers(), c.itemIds.size(), c.items.size(), *out);
  fmt::print("Bayes-optimal on the {} test targets (full ranking): HR@1 {:.4f} "
             "HR@10 {:.4f} NDCG@10 {:.4f}; empirical HR@1 {:.4f} HR@10 "
             "{:.4f}\n",
             a.testTargets, a.hr1, a.hr10, a.ndcg10, a.empiricalHr1,
             a.empiricalHr10);
  return 0;
}

int run(int argc, char **argv) {
  if (argc < 2)
    return usageError("no command");
  std::string command = argv[1];
  if (command == "help" || command == "--help" || command == "-h") {
    fmt::print("{}", kUsage);
    return 0;
  }
  if (command == "--version") {
    fmt::print("onerec-data {}\n", ONEREC_VERSION);
    return 0;
  }
  ToolArgs args(argc, argv, 2);
  std::vector<std::string> known;
  int (*handler)(const ToolArgs &) = nullptr;
  if (command == "import") {
    known = {"--out",        "--format",     "--ids",       "--split",
             "--valid-from", "--test-from",  "--user-col",  "--item-col",
             "--time-col",   "--label-cols", "--delimiter", "--shard-users",
             "!--skip-bad",  "!--force"};
    handler = runImport;
  } else if (command == "info") {
    known = {"!--json", "!--no-verify"};
    handler = runInfo;
  } else if (command == "synth") {
    known = {"--out",         "--users", "--items",     "--len-min",
             "--len-max",     "--seed",  "--branching", "--dominant",
             "--shard-users", "--text",  "!--force"};
    handler = runSynth;
  } else {
    return usageError(fmt::format("unknown command '{}'", command));
  }
  for (const std::string &arg : std::vector<std::string>(argv + 2, argv + argc))
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kUsage);
      return 0;
    }
  if (std::string message = args.parse(known); !message.empty())
    return usageError(fmt::format("{}: {}", command, message));
  return handler(args);
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    return error(fmt::format("internal error: {}", e.what()));
  }
}
