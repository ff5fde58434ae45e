//===- BatcherTest.cpp - next-item batches: contents, determinism, resume -===//

#include "DataTestUtil.h"

#include "onerec/Data/SequenceBatcher.h"
#include "onerec/Data/SyntheticGenerator.h"

#include <algorithm>
#include <set>

using namespace onerec::data;
using namespace onerec::data::test;

namespace {

struct Fixture {
  TempDir dir;
  std::unique_ptr<Dataset> dataset;
};

/// Internal ids equal raw ids here (numeric raw ids 1..N all present).
std::unique_ptr<Dataset> open(const std::string &ds) {
  auto opened = Dataset::open(ds);
  EXPECT_TRUE(opened.isOk()) << opened.status().toString();
  return opened ? std::move(*opened) : nullptr;
}

SequenceBatcher makeBatcher(const Dataset &d, const BatcherOptions &options) {
  auto batcher = SequenceBatcher::create(d, options);
  EXPECT_TRUE(batcher.isOk()) << batcher.status().toString();
  return std::move(*batcher);
}

std::string syntheticDataset(const TempDir &dir, uint64_t users = 300,
                             uint64_t shardUsers = 64) {
  SyntheticOptions o;
  o.users = users;
  o.items = 50;
  o.lenMin = 3;
  o.lenMax = 12;
  auto generated = generateSynthetic(o);
  EXPECT_TRUE(generated.isOk());
  WriteOptions w;
  w.outDir = dir.file("syn");
  w.shardUsers = shardUsers;
  EXPECT_TRUE(writeDataset(generated->contents, w).isOk());
  return w.outDir;
}

TEST(BatcherTest, TrainRowPaddingAndAlignment) {
  TempDir dir;
  // User 1: 1..7 (train 1..5), user 2: 3 items (train 1), user 3: 4 items.
  auto d = open(
      makeDataset(dir, "seq.txt", "1 1 2 3 4 5 6 7\n2 8 9 10\n3 4 3 2 1\n"));
  BatcherOptions o;
  o.batchSize = 4;
  o.maxLen = 3;
  o.negatives = 2;
  o.shuffle = false;
  o.maxLen = 6;
  // User 2 has one train item (no pair); user 3 (internal 2) trains on 4 3.
  SequenceBatcher b = makeBatcher(*d, o);
  ASSERT_EQ(b.rowsPerEpoch(), 2u);
  SequenceBatch batch;
  ASSERT_TRUE(b.next(batch));
  EXPECT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.users, (std::vector<int64_t>{0, 2, -1, -1}));
  ASSERT_EQ(batch.seq.size(), 24u);
  // Row 0: train 1..5 -> seq 1..4 left-padded to 6, pos 2..5.
  EXPECT_EQ(std::vector<int64_t>(batch.seq.begin(), batch.seq.begin() + 6),
            (std::vector<int64_t>{0, 0, 1, 2, 3, 4}));
  EXPECT_EQ(std::vector<int64_t>(batch.pos.begin(), batch.pos.begin() + 6),
            (std::vector<int64_t>{0, 0, 2, 3, 4, 5}));
  EXPECT_EQ(std::vector<int64_t>(batch.seq.begin() + 6, batch.seq.begin() + 12),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 4}));
  EXPECT_EQ(std::vector<int64_t>(batch.pos.begin() + 6, batch.pos.begin() + 12),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 3}));
  // Padding rows are zero.
  EXPECT_TRUE(std::all_of(batch.seq.begin() + 12, batch.seq.end(),
                          [](int64_t v) { return v == 0; }));
  ASSERT_EQ(batch.neg.size(), 48u);
  for (int64_t cell = 0; cell < 24; ++cell)
    for (int k = 0; k < 2; ++k) {
      int64_t neg = batch.neg[cell * 2 + k];
      if (batch.pos[cell] == 0) {
        EXPECT_EQ(neg, 0) << cell;
      } else {
        EXPECT_GE(neg, 1);
        EXPECT_LE(neg, 10);
        int64_t user = batch.users[cell / 6];
        UserSequence s = d->user(user);
        EXPECT_EQ(std::count(s.items, s.items + s.trainEnd, neg), 0)
            << "negative " << neg << " in the history of user " << user;
      }
    }
  EXPECT_FALSE(b.next(batch));
  EXPECT_EQ(b.position(), (Position{1, 0}));
}

