//===- BeamSearchTest.cpp - constrained beam search against brute force ---===//
//
// A mock StepModel whose logits are a hash of (request seed, the row's
// tokens so far as its cache holds them): a wrong cache reorder, a wrong
// slot or a wrong position changes the scores. Beam search with a width
// that never prunes must then equal the exhaustive enumeration of every
// catalog session without repeated items.
//
//===----------------------------------------------------------------------===//

#include "onerec/Driver/BeamSearch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace onerec;
using namespace onerec::driver;
using runtime::Status;
using runtime::StatusOr;

namespace {

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// The mock's logit of `code` at `level` after `prefix` (tokens at
/// positions 0..prefix.size()-1) for a request with `seed`.
float mockLogit(int64_t seed, const std::vector<int64_t> &prefix, int64_t level,
                int64_t code) {
  uint64_t h = mix(uint64_t(seed));
  for (int64_t t : prefix)
    h = mix(h ^ uint64_t(t));
  h = mix(h ^ uint64_t(level * 1000 + code));
  return float(double(h >> 11) / double(1ull << 53) * 6.0 - 3.0);
}

class MockModel : public StepModel {
public:
  MockModel(DecodeShape shape, int64_t maxRows)
      : shape_(shape), maxRows_(maxRows) {}
  const DecodeShape &shape() const override { return shape_; }
  int64_t maxRows() const override { return maxRows_; }
  int64_t maxSlots() const override { return 64; }
  Status reserve(int64_t rows, int64_t slots) override {
    cache_.assign(size_t(rows * shape_.length()), -1);
    next_ = cache_;
    seeds_.assign(size_t(slots), 0);
    logits_.resize(size_t(rows * shape_.levels * shape_.codebook));
    return Status::ok();
  }
  Status encode(const GenerationRequest *const *requests, const int64_t *slots,
                size_t count) override {
    ++encodeCalls;
    for (size_t i = 0; i < count; ++i)
      if (requests[i]->inputs[0].tensor.as<int64_t>()[0] < 0)
        return Status::error(Status::Code::InvalidArgument,
                             "seed: must not be negative");
    for (size_t i = 0; i < count; ++i)
      seeds_[size_t(slots[i])] = requests[i]->inputs[0].tensor.as<int64_t>()[0];
    return Status::ok();
  }
  StatusOr<const float *> step(int64_t n, const int64_t *tokens,
                               const int64_t *positions,
                               const int64_t *slots) override {
    const int64_t T = shape_.length();
    for (int64_t r = 0; r < n; ++r) {
      if (positions[r] < 0 || positions[r] >= T)
        return Status::error(Status::Code::Internal, "position out of range");
      cache_[size_t(r * T + positions[r])] = tokens[r];
      std::vector<int64_t> prefix(cache_.begin() + r * T,
                                  cache_.begin() + r * T + positions[r] + 1);
      for (int64_t l = 0; l < shape_.levels; ++l)
        for (int64_t c = 0; c < shape_.codebook; ++c)
          logits_[size_t((r * shape_.levels + l) * shape_.codebook + c)] =
              mockLogit(seeds_[size_t(slots[r])], prefix, l, c);
    }
    maxRowsSeen = std::max(maxRowsSeen, n);
    return logits_.data();
  }
  void reorder(int64_t n, const int32_t *parents,
               const int64_t *lengths) override {
    const int64_t T = shape_.length();
    std::fill(next_.begin(), next_.end(), -1);
    for (int64_t i = 0; i < n; ++i)
      if (parents[i] >= 0)
        std::copy_n(cache_.begin() + parents[i] * T, lengths[i],
                    next_.begin() + i * T);
    std::swap(cache_, next_);
  }

