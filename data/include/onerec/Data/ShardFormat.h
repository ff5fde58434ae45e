//===- ShardFormat.h - the binary layout of a dataset shard -------*- C++
//-*-===//
//
// A shard holds the sequences of a contiguous range of users. It is read in
// place (memory-mapped); every offset is from the start of the file, every
// section starts 64-byte aligned, all integers are little-endian. The layout
// is documented byte by byte in docs/data.md; this header is its definition.
//
//   [0, 256)   ShardHeader (magic, version, counts, section table, checksums)
//   sections:  RowOffsets  uint64[users + 1]  start of each user in Items
//              Splits      uint32[users * 2]  (trainEnd, validEnd) per user
//              Items       int32[interactions] internal item ids, 1..N
//              Timestamps  int64[interactions] (absent: 0 bytes)
//              Labels      float32[labels * interactions], one column after
//                          the other (absent: 0 bytes)
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_SHARDFORMAT_H
#define ONEREC_DATA_SHARDFORMAT_H

#include "onerec/Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace onerec::data {

using runtime::Status;
using runtime::StatusOr;

/// FNV-1a 64 over `size` bytes, continuing from `hash`.
uint64_t fnv1a64(const void *data, size_t size,
                 uint64_t hash = 0xcbf29ce484222325ULL);

/// "fnv1a64:0123456789abcdef", as the manifest records checksums.
std::string checksumText(uint64_t checksum);

inline constexpr char kShardMagic[8] = {'O', 'R', 'E', 'C', 'S', 'H', 'R', 'D'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr uint32_t kShardHeaderBytes = 256;
inline constexpr uint32_t kShardAlignment = 64;

enum class ShardSection : uint32_t {
  RowOffsets = 0,
  Splits = 1,
  Items = 2,
  Timestamps = 3,
  Labels = 4,
};
inline constexpr int kNumShardSections = 5;
const char *sectionName(ShardSection section);

struct ShardSectionEntry {
  uint64_t offset;   // from the start of the file, 64-byte aligned
  uint64_t bytes;    // 0 for an absent section
  uint64_t checksum; // fnv1a64 of the section's bytes
};

/// The first 256 bytes of a shard, exactly as on disk.
struct ShardHeader {
  char magic[8];            // offset 0: "ORECSHRD"
  uint32_t version;         // 8
  uint32_t headerBytes;     // 12: 256
  uint32_t shardIndex;      // 16
  uint32_t numLabels;       // 20
  uint64_t firstUser;       // 24: internal id of the shard's first user
  uint64_t numUsers;        // 32
  uint64_t numInteractions; // 40
  uint64_t fileBytes;       // 48: size of the whole file
  uint64_t numItems;        // 56: N of the dataset (items are 1..N)
  ShardSectionEntry sections[kNumShardSections]; // 64..184
  uint64_t payloadChecksum; // 184: fnv1a64 of bytes [256, fileBytes)
  uint8_t reserved[56];     // 192: zero
  uint64_t headerChecksum;  // 248: fnv1a64 of bytes [0, 248)
};
static_assert(sizeof(ShardHeader) == kShardHeaderBytes);
inline constexpr size_t kHeaderChecksumOffset = 248;
inline constexpr size_t kPayloadChecksumOffset = 184;

/// One shard's content, to be serialized.
struct ShardContents {
  uint32_t shardIndex = 0;
  uint64_t firstUser = 0;
  uint64_t numItems = 0;
  std::vector<uint64_t> rowOffsets; // users + 1, starting at 0
  std::vector<uint32_t> splits;     // users * 2
  std::vector<int32_t> items;
  std::vector<int64_t> timestamps;        // empty or one per interaction
  std::vector<std::vector<float>> labels; // per label column
};

/// The bytes of a shard file (header included, checksums filled in).
std::vector<uint8_t> serializeShard(const ShardContents &contents);

/// A verified view into a mapped shard.
struct ShardView {
  const ShardHeader *header = nullptr;
  const uint64_t *rowOffsets = nullptr;
  const uint32_t *splits = nullptr;
  const int32_t *items = nullptr;
  const int64_t *timestamps = nullptr; // null when absent
  const float *labels = nullptr;       // null when absent
};

struct ShardCheckOptions {
  /// Recompute section checksums (reads every page of the shard).
  bool verifyChecksums = true;
  /// Check every item id, row offset and split bound (reads the sections).
  bool verifyContents = true;
};

/// Checks `size` bytes of a shard named `name` and returns views into them.
/// Errors name the file and the byte offset: "shard-00001.bin: offset 4160:
/// Items section checksum mismatch (...)".
StatusOr<ShardView> checkShard(const uint8_t *data, size_t size,
                               const std::string &name,
                               const ShardCheckOptions &options = {});

} // namespace onerec::data

#endif // ONEREC_DATA_SHARDFORMAT_H