TEST(BatcherTest, TruncationKeepsTheMostRecent) {
  TempDir dir;
  auto d = open(makeDataset(dir, "seq.txt", "1 1 2 3 4 5 6 7 8 9 10\n"));
  BatcherOptions o;
  o.batchSize = 1;
  o.maxLen = 3;
  o.negatives = 0;
  SequenceBatcher b = makeBatcher(*d, o);
  SequenceBatch batch;
  ASSERT_TRUE(b.next(batch));
  // Train part 1..8: the last 3 pairs.
  EXPECT_EQ(batch.seq, (std::vector<int64_t>{5, 6, 7}));
  EXPECT_EQ(batch.pos, (std::vector<int64_t>{6, 7, 8}));
  EXPECT_TRUE(batch.neg.empty());
}

TEST(BatcherTest, EvalBatches) {
  TempDir dir;
  auto d =
      open(makeDataset(dir, "seq.txt", "1 1 2 3 4 5 6 7\n2 8 9 10\n3 4 3\n"));
  BatcherOptions o;
  o.batchSize = 4;
  o.maxLen = 4;
  o.split = Split::Valid;
  o.evalNegatives = 100;
  o.shuffle = false;
  SequenceBatcher valid = makeBatcher(*d, o);
  ASSERT_EQ(valid.rowsPerEpoch(), 2u); // user 3 has 2 items: no target
  SequenceBatch batch;
  ASSERT_TRUE(valid.next(batch));
  EXPECT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.target, (std::vector<int64_t>{6, 9, 0, 0}));
  EXPECT_EQ(batch.seq, (std::vector<int64_t>{2, 3, 4, 5, 0, 0, 0, 8, 0, 0, 0, 0,
                                             0, 0, 0, 0}));
  EXPECT_TRUE(batch.pos.empty());
  EXPECT_EQ(batch.historyOffsets, (std::vector<int64_t>{0, 5, 6}));
  EXPECT_EQ(batch.historyItems, (std::vector<int64_t>{1, 2, 3, 4, 5, 8}));
  ASSERT_EQ(batch.candidatesPerRow, 101);
  ASSERT_EQ(batch.candidates.size(), 404u);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(batch.candidates[r * 101], batch.target[r]);
    std::set<int64_t> history(
        batch.historyItems.begin() + batch.historyOffsets[r],
        batch.historyItems.begin() + batch.historyOffsets[r + 1]);
    for (int k = 1; k < 101; ++k) {
      int64_t c = batch.candidates[r * 101 + k];
      EXPECT_GE(c, 1);
      EXPECT_LE(c, 10);
      EXPECT_NE(c, batch.target[r]);
      EXPECT_EQ(history.count(c), 0u);
    }
  }
  o.split = Split::Test;
  SequenceBatcher test = makeBatcher(*d, o);
  ASSERT_TRUE(test.next(batch));
  EXPECT_EQ(batch.target, (std::vector<int64_t>{7, 10, 0, 0}));
  // Test history = train + valid item.
  EXPECT_EQ(std::vector<int64_t>(batch.seq.begin(), batch.seq.begin() + 4),
            (std::vector<int64_t>{3, 4, 5, 6}));
  EXPECT_EQ(std::vector<int64_t>(batch.seq.begin() + 4, batch.seq.begin() + 8),
            (std::vector<int64_t>{0, 0, 8, 9}));
  // User 2's history is 8 9: 8 of the 10 items remain as negatives.
  for (int k = 1; k < 101; ++k)
    EXPECT_LE(batch.candidates[101 + k], 7);
}

std::vector<SequenceBatch> epochBatches(SequenceBatcher &b) {
  std::vector<SequenceBatch> out;
  SequenceBatch batch;
  while (b.next(batch))
    out.push_back(batch);
  return out;
}

bool sameBatch(const SequenceBatch &a, const SequenceBatch &b) {
  return a.rows == b.rows && a.users == b.users && a.seq == b.seq &&
         a.pos == b.pos && a.neg == b.neg && a.target == b.target &&
         a.candidates == b.candidates && a.position == b.position;
}

TEST(BatcherTest, ShuffleIsDeterministicPerSeedAndEpoch) {
  TempDir dir;
  auto d = open(syntheticDataset(dir));
  BatcherOptions o;
  o.batchSize = 32;
  o.maxLen = 8;
  o.negatives = 3;
  o.seed = 42;
  SequenceBatcher a = makeBatcher(*d, o), b = makeBatcher(*d, o);
  auto a0 = epochBatches(a), b0 = epochBatches(b);
  auto a1 = epochBatches(a);
  ASSERT_EQ(a0.size(), a.batchesPerEpoch());
  ASSERT_EQ(a0.size(), b0.size());
  for (size_t i = 0; i < a0.size(); ++i)
    EXPECT_TRUE(sameBatch(a0[i], b0[i])) << i;
  // Epoch 1 visits the users in another order.
  EXPECT_NE(a0[0].users, a1[0].users);
  // Every user exactly once per epoch.
  std::vector<int64_t> seen;
  for (const SequenceBatch &batch : a1)
    seen.insert(seen.end(), batch.users.begin(),
                batch.users.begin() + batch.rows);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), a.rowsPerEpoch());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
  // Another seed, another order.
  o.seed = 43;
  SequenceBatcher c = makeBatcher(*d, o);
  EXPECT_NE(epochBatches(c)[0].users, a0[0].users);
  // No shuffle: ascending users.
  o.shuffle = false;
  SequenceBatcher plain = makeBatcher(*d, o);
  auto p0 = epochBatches(plain);
  EXPECT_TRUE(std::is_sorted(p0[0].users.begin(), p0[0].users.end()));
}

