//===- Ranking.cpp - HR@K and NDCG@K of next-item predictions -------------===//

#include "onerec/Driver/Ranking.h"

#include <algorithm>
#include <cmath>

namespace onerec::driver {

const char *protocolName(Protocol protocol) {
  return protocol == Protocol::Full ? "full" : "sampled";
}

std::optional<Protocol> parseProtocol(std::string_view name) {
  if (name == "full")
    return Protocol::Full;
  if (name == "sampled")
    return Protocol::Sampled;
  return std::nullopt;
}

/// The distinct history ids in 1..numItems other than the target, sorted.
static void distinctHistory(int64_t numItems, int64_t target,
                            const int64_t *history, int64_t historyLength,
                            std::vector<int64_t> &out) {
  out.clear();
  for (int64_t i = 0; i < historyLength; ++i)
    if (history[i] >= 1 && history[i] <= numItems && history[i] != target)
      out.push_back(history[i]);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

// A candidate beats the target when !(score < target score): greater,
// equal (pessimistic ties) or NaN on either side.
static inline bool beats(float candidate, float target) {
  return !(candidate < target);
}

int64_t fullRank(const float *scores, int64_t numItems, int64_t target,
                 const int64_t *history, int64_t historyLength,
                 std::vector<int64_t> &scratch) {
  float t = scores[target];
  int64_t rank = 0;
  for (int64_t item = 1; item <= numItems; ++item)
    rank += beats(scores[item], t);
  rank -= 1; // the target itself (beats(t, t) always holds)
  distinctHistory(numItems, target, history, historyLength, scratch);
  for (int64_t item : scratch)
    rank -= beats(scores[item], t);
  return rank;
}

void sampleNegatives(int64_t numItems, int64_t target, const int64_t *history,
                     int64_t historyLength, uint64_t seed, uint64_t user,
                     int count, std::vector<int64_t> &out,
                     std::vector<int64_t> &scratch) {
  out.clear();
  distinctHistory(numItems, target, history, historyLength, scratch);
  bool targetValid = target >= 1 && target <= numItems;
  int64_t eligible = numItems - int64_t(scratch.size()) - (targetValid ? 1 : 0);
  int64_t want = std::min<int64_t>(count, std::max<int64_t>(0, eligible));
  // SplitMix64 keyed by (seed, user): the same candidates in every run.
  uint64_t state =
      seed * 0x9e3779b97f4a7c15ULL ^ (user + 0x632be59bd9b4e019ULL);
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  auto excluded = [&](int64_t item) {
    return item == target ||
           std::binary_search(scratch.begin(), scratch.end(), item) ||
           std::find(out.begin(), out.end(), item) != out.end();
  };
  if (want * 2 >= eligible) {
    // Dense: a shuffle of the eligible items (rejection would crawl).
    std::vector<int64_t> pool;
    pool.reserve(size_t(eligible));
    for (int64_t item = 1; item <= numItems; ++item)
      if (item != target &&
          !std::binary_search(scratch.begin(), scratch.end(), item))
        pool.push_back(item);
    for (int64_t i = 0; i < want; ++i) {
      uint64_t span = uint64_t(pool.size()) - uint64_t(i);
      uint64_t j = uint64_t(i) + next() % span;
      std::swap(pool[size_t(i)], pool[size_t(j)]);
      out.push_back(pool[size_t(i)]);
    }
    return;
  }
  while (int64_t(out.size()) < want) {
    int64_t item = 1 + int64_t(next() % uint64_t(numItems));
    if (!excluded(item))
      out.push_back(item);
  }
}

int64_t sampledRank(const float *scores, int64_t target,
                    const std::vector<int64_t> &negatives) {
  float t = scores[target];
  int64_t rank = 0;
  for (int64_t item : negatives)
    rank += beats(scores[item], t);
  return rank;
}

void RankingMetrics::add(int64_t rank) {
  ++users_;
  if (rank < k_) {
    hits_ += 1;
    ndcg_ += 1.0 / std::log2(double(rank) + 2.0);
  }
}

void RankingMetrics::merge(const RankingMetrics &other) {
  users_ += other.users_;
  hits_ += other.hits_;
  ndcg_ += other.ndcg_;
}

} // namespace onerec::driver
