//===- ReductionsTest.cpp - reductions, softmax, normalizations -----------===//

#include "KernelTestUtil.h"

#include <algorithm>

using namespace onerec::kernels::test;

namespace {

using Ints = std::vector<int64_t>;

/// Shape of `in` reduced over `axes` (all if empty), with or without keepdim.
Shape reducedShape(const Shape &in, const Ints &axes, bool keepdim) {
  Shape r;
  for (int i = 0; i < in.rank; ++i) {
    bool reduced =
        axes.empty() || std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      r.dims[r.rank++] = in[i];
    else if (keepdim)
      r.dims[r.rank++] = 1;
  }
  return r;
}

TEST(ReductionKernels, AgreeOnEveryAxisPattern) {
  // All, [kept, reduced], [reduced, kept], [kept, reduced, kept], several
  // reduced groups, size-1 dims, a large full reduction.
  const std::vector<std::pair<Shape, Ints>> cases = {
      {{7, 9}, {}},       {{5, 300}, {1}},        {{300, 5}, {0}},
      {{4, 33, 17}, {1}}, {{3, 4, 5, 6}, {0, 2}}, {{2, 1, 7}, {1, 2}},
      {{100003}, {0}},    {{6, 5, 4}, {0, 1, 2}}, {{2, 3, 4, 5}, {1, 3}},
      {{3, 2000}, {0}}};
  for (const auto &[shape, axes] : cases)
    for (bool keepdim : {false, true}) {
      KernelAttrs a = attrs({{"axes", axes}, {"keepdim", int64_t(keepdim)}});
      Shape out = reducedShape(shape, axes, keepdim);
      int64_t count = shape.numel() / std::max<int64_t>(out.numel(), 1);
      double atol = 2e-6 * std::sqrt(double(count));
      for (OpCode op : {OpCode::ReduceSum, OpCode::ReduceMean,
                        OpCode::ReduceMax, OpCode::ReduceMin}) {
        expectVariantsAgree(op, a, {randomFloats(shape)},
                            {HostTensor(DType::f32, out)}, 1e-5, atol);
        expectVariantsAgree(op, a, {randomInts(DType::i64, shape, -1000, 1000)},
                            {HostTensor(DType::i64, out)});
        expectVariantsAgree(op, a, {randomInts(DType::i32, shape, -1000, 1000)},
                            {HostTensor(DType::i32, out)});
      }
    }
}

TEST(ReductionKernels, Golden) {
  HostTensor x = floats({2, 3}, {1, 2, 3, 4, 5, 9});
  auto sum = runOptimized(OpCode::ReduceSum, attrs({{"axes", Ints{1}}}), {x},
                          {HostTensor(DType::f32, {2})});
  EXPECT_EQ(sum[0].at<float>(0), 6.0f);
  EXPECT_EQ(sum[0].at<float>(1), 18.0f);
  auto mean = runOptimized(OpCode::ReduceMean,
                           attrs({{"axes", Ints{0}}, {"keepdim", int64_t(1)}}),
                           {x}, {HostTensor(DType::f32, {1, 3})});
  EXPECT_EQ(mean[0].at<float>(2), 6.0f);
  auto mx = runOptimized(OpCode::ReduceMax, attrs({}), {x},
                         {HostTensor(DType::f32, {})});
  EXPECT_EQ(mx[0].at<float>(0), 9.0f);
  auto nan =
      runOptimized(OpCode::ReduceMin, attrs({}), {floats({3}, {1, NAN, -1})},
                   {HostTensor(DType::f32, {})});
  EXPECT_TRUE(std::isnan(nan[0].at<float>(0)));
}

TEST(SoftmaxKernels, AgreeAlongEveryAxis) {
  for (OpCode op : {OpCode::Softmax, OpCode::LogSoftmax}) {
    for (int64_t axis = 0; axis < 3; ++axis)
      expectVariantsAgree(op, attrs({{"axis", axis}}),
                          {randomFloats({6, 7, 35}, -20, 20)},
                          {HostTensor(DType::f32, {6, 7, 35})}, 1e-5, 1e-6);
    expectVariantsAgree(op, attrs({{"axis", int64_t(1)}}),
                        {randomFloats({64, 3417}, -30, 30)},
                        {HostTensor(DType::f32, {64, 3417})}, 1e-5, 1e-6);
  }
  expectVariantsAgree(OpCode::Softmax, attrs({{"axis", int64_t(1)}}),
                      {randomFloats({4, 0})}, {HostTensor(DType::f32, {4, 0})});
  auto y = runOptimized(OpCode::Softmax, attrs({{"axis", int64_t(0)}}),
                        {floats({3}, {0.0f, float(std::log(3.0)), -1e30f})},
                        {HostTensor(DType::f32, {3})});
  EXPECT_NEAR(y[0].at<float>(0), 0.25f, 1e-6);
  EXPECT_NEAR(y[0].at<float>(1), 0.75f, 1e-6);
  EXPECT_EQ(y[0].at<float>(2), 0.0f);
  auto l = runOptimized(OpCode::LogSoftmax, attrs({{"axis", int64_t(0)}}),
                        {floats({2}, {1000.0f, 1000.0f})},
                        {HostTensor(DType::f32, {2})});
  EXPECT_NEAR(l[0].at<float>(0), -std::log(2.0), 1e-6);
}

TEST(NormalizationKernels, RmsNormAndLayerNormAgree) {
  for (Shape s : {Shape{7}, Shape{5, 64}, Shape{2, 3, 129}, Shape{300, 1024}}) {
    HostTensor gain = randomFloats({s.last()}, 0.5f, 1.5f),
               bias = randomFloats({s.last()});
    // A large mean probes the variance computation.
    HostTensor x = randomFloats(s, 99.0f, 101.0f);
    expectVariantsAgree(OpCode::RmsNorm, attrs({{"eps", 1e-6}}), {x, gain},
                        {HostTensor(DType::f32, s)}, 1e-5, 1e-5);
    expectVariantsAgree(OpCode::LayerNorm, attrs({{"eps", 1e-5}}),
                        {x, gain, bias}, {HostTensor(DType::f32, s)}, 1e-4,
                        1e-4);
    HostTensor z = randomFloats(s);
    expectVariantsAgree(OpCode::LayerNorm, attrs({{"eps", 1e-5}}),
                        {z, gain, bias}, {HostTensor(DType::f32, s)}, 1e-5,
                        1e-5);
  }
}

TEST(NormalizationKernels, Golden) {
  // x = [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
  HostTensor x = floats({4}, {1, 2, 3, 4});
  auto ln =
      runOptimized(OpCode::LayerNorm, attrs({{"eps", 0.0}}),
                   {x, floats({4}, {1, 1, 2, 1}), floats({4}, {0, 0, 0, 1})},
                   {HostTensor(DType::f32, {4})});
  double inv = 1.0 / std::sqrt(1.25);
  EXPECT_NEAR(ln[0].at<float>(0), -1.5 * inv, 1e-6);
  EXPECT_NEAR(ln[0].at<float>(2), 2 * 0.5 * inv, 1e-6);
  EXPECT_NEAR(ln[0].at<float>(3), 1.5 * inv + 1, 1e-6);
  auto rms = runOptimized(OpCode::RmsNorm, attrs({{"eps", 0.0}}),
                          {x, floats({4}, {1, 1, 1, 2})},
                          {HostTensor(DType::f32, {4})});
  double r = 1.0 / std::sqrt(30.0 / 4);
  EXPECT_NEAR(rms[0].at<float>(0), r, 1e-6);
  EXPECT_NEAR(rms[0].at<float>(3), 8 * r, 1e-6);
}

} // namespace
