//===- SyntheticGenerator.cpp - a Markov chain with planted successors ----===//

#include "onerec/Data/SyntheticGenerator.h"
#include "onerec/Data/Random.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace onerec::data {

using Code = Status::Code;

StatusOr<SyntheticDataset> generateSynthetic(const SyntheticOptions &options) {
  auto invalid = [](std::string message) {
    return Status::error(Code::InvalidArgument, std::move(message));
  };
  const SyntheticOptions &o = options;
  if (o.users == 0 || o.users > 100'000'000)
    return invalid("--users must be in 1..100000000");
  if (o.items == 0 || o.items > 10'000'000)
    return invalid("--items must be in 1..10000000");
  if (o.lenMin < 3 || o.lenMax < o.lenMin || o.lenMax > 100'000)
    return invalid(fmt::format("lengths {}..{}: need 3 <= --len-min <= "
                               "--len-max <= 100000",
                               o.lenMin, o.lenMax));
  if (o.branching == 0 || o.branching > o.items)
    return invalid(fmt::format("--branching {} must be in 1..items ({})",
                               o.branching, o.items));
  if (!(o.dominant > 0 && o.dominant <= 1))
    return invalid("--dominant must be in (0, 1]");
  if (o.users * (uint64_t)o.lenMax > 2'000'000'000ULL)
    return invalid("users * len-max exceeds 2e9 interactions");

  const uint64_t N = o.items, k = o.branching;
  // Successors of item i (1-based): succ[(i - 1) * k + j], j = 0 dominant.
  std::vector<int32_t> succ(N * k);
  // k steps of a Fisher-Yates shuffle of 1..N per item. The pool is
  // restored by undoing the k swaps in reverse (O(k) per item, not O(N)),
  // so every item starts from the same 1..N and draws the same successors.
  std::vector<int32_t> pool(N);
  std::iota(pool.begin(), pool.end(), 1);
  std::vector<uint64_t> swapped(k);
  for (uint64_t i = 1; i <= N; ++i) {
    KeyedRandom rng(o.seed, static_cast<uint64_t>(RandomPurpose::Synthetic), 0,
                    i);
    for (uint64_t j = 0; j < k; ++j) {
      swapped[j] = j + rng.below(N - j);
      std::swap(pool[j], pool[swapped[j]]);
      succ[(i - 1) * k + j] = pool[j];
    }
    for (uint64_t j = k; j-- > 0;)
      std::swap(pool[j], pool[swapped[j]]);
  }
  // Probabilities of successor j (the same for every item).
  std::vector<double> prob(k, k == 1 ? 1.0 : (1 - o.dominant) / double(k - 1));
  prob[0] = k == 1 ? 1.0 : o.dominant;
  // Ranking of successor slots by probability (the Bayes ranking).
  std::vector<uint64_t> rank(k);
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(),
                   [&](uint64_t a, uint64_t b) { return prob[a] > prob[b]; });
  std::vector<double> cumulative(k);
  std::partial_sum(prob.begin(), prob.end(), cumulative.begin());

  SyntheticDataset result;
  DatasetContents &c = result.contents;
  for (uint64_t u = 0; u < o.users; ++u) {
    KeyedRandom rng(o.seed, static_cast<uint64_t>(RandomPurpose::Synthetic), 1,
                    u);
    uint64_t length = o.lenMin + rng.below(o.lenMax - o.lenMin + 1);
    int32_t item = static_cast<int32_t>(1 + rng.below(N));
    c.items.push_back(item);
    for (uint64_t t = 1; t < length; ++t) {
      double x = rng.unit();
      uint64_t j =
          std::upper_bound(cumulative.begin(), cumulative.end() - 1, x) -
          cumulative.begin();
      item = succ[(item - 1) * k + j];
      c.items.push_back(item);
    }
    c.rowOffsets.push_back(c.items.size());
    c.userIds.push_back(std::to_string(u + 1));
  }
  for (uint64_t i = 1; i <= N; ++i)
    c.itemIds.push_back(std::to_string(i));
  c.source = {{"kind", "synthetic"}};
  if (Status s = applySplit(c, SplitPolicy{}); !s)
    return s;

  SyntheticAccuracy &a = result.accuracy;
  for (uint64_t j = 0; j < std::min<uint64_t>(k, 10); ++j) {
    double p = prob[rank[j]];
    a.hr10 += p;
    a.ndcg10 += p / std::log2(double(j) + 2);
  }
  a.hr1 = prob[rank[0]];
  uint64_t hits1 = 0, hits10 = 0;
  for (uint64_t u = 0; u < o.users; ++u) {
    uint64_t begin = c.rowOffsets[u], n = c.rowOffsets[u + 1] - begin;
    int32_t prev = c.items[begin + n - 2], target = c.items[begin + n - 1];
    for (uint64_t j = 0; j < std::min<uint64_t>(k, 10); ++j)
      if (succ[(prev - 1) * k + rank[j]] == target) {
        hits1 += j == 0;
        hits10 += 1;
        break;
      }
  }
  a.testTargets = o.users;
  a.empiricalHr1 = double(hits1) / double(o.users);
  a.empiricalHr10 = double(hits10) / double(o.users);
  c.extra["synthetic"] = {
      {"users", o.users},
      {"items", o.items},
      {"len_min", o.lenMin},
      {"len_max", o.lenMax},
      {"branching", o.branching},
      {"dominant", o.dominant},
      {"seed", o.seed},
      {"bayes_optimal",
       {{"protocol", "leave-one-out test targets, full ranking over all "
                     "items, no history masking"},
        {"hr@1", a.hr1},
        {"hr@10", a.hr10},
        {"ndcg@10", a.ndcg10},
        {"empirical_hr@1", a.empiricalHr1},
        {"empirical_hr@10", a.empiricalHr10},
        {"test_targets", a.testTargets}}}};
  return result;
}

std::string sequenceFileText(const DatasetContents &c) {
  std::string text;
  for (uint64_t u = 0; u < c.numUsers(); ++u) {
    text += c.userIds[u];
    for (uint64_t i = c.rowOffsets[u]; i < c.rowOffsets[u + 1]; ++i) {
      text += ' ';
      text += c.itemIds[c.items[i] - 1];
    }
    text += '\n';
  }
  return text;
}

} // namespace onerec::data
