//===- AttentionTest.cpp - the fused attention kernel ---------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

struct AttentionCase {
  Shape qBatch, kvBatch;
  int64_t heads, kvHeads, lq, lk, dk, dv;
  bool causal = false;
  int64_t scoreNorm = 0;
  Shape mask = {}, bias = {}; // rank 0 = absent
  bool withMask = false, withBias = false;
};

Shape withTail(Shape s, int64_t a, int64_t b) {
  s.dims[s.rank++] = a;
  s.dims[s.rank++] = b;
  return s;
}

void expectAttentionAgrees(const AttentionCase &c) {
  Shape batch;
  batch.rank = std::max(c.qBatch.rank, c.kvBatch.rank);
  for (int i = 1; i <= batch.rank; ++i) {
    int64_t q = i <= c.qBatch.rank ? c.qBatch[c.qBatch.rank - i] : 1;
    int64_t kv = i <= c.kvBatch.rank ? c.kvBatch[c.kvBatch.rank - i] : 1;
    batch[batch.rank - i] = std::max(q, kv);
  }
  std::vector<HostTensor> in = {
      randomFloats(withTail(c.qBatch, c.lq, c.heads * c.dk), -2, 2),
      randomFloats(withTail(c.kvBatch, c.lk, c.kvHeads * c.dk), -2, 2),
      randomFloats(withTail(c.kvBatch, c.lk, c.kvHeads * c.dv))};
  in.push_back(c.withMask ? randomBools(c.mask, 0.7) : absentTensor());
  in.push_back(c.withBias ? randomFloats(c.bias) : absentTensor());
  KernelAttrs a = attrs({{"num_heads", c.heads},
                         {"num_kv_heads", c.kvHeads},
                         {"causal", int64_t(c.causal)},
                         {"scale", 1.0 / std::sqrt(double(c.dk))},
                         {"score_norm", c.scoreNorm}});
  expectVariantsAgree(
      OpCode::Attention, a, in,
      {HostTensor(DType::f32, withTail(batch, c.lq, c.heads * c.dv))}, 2e-5,
      2e-6);
}

TEST(AttentionKernel, SelfAttentionCausal) {
  expectAttentionAgrees({{2}, {2}, 2, 2, 45, 45, 8, 8, true});
  expectAttentionAgrees(
      {{2}, {2}, 1, 1, 200, 200, 50, 50, true}); // SASRec-like
}

TEST(AttentionKernel, CausalWithDifferentLengthsAndBlocks) {
  // Lq < Lk (queries are the last Lq positions), several query and key blocks.
  expectAttentionAgrees({{3}, {3}, 4, 2, 70, 130, 16, 8, true});
  // Lq > Lk: the first queries see no key at all and give zeros.
  expectAttentionAgrees({{2}, {2}, 2, 2, 100, 40, 8, 8, true});
  // One query (a decode step) against a long cache.
  expectAttentionAgrees({{5}, {5}, 4, 4, 1, 77, 32, 32, true});
}

TEST(AttentionKernel, MasksAndBiases) {
  AttentionCase shared{{2}, {2}, 2, 2, 33, 65, 8, 4};
  shared.withMask = true;
  shared.mask = {2, 33, 65}; // shared by the heads
  expectAttentionAgrees(shared);
  AttentionCase perHead{{2}, {2}, 2, 1, 20, 20, 8, 8, true};
  perHead.withMask = true;
  perHead.mask = {2, 2, 20, 20};
  perHead.withBias = true;
  perHead.bias = {1, 2, 20, 20}; // one per head, shared by the batch
  expectAttentionAgrees(perHead);
  AttentionCase padding{{3}, {3}, 2, 2, 10, 12, 4, 4};
  padding.withMask = true;
  padding.mask = {3, 1, 12}; // a key padding mask
  padding.withBias = true;
  padding.bias = {10, 12};
  expectAttentionAgrees(padding);
}

TEST(AttentionKernel, BroadcastBatchesAndGroupedQueries) {
  expectAttentionAgrees(
      {{2, 3}, {}, 8, 2, 9, 17, 4, 6}); // k, v shared by the batch
  expectAttentionAgrees({{2, 1}, {1, 3}, 4, 1, 5, 5, 8, 8, true});
}

