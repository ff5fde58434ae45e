//===- MultiEmbeddingTest.cpp - fused lookups and gradients (format 1.2) --===//
//
// MultiEmbedding must equal Concat (last axis) of the Embedding kernels'
// results, and MultiEmbeddingGrad each EmbeddingGrad of its column slice of
// dy, bit for bit, for odd sizes and any thread count.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

using namespace onerec;
using namespace onerec::kernels::test;

namespace {

struct Table {
  int64_t rows, d;
};

/// Odd sizes: a table wider than a partition's worth of rows, one row, and
/// lookups that repeat rows (so that gradients accumulate).
const std::vector<Table> kTables = {{7, 5}, {1, 3}, {300, 1}, {5000, 9}};

TEST(MultiEmbeddingKernel, EqualsConcatenatedLookups) {
  for (Shape lead : {Shape{3, 5}, Shape{1}, Shape{0}, Shape{131}})
    for (unsigned threads : {1u, 2u, 3u}) {
      runtime::ThreadPool pool(threads);
      RunOptions options;
      options.pool = &pool;
      std::vector<HostTensor> tables, ids;
      int64_t width = 0;
      for (const Table &t : kTables) {
        tables.push_back(randomFloats({t.rows, t.d}));
        ids.push_back(randomInts(tables.size() % 2 ? DType::i64 : DType::i32,
                                 lead, 0, t.rows - 1));
        width += t.d;
      }
      std::vector<HostTensor> inputs = tables;
      inputs.insert(inputs.end(), ids.begin(), ids.end());
      Shape ys = lead;
      ys.dims[ys.rank++] = width;
      std::vector<HostTensor> out = {HostTensor(DType::f32, ys)};
      expectVariantsAgree(OpCode::MultiEmbedding, {}, inputs, out, 0, 0,
                          options);
      HostTensor fused =
          runOptimized(OpCode::MultiEmbedding, {}, inputs, out, options)[0];
      // The unfused kernels: each lookup, then their concatenation.
      std::vector<HostTensor> lookups;
      for (size_t i = 0; i < kTables.size(); ++i) {
        Shape s = lead;
        s.dims[s.rank++] = kTables[i].d;
        lookups.push_back(runOptimized(
            OpCode::Embedding,
            attrs({{"codebook", int64_t(0)}, {"combine", int64_t(0)}}),
            {tables[i], ids[i]}, {HostTensor(DType::f32, s)}, options)[0]);
      }
      HostTensor expected =
          runOptimized(OpCode::Concat, attrs({{"axis", int64_t(lead.rank)}}),
                       lookups, {HostTensor(DType::f32, ys)}, options)[0];
      expectClose(fused, expected, 0, 0, "multi_embedding");
    }
}

TEST(MultiEmbeddingGradKernel, EqualsEmbeddingGradOfEachSlice) {
  for (Shape lead : {Shape{3, 5}, Shape{1}, Shape{0}, Shape{257}})
    for (unsigned threads : {1u, 2u, 3u}) {
      runtime::ThreadPool pool(threads);
      RunOptions options;
      options.pool = &pool;
      // dy has a spare column before the tables' and the tables read it in
      // another order than they are listed.
      int64_t width = 1;
      std::vector<int64_t> offsets;
      for (const Table &t : kTables) {
        offsets.push_back(width);
        width += t.d;
      }
      std::reverse(offsets.begin(), offsets.end());
      std::vector<Table> tables(kTables.rbegin(), kTables.rend());
      Shape dys = lead;
      dys.dims[dys.rank++] = width;
      HostTensor dy = randomFloats(dys);
      std::vector<HostTensor> inputs = {dy}, outs;
      for (size_t i = 0; i < tables.size(); ++i) {
        inputs.push_back(randomInts(i % 2 ? DType::i64 : DType::i32, lead, 0,
                                    std::min<int64_t>(tables[i].rows, 4) - 1));
        outs.emplace_back(DType::f32, Shape{tables[i].rows, tables[i].d});
      }
      KernelAttrs a = attrs({{"offsets", offsets}});
      expectVariantsAgree(OpCode::MultiEmbeddingGrad, a, inputs, outs, 1e-5,
                          1e-6, options);
      std::vector<HostTensor> fused =
          runOptimized(OpCode::MultiEmbeddingGrad, a, inputs, outs, options);
      for (size_t i = 0; i < tables.size(); ++i) {
        Shape ss = lead;
        ss.dims[ss.rank++] = tables[i].d;
        HostTensor slice =
            runOptimized(OpCode::Slice,
                         attrs({{"axis", int64_t(lead.rank)},
                                {"start", offsets[i]},
                                {"end", offsets[i] + tables[i].d}}),
                         {dy}, {HostTensor(DType::f32, ss)}, options)[0];
        HostTensor expected = runOptimized(
            OpCode::EmbeddingGrad,
            attrs({{"codebook", int64_t(0)}, {"combine", int64_t(0)}}),
            {inputs[i + 1], slice}, {HostTensor(DType::f32, outs[i].shape)},
            options)[0];
        expectClose(fused[i], expected, 0, 0, "multi_embedding_grad");
      }
    }
}

TEST(MultiEmbeddingGradKernel, RejectsBadIdsAndOffsets) {
  HostTensor dy = randomFloats({4, 5});
  std::vector<HostTensor> out = {HostTensor(DType::f32, {3, 2})};
  EXPECT_FALSE(runKernel(OpCode::MultiEmbeddingGrad, KernelVariant::Optimized,
                         attrs({{"offsets", std::vector<int64_t>{4}}}),
                         {dy, ints(DType::i64, {4}, {0, 1, 2, 0})}, out)
                   .isOk());
  EXPECT_FALSE(runKernel(OpCode::MultiEmbeddingGrad, KernelVariant::Optimized,
                         attrs({{"offsets", std::vector<int64_t>{0}}}),
                         {dy, ints(DType::i64, {4}, {0, 1, 3, 0})}, out)
                   .isOk());
  std::vector<HostTensor> y = {HostTensor(DType::f32, {4, 2})};
  EXPECT_FALSE(
      runKernel(OpCode::MultiEmbedding, KernelVariant::Optimized, {},
                {randomFloats({3, 2}), ints(DType::i64, {4}, {0, 5, 1, 2})}, y)
          .isOk());
}

} // namespace
