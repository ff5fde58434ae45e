//===- RqKMeans.cpp - balanced residual-quantization k-means --------------===//
//
// One level of balanced k-means alternates two steps:
//
//   assign  every item's kCandidates nearest centroids come from a GEMM
//           (x·cᵀ, blocks of kBlockRows items); items are then taken in
//           order of regret (second-nearest minus nearest distance, largest
//           first: the items that lose most by not getting their first
//           choice choose first) and each gets its nearest candidate that
//           still has room. When an item's candidates are all full, the
//           items still waiting get new candidates among the centroids
//           with room (another GEMM), or, for the last kRefreshItems
//           items, the item is measured against each of them. Capacities:
//           N mod K clusters may take ceil(N/K) items, the rest floor(N/K).
//   update  each centroid becomes the mean of its items.
//
// This is the regret heuristic of the generalized assignment problem
// (Martello and Toth) applied per Lloyd iteration: it keeps the exact
// capacities by construction, costs one GEMM plus a sort per iteration, and
// with K up to 8192 needs no N x K matrix in memory. Balance is exact after
// every iteration; the k-means loss is not guaranteed to fall monotonically
// (the greedy can cycle), so a level runs `iterations` rounds or until no
// item moves, and keeps the round with the lowest loss.
//
// The first centroids come from k-means++ seeding (on a sample of the rows
// when rows x K x dim is large).
//
// Determinism: the GEMM blocks, the candidate lists and the partial sums
// depend on the shape alone; the greedy and the centroid sums run in item
// order on one thread. The thread count changes the speed only.
//
//===----------------------------------------------------------------------===//

#include "onerec/Data/RqKMeans.h"
#include "onerec/Data/Random.h"
#include "onerec/Kernels/Gemm.h"
#include "onerec/Runtime/ThreadPool.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace onerec::data {

using runtime::Status;
using runtime::StatusOr;
using runtime::ThreadPool;
using Code = Status::Code;

namespace {

/// Items per GEMM block (and per partial sum): fixed, so that results do
/// not depend on the thread count.
constexpr int64_t kBlockRows = 256;
/// Nearest centroids remembered per item for the greedy.
constexpr int64_t kCandidates = 16;
/// Items still waiting for which an exhausted candidate list triggers new
/// lists for all of them (one GEMM) instead of a scan of the open clusters.
constexpr int64_t kRefreshItems = 1024;
/// Distance evaluations (rows x K x dim) k-means++ seeding may spend.
constexpr int64_t kSeedingBudget = 2'000'000'000;

/// Seeds of the initial centroids, distinct from the data pipeline's
/// purposes (Random.h).
constexpr uint64_t kTokenizerPurpose = 0x746f6b656e697a65ULL; // "tokenize"

int64_t blocks(int64_t rows) { return (rows + kBlockRows - 1) / kBlockRows; }

/// ||a - b||² in float: eight running sums (element j goes to sum j % 8,
/// which the compiler vectorizes) added in a fixed order at the end.
float squaredDistance(const float *a, const float *b, int64_t dim) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= dim; j += 8)
    for (int l = 0; l < 8; ++l) {
      float t = a[j + l] - b[j + l];
      lane[l] += t * t;
    }
  for (int l = 0; j < dim; ++j, ++l) {
    float t = a[j] - b[j];
    lane[l] += t * t;
  }
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
         ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

/// Squared norms of `rows` rows.
std::vector<float> rowNorms(ThreadPool &pool, const float *x, int64_t rows,
                            int64_t dim) {
  std::vector<float> norms(rows);
  pool.parallelFor(rows, kBlockRows, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < dim; ++j)
        sum += double(x[i * dim + j]) * x[i * dim + j];
      norms[i] = static_cast<float>(sum);
    }
  });
  return norms;
}

