//===- DatasetWriter.cpp - splits, shards, manifest, atomic rename --------===//

#include "onerec/Data/DatasetWriter.h"
#include "onerec/Data/Dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unistd.h>

namespace onerec::data {

using Code = Status::Code;
using json = nlohmann::json;
namespace fs = std::filesystem;

StatusOr<SplitPolicy::Kind> parseSplitKind(const std::string &text) {
  if (text == "loo")
    return SplitPolicy::Kind::LeaveOneOut;
  if (text == "time")
    return SplitPolicy::Kind::Time;
  if (text == "none")
    return SplitPolicy::Kind::None;
  return Status::error(
      Code::InvalidArgument,
      fmt::format("unknown split '{}' (expected loo, time or none)", text));
}

Status applySplit(DatasetContents &c, const SplitPolicy &policy) {
  uint64_t users = c.numUsers();
  c.splits.assign(users * 2, 0);
  if (policy.kind == SplitPolicy::Kind::Time) {
    if (c.timestamps.size() != c.items.size())
      return Status::error(Code::InvalidArgument,
                           "--split time needs timestamps (a log with a time "
                           "column); sequence files have none");
    if (policy.testFrom < policy.validFrom)
      return Status::error(
          Code::InvalidArgument,
          fmt::format("--test-from {} is before --valid-from {}",
                      policy.testFrom, policy.validFrom));
  }
  uint64_t trainItems = 0, validItems = 0, testItems = 0, validUsers = 0,
           testUsers = 0, shortUsers = 0;
  for (uint64_t u = 0; u < users; ++u) {
    uint64_t begin = c.rowOffsets[u];
    uint32_t n = static_cast<uint32_t>(c.rowOffsets[u + 1] - begin);
    uint32_t trainEnd = n, validEnd = n;
    switch (policy.kind) {
    case SplitPolicy::Kind::None:
      break;
    case SplitPolicy::Kind::LeaveOneOut:
      if (n >= 3) {
        trainEnd = n - 2;
        validEnd = n - 1;
      } else {
        ++shortUsers;
      }
      break;
    case SplitPolicy::Kind::Time: {
      const int64_t *ts = c.timestamps.data() + begin;
      trainEnd = static_cast<uint32_t>(
          std::lower_bound(ts, ts + n, policy.validFrom) - ts);
      validEnd = static_cast<uint32_t>(
          std::lower_bound(ts, ts + n, policy.testFrom) - ts);
      break;
    }
    }
    c.splits[2 * u] = trainEnd;
    c.splits[2 * u + 1] = validEnd;
    trainItems += trainEnd;
    validItems += validEnd - trainEnd;
    testItems += n - validEnd;
    validUsers += validEnd > trainEnd;
    testUsers += n > validEnd;
  }
  json split;
  switch (policy.kind) {
  case SplitPolicy::Kind::None:
    split["policy"] = "none";
    break;
  case SplitPolicy::Kind::LeaveOneOut:
    split["policy"] = "loo";
    split["short_users"] = shortUsers;
    split["short_users_rule"] =
        "users with fewer than 3 items are all train (no valid/test target)";
    break;
  case SplitPolicy::Kind::Time:
    split["policy"] = "time";
    split["valid_from"] = policy.validFrom;
    split["test_from"] = policy.testFrom;
    break;
  }
  split["counts"] = {{"train_interactions", trainItems},
                     {"valid_interactions", validItems},
                     {"test_interactions", testItems},
                     {"valid_users", validUsers},
                     {"test_users", testUsers}};
  c.split = split;
  return Status::ok();
}

std::vector<size_t> sortedIdOrder(const std::vector<std::string> &ids) {
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  bool numeric = std::all_of(ids.begin(), ids.end(), [](const std::string &s) {
    return !s.empty() && s.size() <= 18 &&
           std::all_of(s.begin(), s.end(),
                       [](char ch) { return ch >= '0' && ch <= '9'; });
  });
  if (numeric) {
    std::vector<uint64_t> values(ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      values[i] = std::stoull(ids[i]);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return values[a] < values[b]; });
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  }
  return order;
}

namespace {

Status writeFile(const fs::path &path, const void *data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out)
    out.write(static_cast<const char *>(data),
              static_cast<std::streamsize>(size));
  if (out)
    out.flush();
  if (!out)
    return Status::error(Code::IoError,
                         fmt::format("{}: cannot write: {}", path.string(),
                                     std::strerror(errno)));
  return Status::ok();
}

Status writeText(const fs::path &path, const std::string &text) {
  return writeFile(path, text.data(), text.size());
}

std::string idMapText(const std::vector<std::string> &ids, size_t first) {
  std::string text = "id\traw\n";
  for (size_t i = 0; i < ids.size(); ++i)
    text += fmt::format("{}\t{}\n", i + first, ids[i]);
  return text;
}

