//===- Dataset.cpp - opening and reading a dataset directory --------------===//

#include "onerec/Data/Dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace onerec::data {

using Code = Status::Code;
using json = nlohmann::json;

const char *splitName(Split split) {
  switch (split) {
  case Split::Train:
    return "train";
  case Split::Valid:
    return "valid";
  case Split::Test:
    return "test";
  }
  return "?";
}

size_t UserSequence::begin(Split split) const {
  switch (split) {
  case Split::Train:
    return 0;
  case Split::Valid:
    return trainEnd;
  case Split::Test:
    return validEnd;
  }
  return 0;
}

size_t UserSequence::end(Split split) const {
  switch (split) {
  case Split::Train:
    return trainEnd;
  case Split::Valid:
    return validEnd;
  case Split::Test:
    return length;
  }
  return 0;
}

namespace {

/// The value at `pointer` (e.g. "/counts/users") or an error naming it.
StatusOr<const json *> field(const json &root, const std::string &pointer,
                             const std::string &path, json::value_t type) {
  json::json_pointer ptr(pointer);
  if (!root.contains(ptr))
    return Status::error(Code::Corrupt, fmt::format("{}: missing field '{}'",
                                                    path, pointer.substr(1)));
  const json &value = root.at(ptr);
  bool ok = value.type() == type ||
            (type == json::value_t::number_unsigned &&
             value.is_number_integer() && value.get<int64_t>() >= 0);
  if (!ok)
    return Status::error(
        Code::Corrupt, fmt::format("{}: field '{}' has the wrong type ({})",
                                   path, pointer.substr(1), value.type_name()));
  return &value;
}

#define ONEREC_TRY_ASSIGN(var, expr)                                           \
  auto var##OrError = (expr);                                                  \
  if (!var##OrError)                                                           \
    return var##OrError.status();                                              \
  auto var = *var##OrError;

StatusOr<std::string> readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(Code::NotFound, fmt::format("{}: cannot open", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

StatusOr<std::vector<std::string>> readIdMap(const std::string &path,
                                             size_t expected, bool items) {
  ONEREC_TRY_ASSIGN(text, readText(path));
  std::vector<std::string> ids;
  if (items)
    ids.emplace_back();
  std::istringstream in(text);
  std::string line;
  size_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (lineNo == 1)
      continue; // header "id\traw"
    size_t tab = line.find('\t');
    if (tab == std::string::npos)
      return Status::error(
          Code::Corrupt,
          fmt::format("{}:{}: expected 'id<TAB>raw'", path, lineNo));
    std::string id = line.substr(0, tab);
    if (id != std::to_string(ids.size()))
      return Status::error(Code::Corrupt,
                           fmt::format("{}:{}: id {} out of sequence (expected "
                                       "{})",
                                       path, lineNo, id, ids.size()));
    ids.push_back(line.substr(tab + 1));
  }
  if (ids.size() != expected)
    return Status::error(Code::Corrupt,
                         fmt::format("{}: {} ids, the manifest says {}", path,
                                     ids.size() - (items ? 1 : 0),
                                     expected - (items ? 1 : 0)));
  return ids;
}

} // namespace

StatusOr<Manifest> Manifest::parse(const std::string &text,
                                   const std::string &path) {
  Manifest m;
  m.json = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (m.json.is_discarded() || !m.json.is_object())
    return Status::error(Code::Corrupt,
                         fmt::format("{}: not a JSON object", path));
  using V = json::value_t;
  ONEREC_TRY_ASSIGN(format, field(m.json, "/format", path, V::string));
  if (*format != kManifestFormat)
    return Status::error(Code::Corrupt,
                         fmt::format("{}: format '{}' is not '{}'", path,
                                     format->get<std::string>(),
                                     kManifestFormat));
  ONEREC_TRY_ASSIGN(version,
                    field(m.json, "/version", path, V::number_unsigned));
  if (version->get<int64_t>() != kManifestVersion)
    return Status::error(Code::Unsupported,
                         fmt::format("{}: manifest version {} (this build "
                                     "reads version {})",
                                     path, version->get<int64_t>(),
                                     kManifestVersion));
  ONEREC_TRY_ASSIGN(users,
                    field(m.json, "/counts/users", path, V::number_unsigned));
  ONEREC_TRY_ASSIGN(items,
                    field(m.json, "/counts/items", path, V::number_unsigned));
  ONEREC_TRY_ASSIGN(
      inter, field(m.json, "/counts/interactions", path, V::number_unsigned));
  m.users = users->get<uint64_t>();
  m.items = items->get<uint64_t>();
  m.interactions = inter->get<uint64_t>();
  if (m.items > INT32_MAX)
    return Status::error(
        Code::Corrupt,
        fmt::format("{}: counts.items {} exceeds int32", path, m.items));
  ONEREC_TRY_ASSIGN(columns, field(m.json, "/schema/columns", path, V::array));
  bool hasItem = false;
  for (size_t i = 0; i < columns->size(); ++i) {
    const nlohmann::json &column = (*columns)[i];
    if (!column.is_object() || !column.contains("name") ||
        !column["name"].is_string() || !column.contains("dtype") ||
        !column["dtype"].is_string())
      return Status::error(Code::Corrupt,
                           fmt::format("{}: schema.columns[{}] needs a string "
                                       "'name' and 'dtype'",
                                       path, i));
    std::string name = column["name"], dtype = column["dtype"];
    std::string role = column.value("role", std::string());
    if (name == "item" && dtype == "int32")
      hasItem = true;
    else if (name == "timestamp" && dtype == "int64")
      m.hasTimestamps = true;
    else if (role == "label" && dtype == "float32")
      m.labelNames.push_back(name);
    else
      return Status::error(Code::Corrupt,
                           fmt::format("{}: schema.columns[{}]: unknown column "
                                       "'{}' of dtype '{}'",
                                       path, i, name, dtype));
  }
  if (!hasItem)
    return Status::error(Code::Corrupt,
                         fmt::format("{}: schema.columns has no 'item' int32 "
                                     "column",
                                     path));
  ONEREC_TRY_ASSIGN(policy, field(m.json, "/split/policy", path, V::string));
  m.splitPolicy = policy->get<std::string>();
  if (m.splitPolicy != "loo" && m.splitPolicy != "time" &&
      m.splitPolicy != "none")
    return Status::error(Code::Corrupt,
                         fmt::format("{}: split.policy '{}' is not loo, time "
                                     "or none",
                                     path, m.splitPolicy));
  ONEREC_TRY_ASSIGN(shards, field(m.json, "/shards", path, V::array));
  uint64_t nextUser = 0, interactions = 0;
  for (size_t i = 0; i < shards->size(); ++i) {
    std::string at = fmt::format("/shards/{}", i);
    ONEREC_TRY_ASSIGN(file, field(m.json, at + "/file", path, V::string));
    ONEREC_TRY_ASSIGN(
        first, field(m.json, at + "/first_user", path, V::number_unsigned));
    ONEREC_TRY_ASSIGN(su,
                      field(m.json, at + "/users", path, V::number_unsigned));
    ONEREC_TRY_ASSIGN(
        si, field(m.json, at + "/interactions", path, V::number_unsigned));
    ONEREC_TRY_ASSIGN(bytes,
                      field(m.json, at + "/bytes", path, V::number_unsigned));
    ONEREC_TRY_ASSIGN(sum, field(m.json, at + "/checksum", path, V::string));
    ShardInfo info;
    info.file = file->get<std::string>();
    info.firstUser = first->get<uint64_t>();
    info.users = su->get<uint64_t>();
    info.interactions = si->get<uint64_t>();
    info.bytes = bytes->get<uint64_t>();
    std::string sumText = sum->get<std::string>();
    const std::string prefix = "fnv1a64:";
    char *endp = nullptr;
    if (sumText.size() != prefix.size() + 16 ||
        sumText.compare(0, prefix.size(), prefix) != 0)
      return Status::error(Code::Corrupt,
                           fmt::format("{}: shards[{}].checksum '{}' is not "
                                       "'fnv1a64:<16 hex digits>'",
                                       path, i, sumText));
    info.checksum = std::strtoull(sumText.c_str() + prefix.size(), &endp, 16);
    if (info.file.empty() || info.file.find('/') != std::string::npos ||
        info.file[0] == '.')
      return Status::error(Code::Corrupt,
                           fmt::format("{}: shards[{}].file '{}' is not a "
                                       "plain file name",
                                       path, i, info.file));
    if (info.firstUser != nextUser)
      return Status::error(Code::Corrupt,
                           fmt::format("{}: shards[{}].first_user {} (expected "
                                       "{})",
                                       path, i, info.firstUser, nextUser));
    nextUser += info.users;
    interactions += info.interactions;
    m.shards.push_back(info);
  }
  if (nextUser != m.users || interactions != m.interactions)
    return Status::error(Code::Corrupt,
                         fmt::format("{}: the shards hold {} users and {} "
                                     "interactions, counts say {} and {}",
                                     path, nextUser, interactions, m.users,
                                     m.interactions));
  return m;
}

StatusOr<std::unique_ptr<Dataset>> Dataset::open(const std::string &dir,
                                                 const OpenOptions &options) {
  std::string manifestPath = dir + "/" + kManifestName;
  ONEREC_TRY_ASSIGN(text, readText(manifestPath));
  ONEREC_TRY_ASSIGN(manifest, Manifest::parse(text, manifestPath));
  std::unique_ptr<Dataset> dataset(new Dataset());
  dataset->dir_ = dir;
  dataset->manifest_ = std::move(manifest);
  const Manifest &m = dataset->manifest_;
  for (const ShardInfo &info : m.shards) {
    std::string path = dir + "/" + info.file;
    auto file = runtime::MappedFile::open(path);
    if (!file)
      return file.status();
    const runtime::MappedFile &mapped = **file;
    ONEREC_TRY_ASSIGN(
        view, checkShard(mapped.data(), mapped.size(), path, options.check));
    const ShardHeader &h = *view.header;
    auto mismatch = [&](const char *what, uint64_t shard, uint64_t manifest) {
      return Status::error(
          Code::Corrupt,
          fmt::format("{}: {} {} in the shard header, {} in {}", path, what,
                      shard, manifest, manifestPath));
    };
    if (h.firstUser != info.firstUser)
      return mismatch("first user", h.firstUser, info.firstUser);
    if (h.numUsers != info.users)
      return mismatch("users", h.numUsers, info.users);
    if (h.numInteractions != info.interactions)
      return mismatch("interactions", h.numInteractions, info.interactions);
    if (h.numItems != m.items)
      return mismatch("items", h.numItems, m.items);
    if (h.numLabels != m.labelNames.size())
      return mismatch("label columns", h.numLabels, m.labelNames.size());
    if ((view.timestamps != nullptr) != m.hasTimestamps && h.numInteractions)
      return mismatch("timestamp columns", view.timestamps ? 1 : 0,
                      m.hasTimestamps ? 1 : 0);
    if (h.payloadChecksum != info.checksum)
      return Status::error(
          Code::Corrupt,
          fmt::format("{}: offset {}: payload checksum {} in the shard header, "
                      "{} in {}",
                      path, kPayloadChecksumOffset,
                      checksumText(h.payloadChecksum),
                      checksumText(info.checksum), manifestPath));
    dataset->shards_.push_back(
        Shard{std::move(*file), view, info.firstUser, info.users});
  }
  return dataset;
}

const Dataset::Shard &Dataset::shardOf(uint64_t user, uint64_t &local) const {
  auto it = std::upper_bound(
      shards_.begin(), shards_.end(), user,
      [](uint64_t u, const Shard &shard) { return u < shard.firstUser; });
  const Shard &shard = *(it - 1);
  local = user - shard.firstUser;
  return shard;
}

UserSequence Dataset::user(uint64_t user) const {
  uint64_t local;
  const Shard &shard = shardOf(user, local);
  const ShardView &v = shard.view;
  UserSequence seq;
  seq.user = static_cast<int64_t>(user);
  uint64_t begin = v.rowOffsets[local];
  seq.length = v.rowOffsets[local + 1] - begin;
  seq.items = v.items + begin;
  seq.timestamps = v.timestamps ? v.timestamps + begin : nullptr;
  seq.trainEnd = v.splits[2 * local];
  seq.validEnd = v.splits[2 * local + 1];
  if (v.labels) {
    seq.labelBase = v.labels + begin;
    seq.labelStride = v.header->numInteractions;
  }
  return seq;
}

size_t Dataset::length(uint64_t user) const {
  uint64_t local;
  const Shard &shard = shardOf(user, local);
  return shard.view.rowOffsets[local + 1] - shard.view.rowOffsets[local];
}

uint32_t Dataset::trainEnd(uint64_t user) const {
  uint64_t local;
  return shardOf(user, local).view.splits[2 * local];
}

uint32_t Dataset::validEnd(uint64_t user) const {
  uint64_t local;
  return shardOf(user, local).view.splits[2 * local + 1];
}

StatusOr<std::vector<std::string>> Dataset::readUserIds() const {
  return readIdMap(dir_ + "/users.tsv", manifest_.users, false);
}

StatusOr<std::vector<std::string>> Dataset::readItemIds() const {
  return readIdMap(dir_ + "/items.tsv", manifest_.items + 1, true);
}

} // namespace onerec::data
