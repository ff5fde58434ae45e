//===- LossesTest.cpp - losses and alignment objectives -------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

Shape lossShape(int64_t reduction, Shape elements) {
  return reduction == 2 ? elements : Shape{};
}

TEST(CrossEntropyKernel, AgreesWithMaskSmoothingAndReductions) {
  for (int64_t reduction = 0; reduction < 3; ++reduction)
    for (double smoothing : {0.0, 0.1}) {
      KernelAttrs a =
          attrs({{"reduction", reduction}, {"label_smoothing", smoothing}});
      HostTensor logits = randomFloats({4, 50, 37}, -10, 10);
      HostTensor labels = randomInts(DType::i64, {4, 50}, 0, 36);
      Shape out = lossShape(reduction, {4, 50});
      expectVariantsAgree(OpCode::CrossEntropy, a, {logits, labels},
                          {HostTensor(DType::f32, out)}, 1e-5, 1e-5);
      expectVariantsAgree(OpCode::CrossEntropy, a,
                          {logits, labels, randomBools({4, 50})},
                          {HostTensor(DType::f32, out)}, 1e-5, 1e-5);
      expectVariantsAgree(OpCode::CrossEntropy, a,
                          {randomFloats({64, 3417}, -5, 5),
                           randomInts(DType::i32, {64}, 0, 3416)},
                          {HostTensor(DType::f32, lossShape(reduction, {64}))},
                          1e-5, 1e-5);
    }
}

TEST(CrossEntropyKernel, GoldenWithMask) {
  // Row 0: logits [0, ln 3], label 1: -log(3/4). Row 1 masked out, and its
  // label (a padding -100) is neither counted nor range-checked.
  HostTensor logits = floats({2, 2}, {0, float(std::log(3.0)), 5, 5});
  HostTensor labels = ints(DType::i64, {2}, {1, -100});
  HostTensor mask = ints(DType::bool8, {2}, {1, 0});
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> mean = {HostTensor(DType::f32, {})};
    ASSERT_TRUE(runKernel(OpCode::CrossEntropy, v,
                          attrs({{"reduction", int64_t(0)}}),
                          {logits, labels, mask}, mean)
                    .isOk());
    EXPECT_NEAR(mean[0].at<float>(0), -std::log(0.75), 1e-6);
    std::vector<HostTensor> none = {HostTensor(DType::f32, {2})};
    ASSERT_TRUE(
        runKernel(OpCode::CrossEntropy, v,
                  attrs({{"reduction", int64_t(2)}, {"label_smoothing", 0.5}}),
                  {logits, labels, mask}, none)
            .isOk());
    // Smoothing: 0.5·nll + 0.5·(lse − mean logit).
    double lse = std::log(4.0), nll = -std::log(0.75),
           uniform = lse - std::log(3.0) / 2;
    EXPECT_NEAR(none[0].at<float>(0), 0.5 * nll + 0.5 * uniform, 1e-6);
    EXPECT_EQ(none[0].at<float>(1), 0.0f);
  }
  // Nothing counted: the mean is 0.
  auto zero =
      runOptimized(OpCode::CrossEntropy, attrs({{"reduction", int64_t(0)}}),
                   {logits, labels, ints(DType::bool8, {2}, {0, 0})},
                   {HostTensor(DType::f32, {})});
  EXPECT_EQ(zero[0].at<float>(0), 0.0f);
}

TEST(CrossEntropyKernel, CountedLabelOutOfRangeFails) {
  std::vector<HostTensor> out = {HostTensor(DType::f32, {})};
  Status s =
      runKernel(OpCode::CrossEntropy, KernelVariant::Optimized, {},
                {randomFloats({3, 5}), ints(DType::i64, {3}, {0, 5, 1})}, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("label 5 at position 1 is outside the 5 classes"),
            std::string::npos)
      << s.message();
}

