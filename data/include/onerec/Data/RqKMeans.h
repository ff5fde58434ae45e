//===- RqKMeans.h - balanced residual-quantization k-means ------*- C++ -*-===//
//
// The semantic-ID tokenizer (docs/tokenizer.md): RQ-KMeans turns item
// embeddings into `levels` codes each. Level 1 clusters the embeddings,
// level l the residuals the previous levels leave (embedding minus the sum
// of the chosen centroids). Every level's k-means is balanced: each of the
// K clusters gets floor(N/K) or ceil(N/K) items, so codes are spread evenly
// and the trie that generation walks has no giant subtrees.
//
// Balanced assignment is an ordered greedy on a capacity-constrained
// problem: each item's nearest centroids (top candidates from a blocked
// GEMM), items ordered by regret (how much farther their second choice is
// than their first), each given its nearest centroid that still has room.
// Centroids are then the mean of their items; the two steps alternate.
//
// Results are bit-identical for the same input, seed and options whatever
// the thread count: the work is cut into blocks by shape alone and every
// reduction runs in a fixed order.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DATA_RQKMEANS_H
#define ONEREC_DATA_RQKMEANS_H

#include "onerec/Runtime/Status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <vector>

namespace onerec::data {

/// After each k-means iteration.
struct RqKMeansProgress {
  int64_t level = 0;     // 0-based
  int64_t iteration = 0; // 1-based
  /// Mean squared distance of the level's input to its new centroids.
  double loss = 0;
  /// Items whose code changed in this iteration (all of them in the first).
  int64_t changed = 0;
};

struct RqKMeansOptions {
  int64_t levels = 3;
  /// K, the codes per level (256 for small catalogs, 8192 for large ones).
  int64_t codebook = 256;
  uint64_t seed = 0;
  /// The most assignment/update rounds per level; a level stops earlier
  /// when no item changes code.
  int64_t iterations = 20;
  /// Worker threads (0: one per core, or ONEREC_NUM_THREADS). The codes do
  /// not depend on it.
  unsigned threads = 0;
  std::function<void(const RqKMeansProgress &)> progress;
};

struct RqLevelStats {
  /// Codes used at this level (after disambiguation) and used / K.
  int64_t usedCodes = 0;
  double utilisation = 0;
  /// Entropy of the level's code distribution, in bits and over log2 K.
  double entropyBits = 0;
  double normalisedEntropy = 0;
  /// Distinct code prefixes of length level + 1 among the items.
  int64_t distinctPrefixes = 0;
  /// Mean squared residual after this level's k-means (before
  /// disambiguation; the best iteration's), and the iterations it ran.
  double loss = 0;
  int64_t iterations = 0;
};

struct RqKMeansStats {
  int64_t items = 0;
  int64_t dim = 0;
  int64_t levels = 0;
  int64_t codebook = 0;
  /// Mean squared norm of the input rows, mean squared final residual (with
  /// the final, disambiguated codes), and their ratio.
  double meanSquaredNorm = 0;
  double loss = 0;
  double relativeLoss = 0;
  std::vector<RqLevelStats> perLevel;
  /// Items sharing their full code with another item / N, before and after
  /// disambiguation (after is 0 on success).
  double collisionRateBefore = 0;
  double collisionRateAfter = 0;
  /// Items disambiguation gave another last-level code.
  int64_t itemsMoved = 0;
  double seconds = 0;
};

struct RqKMeansResult {
  /// [items, levels], row-major, unique rows.
  std::vector<int32_t> codes;
  /// The codes k-means assigned, before disambiguation: at every level each
  /// code has floor(N/K) or ceil(N/K) items.
  std::vector<int32_t> kmeansCodes;
  /// [levels][codebook * dim].
  std::vector<std::vector<float>> codebooks;
  RqKMeansStats stats;
};

/// Tokenizes `rows` embeddings of `dim` floats (row-major). Fails on a bad
/// option, fewer rows than codes per level, a non-finite value, or a code
/// prefix with more items than the last level has codes.
runtime::StatusOr<RqKMeansResult> trainRqKMeans(const float *data, int64_t rows,
                                                int64_t dim,
                                                const RqKMeansOptions &options);

/// What disambiguateCodes did.
struct DisambiguationReport {
  /// Items sharing their full code with another before the step.
  int64_t collidingItems = 0;
  /// Items given another last-level code.
  int64_t moved = 0;
};

/// Makes the rows of `codes` ([rows, levels]) unique without adding a
/// level: of the rows sharing a full code, the first (lowest row) keeps it
/// and each later one, in row order, moves to the free last-level code under
/// the same prefix whose centroid in `lastCodebook` ([codebook, dim]) is
/// nearest its last-level residual (`lastResiduals`, [rows, dim]; ties to
/// the lower code). Fails, changing nothing, when a prefix has more rows
/// than the codebook has codes.
runtime::StatusOr<DisambiguationReport>
disambiguateCodes(int32_t *codes, int64_t rows, int64_t levels,
                  int64_t codebook, const float *lastResiduals,
                  const float *lastCodebook, int64_t dim);

/// The statistics as the JSON object onerec-tokenize prints and stores
/// (all but `seconds`, so that a catalog file is reproducible).
nlohmann::json rqKMeansStatsJson(const RqKMeansStats &stats);

} // namespace onerec::data

#endif // ONEREC_DATA_RQKMEANS_H
