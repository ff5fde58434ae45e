//===- Ranking.h - HR@K and NDCG@K of next-item predictions -----*- C++ -*-===//
//
// Leave-one-out evaluation of a next-item model: for every user the model
// scores items for the position after the user's history, and the held-out
// item's rank among the candidates gives the hit rate HR@K (rank < K) and
// NDCG@K (1 / log2(rank + 2) when rank < K, else 0), averaged over users.
//
// Two protocols:
//  - full ranking: the candidates are every item 1..N except padding (0) and
//    the user's other history items (standard practice: items the user
//    already interacted with are not recommended again; the target itself is
//    always a candidate, even when it also occurs in the history);
//  - sampled: the target against 100 negatives drawn uniformly (with
//    replacement, as the SASRec authors' code) from the items that are
//    neither the target nor in the user's history; the data batcher draws
//    them from a counter-based RNG keyed by (seed, row), so every
//    evaluation of a dataset sees the same candidates.
//
// Ranks are pessimistic about ties: rank = the number of other candidates
// whose score is greater than *or equal to* the target's. A model that
// scores everything alike (or NaN) therefore ranks last instead of first,
// and metrics cannot be inflated by ties. A NaN candidate score counts as
// beating the target; a NaN target score ranks behind every candidate.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DRIVER_RANKING_H
#define ONEREC_DRIVER_RANKING_H

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace onerec::driver {

enum class Protocol { Full, Sampled };
const char *protocolName(Protocol protocol);
/// "full" or "sampled".
std::optional<Protocol> parseProtocol(std::string_view name);

/// Negatives per user of the sampled protocol.
constexpr int kSampledNegatives = 100;

/// The 0-based rank of `target` under the full protocol: `scores` holds
/// numItems + 1 scores (index 0, padding, is ignored), `history` the user's
/// items (any order, repeats allowed; the target and ids outside 1..numItems
/// are ignored). `scratch` is reused between calls to avoid allocations.
int64_t fullRank(const float *scores, int64_t numItems, int64_t target,
                 const int64_t *history, int64_t historyLength,
                 std::vector<int64_t> &scratch);

/// The 0-based rank of the target `candidates[0]` among the negatives
/// `candidates[1, count)` (pessimistic ties; padding ids 0, which the
/// batcher gives when no negative exists, are skipped).
int64_t sampledRank(const float *scores, const int64_t *candidates,
                    int64_t count);

/// Sums of HR@K and NDCG@K over users.
class RankingMetrics {
public:
  explicit RankingMetrics(int k) : k_(k) {}
  /// Adds one user whose target has 0-based `rank`.
  void add(int64_t rank);
  void merge(const RankingMetrics &other);

  int k() const { return k_; }
  int64_t users() const { return users_; }
  double hitRate() const { return users_ ? hits_ / double(users_) : 0.0; }
  double ndcg() const { return users_ ? ndcg_ / double(users_) : 0.0; }

private:
  int k_;
  int64_t users_ = 0;
  double hits_ = 0, ndcg_ = 0;
};

} // namespace onerec::driver

#endif // ONEREC_DRIVER_RANKING_H
