//===- MoeTest.cpp - the mixture-of-experts kernel ------------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

struct MoeCase {
  Shape x;
  int64_t experts, hidden, topK, activation;
};

void expectMoeAgrees(const MoeCase &c) {
  int64_t d = c.x.last();
  bool swiglu = c.activation == 3;
  std::vector<HostTensor> in = {
      randomFloats(c.x),
      randomFloats({d, c.experts}, -2, 2),
      randomFloats({c.experts}, -0.1f, 0.1f),
      randomFloats({c.experts, d, c.hidden}, -0.5f, 0.5f),
      swiglu ? randomFloats({c.experts, d, c.hidden}, -0.5f, 0.5f)
             : absentTensor(),
      randomFloats({c.experts, c.hidden, d}, -0.5f, 0.5f)};
  expectVariantsAgree(
      OpCode::Moe,
      attrs({{"top_k", c.topK},
             {"activation", c.activation},
             {"balance", int64_t(2)}}),
      in, {HostTensor(DType::f32, c.x), HostTensor(DType::f32, {c.experts})},
      2e-5, 2e-6);
}

TEST(MoeKernel, AgreesForEveryActivation) {
  for (int64_t act = 0; act < 4; ++act) {
    expectMoeAgrees({{37, 16}, 4, 24, 2, act});
    expectMoeAgrees(
        {{3, 50, 32}, 8, 64, 3, act}); // many experts: one task per expert
  }
  expectMoeAgrees({{5, 8}, 3, 8, 3, 1});      // every expert chosen
  expectMoeAgrees({{600, 32}, 2, 128, 1, 2}); // few large experts: split GEMMs
}

TEST(MoeKernel, GateBiasChangesSelectionNotWeights) {
  // One token, d = 1, x = 1: logits are the gate row [ln 1, ln 2, ln 5] so
  // p = [1/8, 2/8, 5/8]. Expert e's FFN (relu, hidden 1) outputs (e + 1).
  HostTensor x = floats({1, 1}, {1});
  HostTensor gate =
      floats({1, 3}, {0.0f, float(std::log(2.0)), float(std::log(5.0))});
  HostTensor up = floats({3, 1, 1}, {1, 1, 1}),
             down = floats({3, 1, 1}, {1, 2, 3});
  KernelAttrs a = attrs({{"top_k", int64_t(2)}, {"activation", int64_t(1)}});
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    // No bias: experts 2 and 1, weights 5/7 and 2/7.
    std::vector<HostTensor> out = {HostTensor(DType::f32, {1, 1}),
                                   HostTensor(DType::f32, {3})};
    ASSERT_TRUE(
        runKernel(OpCode::Moe, v, a,
                  {x, gate, floats({3}, {0, 0, 0}), up, absentTensor(), down},
                  out)
            .isOk());
    EXPECT_NEAR(out[0].at<float>(0), 3.0 * 5 / 7 + 2.0 * 2 / 7, 1e-6);
    EXPECT_EQ(out[1].at<float>(0), 0.0f);
    EXPECT_EQ(out[1].at<float>(1), 0.5f);
    EXPECT_EQ(out[1].at<float>(2), 0.5f);
    // A bias of +0.2 on expert 0 lifts it over expert 1 (0.325 > 0.25): the
    // choice becomes {2, 0}, weighted by p alone: 5/6 and 1/6.
    ASSERT_TRUE(runKernel(OpCode::Moe, v, a,
                          {x, gate, floats({3}, {0.2f, 0, 0}), up,
                           absentTensor(), down},
                          out)
                    .isOk());
    EXPECT_NEAR(out[0].at<float>(0), 3.0 * 5 / 6 + 1.0 * 1 / 6, 1e-6);
    EXPECT_EQ(out[1].at<float>(0), 0.5f);
    EXPECT_EQ(out[1].at<float>(1), 0.0f);
  }
}

TEST(MoeKernel, TiesGoToTheLowerExpert) {
  // All logits equal: the two lowest experts win, weights 1/2 each.
  HostTensor gate = floats({1, 4}, {0, 0, 0, 0});
  HostTensor up = floats({4, 1, 1}, {1, 1, 1, 1}),
             down = floats({4, 1, 1}, {1, 10, 100, 1000});
  auto y = runOptimized(
      OpCode::Moe, attrs({{"top_k", int64_t(2)}, {"activation", int64_t(1)}}),
      {floats({1, 1}, {1}), gate, floats({4}, {0, 0, 0, 0}), up, absentTensor(),
       down},
      {HostTensor(DType::f32, {1, 1}), HostTensor(DType::f32, {4})});
  EXPECT_NEAR(y[0].at<float>(0), 5.5, 1e-5);
}

TEST(MoeKernel, UnderflowedChosenExpertsShareEqually) {
  // Gate logits [200, 0, 0, 0]: p = [1, ~0, ~0, ~0] (0 in float); a bias of
  // 1000 on experts 1 and 2 chooses them anyway. Their p sum to (nearly) 0,
  // so they share the token equally: y = (2 + 3) / 2 in both kernels.
  HostTensor gate = floats({1, 4}, {200, 0, 0, 0});
  HostTensor up = floats({4, 1, 1}, {1, 1, 1, 1}),
             down = floats({4, 1, 1}, {1, 2, 3, 4});
  KernelAttrs a = attrs({{"top_k", int64_t(2)}, {"activation", int64_t(1)}});
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> out = {HostTensor(DType::f32, {1, 1}),
                                   HostTensor(DType::f32, {4})};
    ASSERT_TRUE(
        runKernel(OpCode::Moe, v, a,
                  {floats({1, 1}, {1}), gate, floats({4}, {0, 1000, 1000, 0}),
                   up, absentTensor(), down},
                  out)
            .isOk());
    EXPECT_NEAR(out[0].at<float>(0), 2.5, 1e-6) << variantName(v);
  }
}

TEST(MoeKernel, RejectsAMissingGateProjectionForSwiglu) {
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 4}),
                                 HostTensor(DType::f32, {2})};
  Status s = runKernel(
      OpCode::Moe, KernelVariant::Optimized,
      attrs({{"top_k", int64_t(1)}, {"activation", int64_t(3)}}),
      {randomFloats({2, 4}), randomFloats({4, 2}), randomFloats({2}),
       randomFloats({2, 4, 3}), absentTensor(), randomFloats({2, 3, 4})},
      out);
  EXPECT_FALSE(s.isOk());
}

} // namespace
