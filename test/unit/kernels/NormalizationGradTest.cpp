//===- NormalizationGradTest.cpp - LayerNormGrad and RmsNormGrad ----------===//
//
// Optimized against reference (odd widths, one row, many rows, absent
// results), and both against finite differences of the forward reference.
//
//===----------------------------------------------------------------------===//

#include "GradTestUtil.h"

using namespace onerec::kernels::test;

namespace {

const Shape kShapes[] = {{3, 7, 16}, {1, 5}, {33, 130}, {2, 1, 64}};

TEST(NormalizationGrad, LayerNormOptimizedMatchesReference) {
  for (const Shape &x : kShapes) {
    Shape p{x.last()};
    std::vector<HostTensor> in = {randomFloats(x, -2, 2), randomFloats(p),
                                  randomFloats(x)};
    expectVariantsAgree(OpCode::LayerNormGrad, attrs({{"eps", 1e-5}}), in,
                        {HostTensor(DType::f32, x), HostTensor(DType::f32, p),
                         HostTensor(DType::f32, p)},
                        1e-4, 1e-5);
    // Only dgain: dx and dbias absent.
    expectVariantsAgree(
        OpCode::LayerNormGrad, attrs({{"eps", 1e-5}}), in,
        {absentTensor(), HostTensor(DType::f32, p), absentTensor()}, 1e-4,
        1e-5);
  }
}

TEST(NormalizationGrad, RmsNormOptimizedMatchesReference) {
  for (const Shape &x : kShapes) {
    Shape p{x.last()};
    std::vector<HostTensor> in = {randomFloats(x, -2, 2), randomFloats(p),
                                  randomFloats(x)};
    expectVariantsAgree(OpCode::RmsNormGrad, attrs({{"eps", 1e-6}}), in,
                        {HostTensor(DType::f32, x), HostTensor(DType::f32, p)},
                        1e-4, 1e-5);
    expectVariantsAgree(OpCode::RmsNormGrad, attrs({{"eps", 1e-6}}), in,
                        {HostTensor(DType::f32, x), absentTensor()}, 1e-4,
                        1e-5);
  }
}

TEST(NormalizationGrad, LayerNormMatchesFiniteDifferences) {
  for (const Shape &x : {Shape{4, 6, 12}, Shape{2, 33}}) {
    Shape p{x.last()};
    ForwardSpec f{
        OpCode::LayerNorm,
        attrs({{"eps", 1e-5}}),
        {randomFloats(x, -2, 2), randomFloats(p, 0.5f, 1.5f), randomFloats(p)},
        {HostTensor(DType::f32, x)}};
    HostTensor w = projectionFor(f);
    for (KernelVariant v :
         {KernelVariant::Reference, KernelVariant::Optimized}) {
      std::vector<HostTensor> grads = {HostTensor(DType::f32, x),
                                       HostTensor(DType::f32, p),
                                       HostTensor(DType::f32, p)};
      ASSERT_TRUE(runKernel(OpCode::LayerNormGrad, v, f.attrs,
                            {f.inputs[0], f.inputs[1], w}, grads)
                      .isOk());
      std::string what = std::string("layer_norm_grad ") + variantName(v);
      for (int i = 0; i < 3; ++i)
        expectGradient(f, w, i, grads[size_t(i)], 1e-2,
                       what + " operand " + std::to_string(i));
    }
  }
}

TEST(NormalizationGrad, RmsNormMatchesFiniteDifferences) {
  Shape x{5, 3, 20}, p{20};
  ForwardSpec f{OpCode::RmsNorm,
                attrs({{"eps", 1e-6}}),
                {randomFloats(x, -2, 2), randomFloats(p, 0.5f, 1.5f)},
                {HostTensor(DType::f32, x)}};
  HostTensor w = projectionFor(f);
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> grads = {HostTensor(DType::f32, x),
                                     HostTensor(DType::f32, p)};
    ASSERT_TRUE(runKernel(OpCode::RmsNormGrad, v, f.attrs,
                          {f.inputs[0], f.inputs[1], w}, grads)
                    .isOk());
    for (int i = 0; i < 2; ++i)
      expectGradient(f, w, i, grads[size_t(i)], 1e-2,
                     std::string("rms_norm_grad ") + variantName(v) +
                         " operand " + std::to_string(i));
  }
}

TEST(NormalizationGrad, RejectsMismatchedDy) {
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 8}),
                                 HostTensor(DType::f32, {8})};
  Status s = runKernel(
      OpCode::RmsNormGrad, KernelVariant::Optimized, attrs({{"eps", 1e-6}}),
      {randomFloats({2, 8}), randomFloats({8}), randomFloats({2, 7})}, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("dy [2, 7] must have the shape of x [2, 8]"),
            std::string::npos)
      << s.message();
}

} // namespace
