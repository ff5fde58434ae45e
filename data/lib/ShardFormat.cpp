//===- ShardFormat.cpp - writing and checking dataset shards --------------===//
//
// A shard is untrusted input like a plan: checkShard bounds-checks the header,
// the section table, the checksums and then the meaning (monotone row
// offsets, split bounds inside each user, item ids in 1..N) before a reader
// touches a byte, and every error names the file and a byte offset.
//
//===----------------------------------------------------------------------===//

#include "onerec/Data/ShardFormat.h"

#include <fmt/format.h>

#include <cstring>

namespace onerec::data {

using Code = Status::Code;

uint64_t fnv1a64(const void *data, size_t size, uint64_t hash) {
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string checksumText(uint64_t checksum) {
  return fmt::format("fnv1a64:{:016x}", checksum);
}

const char *sectionName(ShardSection section) {
  switch (section) {
  case ShardSection::RowOffsets:
    return "RowOffsets";
  case ShardSection::Splits:
    return "Splits";
  case ShardSection::Items:
    return "Items";
  case ShardSection::Timestamps:
    return "Timestamps";
  case ShardSection::Labels:
    return "Labels";
  }
  return "?";
}

namespace {

uint64_t alignUp(uint64_t value) {
  return (value + kShardAlignment - 1) / kShardAlignment * kShardAlignment;
}

template <typename T>
void appendSection(std::vector<uint8_t> &file, ShardHeader &header,
                   ShardSection section, const T *data, size_t count) {
  file.resize(alignUp(file.size()), 0);
  ShardSectionEntry &entry = header.sections[static_cast<int>(section)];
  entry.offset = file.size();
  entry.bytes = count * sizeof(T);
  if (count) {
    const uint8_t *bytes = reinterpret_cast<const uint8_t *>(data);
    file.insert(file.end(), bytes, bytes + entry.bytes);
  }
  entry.checksum = fnv1a64(file.data() + entry.offset, entry.bytes);
}

} // namespace

std::vector<uint8_t> serializeShard(const ShardContents &contents) {
  ShardHeader header;
  std::memset(&header, 0, sizeof(header));
  std::memcpy(header.magic, kShardMagic, sizeof(kShardMagic));
  header.version = kShardVersion;
  header.headerBytes = kShardHeaderBytes;
  header.shardIndex = contents.shardIndex;
  header.numLabels = static_cast<uint32_t>(contents.labels.size());
  header.firstUser = contents.firstUser;
  header.numUsers =
      contents.rowOffsets.empty() ? 0 : contents.rowOffsets.size() - 1;
  header.numInteractions = contents.items.size();
  header.numItems = contents.numItems;

  std::vector<uint8_t> file(kShardHeaderBytes, 0);
  appendSection(file, header, ShardSection::RowOffsets,
                contents.rowOffsets.data(), contents.rowOffsets.size());
  appendSection(file, header, ShardSection::Splits, contents.splits.data(),
                contents.splits.size());
  appendSection(file, header, ShardSection::Items, contents.items.data(),
                contents.items.size());
  appendSection(file, header, ShardSection::Timestamps,
                contents.timestamps.data(), contents.timestamps.size());
  std::vector<float> labels;
  for (const std::vector<float> &column : contents.labels)
    labels.insert(labels.end(), column.begin(), column.end());
  appendSection(file, header, ShardSection::Labels, labels.data(),
                labels.size());
  file.resize(alignUp(file.size()), 0);
  header.fileBytes = file.size();
  header.payloadChecksum =
      fnv1a64(file.data() + kShardHeaderBytes, file.size() - kShardHeaderBytes);
  std::memcpy(file.data(), &header, sizeof(header));
  uint64_t headerChecksum = fnv1a64(file.data(), kHeaderChecksumOffset);
  std::memcpy(file.data() + kHeaderChecksumOffset, &headerChecksum,
              sizeof(headerChecksum));
  return file;
}

StatusOr<ShardView> checkShard(const uint8_t *data, size_t size,
                               const std::string &name,
                               const ShardCheckOptions &options) {
  auto corrupt = [&](uint64_t offset, const std::string &what) {
    return Status::error(Code::Corrupt,
                         fmt::format("{}: offset {}: {}", name, offset, what));
  };
  if (size < kShardHeaderBytes)
    return Status::error(
        Code::Corrupt,
        fmt::format("{}: truncated ({} bytes, need at least {} for the header)",
                    name, size, kShardHeaderBytes));
  ShardHeader header;
  std::memcpy(&header, data, sizeof(header));
  if (std::memcmp(header.magic, kShardMagic, sizeof(kShardMagic)) != 0)
    return corrupt(0, "not a onerec dataset shard (bad magic)");
  if (header.version != kShardVersion)
    return corrupt(8, fmt::format("shard format version {} (this build reads "
                                  "version {})",
                                  header.version, kShardVersion));
  uint64_t headerChecksum = fnv1a64(data, kHeaderChecksumOffset);
  if (headerChecksum != header.headerChecksum)
    return corrupt(kHeaderChecksumOffset,
                   fmt::format("header checksum mismatch (bytes [0, {}) hash "
                               "to {}, the header says {})",
                               kHeaderChecksumOffset,
                               checksumText(headerChecksum),
                               checksumText(header.headerChecksum)));
  if (header.headerBytes != kShardHeaderBytes)
    return corrupt(12, fmt::format("header size {} (expected {})",
                                   header.headerBytes, kShardHeaderBytes));
  if (header.fileBytes != size)
    return Status::error(
        Code::Corrupt,
        fmt::format("{}: offset {}: truncated or extended: the header says "
                    "{} bytes, the file has {}",
                    name, std::min<uint64_t>(size, header.fileBytes),
                    header.fileBytes, size));
  // Counts bounded by the file size keep the products below from overflowing.
  if (header.numUsers > size || header.numInteractions > size ||
      header.numLabels > 1024)
    return corrupt(20, "counts larger than the file");
  const uint64_t expected[kNumShardSections] = {
      (header.numUsers + 1) * 8, header.numUsers * 2 * 4,
      header.numInteractions * 4, header.numInteractions * 8,
      header.numLabels * header.numInteractions * 4};
  for (int s = 0; s < kNumShardSections; ++s) {
    const ShardSectionEntry &entry = header.sections[s];
    const char *section = sectionName(static_cast<ShardSection>(s));
    uint64_t entryOffset = 64 + 24 * s;
    bool optional = s == static_cast<int>(ShardSection::Timestamps);
    if (entry.bytes != expected[s] && !(optional && entry.bytes == 0))
      return corrupt(entryOffset + 8,
                     fmt::format("{} section has {} bytes, expected {}",
                                 section, entry.bytes, expected[s]));
    if (entry.offset % kShardAlignment != 0 ||
        entry.offset < kShardHeaderBytes || entry.offset > size ||
        entry.bytes > size - entry.offset)
      return corrupt(entryOffset,
                     fmt::format("{} section [{}, +{}) outside the file ({} "
                                 "bytes) or not 64-byte aligned",
                                 section, entry.offset, entry.bytes, size));
  }
  if (options.verifyChecksums) {
    for (int s = 0; s < kNumShardSections; ++s) {
      const ShardSectionEntry &entry = header.sections[s];
      uint64_t sum = fnv1a64(data + entry.offset, entry.bytes);
      if (sum != entry.checksum)
        return corrupt(entry.offset,
                       fmt::format("checksum mismatch in the {} section "
                                   "(bytes [{}, {}) hash to {}, the header "
                                   "says {})",
                                   sectionName(static_cast<ShardSection>(s)),
                                   entry.offset, entry.offset + entry.bytes,
                                   checksumText(sum),
                                   checksumText(entry.checksum)));
    }
    uint64_t payload =
        fnv1a64(data + kShardHeaderBytes, size - kShardHeaderBytes);
    if (payload != header.payloadChecksum)
      return corrupt(kShardHeaderBytes,
                     fmt::format("payload checksum mismatch (bytes [{}, {}) "
                                 "hash to {}, the header says {})",
                                 kShardHeaderBytes, size, checksumText(payload),
                                 checksumText(header.payloadChecksum)));
  }

  ShardView view;
  view.header = reinterpret_cast<const ShardHeader *>(data);
  auto at = [&](ShardSection s) {
    return data + header.sections[static_cast<int>(s)].offset;
  };
  view.rowOffsets =
      reinterpret_cast<const uint64_t *>(at(ShardSection::RowOffsets));
  view.splits = reinterpret_cast<const uint32_t *>(at(ShardSection::Splits));
  view.items = reinterpret_cast<const int32_t *>(at(ShardSection::Items));
  if (header.sections[static_cast<int>(ShardSection::Timestamps)].bytes)
    view.timestamps =
        reinterpret_cast<const int64_t *>(at(ShardSection::Timestamps));
  if (header.numLabels && header.numInteractions)
    view.labels = reinterpret_cast<const float *>(at(ShardSection::Labels));

  if (options.verifyContents) {
    uint64_t rowBase = header.sections[0].offset;
    if (view.rowOffsets[0] != 0)
      return corrupt(rowBase, "the first row offset is not 0");
    for (uint64_t u = 0; u < header.numUsers; ++u) {
      uint64_t begin = view.rowOffsets[u], end = view.rowOffsets[u + 1];
      if (end < begin || end > header.numInteractions)
        return corrupt(rowBase + 8 * (u + 1),
                       fmt::format("row offset {} of user {} out of order or "
                                   "past {} interactions",
                                   end, header.firstUser + u,
                                   header.numInteractions));
      uint32_t trainEnd = view.splits[2 * u], validEnd = view.splits[2 * u + 1];
      if (trainEnd > validEnd || validEnd > end - begin)
        return corrupt(header.sections[1].offset + 8 * u,
                       fmt::format("split bounds ({}, {}) of user {} outside "
                                   "its {} items",
                                   trainEnd, validEnd, header.firstUser + u,
                                   end - begin));
    }
    if (view.rowOffsets[header.numUsers] != header.numInteractions)
      return corrupt(rowBase + 8 * header.numUsers,
                     "the last row offset is not the interaction count");
    for (uint64_t i = 0; i < header.numInteractions; ++i) {
      int32_t item = view.items[i];
      if (item < 1 || static_cast<uint64_t>(item) > header.numItems)
        return corrupt(
            header.sections[2].offset + 4 * i,
            fmt::format("item id {} outside 1..{}", item, header.numItems));
    }
  }
  return view;
}

} // namespace onerec::data
