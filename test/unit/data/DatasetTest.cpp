//===- DatasetTest.cpp - the reader and every check on a damaged dataset --===//

#include "DataTestUtil.h"

#include "onerec/Data/ShardFormat.h"

#include <fmt/format.h>

#include <cstring>

using namespace onerec::data;
using namespace onerec::data::test;

namespace {

const char *kSequences =
    "1 1 2 3 4 5\n2 3 2 1\n3 5 4\n4 2 3 4 5 1 2\n5 1 3 5\n";

TEST(DatasetTest, RoundTripAcrossShards) {
  TempDir dir;
  std::string ds = makeDataset(dir, "seq.txt", kSequences, SplitPolicy{},
                               /*shardUsers=*/2);
  auto opened = Dataset::open(ds);
  ASSERT_TRUE(opened.isOk()) << opened.status().toString();
  const Dataset &d = **opened;
  EXPECT_EQ(d.numUsers(), 5u);
  EXPECT_EQ(d.numItems(), 5u);
  EXPECT_EQ(d.numInteractions(), 19u);
  ASSERT_EQ(d.manifest().shards.size(), 3u);
  EXPECT_EQ(d.manifest().splitPolicy, "loo");
  UserSequence u3 = d.user(3);
  ASSERT_EQ(u3.length, 6u);
  EXPECT_EQ(std::vector<int32_t>(u3.items, u3.items + 6),
            (std::vector<int32_t>{2, 3, 4, 5, 1, 2}));
  EXPECT_EQ(u3.trainEnd, 4u);
  EXPECT_EQ(u3.validEnd, 5u);
  EXPECT_EQ(u3.begin(Split::Test), 5u);
  EXPECT_EQ(u3.end(Split::Valid), 5u);
  EXPECT_EQ(u3.timestamps, nullptr);
  UserSequence u2 = d.user(2); // 2 items: all train
  EXPECT_EQ(u2.trainEnd, 2u);
  EXPECT_EQ(u2.validEnd, 2u);
  auto users = d.readUserIds();
  ASSERT_TRUE(users.isOk());
  EXPECT_EQ((*users)[4], "5");
  auto items = d.readItemIds();
  ASSERT_TRUE(items.isOk());
  ASSERT_EQ(items->size(), 6u);
  EXPECT_EQ((*items)[0], "");
  EXPECT_EQ((*items)[3], "3");
}

TEST(DatasetTest, TimestampsAndLabels) {
  TempDir dir;
  std::string ds = makeDataset(
      dir, "log.csv", "user,item,ts,like\na,x,2,1\na,y,1,0\nb,x,7,1\n");
  auto opened = Dataset::open(ds);
  ASSERT_TRUE(opened.isOk()) << opened.status().toString();
  const Dataset &d = **opened;
  EXPECT_TRUE(d.manifest().hasTimestamps);
  ASSERT_EQ(d.manifest().labelNames, (std::vector<std::string>{"like"}));
  UserSequence a = d.user(0);
  ASSERT_EQ(a.length, 2u);
  EXPECT_EQ(a.items[0], 2);
  EXPECT_EQ(a.timestamps[0], 1);
  EXPECT_EQ(a.labels(0)[0], 0.0f);
  EXPECT_EQ(a.labels(0)[1], 1.0f);
  EXPECT_EQ(d.user(1).timestamps[0], 7);
}

std::string shardPath(const std::string &ds, int index) {
  return ds + "/" + fmt::format("shard-{:05d}.bin", index);
}

TEST(DatasetTest, FlippedByteIsAChecksumErrorWithOffset) {
  TempDir dir;
  std::string ds = makeDataset(dir, "seq.txt", kSequences);
  std::string path = shardPath(ds, 0);
  std::string bytes = readBytes(path);
  ShardHeader header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  uint64_t itemsAt = header.sections[int(ShardSection::Items)].offset;
  bytes[itemsAt + 5] ^= 0x10;
  writeBytes(path, bytes);
  auto opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_EQ(opened.status().code(), Status::Code::Corrupt);
  EXPECT_NE(opened.status().message().find(
                fmt::format("{}: offset {}: checksum mismatch in the Items "
                            "section",
                            path, itemsAt)),
            std::string::npos)
      << opened.status().message();
}

TEST(DatasetTest, FlippedHeaderByte) {
  TempDir dir;
  std::string ds = makeDataset(dir, "seq.txt", kSequences);
  std::string path = shardPath(ds, 0);
  std::string bytes = readBytes(path);
  bytes[40] ^= 1; // numInteractions
  writeBytes(path, bytes);
  auto opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_NE(opened.status().message().find(
                path + ": offset 248: header checksum mismatch"),
            std::string::npos)
      << opened.status().message();
}

TEST(DatasetTest, TruncatedShard) {
  TempDir dir;
  std::string ds = makeDataset(dir, "seq.txt", kSequences);
  std::string path = shardPath(ds, 0);
  std::string bytes = readBytes(path);
  writeBytes(path, bytes.substr(0, bytes.size() - 64));
  auto opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_NE(opened.status().message().find(fmt::format(
                "{}: offset {}: truncated or extended: the header "
                "says {} bytes, the file has {}",
                path, bytes.size() - 64, bytes.size(), bytes.size() - 64)),
            std::string::npos)
      << opened.status().message();
  writeBytes(path, bytes.substr(0, 100));
  opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_NE(opened.status().message().find(path + ": truncated (100 bytes"),
            std::string::npos)
      << opened.status().message();
}

TEST(DatasetTest, ManifestChecksumMustMatchShard) {
  TempDir dir;
  std::string ds = makeDataset(dir, "seq.txt", kSequences);
  std::string manifest = readBytes(ds + "/dataset.json");
  size_t at = manifest.find("fnv1a64:");
  ASSERT_NE(at, std::string::npos);
  char &digit = manifest[at + 8];
  digit = digit == '0' ? '1' : '0';
  writeBytes(ds + "/dataset.json", manifest);
  auto opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_NE(opened.status().message().find(shardPath(ds, 0) +
                                           ": offset 184: payload checksum"),
            std::string::npos)
      << opened.status().message();
}

TEST(DatasetTest, MissingManifestFields) {
  TempDir dir;
  std::string ds = makeDataset(dir, "seq.txt", kSequences);
  std::string original = readBytes(ds + "/dataset.json");
  for (const char *pointer :
       {"/counts/users", "/counts/items", "/schema/columns", "/split/policy",
        "/shards/0/checksum", "/format", "/version"}) {
    nlohmann::json m = nlohmann::json::parse(original);
    nlohmann::json::json_pointer ptr(pointer);
    m.at(ptr.parent_pointer()).erase(ptr.back());
    writeBytes(ds + "/dataset.json", m.dump());
    auto opened = Dataset::open(ds);
    ASSERT_FALSE(opened.isOk()) << pointer;
    EXPECT_NE(opened.status().message().find(fmt::format(
                  "{}/dataset.json: missing field '{}'", ds, pointer + 1)),
              std::string::npos)
        << opened.status().message();
  }
  writeBytes(ds + "/dataset.json", "{ not json");
  auto opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_NE(opened.status().message().find("not a JSON object"),
            std::string::npos);
  std::filesystem::remove(ds + "/dataset.json");
  opened = Dataset::open(ds);
  ASSERT_FALSE(opened.isOk());
  EXPECT_EQ(opened.status().code(), Status::Code::NotFound);
}

TEST(DatasetTest, ItemOutOfRangeIsReportedWithOffset) {
  // A shard whose checksums are right but whose contents are not.
  ShardContents contents;
  contents.numItems = 3;
  contents.rowOffsets = {0, 2};
  contents.splits = {2, 2};
  contents.items = {1, 4};
  std::vector<uint8_t> bytes = serializeShard(contents);
  auto view = checkShard(bytes.data(), bytes.size(), "s.bin");
  ASSERT_FALSE(view.isOk());
  ShardHeader header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  EXPECT_EQ(view.status().message(),
            fmt::format("s.bin: offset {}: item id 4 outside 1..3",
                        header.sections[2].offset + 4));
  contents.items = {1, 2};
  contents.splits = {2, 3};
  bytes = serializeShard(contents);
  view = checkShard(bytes.data(), bytes.size(), "s.bin");
  ASSERT_FALSE(view.isOk());
  EXPECT_NE(view.status().message().find("split bounds (2, 3) of user 0"),
            std::string::npos);
}

TEST(DatasetTest, EveryTruncationAndByteFlipIsAnErrorNotACrash) {
  ShardContents contents;
  contents.numItems = 5;
  contents.rowOffsets = {0, 3, 5};
  contents.splits = {1, 2, 1, 1};
  contents.items = {1, 2, 3, 4, 5};
  contents.timestamps = {1, 2, 3, 4, 5};
  contents.labels = {{0, 1, 0, 1, 0}};
  std::vector<uint8_t> bytes = serializeShard(contents);
  ASSERT_TRUE(checkShard(bytes.data(), bytes.size(), "s").isOk());
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(checkShard(bytes.data(), n, "s").isOk()) << n;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> flipped = bytes;
    flipped[i] ^= 0x01;
    auto view = checkShard(flipped.data(), flipped.size(), "s");
    // Padding bytes between sections are covered by the payload checksum,
    // reserved header bytes by the header checksum: every flip is caught.
    EXPECT_FALSE(view.isOk()) << "flip at " << i;
  }
}

} // namespace