TEST(BceWithLogitsKernel, AgreesAndGolden) {
  for (int64_t reduction = 0; reduction < 3; ++reduction) {
    KernelAttrs a = attrs({{"reduction", reduction}});
    HostTensor x = randomFloats({7, 300}, -30, 30),
               y = randomFloats({7, 300}, 0, 1);
    expectVariantsAgree(
        OpCode::BceWithLogits, a, {x, y},
        {HostTensor(DType::f32, lossShape(reduction, {7, 300}))}, 1e-5, 1e-5);
    expectVariantsAgree(
        OpCode::BceWithLogits, a, {x, y, randomBools({7, 300})},
        {HostTensor(DType::f32, lossShape(reduction, {7, 300}))}, 1e-5, 1e-5);
  }
  auto l =
      runOptimized(OpCode::BceWithLogits, attrs({{"reduction", int64_t(2)}}),
                   {floats({3}, {0, 100, -100}), floats({3}, {1, 1, 1})},
                   {HostTensor(DType::f32, {3})});
  EXPECT_NEAR(l[0].at<float>(0), std::log(2.0), 1e-6);
  EXPECT_NEAR(l[0].at<float>(1), 0.0, 1e-6);
  EXPECT_NEAR(l[0].at<float>(2), 100.0, 1e-4);
}

TEST(SampledSoftmaxKernel, AgreesForSharedAndPerPositionNegatives) {
  for (int64_t reduction = 0; reduction < 3; ++reduction) {
    KernelAttrs a = attrs({{"reduction", reduction}});
    HostTensor h = randomFloats({3, 40, 16}), table = randomFloats({300, 16});
    HostTensor pos = randomInts(DType::i64, {3, 40}, 0, 299);
    Shape out = lossShape(reduction, {3, 40});
    expectVariantsAgree(OpCode::SampledSoftmax, a,
                        {h, table, pos, randomInts(DType::i64, {100}, 0, 299)},
                        {HostTensor(DType::f32, out)}, 1e-5, 1e-5);
    expectVariantsAgree(OpCode::SampledSoftmax, a,
                        {h, table, pos,
                         randomInts(DType::i32, {3, 40, 7}, 0, 299),
                         randomBools({3, 40})},
                        {HostTensor(DType::f32, out)}, 1e-5, 1e-5);
  }
}

TEST(SampledSoftmaxKernel, RemoveHitsAgreesAndLeavesHitsOut) {
  // A 5-row catalog: most negatives equal some position's positive. 2400
  // positions cross the optimized kernel's 2048-position GEMM block.
  KernelAttrs a =
      attrs({{"reduction", int64_t(2)}, {"remove_hits", int64_t(1)}});
  HostTensor h = randomFloats({3, 800, 8}), table = randomFloats({5, 8});
  HostTensor pos = randomInts(DType::i64, {3, 800}, 0, 4);
  HostTensor out(DType::f32, {3, 800});
  expectVariantsAgree(OpCode::SampledSoftmax, a,
                      {h, table, pos, randomInts(DType::i64, {12}, 0, 4)},
                      {out}, 1e-5, 1e-5);
  expectVariantsAgree(OpCode::SampledSoftmax, a,
                      {h, table, pos, randomInts(DType::i32, {3, 800, 6}, 0, 4),
                       randomBools({3, 800})},
                      {out}, 1e-5, 1e-5);
  // h = [1], rows [0], [ln 3]: positive row 1 among {1, 0, 1}: the hit is
  // left out (-log(3/4)); counted, it gives -log(3/7).
  HostTensor h1 = floats({1, 1}, {1}),
             t1 = floats({2, 1}, {0, float(std::log(3.0))});
  for (bool shared : {true, false})
    for (int64_t remove : {0, 1}) {
      HostTensor neg = shared ? ints(DType::i64, {2}, {0, 1})
                              : ints(DType::i64, {1, 2}, {0, 1});
      KernelAttrs ra =
          attrs({{"reduction", int64_t(1)}, {"remove_hits", remove}});
      double want = remove ? -std::log(0.75) : -std::log(3.0 / 7.0);
      for (KernelVariant v :
           {KernelVariant::Optimized, KernelVariant::Reference}) {
        std::vector<HostTensor> l = {HostTensor(DType::f32, {})};
        ASSERT_TRUE(runKernel(OpCode::SampledSoftmax, v, ra,
                              {h1, t1, ints(DType::i64, {1}, {1}), neg}, l)
                        .isOk());
        EXPECT_NEAR(l[0].at<float>(0), want, 1e-6)
            << (shared ? "shared" : "per-position") << " remove " << remove;
      }
    }
}

