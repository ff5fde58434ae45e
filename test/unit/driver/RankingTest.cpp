//===- RankingTest.cpp - HR@K and NDCG@K on hand-made scores --------------===//

#include "onerec/Driver/Ranking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

using namespace onerec::driver;

namespace {

// Scores of items 0..5 (0 is padding and never a candidate).
TEST(FullRank, CountsStrictlyBetterItems) {
  std::vector<int64_t> scratch;
  float scores[] = {100, 0.1f, 0.9f, 0.5f, 0.3f, 0.7f};
  EXPECT_EQ(fullRank(scores, 5, 2, nullptr, 0, scratch), 0);
  EXPECT_EQ(fullRank(scores, 5, 5, nullptr, 0, scratch), 1);
  EXPECT_EQ(fullRank(scores, 5, 1, nullptr, 0, scratch), 4);
}

TEST(FullRank, TiesArePessimistic) {
  std::vector<int64_t> scratch;
  float scores[] = {0, 0.5f, 0.5f, 0.5f, 0.1f};
  // Two other items tie with the target: both rank ahead of it.
  EXPECT_EQ(fullRank(scores, 4, 2, nullptr, 0, scratch), 2);
  // All equal: last.
  float flat[] = {0, 1, 1, 1, 1, 1};
  EXPECT_EQ(fullRank(flat, 5, 3, nullptr, 0, scratch), 4);
}

TEST(FullRank, NaNRanksLast) {
  std::vector<int64_t> scratch;
  float nan = std::numeric_limits<float>::quiet_NaN();
  float scores[] = {0, nan, 0.9f, 0.1f};
  EXPECT_EQ(fullRank(scores, 3, 3, nullptr, 0, scratch), 2);
  float nanTarget[] = {0, 0.1f, nan, 0.2f};
  EXPECT_EQ(fullRank(nanTarget, 3, 2, nullptr, 0, scratch), 2);
}

TEST(FullRank, HistoryItemsAreNotCandidates) {
  std::vector<int64_t> scratch;
  float scores[] = {0, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  // Target 4 is behind 1, 2, 3; the user has seen 1 and 3 (3 twice, and
  // padding and the target itself in the history change nothing).
  int64_t history[] = {0, 0, 1, 3, 3, 4};
  EXPECT_EQ(fullRank(scores, 5, 4, history, 6, scratch), 1);
  // Ids past the catalog in a history are ignored.
  int64_t odd[] = {99, -1, 2};
  EXPECT_EQ(fullRank(scores, 5, 4, odd, 3, scratch), 2);
  // Only items 1..numItems are candidates (scores past it ignored).
  EXPECT_EQ(fullRank(scores, 3, 3, nullptr, 0, scratch), 2);
}

TEST(RankingMetrics, HitRateAndNdcg) {
  RankingMetrics m(3);
  m.add(0); // hit, 1
  m.add(2); // hit, 1/log2(4) = 0.5
  m.add(3); // miss
  m.add(100);
  EXPECT_EQ(m.users(), 4);
  EXPECT_DOUBLE_EQ(m.hitRate(), 0.5);
  EXPECT_DOUBLE_EQ(m.ndcg(), (1.0 + 0.5) / 4);
  RankingMetrics other(3);
  other.add(1); // 1/log2(3)
  m.merge(other);
  EXPECT_EQ(m.users(), 5);
  EXPECT_DOUBLE_EQ(m.hitRate(), 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.ndcg(), (1.5 + 1 / std::log2(3.0)) / 5);
  EXPECT_EQ(RankingMetrics(10).hitRate(), 0.0);
}

TEST(SampledProtocol, NegativesAreDistinctEligibleAndDeterministic) {
  std::vector<int64_t> out, again, scratch;
  int64_t history[] = {5, 6, 7, 7, 0};
  sampleNegatives(1000, 42, history, 5, 7, 3, kSampledNegatives, out, scratch);
  ASSERT_EQ(out.size(), 100u);
  std::set<int64_t> distinct(out.begin(), out.end());
  EXPECT_EQ(distinct.size(), 100u);
  for (int64_t item : out) {
    EXPECT_GE(item, 1);
    EXPECT_LE(item, 1000);
    EXPECT_NE(item, 42);
    EXPECT_TRUE(item < 5 || item > 7) << item;
  }
  sampleNegatives(1000, 42, history, 5, 7, 3, kSampledNegatives, again,
                  scratch);
  EXPECT_EQ(out, again);
  // Another user or seed draws other items.
  sampleNegatives(1000, 42, history, 5, 7, 4, kSampledNegatives, again,
                  scratch);
  EXPECT_NE(out, again);
}

TEST(SampledProtocol, SmallCatalogTakesEveryEligibleItem) {
  std::vector<int64_t> out, scratch;
  int64_t history[] = {1, 2};
  sampleNegatives(10, 3, history, 2, 0, 0, kSampledNegatives, out, scratch);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<int64_t>{4, 5, 6, 7, 8, 9, 10}));
  // Dense case (more than half the eligible items) is also distinct.
  sampleNegatives(150, 1, nullptr, 0, 1, 2, kSampledNegatives, out, scratch);
  EXPECT_EQ(std::set<int64_t>(out.begin(), out.end()).size(), 100u);
  EXPECT_EQ(std::count(out.begin(), out.end(), 1), 0);
}

TEST(SampledProtocol, RankAmongNegatives) {
  float scores[] = {0, 0.5f, 0.2f, 0.9f, 0.5f, 0.1f};
  std::vector<int64_t> negatives = {2, 3, 4, 5};
  // 3 beats it, 4 ties (pessimistic): rank 2.
  EXPECT_EQ(sampledRank(scores, 1, negatives), 2);
  EXPECT_EQ(sampledRank(scores, 3, {1, 2, 4, 5}), 0);
}

TEST(Protocol, NamesParse) {
  EXPECT_EQ(parseProtocol("full"), Protocol::Full);
  EXPECT_EQ(parseProtocol("sampled"), Protocol::Sampled);
  EXPECT_FALSE(parseProtocol("uni100").has_value());
}

} // namespace