/// Sum over items of f(i) in double: partial sums per block, added in block
/// order.
template <typename F>
double blockedSum(ThreadPool &pool, int64_t rows, const F &f) {
  std::vector<double> partial(blocks(rows), 0.0);
  pool.parallelFor(static_cast<int64_t>(partial.size()), 1,
                   [&](int64_t b0, int64_t b1) {
                     for (int64_t b = b0; b < b1; ++b) {
                       double sum = 0;
                       for (int64_t i = b * kBlockRows;
                            i < std::min(rows, (b + 1) * kBlockRows); ++i)
                         sum += f(i);
                       partial[b] = sum;
                     }
                   });
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

/// One level's balanced k-means state.
class BalancedKMeans {
public:
  BalancedKMeans(ThreadPool &pool, const float *x, int64_t rows, int64_t dim,
                 int64_t k)
      : pool_(pool), x_(x), rows_(rows), dim_(dim), k_(k),
        m_(std::min(k, kCandidates)), xNorms_(rowNorms(pool, x, rows, dim)),
        centroids_(k * dim), candDist_(rows * m_), candCode_(rows * m_),
        assign_(rows, -1) {}

  /// k-means++ seeding (Arthur and Vassilvitskii): each next centroid is a
  /// row drawn with probability proportional to its squared distance to
  /// the nearest centroid so far. It costs rows x K x dim, so past
  /// kSeedingBudget it runs on a seeded sample of the rows (down to K rows:
  /// then the seeds are K distinct rows chosen uniformly).
  void initialize(uint64_t seed, int64_t level) {
    KeyedRandom random(seed, kTokenizerPurpose, static_cast<uint64_t>(level));
    int64_t sampleSize =
        std::clamp<int64_t>(kSeedingBudget / (k_ * dim_), k_, rows_);
    std::vector<int64_t> sample(rows_);
    std::iota(sample.begin(), sample.end(), int64_t(0));
    if (sampleSize < rows_) {
      for (int64_t i = 0; i < sampleSize; ++i)
        std::swap(sample[i],
                  sample[i + static_cast<int64_t>(random.below(rows_ - i))]);
      sample.resize(sampleSize);
      std::sort(sample.begin(), sample.end());
    }
    if (sampleSize == k_) {
      // k-means++ would take every row of the sample: a uniform choice.
      for (int64_t c = 0; c < k_; ++c)
        std::copy(x_ + sample[c] * dim_, x_ + (sample[c] + 1) * dim_,
                  centroids_.begin() + c * dim_);
      return;
    }
    std::vector<double> nearest(sampleSize,
                                std::numeric_limits<double>::infinity());
    std::vector<char> taken(sampleSize, 0);
    int64_t pick = static_cast<int64_t>(random.below(sampleSize));
    for (int64_t c = 0; c < k_; ++c) {
      taken[pick] = 1;
      const float *chosen = x_ + sample[pick] * dim_;
      std::copy(chosen, chosen + dim_, centroids_.begin() + c * dim_);
      if (c + 1 == k_)
        break;
      pool_.parallelFor(sampleSize, kBlockRows, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          nearest[i] = std::min(
              nearest[i],
              double(squaredDistance(x_ + sample[i] * dim_, chosen, dim_)));
      });
      double total = 0;
      for (double d : nearest)
        total += d;
      pick = -1;
      if (total > 0) {
        double target = random.unit() * total, running = 0;
        for (int64_t i = 0; i < sampleSize && pick < 0; ++i) {
          running += nearest[i];
          if (nearest[i] > 0 && running > target)
            pick = i;
        }
        for (int64_t i = sampleSize - 1; i >= 0 && pick < 0; --i)
          if (nearest[i] > 0) // `target` rounded past the end
            pick = i;
      }
      if (pick < 0) {
        // Every row left duplicates a centroid: any row not yet taken
        // (there are sampleSize - c - 1 >= 1 of them).
        int64_t skip = static_cast<int64_t>(random.below(sampleSize - c - 1));
        for (int64_t i = 0; i < sampleSize && pick < 0; ++i)
          if (!taken[i] && skip-- == 0)
            pick = i;
      }
    }
  }

  /// Assigns, updates; returns the items whose code changed.
  int64_t iterate() {
    findCandidates();
    std::vector<int32_t> previous = assign_;
    assignGreedy();
    updateCentroids();
    int64_t changed = 0;
    for (int64_t i = 0; i < rows_; ++i)
      changed += previous[i] != assign_[i];
    return changed;
  }

  /// Mean squared distance of the items to their centroids.
  double loss() {
    return blockedSum(pool_, rows_,
                      [&](int64_t i) {
                        return double(squaredDistance(
                            x_ + i * dim_,
                            centroids_.data() + assign_[i] * dim_, dim_));
                      }) /
           rows_;
  }

  const std::vector<int32_t> &assignment() const { return assign_; }
  const std::vector<float> &centroids() const { return centroids_; }

private:
  /// Every item's m_ nearest centroids, nearest first (ties: lower code).
  void findCandidates() {
    std::vector<int64_t> items(rows_);
    std::iota(items.begin(), items.end(), int64_t(0));
    std::vector<int32_t> clusters(k_);
    std::iota(clusters.begin(), clusters.end(), 0);
    findNearest(items.data(), rows_, clusters);
  }

  /// The m_ nearest of `clusters` (ascending codes) for `count` items:
  /// candidate lists, padded with code -1 when there are fewer clusters.
  void findNearest(const int64_t *items, int64_t count,
                   const std::vector<int32_t> &clusters) {
    int64_t kc = static_cast<int64_t>(clusters.size());
    std::vector<float> c(kc * dim_);
    for (int64_t j = 0; j < kc; ++j)
      std::copy(centroids_.begin() + clusters[j] * dim_,
                centroids_.begin() + (clusters[j] + 1) * dim_,
                c.begin() + j * dim_);
    std::vector<float> cNorms = rowNorms(pool_, c.data(), kc, dim_);
    pool_.parallelFor(blocks(count), 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> rows(kBlockRows * dim_), dots(kBlockRows * kc);
      for (int64_t b = b0; b < b1; ++b) {
        int64_t first = b * kBlockRows;
        int64_t n = std::min(count, first + kBlockRows) - first;
        for (int64_t r = 0; r < n; ++r)
          std::copy(x_ + items[first + r] * dim_,
                    x_ + (items[first + r] + 1) * dim_,
                    rows.begin() + r * dim_);
        kernels::GemmArgs g;
        g.transB = true;
        g.m = n;
        g.n = kc;
        g.k = dim_;
        g.a = rows.data();
        g.lda = dim_;
        g.b = c.data();
        g.ldb = dim_;
        g.c = dots.data();
        g.ldc = kc;
        kernels::sgemm(g);
        for (int64_t r = 0; r < n; ++r) {
          int64_t i = items[first + r];
          float *bestD = candDist_.data() + i * m_;
          int32_t *bestC = candCode_.data() + i * m_;
          std::fill(bestD, bestD + m_, std::numeric_limits<float>::infinity());
          std::fill(bestC, bestC + m_, -1);
          int64_t held = 0;
          const float *row = dots.data() + r * kc;
          for (int64_t j = 0; j < kc; ++j) {
            float d = xNorms_[i] + cNorms[j] - 2.0f * row[j];
            if (held == m_ && !(d < bestD[m_ - 1]))
              continue;
            int64_t at = held < m_ ? held++ : m_ - 1;
            // Shift larger entries right; equal ones stay first.
            while (at > 0 && bestD[at - 1] > d) {
              bestD[at] = bestD[at - 1];
              bestC[at] = bestC[at - 1];
              --at;
            }
            bestD[at] = d;
            bestC[at] = clusters[j];
          }
        }
      }
    });
  }

  void assignGreedy() {
    std::vector<float> regret(rows_);
    for (int64_t i = 0; i < rows_; ++i)
      regret[i] = m_ > 1 ? candDist_[i * m_ + 1] - candDist_[i * m_] : 0.0f;
    std::vector<int64_t> order(rows_);
    std::iota(order.begin(), order.end(), int64_t(0));
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return regret[a] > regret[b];
    });

    int64_t floorSize = rows_ / k_, ceilClusters = rows_ % k_;
    std::vector<int64_t> count(k_, 0);
    std::vector<char> full(k_, 0);
    // Clusters with room, for items whose candidates are all full.
    std::vector<int32_t> open(k_);
    std::vector<int64_t> openAt(k_);
    std::iota(open.begin(), open.end(), 0);
    std::iota(openAt.begin(), openAt.end(), int64_t(0));
    auto close = [&](int32_t c) {
      full[c] = 1;
      int64_t at = openAt[c];
      open[at] = open.back();
      openAt[open[at]] = at;
      open.pop_back();
    };
    int64_t bigClusters = 0;
    auto firstOpen = [&](int64_t i) -> int32_t {
      for (int64_t j = 0; j < m_; ++j) {
        int32_t c = candCode_[i * m_ + j];
        if (c >= 0 && !full[c])
          return c;
      }
      return -1;
    };
    for (int64_t at = 0; at < rows_; ++at) {
      int64_t i = order[at];
      int32_t chosen = firstOpen(i);
      if (chosen < 0 && rows_ - at >= kRefreshItems) {
        // The candidates ran out: every item still waiting gets new ones
        // among the clusters with room (clusters never reopen, so the first
        // open candidate stays the nearest open cluster).
        std::vector<int32_t> openSorted = open;
        std::sort(openSorted.begin(), openSorted.end());
        findNearest(order.data() + at, rows_ - at, openSorted);
        chosen = firstOpen(i);
      }
      if (chosen < 0) {
        float best = std::numeric_limits<float>::infinity();
        for (int32_t c : open) {
          float d = squaredDistance(x_ + i * dim_, centroids_.data() + c * dim_,
                                    dim_);
          if (chosen < 0 || d < best || (d == best && c < chosen)) {
            best = d;
            chosen = c;
          }
        }
      }
      assign_[i] = chosen;
      int64_t n = ++count[chosen];
      if (n == floorSize + 1) {
        close(chosen);
        if (++bigClusters == ceilClusters)
          // No more room above floor: every cluster at floor is full.
          for (int64_t slot = static_cast<int64_t>(open.size()) - 1; slot >= 0;
               --slot)
            if (count[open[slot]] == floorSize)
              close(open[slot]);
      } else if (n == floorSize && bigClusters == ceilClusters) {
        close(chosen);
      }
    }
  }

  void updateCentroids() {
    std::vector<double> sums(k_ * dim_, 0.0);
    std::vector<int64_t> count(k_, 0);
    for (int64_t i = 0; i < rows_; ++i) {
      double *s = sums.data() + assign_[i] * dim_;
      const float *xi = x_ + i * dim_;
      for (int64_t j = 0; j < dim_; ++j)
        s[j] += xi[j];
      ++count[assign_[i]];
    }
    for (int64_t c = 0; c < k_; ++c)
      if (count[c] > 0) // always, as N >= K and clusters are balanced
        for (int64_t j = 0; j < dim_; ++j)
          centroids_[c * dim_ + j] =
              static_cast<float>(sums[c * dim_ + j] / count[c]);
  }

  ThreadPool &pool_;
  const float *x_;
  int64_t rows_, dim_, k_, m_;
  std::vector<float> xNorms_;
  std::vector<float> centroids_;
  std::vector<float> candDist_;
  std::vector<int32_t> candCode_;
  std::vector<int32_t> assign_;
};

