//===- RankingTest.cpp - HR@K and NDCG@K on hand-made scores --------------===//

#include "onerec/Driver/Ranking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

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

TEST(SampledProtocol, RankAmongNegatives) {
  float scores[] = {0, 0.5f, 0.2f, 0.9f, 0.5f, 0.1f};
  // Target first. 3 beats it, 4 ties (pessimistic): rank 2.
  int64_t candidates[] = {1, 2, 3, 4, 5};
  EXPECT_EQ(sampledRank(scores, candidates, 5), 2);
  int64_t best[] = {3, 1, 2, 4, 5};
  EXPECT_EQ(sampledRank(scores, best, 5), 0);
  // A negative drawn twice counts twice (sampling with replacement).
  int64_t repeated[] = {1, 3, 3, 5};
  EXPECT_EQ(sampledRank(scores, repeated, 4), 2);
}

TEST(Protocol, NamesParse) {
  EXPECT_EQ(parseProtocol("full"), Protocol::Full);
  EXPECT_EQ(parseProtocol("sampled"), Protocol::Sampled);
  EXPECT_FALSE(parseProtocol("uni100").has_value());
}

} // namespace
