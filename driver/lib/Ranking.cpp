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

int64_t sampledRank(const float *scores, const int64_t *candidates,
                    int64_t count) {
  float t = scores[candidates[0]];
  int64_t rank = 0;
  // Id 0 stands for "no negative exists" (a user who has seen every item).
  for (int64_t i = 1; i < count; ++i)
    rank += candidates[i] > 0 && beats(scores[candidates[i]], t);
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