TEST(SampledSoftmaxKernel, GoldenAndBadIds) {
  // h = [1], rows [0], [ln 3]: positive row 1 among {1, 0} -> -log(3/4).
  HostTensor h = floats({1, 1}, {1}),
             table = floats({2, 1}, {0, float(std::log(3.0))});
  auto l = runOptimized(
      OpCode::SampledSoftmax, attrs({{"reduction", int64_t(1)}}),
      {h, table, ints(DType::i64, {1}, {1}), ints(DType::i64, {1}, {0})},
      {HostTensor(DType::f32, {})});
  EXPECT_NEAR(l[0].at<float>(0), -std::log(0.75), 1e-6);
  std::vector<HostTensor> out = {HostTensor(DType::f32, {})};
  Status s = runKernel(
      OpCode::SampledSoftmax, KernelVariant::Optimized, {},
      {h, table, ints(DType::i64, {1}, {1}), ints(DType::i64, {2}, {0, 2})},
      out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("negative id 2 at position 1"), std::string::npos)
      << s.message();
  s = runKernel(
      OpCode::SampledSoftmax, KernelVariant::Reference, {},
      {h, table, ints(DType::i64, {1}, {9}), ints(DType::i64, {1}, {0})}, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("positive id 9 at position 0"), std::string::npos)
      << s.message();
}

TEST(AlignmentLosses, DpoAgreesAndGolden) {
  HostTensor pw = randomFloats({33}, -5, 0), pl = randomFloats({33}, -5, 0),
             rw = randomFloats({33}, -5, 0), rl = randomFloats({33}, -5, 0);
  expectVariantsAgree(OpCode::DpoLoss, attrs({{"beta", 0.1}}), {pw, pl, rw, rl},
                      {HostTensor(DType::f32, {})}, 1e-6, 1e-6);
  // z = beta((pw - rw) - (pl - rl)) = 0.5((-1 + 2) - (-3 + 2)) = 1.
  auto l = runOptimized(OpCode::DpoLoss, attrs({{"beta", 0.5}}),
                        {floats({1}, {-1}), floats({1}, {-3}),
                         floats({1}, {-2}), floats({1}, {-2})},
                        {HostTensor(DType::f32, {})});
  EXPECT_NEAR(l[0].at<float>(0), std::log1p(std::exp(-1.0)), 1e-6);
}

TEST(AlignmentLosses, EcpoAgreesAndGolden) {
  KernelAttrs a = attrs({{"epsilon", 0.2}, {"delta", 0.1}});
  HostTensor logp = randomFloats({40}, -3, 0), old = randomFloats({40}, -3, 0),
             adv = randomFloats({40}, -1, 1);
  expectVariantsAgree(OpCode::EcpoLoss, a, {logp, old, adv},
                      {HostTensor(DType::f32, {})}, 1e-6, 1e-6);
  expectVariantsAgree(OpCode::EcpoLoss, a, {logp, old, adv, randomBools({40})},
                      {HostTensor(DType::f32, {})}, 1e-6, 1e-6);
  // Element 0: ratio e^0.1 clipped to 1.2 is not taken (min picks r·A
  // = 1.105·1). Element 1: old far below: old' = logp − log(1.3), r = 1.3, A =
  // 1 -> min(1.3, 1.2) = 1.2. Element 2 masked out.
  auto l = runOptimized(
      OpCode::EcpoLoss, a,
      {floats({3}, {-1.0f, -1.0f, 0}), floats({3}, {-1.1f, -50.0f, 0}),
       floats({3}, {1, 1, 100}), ints(DType::bool8, {3}, {1, 1, 0})},
      {HostTensor(DType::f32, {})});
  EXPECT_NEAR(l[0].at<float>(0), -(std::exp(0.1) + 1.2) / 2, 1e-5);
}

} // namespace
