//===- NormalizationTest.cpp - parameter checks of RmsNorm and LayerNorm --===//
//
// The numerical cases live with the reductions (ReductionsTest.cpp); these
// are the argument checks a plan's shapes could still break.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

TEST(NormalizationKernels, RejectsParametersOfTheWrongWidth) {
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 8})};
    Status s = runKernel(OpCode::RmsNorm, v, attrs({{"eps", 1e-6}}),
                         {randomFloats({2, 8}), randomFloats({7})}, out);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("must be [8]"), std::string::npos)
        << s.message();
    s = runKernel(OpCode::LayerNorm, v, attrs({{"eps", 1e-6}}),
                  {randomFloats({2, 8}), randomFloats({8}), randomFloats({9})},
                  out);
    EXPECT_FALSE(s.isOk());
  }
}

TEST(NormalizationKernels, ConstantRowsNormalizeToBias) {
  // Zero variance: (x - mean) = 0 exactly, so y = bias regardless of eps.
  auto y =
      runOptimized(OpCode::LayerNorm, attrs({{"eps", 1e-5}}),
                   {floats({2, 3}, {7, 7, 7, -2, -2, -2}),
                    floats({3}, {5, 5, 5}), floats({3}, {0.5f, 1.5f, 2.5f})},
                   {HostTensor(DType::f32, {2, 3})});
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(y[0].at<float>(i), 0.5f + float(i % 3));
}

} // namespace
