//===- SyntheticTest.cpp - the planted Markov chain and its accuracy ------===//

#include "DataTestUtil.h"

#include "onerec/Data/SyntheticGenerator.h"

using namespace onerec::data;
using namespace onerec::data::test;

namespace {

TEST(SyntheticTest, DeterministicAndShaped) {
  SyntheticOptions o;
  o.users = 500;
  o.items = 200;
  o.lenMin = 10;
  o.lenMax = 20;
  auto a = generateSynthetic(o), b = generateSynthetic(o);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(a->contents.items, b->contents.items);
  EXPECT_EQ(a->contents.numUsers(), 500u);
  EXPECT_EQ(a->contents.itemIds.size(), 200u);
  for (uint64_t u = 0; u < 500; ++u) {
    uint64_t n = a->contents.rowOffsets[u + 1] - a->contents.rowOffsets[u];
    EXPECT_GE(n, 10u);
    EXPECT_LE(n, 20u);
  }
  o.seed = 2;
  auto c = generateSynthetic(o);
  EXPECT_NE(a->contents.items, c->contents.items);
}

TEST(SyntheticTest, BayesAccuracyMatchesTheChain) {
  SyntheticOptions o;
  o.users = 3000;
  o.branching = 4;
  o.dominant = 0.7;
  auto s = generateSynthetic(o);
  ASSERT_TRUE(s.isOk());
  const SyntheticAccuracy &a = s->accuracy;
  EXPECT_DOUBLE_EQ(a.hr1, 0.7);
  EXPECT_DOUBLE_EQ(a.hr10, 1.0);
  EXPECT_EQ(a.testTargets, 3000u);
  // 3000 Bernoulli(0.7) draws: within 4 standard deviations.
  EXPECT_NEAR(a.empiricalHr1, 0.7, 4 * std::sqrt(0.7 * 0.3 / 3000));
  EXPECT_DOUBLE_EQ(a.empiricalHr10, 1.0);
  // Branching 20 and uniform successors: top-10 holds half the mass.
  o.branching = 20;
  o.dominant = 0.05;
  auto wide = generateSynthetic(o);
  ASSERT_TRUE(wide.isOk());
  EXPECT_NEAR(wide->accuracy.hr10, 0.5, 1e-12);
  // Recorded in the manifest.
  TempDir dir;
  WriteOptions w;
  w.outDir = dir.file("syn");
  ASSERT_TRUE(writeDataset(s->contents, w).isOk());
  auto d = Dataset::open(w.outDir);
  ASSERT_TRUE(d.isOk());
  EXPECT_DOUBLE_EQ(
      (*d)->manifest().json["synthetic"]["bayes_optimal"]["hr@1"].get<double>(),
      0.7);
}

TEST(SyntheticTest, SequenceTextImportsToTheSameDataset) {
  SyntheticOptions o;
  o.users = 50;
  auto s = generateSynthetic(o);
  ASSERT_TRUE(s.isOk());
  TempDir dir;
  ImportReport report;
  auto imported =
      importFile(dir.write("syn.txt", sequenceFileText(s->contents)),
                 ImportOptions{}, report);
  ASSERT_TRUE(imported.isOk());
  EXPECT_EQ(imported->userIds, s->contents.userIds);
  // Items never generated are absent from the import; ids are dense there.
  EXPECT_LE(imported->itemIds.size(), s->contents.itemIds.size());
  EXPECT_EQ(imported->rowOffsets, s->contents.rowOffsets);
}

TEST(SyntheticTest, BadOptions) {
  SyntheticOptions o;
  o.lenMin = 2;
  EXPECT_FALSE(generateSynthetic(o).isOk());
  o = SyntheticOptions{};
  o.branching = 1000;
  EXPECT_FALSE(generateSynthetic(o).isOk());
  o = SyntheticOptions{};
  o.dominant = 0;
  EXPECT_FALSE(generateSynthetic(o).isOk());
}

} // namespace
