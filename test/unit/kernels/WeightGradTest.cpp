//===- WeightGradTest.cpp - the gradient of a weight used at every position
//===//

#include "GradTestUtil.h"

using namespace onerec::kernels::test;

namespace {

TEST(WeightGrad, MatchesReferenceAndFiniteDifferencesOfMatmul) {
  for (Shape lead : {Shape{3, 5}, Shape{1}, Shape{70, 9}}) {
    int64_t k = 6, n = 4;
    Shape xs = lead, ys = lead;
    xs.dims[xs.rank++] = k;
    ys.dims[ys.rank++] = n;
    ForwardSpec f{OpCode::Matmul,
                  attrs({}),
                  {randomFloats(xs), randomFloats({k, n})},
                  {HostTensor(DType::f32, ys)}};
    HostTensor w = projectionFor(f);
    auto grads =
        expectVariantsAgree(OpCode::WeightGrad, attrs({}), {f.inputs[0], w},
                            {HostTensor(DType::f32, {k, n})}, 1e-4, 1e-5);
    expectGradient(f, w, 1, grads[0], 1e-2, "weight_grad " + xs.toString());
  }
}

TEST(WeightGrad, RejectsDifferentLeadingDims) {
  std::vector<HostTensor> out = {HostTensor(DType::f32, {3, 2})};
  Status s = runKernel(OpCode::WeightGrad, KernelVariant::Optimized, attrs({}),
                       {randomFloats({4, 3}), randomFloats({5, 2})}, out);
  EXPECT_FALSE(s.isOk());
}

} // namespace