std::string prefixText(const int32_t *codes, int64_t length) {
  std::string text = "(";
  for (int64_t l = 0; l < length; ++l)
    text += (l ? ", " : "") + std::to_string(codes[l]);
  return text + ")";
}

/// Rows in lexicographic code order, ties in row order.
std::vector<int64_t> codeOrder(const int32_t *codes, int64_t rows,
                               int64_t levels) {
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::lexicographical_compare(
        codes + a * levels, codes + (a + 1) * levels, codes + b * levels,
        codes + (b + 1) * levels);
  });
  return order;
}

} // namespace

StatusOr<DisambiguationReport>
disambiguateCodes(int32_t *codes, int64_t rows, int64_t levels,
                  int64_t codebook, const float *lastResiduals,
                  const float *lastCodebook, int64_t dim) {
  DisambiguationReport report;
  std::vector<int64_t> order = codeOrder(codes, rows, levels);
  auto same = [&](int64_t a, int64_t b, int64_t length) {
    return std::equal(codes + a * levels, codes + a * levels + length,
                      codes + b * levels);
  };
  // Prefix groups (all but the last code) that hold a collision; checked
  // before anything changes.
  struct Group {
    int64_t begin, end;
  };
  std::vector<Group> groups;
  for (int64_t g = 0; g < rows;) {
    int64_t end = g + 1;
    while (end < rows && same(order[g], order[end], levels - 1))
      ++end;
    bool collides = false;
    for (int64_t i = g; i < end;) {
      int64_t j = i + 1;
      while (j < end && same(order[i], order[j], levels))
        ++j;
      if (j - i > 1) {
        report.collidingItems += j - i;
        collides = true;
      }
      i = j;
    }
    if (collides) {
      if (end - g > codebook)
        return Status::error(
            Code::InvalidArgument,
            fmt::format("the code prefix {} holds {} items but the last "
                        "level has only {} codes, so their semantic IDs "
                        "cannot all differ; use a larger codebook or more "
                        "levels",
                        prefixText(codes + order[g] * levels, levels - 1),
                        end - g, codebook));
      groups.push_back({g, end});
    }
    g = end;
  }

  std::vector<char> used(codebook, 0);
  for (const Group &group : groups) {
    std::vector<int64_t> movers;
    for (int64_t i = group.begin; i < group.end; ++i) {
      int64_t row = order[i];
      int32_t last = codes[row * levels + levels - 1];
      if (i > group.begin && same(order[i - 1], row, levels))
        movers.push_back(row); // order[] keeps rows ascending within a code
      else
        used[last] = 1;
    }
    std::sort(movers.begin(), movers.end());
    for (int64_t row : movers) {
      int32_t chosen = -1;
      float best = std::numeric_limits<float>::infinity();
      for (int32_t c = 0; c < codebook; ++c) {
        if (used[c])
          continue;
        float d = squaredDistance(lastResiduals + row * dim,
                                  lastCodebook + c * dim, dim);
        if (chosen < 0 || d < best) {
          best = d;
          chosen = c;
        }
      }
      codes[row * levels + levels - 1] = chosen;
      used[chosen] = 1;
      ++report.moved;
    }
    for (int64_t i = group.begin; i < group.end; ++i)
      used[codes[order[i] * levels + levels - 1]] = 0;
  }
  return report;
}

