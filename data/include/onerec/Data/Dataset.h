//===- Dataset.h - a dataset directory, read in place -------------*- C++
//-*-===//
//
// A dataset directory holds dataset.json (the manifest), shard-NNNNN.bin
// (memory-mapped sequences, see ShardFormat.h) and users.tsv / items.tsv (raw
// id <-> internal id). Dataset::open verifies the manifest against every
// shard (header, section checksums, contents) and then gives O(log shards)
// access to any user's sequence without copying it.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_DATASET_H
#define ONEREC_DATA_DATASET_H

#include "onerec/Data/ShardFormat.h"
#include "onerec/Runtime/MappedFile.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace onerec::data {

inline constexpr const char *kManifestName = "dataset.json";
inline constexpr const char *kManifestFormat = "onerec-dataset";
inline constexpr int kManifestVersion = 1;

/// Which part of each user's sequence a reader wants.
enum class Split { Train, Valid, Test };
const char *splitName(Split split);

struct ShardInfo {
  std::string file; // relative to the dataset directory
  uint64_t firstUser = 0;
  uint64_t users = 0;
  uint64_t interactions = 0;
  uint64_t bytes = 0;
  uint64_t checksum = 0; // payload fnv1a64, as in the shard header
};

/// What dataset.json says (the whole JSON stays available as `json`).
struct Manifest {
  uint64_t users = 0;
  uint64_t items = 0; // internal item ids are 1..items; 0 is padding
  uint64_t interactions = 0;
  bool hasTimestamps = false;
  std::vector<std::string> labelNames;
  std::string splitPolicy; // "loo", "time" or "none"
  std::vector<ShardInfo> shards;
  nlohmann::json json;

  /// Parses and checks a manifest; errors name `path` and the field.
  static StatusOr<Manifest> parse(const std::string &text,
                                  const std::string &path);
};

/// One user's sequence, pointing into a mapped shard. The parts are
/// items[0, trainEnd) train, [trainEnd, validEnd) valid, [validEnd, length)
/// test.
struct UserSequence {
  int64_t user = 0;
  const int32_t *items = nullptr;
  const int64_t *timestamps = nullptr; // null without timestamps
  size_t length = 0;
  uint32_t trainEnd = 0;
  uint32_t validEnd = 0;
  /// Label column `j` (manifest().labelNames[j]) for this user's items.
  const float *labels(size_t j) const {
    return labelBase ? labelBase + j * labelStride : nullptr;
  }
  /// Where `split`'s part starts and ends.
  size_t begin(Split split) const;
  size_t end(Split split) const;

  const float *labelBase = nullptr;
  size_t labelStride = 0;
};

struct OpenOptions {
  ShardCheckOptions check;
};

class Dataset {
public:
  /// Opens `dir`: reads dataset.json, maps and checks every shard.
  static StatusOr<std::unique_ptr<Dataset>>
  open(const std::string &dir, const OpenOptions &options = {});

  const Manifest &manifest() const { return manifest_; }
  const std::string &directory() const { return dir_; }
  uint64_t numUsers() const { return manifest_.users; }
  uint64_t numItems() const { return manifest_.items; }
  uint64_t numInteractions() const { return manifest_.interactions; }

  /// The sequence of internal user `user` (< numUsers()).
  UserSequence user(uint64_t user) const;
  /// Length of `user`'s sequence and its split bounds, without touching the
  /// item pages.
  size_t length(uint64_t user) const;
  uint32_t trainEnd(uint64_t user) const;
  uint32_t validEnd(uint64_t user) const;

  /// Raw ids from users.tsv / items.tsv: element i is the raw id of internal
  /// user i / internal item i (element 0 of the items is "" for padding).
  StatusOr<std::vector<std::string>> readUserIds() const;
  StatusOr<std::vector<std::string>> readItemIds() const;

private:
  Dataset() = default;
  struct Shard {
    std::unique_ptr<runtime::MappedFile> file;
    ShardView view;
    uint64_t firstUser;
    uint64_t users;
  };
  const Shard &shardOf(uint64_t user, uint64_t &local) const;

  std::string dir_;
  Manifest manifest_;
  std::vector<Shard> shards_;
};

} // namespace onerec::data

#endif // ONEREC_DATA_DATASET_H
