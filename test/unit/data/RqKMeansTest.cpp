//===- RqKMeansTest.cpp - balanced RQ-KMeans and disambiguation -----------===//

#include "onerec/Data/RqKMeans.h"
#include "onerec/Data/Catalog.h"
#include "onerec/Data/Random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

using namespace onerec::data;

namespace {

/// `rows` x `dim` Gaussian-ish values (sum of uniforms), seeded.
std::vector<float> randomMatrix(int64_t rows, int64_t dim, uint64_t seed) {
  KeyedRandom random(seed);
  std::vector<float> x(rows * dim);
  for (float &v : x)
    v = static_cast<float>(random.unit() + random.unit() + random.unit() - 1.5);
  return x;
}

RqKMeansResult tokenize(const std::vector<float> &x, int64_t dim,
                        RqKMeansOptions options) {
  auto result = trainRqKMeans(x.data(), static_cast<int64_t>(x.size()) / dim,
                              dim, options);
  EXPECT_TRUE(result.isOk()) << result.status().toString();
  return result.isOk() ? std::move(result).value() : RqKMeansResult{};
}

bool uniqueRows(const std::vector<int32_t> &codes, int64_t levels) {
  std::set<std::vector<int32_t>> rows;
  for (size_t i = 0; i < codes.size(); i += levels)
    rows.insert(
        std::vector<int32_t>(codes.begin() + i, codes.begin() + i + levels));
  return rows.size() * levels == codes.size();
}

TEST(RqKMeansTest, EveryLevelIsBalanced) {
  // 1000 items, K 64: 1000 = 15 * 64 + 40, so 40 codes hold 16 items and
  // 24 hold 15, at every level.
  const int64_t n = 1000, dim = 8, k = 64, levels = 3;
  std::vector<float> x = randomMatrix(n, dim, 7);
  RqKMeansOptions options;
  options.levels = levels;
  options.codebook = k;
  options.iterations = 8;
  RqKMeansResult r = tokenize(x, dim, options);
  ASSERT_EQ(r.kmeansCodes.size(), size_t(n * levels));
  for (int64_t level = 0; level < levels; ++level) {
    std::vector<int64_t> count(k, 0);
    for (int64_t i = 0; i < n; ++i)
      ++count[r.kmeansCodes[i * levels + level]];
    int64_t big = 0;
    for (int64_t c = 0; c < k; ++c) {
      EXPECT_TRUE(count[c] == 15 || count[c] == 16)
          << "level " << level << " code " << c << ": " << count[c];
      big += count[c] == 16;
    }
    EXPECT_EQ(big, 40) << "level " << level;
  }
  EXPECT_TRUE(uniqueRows(r.codes, levels));
  ASSERT_EQ(r.codebooks.size(), size_t(levels));
  EXPECT_EQ(r.codebooks[0].size(), size_t(k * dim));
  // A dividing N: exactly N / K each.
  std::vector<float> y = randomMatrix(640, dim, 8);
  r = tokenize(y, dim, options);
  for (int64_t level = 0; level < levels; ++level) {
    std::vector<int64_t> count(k, 0);
    for (int64_t i = 0; i < 640; ++i)
      ++count[r.kmeansCodes[i * levels + level]];
    EXPECT_EQ(*std::min_element(count.begin(), count.end()), 10);
    EXPECT_EQ(*std::max_element(count.begin(), count.end()), 10);
  }
}

TEST(RqKMeansTest, DeterministicForASeedAndAnyThreadCount) {
  const int64_t dim = 16;
  // More items than one GEMM block, so that threads split the work.
  std::vector<float> x = randomMatrix(1500, dim, 3);
  RqKMeansOptions options;
  options.levels = 3;
  options.codebook = 32;
  options.iterations = 6;
  options.seed = 5;
  options.threads = 1;
  RqKMeansResult one = tokenize(x, dim, options);
  RqKMeansResult again = tokenize(x, dim, options);
  options.threads = 2;
  RqKMeansResult two = tokenize(x, dim, options);
  options.threads = 3;
  RqKMeansResult three = tokenize(x, dim, options);
  EXPECT_EQ(one.codes, again.codes);
  EXPECT_EQ(one.codes, two.codes);
  EXPECT_EQ(one.codes, three.codes);
  // Bit-identical codebooks and statistics too.
  EXPECT_EQ(one.codebooks, two.codebooks);
  EXPECT_EQ(one.codebooks, three.codebooks);
  EXPECT_EQ(rqKMeansStatsJson(one.stats).dump(),
            rqKMeansStatsJson(two.stats).dump());
  options.seed = 6;
  RqKMeansResult other = tokenize(x, dim, options);
  EXPECT_NE(one.codes, other.codes);
}

TEST(RqKMeansTest, LargeCodebookRefreshesCandidates) {
  // K = 2048 over 12000 items: about 6 items per code, so items' 16
  // nearest centroids fill up while thousands of items still wait, and the
  // greedy refreshes their candidate lists (then scans for the last ones).
  // Balance and thread independence hold.
  const int64_t n = 12000, dim = 8, k = 2048;
  std::vector<float> x = randomMatrix(n, dim, 21);
  RqKMeansOptions options;
  options.levels = 2;
  options.codebook = k;
  options.iterations = 3;
  options.threads = 1;
  RqKMeansResult one = tokenize(x, dim, options);
  options.threads = 2;
  RqKMeansResult two = tokenize(x, dim, options);
  EXPECT_EQ(one.codes, two.codes);
  EXPECT_EQ(one.codebooks, two.codebooks);
  for (int64_t level = 0; level < 2; ++level) {
    std::vector<int64_t> count(k, 0);
    for (int64_t i = 0; i < n; ++i)
      ++count[one.kmeansCodes[i * 2 + level]];
    // 12000 = 5 * 2048 + 1760.
    EXPECT_EQ(std::count(count.begin(), count.end(), 6), 1760);
    EXPECT_EQ(std::count(count.begin(), count.end(), 5), 288);
  }
  EXPECT_TRUE(uniqueRows(one.codes, 2));
  EXPECT_LT(one.stats.relativeLoss, 0.5);
}

TEST(RqKMeansTest, StatisticsOnSeparatedClusters) {
  // 8 far-apart centres x 8 small offsets: level 1 finds the centres, level
  // 2 the offsets, the reconstruction is exact up to rounding.
  const int64_t dim = 8, k = 8;
  std::vector<float> x;
  for (int64_t c = 0; c < k; ++c)
    for (int64_t o = 0; o < k; ++o)
      for (int64_t j = 0; j < dim; ++j)
        x.push_back((j == c ? 100.0f : 0.0f) + (j == o ? 1.0f : 0.0f));
  RqKMeansOptions options;
  options.levels = 2;
  options.codebook = k;
  RqKMeansResult r = tokenize(x, dim, options);
  const RqKMeansStats &s = r.stats;
  EXPECT_EQ(s.items, 64);
  EXPECT_LT(s.loss, 1e-6);
  EXPECT_LT(s.relativeLoss, 1e-9);
  EXPECT_NEAR(s.meanSquaredNorm, 100.0 * 100.0 + 1.0 + 2.0 * 100.0 / 8, 1e-6);
  ASSERT_EQ(s.perLevel.size(), 2u);
  for (const RqLevelStats &level : s.perLevel) {
    EXPECT_EQ(level.usedCodes, k);
    EXPECT_DOUBLE_EQ(level.utilisation, 1.0);
    EXPECT_NEAR(level.entropyBits, 3.0, 1e-12);
    EXPECT_NEAR(level.normalisedEntropy, 1.0, 1e-12);
  }
  EXPECT_EQ(s.perLevel[0].distinctPrefixes, 8);
  EXPECT_EQ(s.perLevel[1].distinctPrefixes, 64);
  EXPECT_EQ(s.collisionRateBefore, 0.0);
  EXPECT_EQ(s.collisionRateAfter, 0.0);
  EXPECT_EQ(s.itemsMoved, 0);
  // Items of one centre share their first code, items of one offset their
  // second.
  for (int64_t i = 0; i < 64; ++i) {
    EXPECT_EQ(r.codes[i * 2], r.codes[(i / 8 * 8) * 2]) << i;
    EXPECT_EQ(r.codes[i * 2 + 1], r.codes[(i % 8) * 2 + 1]) << i;
  }
  nlohmann::json json = rqKMeansStatsJson(s);
  EXPECT_EQ(json["per_level"][1]["used_codes"], 8);
  EXPECT_EQ(json["items_moved"], 0);
}

TEST(RqKMeansTest, DuplicatesAreDisambiguated) {
  // Two copies of each of 16 points, 2 levels of 8 codes: copies get the
  // same residuals, so they share full codes unless balance splits them,
  // and the later copy must move. A level-1 code holds 32 / 8 = 4 items,
  // so a free last-level code always exists.
  const int64_t dim = 4;
  std::vector<float> base = randomMatrix(16, dim, 11), x;
  for (int copy = 0; copy < 2; ++copy)
    x.insert(x.end(), base.begin(), base.end());
  RqKMeansOptions options;
  options.levels = 2;
  options.codebook = 8;
  RqKMeansResult r = tokenize(x, dim, options);
  EXPECT_FALSE(uniqueRows(r.kmeansCodes, 2));
  EXPECT_TRUE(uniqueRows(r.codes, 2));
  EXPECT_GT(r.stats.collisionRateBefore, 0.0);
  EXPECT_EQ(r.stats.collisionRateAfter, 0.0);
  EXPECT_GT(r.stats.itemsMoved, 0);
  // The level count is unchanged and only last-level codes move; the
  // catalog accepts the result.
  ASSERT_EQ(r.codes.size(), size_t(32 * 2));
  int64_t moved = 0;
  for (size_t i = 0; i < r.codes.size(); i += 2) {
    EXPECT_EQ(r.codes[i], r.kmeansCodes[i]);
    moved += r.codes[i + 1] != r.kmeansCodes[i + 1];
  }
  EXPECT_EQ(moved, r.stats.itemsMoved);
  std::vector<int64_t> ids(32);
  std::iota(ids.begin(), ids.end(), int64_t(1));
  EXPECT_TRUE(Catalog::fromCodes(2, 8, ids, r.codes).isOk());
}

TEST(RqKMeansTest, DisambiguateMovesLaterRowsToNearestFreeCode) {
  // Three rows share (0, 1); the free last codes under prefix 0 are 0 and
  // 3 (row 3 holds (0, 2)). Row 0 keeps its code; row 1's residual is
  // nearest centroid 3, row 2 then gets the remaining 0. Row 4 is alone.
  std::vector<int32_t> codes = {0, 1, 0, 1, 0, 1, 0, 2, 1, 1};
  std::vector<float> residuals = {0, 0, 2.9f, 3.1f, 3, 3, 0, 0, 0, 0};
  std::vector<float> lastCodebook = {0, 0, 1, 1, 2, 2, 3, 3}; // [4, 2]
  auto report = disambiguateCodes(codes.data(), 5, 2, 4, residuals.data(),
                                  lastCodebook.data(), 2);
  ASSERT_TRUE(report.isOk()) << report.status().toString();
  EXPECT_EQ(report->collidingItems, 3);
  EXPECT_EQ(report->moved, 2);
  EXPECT_EQ(codes, (std::vector<int32_t>{0, 1, 0, 3, 0, 0, 0, 2, 1, 1}));

  // Five rows under one prefix with 4 codes: an error, nothing changed.
  std::vector<int32_t> full = {2, 0, 2, 0, 2, 1, 2, 2, 2, 3};
  std::vector<int32_t> before = full;
  std::vector<float> zeros(10, 0.0f);
  report = disambiguateCodes(full.data(), 5, 2, 4, zeros.data(),
                             lastCodebook.data(), 2);
  ASSERT_FALSE(report.isOk());
  EXPECT_NE(report.status().message().find(
                "the code prefix (2) holds 5 items but the last level has "
                "only 4 codes"),
            std::string::npos)
      << report.status().message();
  EXPECT_EQ(full, before);
}

TEST(RqKMeansTest, BadInputs) {
  std::vector<float> x = randomMatrix(10, 2, 1);
  auto error = [&](RqKMeansOptions options, int64_t rows = 10) {
    auto r = trainRqKMeans(x.data(), rows, 2, options);
    EXPECT_FALSE(r.isOk());
    return r.isOk() ? std::string() : r.status().message();
  };
  RqKMeansOptions options;
  options.codebook = 11;
  EXPECT_NE(error(options).find("codebook size 11 is larger than the 10 items"),
            std::string::npos);
  options.codebook = 2;
  options.levels = 0;
  EXPECT_NE(error(options).find("levels 0"), std::string::npos);
  options.levels = 2;
  options.iterations = 0;
  EXPECT_NE(error(options).find("iterations 0"), std::string::npos);
  options.iterations = 5;
  EXPECT_NE(error(options, 0).find("no embeddings"), std::string::npos);
  x[7] = std::nanf("");
  EXPECT_NE(error(options).find("row 3 column 1 is nan"), std::string::npos);
  // One level with more items than codes cannot give unique IDs.
  x[7] = 0;
  options.levels = 1;
  EXPECT_NE(error(options).find("the code prefix () holds 10 items"),
            std::string::npos);
}

} // namespace