  int encodeCalls = 0;
  int64_t maxRowsSeen = 0;

private:
  DecodeShape shape_;
  int64_t maxRows_;
  std::vector<int64_t> cache_, next_, seeds_;
  std::vector<float> logits_;
};

data::Catalog makeCatalog(int64_t levels, int64_t codebook, int64_t items,
                          uint64_t seed) {
  std::set<std::vector<int32_t>> seen;
  std::vector<int64_t> ids;
  std::vector<int32_t> codes;
  uint64_t h = seed;
  while (int64_t(ids.size()) < items) {
    std::vector<int32_t> c;
    for (int64_t l = 0; l < levels; ++l) {
      h = mix(h);
      c.push_back(int32_t(h % uint64_t(codebook)));
    }
    if (!seen.insert(c).second)
      continue;
    ids.push_back(100 + 7 * int64_t(ids.size()));
    codes.insert(codes.end(), c.begin(), c.end());
  }
  StatusOr<data::Catalog> catalog =
      data::Catalog::fromCodes(levels, codebook, ids, codes);
  EXPECT_TRUE(catalog.isOk()) << catalog.status().toString();
  return std::move(catalog).value();
}

GenerationRequest request(int64_t seed) {
  GenerationRequest r;
  runtime::HostTensor t(runtime::DType::i64, runtime::Shape{1});
  t.as<int64_t>()[0] = seed;
  r.inputs.push_back({"seed", std::move(t)});
  return r;
}

/// Every session of `items` distinct catalog items with its exact score,
/// best first.
std::vector<GeneratedSession> bruteForce(const data::Catalog &catalog,
                                         const DecodeShape &shape,
                                         int64_t items, int64_t seed) {
  std::vector<GeneratedSession> all;
  std::vector<size_t> rows;
  std::function<void()> visit = [&]() {
    if (int64_t(rows.size()) == items) {
      GeneratedSession s;
      std::vector<int64_t> prefix;
      for (size_t row : rows) {
        s.items.push_back(catalog.itemId(row));
        prefix.push_back(shape.bos());
        for (int64_t l = 0; l < shape.levels; ++l) {
          std::vector<float> x(size_t(shape.codebook));
          for (int64_t c = 0; c < shape.codebook; ++c)
            x[size_t(c)] = mockLogit(seed, prefix, l, c);
          float most = *std::max_element(x.begin(), x.end());
          double sum = 0;
          for (float v : x)
            sum += std::exp(double(v) - double(most));
          int32_t code = catalog.codes(row)[l];
          s.score = s.score - (double(most) + std::log(sum)) +
                    double(x[size_t(code)]);
          s.codes.push_back(code);
          prefix.push_back(l * shape.codebook + code);
        }
      }
      all.push_back(s);
      return;
    }
    for (size_t row = 0; row < catalog.size(); ++row) {
      if (std::find(rows.begin(), rows.end(), row) != rows.end())
        continue;
      rows.push_back(row);
      visit();
      rows.pop_back();
    }
  };
  visit();
  std::stable_sort(all.begin(), all.end(),
                   [](const GeneratedSession &a, const GeneratedSession &b) {
                     return a.score > b.score;
                   });
  return all;
}

/// Runs every seed through a beam search; results by seed.
std::map<int64_t, StatusOr<GenerationResult>>
generate(StepModel &model, const data::Catalog &catalog,
         const BeamSearchOptions &options, const std::vector<int64_t> &seeds) {
  StatusOr<std::unique_ptr<BeamSearch>> search =
      BeamSearch::create(model, catalog, options);
  EXPECT_TRUE(search.isOk()) << search.status().toString();
  std::map<int64_t, StatusOr<GenerationResult>> results;
  for (size_t i = 0; i < seeds.size(); ++i)
    (*search)->submit(i, request(seeds[i]));
  Status s =
      (*search)->run([&](uint64_t tag, StatusOr<GenerationResult> result) {
        EXPECT_EQ(results.count(seeds[tag]), 0u) << "answered twice";
        results.emplace(seeds[tag], std::move(result));
      });
  EXPECT_TRUE(s.isOk()) << s.toString();
  return results;
}

TEST(BeamSearchTest, EqualsExhaustiveEnumeration) {
  DecodeShape shape{2, 2, 3};
  data::Catalog catalog = makeCatalog(2, 3, 6, 1); // 30 sessions
  MockModel model(shape, 4096);
  BeamSearchOptions options;
  options.width = 32; // never prunes: every prefix survives
  options.top = 30;
  for (int64_t seed : {1, 2, 3, 42}) {
    auto results = generate(model, catalog, options, {seed});
    ASSERT_TRUE(results.at(seed).isOk());
    const GenerationResult &r = *results.at(seed);
    std::vector<GeneratedSession> expected =
        bruteForce(catalog, shape, 2, seed);
    ASSERT_EQ(r.sessions.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(r.sessions[i].items, expected[i].items) << "rank " << i;
      EXPECT_EQ(r.sessions[i].codes, expected[i].codes) << "rank " << i;
      EXPECT_NEAR(r.sessions[i].score, expected[i].score, 1e-12);
    }
    // Items: each distinct item at the score of its best session.
    std::set<int64_t> items;
    for (size_t i = 0; i < r.items.size(); ++i) {
      EXPECT_TRUE(items.insert(r.items[i].item).second);
      if (i)
        EXPECT_LE(r.items[i].score, r.items[i - 1].score);
    }
    EXPECT_EQ(r.items[0].item, expected[0].items[0]);
  }
}

TEST(BeamSearchTest, OneItemSessionsRankTheWholeCatalog) {
  DecodeShape shape{1, 3, 4};
  data::Catalog catalog = makeCatalog(3, 4, 20, 9);
  MockModel model(shape, 4096);
  BeamSearchOptions options;
  options.width = 64;
  options.top = 20;
  auto results = generate(model, catalog, options, {5});
  std::vector<GeneratedSession> expected = bruteForce(catalog, shape, 1, 5);
  const GenerationResult &r = *results.at(5);
  ASSERT_EQ(r.items.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(r.items[i].item, expected[i].items[0]);
    EXPECT_NEAR(r.items[i].score, expected[i].score, 1e-12);
  }
  EXPECT_EQ(r.steps, 3); // no token after the last code of the last item
}

TEST(BeamSearchTest, EverySessionIsLegalAndHasNoRepeatedItem) {
  DecodeShape shape{4, 3, 8};
  data::Catalog catalog = makeCatalog(3, 8, 40, 3);
  MockModel model(shape, 4096);
  BeamSearchOptions options;
  options.width = 16;
  options.top = 16;
  auto results = generate(model, catalog, options, {1, 2, 3, 4, 5, 6});
  for (auto &[seed, result] : results) {
    ASSERT_TRUE(result.isOk());
    ASSERT_EQ(result->sessions.size(), 16u);
    for (const GeneratedSession &s : result->sessions) {
      ASSERT_EQ(s.items.size(), 4u);
      EXPECT_EQ(std::set<int64_t>(s.items.begin(), s.items.end()).size(), 4u);
      for (size_t i = 0; i < s.items.size(); ++i) {
        std::optional<size_t> row = catalog.rowOf(s.items[i]);
        ASSERT_TRUE(row.has_value());
        for (int64_t l = 0; l < 3; ++l)
          EXPECT_EQ(s.codes[i * 3 + size_t(l)], catalog.codes(*row)[l]);
      }
    }
  }
}

TEST(BeamSearchTest, RepeatsAreMaskedEvenWhenTheCatalogIsTiny) {
  // Three items, sessions of three: only the 6 orderings exist.
  DecodeShape shape{3, 2, 2};
  data::Catalog catalog = makeCatalog(2, 2, 3, 4);
  MockModel model(shape, 4096);
  BeamSearchOptions options;
  options.width = 8;
  options.top = 8;
  auto results = generate(model, catalog, options, {11});
  const GenerationResult &r = *results.at(11);
  std::vector<GeneratedSession> expected = bruteForce(catalog, shape, 3, 11);
  ASSERT_EQ(expected.size(), 6u);
  ASSERT_EQ(r.sessions.size(), 6u);
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(r.sessions[i].items, expected[i].items);
}

TEST(BeamSearchTest, DynamicBatchingEqualsOneAtATime) {
  DecodeShape shape{3, 3, 8};
  data::Catalog catalog = makeCatalog(3, 8, 50, 5);
  std::vector<int64_t> seeds;
  for (int64_t s = 0; s < 13; ++s)
    seeds.push_back(1000 + s);
  BeamSearchOptions options;
  options.width = 6;
  options.top = 6;

  MockModel alone(shape, 4096);
  options.maxRows = 6; // one request at a time
  auto one = generate(alone, catalog, options, seeds);
  EXPECT_EQ(alone.maxRowsSeen, 6);

  MockModel batched(shape, 4096);
  options.maxRows = 6 * 5 + 3; // five at a time, joining mid-session
  auto many = generate(batched, catalog, options, seeds);
  EXPECT_GT(batched.maxRowsSeen, 6);
  EXPECT_LT(batched.encodeCalls, alone.encodeCalls);

  for (int64_t seed : seeds) {
    const GenerationResult &a = *one.at(seed), &b = *many.at(seed);
    ASSERT_EQ(a.sessions.size(), b.sessions.size());
    for (size_t i = 0; i < a.sessions.size(); ++i) {
      EXPECT_EQ(a.sessions[i].items, b.sessions[i].items);
      EXPECT_EQ(a.sessions[i].score, b.sessions[i].score);
    }
  }
}

TEST(BeamSearchTest, WidthOneIsGreedy) {
  DecodeShape shape{2, 3, 5};
  data::Catalog catalog = makeCatalog(3, 5, 30, 6);
  MockModel model(shape, 4096);
  BeamSearchOptions options;
  options.width = 1;
  auto results = generate(model, catalog, options, {77});
  const GenerationResult &r = *results.at(77);
  ASSERT_EQ(r.sessions.size(), 1u);

  // Greedy by hand: the best allowed code at every level.
  std::vector<int64_t> prefix, items;
  std::vector<size_t> usedRows;
  for (int64_t i = 0; i < 2; ++i) {
    prefix.push_back(shape.bos());
    int32_t node = data::Catalog::kRoot;
    for (int64_t l = 0; l < 3; ++l) {
      int32_t best = -1, bestNode = -1;
      float bestLogit = 0;
      for (size_t e = catalog.childBegin(node); e < catalog.childEnd(node);
           ++e) {
        int32_t child = catalog.childNodes()[e], code = catalog.childCodes()[e];
        if (l == 2 &&
            std::find(usedRows.begin(), usedRows.end(),
                      size_t(catalog.leafRow(child))) != usedRows.end())
          continue;
        float x = mockLogit(77, prefix, l, code);
        if (best < 0 || x > bestLogit) {
          best = code;
          bestNode = child;
          bestLogit = x;
        }
      }
      prefix.push_back(l * shape.codebook + best);
      node = bestNode;
    }
    usedRows.push_back(size_t(catalog.leafRow(node)));
    items.push_back(catalog.itemId(usedRows.back()));
  }
  EXPECT_EQ(r.sessions[0].items, items);
}

TEST(BeamSearchTest, AFailingRequestFailsAlone) {
  DecodeShape shape{1, 2, 4};
  data::Catalog catalog = makeCatalog(2, 4, 10, 8);
  MockModel model(shape, 4096);
  BeamSearchOptions options;
  options.width = 4;
  auto results = generate(model, catalog, options, {1, -5, 2, 3});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_FALSE(results.at(-5).isOk());
  EXPECT_NE(results.at(-5).status().message().find("seed"), std::string::npos);
  for (int64_t seed : {1, 2, 3})
    EXPECT_TRUE(results.at(seed).isOk());
}

TEST(BeamSearchTest, RejectsAMismatchedCatalogAndBadOptions) {
  DecodeShape shape{2, 3, 8};
  MockModel model(shape, 64);
  data::Catalog other = makeCatalog(2, 8, 10, 1);
  BeamSearchOptions options;
  auto search = BeamSearch::create(model, other, options);
  ASSERT_FALSE(search.isOk());
  EXPECT_NE(search.status().message().find("catalog"), std::string::npos);

  data::Catalog catalog = makeCatalog(3, 8, 10, 1);
  options.width = 65;
  EXPECT_FALSE(BeamSearch::create(model, catalog, options).isOk());
  options.width = 8;
  options.items = 3;
  EXPECT_FALSE(BeamSearch::create(model, catalog, options).isOk());
  options.items = 0;
  options.maxRows = 4;
  EXPECT_FALSE(BeamSearch::create(model, catalog, options).isOk());
  data::Catalog one = makeCatalog(3, 8, 1, 1);
  options.maxRows = 0;
  EXPECT_FALSE(BeamSearch::create(model, one, options).isOk());
}

} // namespace