StatusOr<RqKMeansResult> trainRqKMeans(const float *data, int64_t rows,
                                       int64_t dim,
                                       const RqKMeansOptions &options) {
  auto start = std::chrono::steady_clock::now();
  int64_t levels = options.levels, k = options.codebook;
  if (levels < 1 || levels > 64)
    return Status::error(Code::InvalidArgument,
                         fmt::format("levels {} is not in 1..64", levels));
  if (k < 1 || k > std::numeric_limits<int32_t>::max())
    return Status::error(Code::InvalidArgument,
                         fmt::format("codebook size {} is not positive", k));
  if (options.iterations < 1)
    return Status::error(
        Code::InvalidArgument,
        fmt::format("iterations {} is not positive", options.iterations));
  if (dim < 1 || rows < 1)
    return Status::error(
        Code::InvalidArgument,
        fmt::format("no embeddings ({} rows of dimension {})", rows, dim));
  if (rows < k)
    return Status::error(
        Code::InvalidArgument,
        fmt::format("codebook size {} is larger than the {} items: balanced "
                    "k-means needs at least one item per code; use a "
                    "codebook of at most {}",
                    k, rows, rows));
  for (int64_t i = 0; i < rows * dim; ++i)
    if (!std::isfinite(data[i]))
      return Status::error(
          Code::InvalidArgument,
          fmt::format("row {} column {} is {}", i / dim, i % dim, data[i]));

  ThreadPool pool(options.threads);
  RqKMeansResult result;
  RqKMeansStats &stats = result.stats;
  stats.items = rows;
  stats.dim = dim;
  stats.levels = levels;
  stats.codebook = k;
  stats.meanSquaredNorm =
      blockedSum(pool, rows,
                 [&](int64_t i) {
                   double s = 0;
                   for (int64_t j = 0; j < dim; ++j)
                     s += double(data[i * dim + j]) * data[i * dim + j];
                   return s;
                 }) /
      rows;

  result.codes.assign(rows * levels, 0);
  std::vector<float> residual(data, data + rows * dim), lastInput;
  for (int64_t level = 0; level < levels; ++level) {
    if (level == levels - 1)
      lastInput = residual;
    BalancedKMeans kmeans(pool, residual.data(), rows, dim, k);
    kmeans.initialize(options.seed, level);
    RqLevelStats levelStats;
    // The greedy can cycle between assignments of similar cost, so the
    // level keeps the iteration with the lowest loss (the first of equals).
    std::vector<int32_t> assign;
    std::vector<float> centroids;
    levelStats.loss = std::numeric_limits<double>::infinity();
    for (int64_t it = 1; it <= options.iterations; ++it) {
      int64_t changed = kmeans.iterate();
      double loss = kmeans.loss();
      levelStats.iterations = it;
      if (loss < levelStats.loss) {
        levelStats.loss = loss;
        assign = kmeans.assignment();
        centroids = kmeans.centroids();
      }
      if (options.progress)
        options.progress({level, it, loss, changed});
      if (changed == 0)
        break;
    }
    for (int64_t i = 0; i < rows; ++i) {
      result.codes[i * levels + level] = assign[i];
      for (int64_t j = 0; j < dim; ++j)
        residual[i * dim + j] -= centroids[assign[i] * dim + j];
    }
    result.codebooks.push_back(centroids);
    stats.perLevel.push_back(levelStats);
  }

  result.kmeansCodes = result.codes;
  auto report =
      disambiguateCodes(result.codes.data(), rows, levels, k, lastInput.data(),
                        result.codebooks.back().data(), dim);
  if (!report)
    return report.status();
  stats.collisionRateBefore = double(report->collidingItems) / rows;
  stats.itemsMoved = report->moved;

  // Final statistics, with the disambiguated codes.
  const std::vector<float> &last = result.codebooks.back();
  stats.loss = blockedSum(pool, rows,
                          [&](int64_t i) {
                            return double(squaredDistance(
                                lastInput.data() + i * dim,
                                last.data() +
                                    result.codes[i * levels + levels - 1] * dim,
                                dim));
                          }) /
               rows;
  stats.relativeLoss =
      stats.meanSquaredNorm > 0 ? stats.loss / stats.meanSquaredNorm : 0.0;
  std::vector<int64_t> order = codeOrder(result.codes.data(), rows, levels);
  int64_t collisions = 0;
  for (int64_t level = 0; level < levels; ++level) {
    RqLevelStats &ls = stats.perLevel[level];
    std::vector<int64_t> count(k, 0);
    for (int64_t i = 0; i < rows; ++i)
      ++count[result.codes[i * levels + level]];
    double entropy = 0;
    for (int64_t c : count)
      if (c > 0) {
        ++ls.usedCodes;
        double p = double(c) / rows;
        entropy -= p * std::log2(p);
      }
    ls.utilisation = double(ls.usedCodes) / k;
    ls.entropyBits = entropy;
    ls.normalisedEntropy = k > 1 ? entropy / std::log2(double(k)) : 1.0;
    ls.distinctPrefixes = 1;
    for (int64_t i = 1; i < rows; ++i) {
      const int32_t *a = result.codes.data() + order[i - 1] * levels;
      const int32_t *b = result.codes.data() + order[i] * levels;
      bool differs = !std::equal(a, a + level + 1, b);
      ls.distinctPrefixes += differs;
      if (level == levels - 1 && !differs)
        ++collisions;
    }
  }
  stats.collisionRateAfter = double(collisions) / rows;
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

nlohmann::json rqKMeansStatsJson(const RqKMeansStats &stats) {
  nlohmann::json perLevel = nlohmann::json::array();
  for (size_t l = 0; l < stats.perLevel.size(); ++l) {
    const RqLevelStats &s = stats.perLevel[l];
    perLevel.push_back({{"level", l + 1},
                        {"used_codes", s.usedCodes},
                        {"utilisation", s.utilisation},
                        {"entropy_bits", s.entropyBits},
                        {"normalised_entropy", s.normalisedEntropy},
                        {"distinct_prefixes", s.distinctPrefixes},
                        {"residual_mse", s.loss},
                        {"iterations", s.iterations}});
  }
  return {{"items", stats.items},
          {"dim", stats.dim},
          {"levels", stats.levels},
          {"codebook", stats.codebook},
          {"input_mean_squared_norm", stats.meanSquaredNorm},
          {"reconstruction_mse", stats.loss},
          {"relative_reconstruction_mse", stats.relativeLoss},
          {"per_level", perLevel},
          {"collision_rate_before", stats.collisionRateBefore},
          {"collision_rate_after", stats.collisionRateAfter},
          {"items_moved", stats.itemsMoved}};
}

} // namespace onerec::data
