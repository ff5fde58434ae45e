//===- GenerativeBatcherTest.cpp - semantic-ID batches: windows, padding --===//

#include "DataTestUtil.h"

#include "onerec/Data/GenerativeBatcher.h"

#include <set>

using namespace onerec::data;
using namespace onerec::data::test;

namespace {

std::unique_ptr<Dataset> open(const std::string &ds) {
  auto opened = Dataset::open(ds);
  EXPECT_TRUE(opened.isOk()) << opened.status().toString();
  return opened ? std::move(*opened) : nullptr;
}

/// Item i gets the codes (i, i % 3, 7) (3 levels, codebook 64): unique per
/// item, and the first level reads back the item.
Catalog catalogFor(uint64_t items, uint64_t skip = 0) {
  std::vector<int64_t> ids;
  std::vector<int32_t> codes;
  for (uint64_t i = 1; i <= items; ++i) {
    if (i == skip)
      continue;
    ids.push_back(int64_t(i));
    codes.insert(codes.end(), {int32_t(i), int32_t(i % 3), 7});
  }
  auto c = Catalog::fromCodes(3, 64, std::move(ids), std::move(codes));
  EXPECT_TRUE(c.isOk()) << c.status().toString();
  return std::move(*c);
}

GenerativeBatcher makeBatcher(const Dataset &d, const Catalog &c,
                              const GenerativeBatcherOptions &o) {
  auto b = GenerativeBatcher::create(d, c, o);
  EXPECT_TRUE(b.isOk()) << b.status().toString();
  return std::move(*b);
}

/// The items of row `r`'s history slots (0 for padding), from the codes.
std::vector<int64_t> historyItems(const GenerativeBatch &b, int64_t r) {
  std::vector<int64_t> items;
  for (int64_t j = 0; j < b.history; ++j)
    items.push_back(b.historyCodes[size_t((r * b.history + j) * b.levels)]);
  return items;
}

// Leave-one-out: user 1 has 1..7 (train 1..5), user 2 8 9 10 (train 8),
// user 3 4 3 2 1 (train 4 3).
const char *kSeq = "1 1 2 3 4 5 6 7\n2 8 9 10\n3 4 3 2 1\n";

TEST(GenerativeBatcherTest, TrainWindowsTruncateAndPad) {
  TempDir dir;
  auto d = open(makeDataset(dir, "seq.txt", kSeq));
  Catalog c = catalogFor(d->numItems());
  GenerativeBatcherOptions o;
  o.batchSize = 8;
  o.history = 3;
  o.shuffle = false;
  GenerativeBatcher b = makeBatcher(*d, c, o);
  // User 1: t = 1..4, user 2: none, user 3: t = 1.
  EXPECT_EQ(b.rowsPerEpoch(), 5u);
  GenerativeBatch batch;
  ASSERT_TRUE(b.next(batch));
  EXPECT_EQ(batch.rows, 5);
  EXPECT_EQ(batch.levels, 3);
  std::vector<std::vector<int64_t>> histories = {
      {0, 0, 1}, {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {0, 0, 4}};
  std::vector<int64_t> targets = {2, 3, 4, 5, 3};
  for (int64_t r = 0; r < 5; ++r) {
    EXPECT_EQ(historyItems(batch, r), histories[size_t(r)]) << "row " << r;
    EXPECT_EQ(batch.targetItems[size_t(r)], targets[size_t(r)]);
    const int64_t *code = batch.targetCodes.data() + r * 3;
    EXPECT_EQ(code[0], targets[size_t(r)]);
    EXPECT_EQ(code[1], targets[size_t(r)] % 3);
    EXPECT_EQ(code[2], 7);
  }
  // Padding slots are code 0 at every level; real slots carry all levels.
  EXPECT_EQ(batch.historyCodes[0], 0);
  EXPECT_EQ(batch.historyCodes[1], 0);
  EXPECT_EQ(batch.historyCodes[2], 0);
  EXPECT_EQ(batch.historyCodes[6 + 2], 7);
  // Rows past `rows` are zeros with user -1.
  EXPECT_EQ(batch.users[5], -1);
  EXPECT_EQ(batch.targetCodes[5 * 3], 0);
  EXPECT_FALSE(b.next(batch));
  EXPECT_EQ(b.position().epoch, 1u);
}

TEST(GenerativeBatcherTest, SessionTargetsAndEvalSplits) {
  TempDir dir;
  auto d = open(makeDataset(dir, "seq.txt", kSeq));
  Catalog c = catalogFor(d->numItems());
  GenerativeBatcherOptions o;
  o.batchSize = 4;
  o.history = 2;
  o.targets = 2;
  o.shuffle = false;
  GenerativeBatcher b = makeBatcher(*d, c, o);
  // Only full targets: user 1 t = 1..3, user 3 none (2 train items).
  EXPECT_EQ(b.rowsPerEpoch(), 3u);
  GenerativeBatch batch;
  ASSERT_TRUE(b.next(batch));
  EXPECT_EQ((std::vector<int64_t>(batch.targetItems.begin(),
                                  batch.targetItems.begin() + 6)),
            (std::vector<int64_t>{2, 3, 3, 4, 4, 5}));

  // Valid: history = the train part (last 2), target = the valid item.
  o.targets = 1;
  o.split = Split::Valid;
  GenerativeBatcher valid = makeBatcher(*d, c, o);
  ASSERT_TRUE(valid.next(batch));
  ASSERT_EQ(batch.rows, 3);
  EXPECT_EQ(historyItems(batch, 0), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(batch.targetItems[0], 6);
  EXPECT_EQ(historyItems(batch, 1), (std::vector<int64_t>{0, 8}));
  EXPECT_EQ(batch.targetItems[1], 9);
  // Test: history = train + valid.
  o.split = Split::Test;
  GenerativeBatcher test = makeBatcher(*d, c, o);
  ASSERT_TRUE(test.next(batch));
  EXPECT_EQ(historyItems(batch, 0), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(batch.targetItems[0], 7);
  // A session target longer than any valid part: a clear error.
  o.targets = 2;
  o.split = Split::Valid;
  auto none = GenerativeBatcher::create(*d, c, o);
  ASSERT_FALSE(none.isOk());
  EXPECT_NE(none.status().message().find("no valid examples"),
            std::string::npos)
      << none.status().message();
}

TEST(GenerativeBatcherTest, ShuffleIsDeterministicAndResumable) {
  TempDir dir;
  std::string text;
  for (int u = 1; u <= 40; ++u) {
    text += std::to_string(u);
    for (int j = 0; j < 3 + u % 5; ++j)
      text += " " + std::to_string(1 + (u * 7 + j * 3) % 30);
    text += "\n";
  }
  auto d = open(makeDataset(dir, "seq.txt", text));
  Catalog c = catalogFor(d->numItems());
  GenerativeBatcherOptions o;
  o.batchSize = 16;
  o.history = 4;
  o.seed = 5;
  auto collect = [&](GenerativeBatcher &b, int batches) {
    std::vector<int64_t> all;
    GenerativeBatch batch;
    for (int i = 0; i < batches;) {
      if (!b.next(batch))
        continue;
      all.insert(all.end(), batch.targetItems.begin(), batch.targetItems.end());
      all.insert(all.end(), batch.users.begin(), batch.users.end());
      ++i;
    }
    return all;
  };
  GenerativeBatcher a = makeBatcher(*d, c, o), same = makeBatcher(*d, c, o);
  uint64_t perEpoch = a.batchesPerEpoch();
  ASSERT_GT(perEpoch, 2u);
  EXPECT_EQ(collect(a, int(perEpoch) + 3), collect(same, int(perEpoch) + 3));
  // Epochs differ, and every example occurs once per epoch.
  std::vector<std::pair<uint32_t, uint32_t>> e0, e1;
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (uint64_t r = 0; r < a.rowsPerEpoch(); ++r) {
    e0.push_back(a.exampleAt(0, r));
    seen.insert(e0.back());
  }
  for (uint64_t r = 0; r < a.rowsPerEpoch(); ++r)
    e1.push_back(a.exampleAt(1, r));
  EXPECT_NE(e0, e1);
  EXPECT_EQ(seen.size(), a.rowsPerEpoch());
  // Another seed, another order.
  o.seed = 6;
  GenerativeBatcher other = makeBatcher(*d, c, o);
  EXPECT_NE(other.exampleAt(0, 0), e0[0]);
  // Resume: seek to a saved position and get the same batches.
  o.seed = 5;
  GenerativeBatcher run = makeBatcher(*d, c, o);
  GenerativeBatch batch;
  ASSERT_TRUE(run.next(batch));
  ASSERT_TRUE(run.next(batch));
  Position at = run.position();
  std::vector<int64_t> rest = collect(run, 4);
  GenerativeBatcher resumed = makeBatcher(*d, c, o);
  ASSERT_TRUE(resumed.seek(at).isOk());
  EXPECT_EQ(collect(resumed, 4), rest);
  EXPECT_FALSE(resumed.seek(Position{0, 1u << 30}).isOk());
}

TEST(GenerativeBatcherTest, CatalogMustCoverTheDataset) {
  TempDir dir;
  auto d = open(makeDataset(dir, "seq.txt", kSeq));
  Catalog c = catalogFor(d->numItems(), /*skip=*/4);
  GenerativeBatcherOptions o;
  auto b = GenerativeBatcher::create(*d, c, o);
  ASSERT_FALSE(b.isOk());
  EXPECT_NE(b.status().message().find("no semantic ID for 1 of the 10 items"),
            std::string::npos)
      << b.status().message();
  EXPECT_NE(b.status().message().find("item 4"), std::string::npos);
  EXPECT_NE(b.status().message().find("onerec-tokenize"), std::string::npos);
}

} // namespace