TEST(AttentionKernel, SiluScoreNorm) {
  AttentionCase hstu{{2}, {2}, 2, 2, 40, 40, 8, 8, true, 1};
  hstu.withMask = true;
  hstu.mask = {2, 40, 40};
  expectAttentionAgrees(hstu);
  auto y =
      runOptimized(OpCode::Attention,
                   attrs({{"num_heads", int64_t(1)},
                          {"num_kv_heads", int64_t(1)},
                          {"scale", 1.0},
                          {"score_norm", int64_t(1)}}),
                   {floats({1, 1}, {1}), floats({2, 1}, {1, 2}),
                    floats({2, 1}, {1, 1}), absentTensor(), absentTensor()},
                   {HostTensor(DType::f32, {1, 1})});
  auto silu = [](double x) { return x / (1 + std::exp(-x)); };
  EXPECT_NEAR(y[0].at<float>(0), (silu(1) + silu(2)) / 2, 1e-6);
}

TEST(AttentionKernel, GoldenSoftmaxWeights) {
  KernelAttrs one = attrs({{"num_heads", int64_t(1)},
                           {"num_kv_heads", int64_t(1)},
                           {"scale", 1.0}});
  // Scores 0 and ln 3: weights 1/4 and 3/4.
  auto y = runOptimized(
      OpCode::Attention, one,
      {floats({1, 1}, {1}), floats({2, 1}, {0, float(std::log(3.0))}),
       floats({2, 2}, {1, 0, 0, 1}), absentTensor(), absentTensor()},
      {HostTensor(DType::f32, {1, 2})});
  EXPECT_NEAR(y[0].at<float>(0), 0.25, 1e-6);
  EXPECT_NEAR(y[0].at<float>(1), 0.75, 1e-6);
}

TEST(AttentionKernel, GoldenCausalWithFewerQueries) {
  // Lq = 2, Lk = 3: query i sees keys j <= i + 1; equal scores average v.
  KernelAttrs causal = attrs({{"num_heads", int64_t(1)},
                              {"num_kv_heads", int64_t(1)},
                              {"scale", 1.0},
                              {"causal", int64_t(1)}});
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 1})};
    ASSERT_TRUE(
        runKernel(OpCode::Attention, v, causal,
                  {floats({2, 1}, {0, 0}), floats({3, 1}, {1, 2, 3}),
                   floats({3, 1}, {1, 2, 4}), absentTensor(), absentTensor()},
                  out)
            .isOk());
    EXPECT_NEAR(out[0].at<float>(0), 1.5, 1e-6);
    EXPECT_NEAR(out[0].at<float>(1), 7.0 / 3.0, 1e-6);
  }
}

TEST(AttentionKernel, GoldenMaskedRowGivesZeros) {
  KernelAttrs one = attrs({{"num_heads", int64_t(1)},
                           {"num_kv_heads", int64_t(1)},
                           {"scale", 1.0}});
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 1})};
    ASSERT_TRUE(
        runKernel(OpCode::Attention, v, one,
                  {floats({2, 1}, {1, 1}), floats({2, 1}, {1, 2}),
                   floats({2, 1}, {5, 7}),
                   ints(DType::bool8, {2, 2}, {0, 0, 0, 1}), absentTensor()},
                  out)
            .isOk());
    EXPECT_EQ(out[0].at<float>(0), 0.0f);
    EXPECT_NEAR(out[0].at<float>(1), 7.0, 1e-6);
  }
}

TEST(AttentionKernel, GoldenGroupedQueryHeads) {
  // Two query heads share one key/value head.
  auto y =
      runOptimized(OpCode::Attention,
                   attrs({{"num_heads", int64_t(2)},
                          {"num_kv_heads", int64_t(1)},
                          {"scale", 1.0}}),
                   {floats({1, 2}, {0, 10}), floats({2, 1}, {0, 1}),
                    floats({2, 1}, {1, 3}), absentTensor(), absentTensor()},
                   {HostTensor(DType::f32, {1, 2})});
  double p1 = 1.0 / (1.0 + std::exp(-10.0));
  EXPECT_NEAR(y[0].at<float>(0), 2.0, 1e-6);
  EXPECT_NEAR(y[0].at<float>(1), 1.0 + 2.0 * p1, 1e-5);
}

} // namespace