TEST(BatcherTest, SeekResumesBitIdentically) {
  TempDir dir;
  auto d = open(syntheticDataset(dir));
  BatcherOptions o;
  o.batchSize = 16;
  o.maxLen = 8;
  o.negatives = 2;
  o.seed = 7;
  SequenceBatcher full = makeBatcher(*d, o);
  std::vector<SequenceBatch> reference;
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto batches = epochBatches(full);
    reference.insert(reference.end(), batches.begin(), batches.end());
  }
  // Kill after every k batches, resume from the saved position.
  for (size_t stop :
       {size_t(1), size_t(5), reference.size() / 2, reference.size() - 1}) {
    SequenceBatcher first = makeBatcher(*d, o);
    SequenceBatch batch;
    size_t produced = 0;
    while (produced < stop)
      produced += first.next(batch);
    Position saved = first.position();
    SequenceBatcher resumed = makeBatcher(*d, o);
    ASSERT_TRUE(resumed.seek(saved).isOk());
    for (size_t i = stop; i < reference.size();) {
      if (!resumed.next(batch))
        continue;
      ASSERT_TRUE(sameBatch(batch, reference[i]))
          << "stop " << stop << " batch " << i;
      ++i;
    }
  }
  // Eval batches resume too.
  o.split = Split::Test;
  o.evalNegatives = 20;
  SequenceBatcher eval = makeBatcher(*d, o);
  auto evalBatches = epochBatches(eval);
  SequenceBatcher evalResumed = makeBatcher(*d, o);
  ASSERT_TRUE(evalResumed.seek(evalBatches[2].position).isOk());
  SequenceBatch batch;
  ASSERT_TRUE(evalResumed.next(batch));
  EXPECT_TRUE(sameBatch(batch, evalBatches[2]));
  EXPECT_FALSE(evalResumed.seek(Position{0, 1u << 30}).isOk());
}

TEST(BatcherTest, DropLastAndShortBatches) {
  TempDir dir;
  auto d = open(syntheticDataset(dir, 100));
  BatcherOptions o;
  o.batchSize = 32;
  o.maxLen = 4;
  SequenceBatcher keep = makeBatcher(*d, o);
  uint64_t rows = keep.rowsPerEpoch();
  ASSERT_NE(rows % 32, 0u);
  auto all = epochBatches(keep);
  ASSERT_EQ(all.size(), rows / 32 + 1);
  EXPECT_EQ(all.back().rows, int64_t(rows % 32));
  EXPECT_EQ(all.back().users[rows % 32], -1);
  o.dropLast = true;
  SequenceBatcher drop = makeBatcher(*d, o);
  auto dropped = epochBatches(drop);
  ASSERT_EQ(dropped.size(), rows / 32);
  EXPECT_EQ(drop.batchesPerEpoch(), rows / 32);
  for (size_t i = 0; i < dropped.size(); ++i)
    EXPECT_TRUE(sameBatch(all[i], dropped[i]));
}

TEST(BatcherTest, BadOptions) {
  TempDir dir;
  auto d = open(syntheticDataset(dir, 10));
  BatcherOptions o;
  o.batchSize = 0;
  EXPECT_FALSE(SequenceBatcher::create(*d, o).isOk());
  o.batchSize = 4;
  o.maxLen = -1;
  EXPECT_FALSE(SequenceBatcher::create(*d, o).isOk());
}

TEST(BatcherTest, NegativesWhenHistoryCoversAllItems) {
  TempDir dir;
  auto d = open(makeDataset(dir, "seq.txt", "1 1 2 3 1 2\n2 1 2 3\n",
                            SplitPolicy{SplitPolicy::Kind::None}));
  BatcherOptions o;
  o.batchSize = 2;
  o.maxLen = 5;
  SequenceBatcher b = makeBatcher(*d, o);
  SequenceBatch batch;
  ASSERT_TRUE(b.next(batch));
  // Every item is in each history: no negative exists, 0 is written.
  EXPECT_TRUE(std::all_of(batch.neg.begin(), batch.neg.end(),
                          [](int64_t v) { return v == 0; }));
}

} // namespace