Status writeInto(const DatasetContents &c, const WriteOptions &options,
                 const fs::path &dir) {
  uint64_t users = c.numUsers();
  json shards = json::array();
  for (uint64_t first = 0, index = 0; first < users;
       first += options.shardUsers, ++index) {
    uint64_t last = std::min(users, first + options.shardUsers);
    ShardContents shard;
    shard.shardIndex = static_cast<uint32_t>(index);
    shard.firstUser = first;
    shard.numItems = c.itemIds.size();
    uint64_t begin = c.rowOffsets[first], end = c.rowOffsets[last];
    for (uint64_t u = first; u <= last; ++u)
      shard.rowOffsets.push_back(c.rowOffsets[u] - begin);
    shard.splits.assign(c.splits.begin() + 2 * first,
                        c.splits.begin() + 2 * last);
    shard.items.assign(c.items.begin() + begin, c.items.begin() + end);
    if (!c.timestamps.empty())
      shard.timestamps.assign(c.timestamps.begin() + begin,
                              c.timestamps.begin() + end);
    for (const std::vector<float> &column : c.labels)
      shard.labels.emplace_back(column.begin() + begin, column.begin() + end);
    std::vector<uint8_t> bytes = serializeShard(shard);
    std::string name = fmt::format("shard-{:05d}.bin", index);
    if (Status s = writeFile(dir / name, bytes.data(), bytes.size()); !s)
      return s;
    ShardHeader header;
    std::memcpy(&header, bytes.data(), sizeof(header));
    shards.push_back({{"file", name},
                      {"first_user", first},
                      {"users", last - first},
                      {"interactions", end - begin},
                      {"bytes", bytes.size()},
                      {"checksum", checksumText(header.payloadChecksum)}});
  }

  json columns = json::array();
  columns.push_back({{"name", "item"},
                     {"dtype", "int32"},
                     {"role", "item"},
                     {"description", "internal item id, 1..items (0 is "
                                     "padding)"}});
  if (!c.timestamps.empty())
    columns.push_back(
        {{"name", "timestamp"}, {"dtype", "int64"}, {"role", "time"}});
  for (const std::string &label : c.labelNames)
    columns.push_back(
        {{"name", label}, {"dtype", "float32"}, {"role", "label"}});

  std::vector<uint64_t> lengths(users);
  for (uint64_t u = 0; u < users; ++u)
    lengths[u] = c.rowOffsets[u + 1] - c.rowOffsets[u];
  std::sort(lengths.begin(), lengths.end());
  json lengthStats = json::object();
  if (users)
    lengthStats = {
        {"min", lengths.front()},
        {"max", lengths.back()},
        {"median", users % 2
                       ? double(lengths[users / 2])
                       : (lengths[users / 2 - 1] + lengths[users / 2]) / 2.0},
        {"mean", double(c.items.size()) / double(users)}};

  json manifest = {
      {"format", kManifestFormat},
      {"version", kManifestVersion},
      {"created_by", "onerec-data"},
      {"schema",
       {{"columns", columns},
        {"user_id", "internal user id, 0..users-1 (users.tsv maps back)"},
        {"item_id", "internal item id, 1..items, 0 = padding (items.tsv "
                    "maps back)"}}},
      {"counts",
       {{"users", users},
        {"items", c.itemIds.size()},
        {"interactions", c.items.size()}}},
      {"sequence_length", lengthStats},
      {"split", c.split},
      {"source", c.source},
      {"id_maps", {{"users", "users.tsv"}, {"items", "items.tsv"}}},
      {"shard_users", options.shardUsers},
      {"shards", shards}};
  for (auto it = c.extra.begin(); it != c.extra.end(); ++it)
    manifest[it.key()] = it.value();

  if (Status s = writeText(dir / "users.tsv", idMapText(c.userIds, 0)); !s)
    return s;
  if (Status s = writeText(dir / "items.tsv", idMapText(c.itemIds, 1)); !s)
    return s;
  return writeText(dir / kManifestName, manifest.dump(2) + "\n");
}

} // namespace

Status writeDataset(const DatasetContents &c, const WriteOptions &options) {
  uint64_t users = c.numUsers();
  if (users == 0)
    return Status::error(Code::InvalidArgument,
                         "no users to write (the input had no valid records)");
  if (c.splits.size() != users * 2 || c.rowOffsets.back() != c.items.size() ||
      c.userIds.size() != users ||
      (!c.timestamps.empty() && c.timestamps.size() != c.items.size()) ||
      c.labels.size() != c.labelNames.size())
    return Status::error(Code::Internal, "inconsistent dataset contents");
  if (options.shardUsers == 0)
    return Status::error(Code::InvalidArgument, "--shard-users must be > 0");
  if (options.outDir.empty())
    return Status::error(Code::InvalidArgument, "no output directory");

  std::error_code ec;
  fs::path out = fs::path(options.outDir);
  if (out.filename().empty())
    out = out.parent_path();
  bool exists = fs::exists(out, ec);
  if (exists && !options.overwrite)
    return Status::error(
        Code::InvalidArgument,
        fmt::format("{}: already exists (use --force to replace it)",
                    out.string()));
  fs::path parent =
      out.parent_path().empty() ? fs::path(".") : out.parent_path();
  fs::path tmp =
      parent / fmt::format(".{}.tmp-{}", out.filename().string(), ::getpid());
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec))
    return Status::error(Code::IoError,
                         fmt::format("{}: cannot create: {}", tmp.string(),
                                     ec ? ec.message() : "unknown error"));
  Status written = writeInto(c, options, tmp);
  if (!written) {
    fs::remove_all(tmp, ec);
    return written;
  }
  fs::path old;
  if (exists) {
    old =
        parent / fmt::format(".{}.old-{}", out.filename().string(), ::getpid());
    fs::rename(out, old, ec);
    if (ec) {
      fs::remove_all(tmp, ec);
      return Status::error(
          Code::IoError,
          fmt::format("{}: cannot move aside: {}", out.string(), ec.message()));
    }
  }
  fs::rename(tmp, out, ec);
  if (ec) {
    std::string message = ec.message();
    std::error_code ignored;
    if (!old.empty())
      fs::rename(old, out, ignored);
    fs::remove_all(tmp, ignored);
    return Status::error(Code::IoError,
                         fmt::format("{}: cannot rename {} into place: {}",
                                     out.string(), tmp.string(), message));
  }
  if (!old.empty())
    fs::remove_all(old, ec);
  return Status::ok();
}

} // namespace onerec::data
