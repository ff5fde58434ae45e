//===- MoeGradTest.cpp - the backward of the mixture of experts -----------===//
//
// MoeGrad (a reference kernel) against finite differences of the Moe
// reference for every activation, top-1 and top-2 routing with a gate bias
// that steers the choice. The routing is fixed under the small perturbations
// used (random inputs keep a margin between experts).
//
//===----------------------------------------------------------------------===//

#include "GradTestUtil.h"

using namespace onerec::kernels::test;

namespace {

TEST(MoeGrad, MatchesFiniteDifferences) {
  int64_t T = 5, d = 6, E = 4, h = 7;
  for (int64_t activation : {0, 1, 2, 3})
    for (int64_t topK : {1, 2}) {
      bool gated = activation == 3;
      KernelAttrs a = attrs({{"top_k", topK},
                             {"balance", int64_t(2)},
                             {"activation", activation}});
      ForwardSpec f{
          OpCode::Moe,
          a,
          {randomFloats({T, d}), randomFloats({d, E}),
           randomFloats({E}, -0.05f, 0.05f), randomFloats({E, d, h}),
           gated ? randomFloats({E, d, h}) : absentTensor(),
           randomFloats({E, h, d})},
          {HostTensor(DType::f32, {T, d}), HostTensor(DType::f32, {E})}};
      HostTensor w = projectionFor(f);
      std::vector<HostTensor> in = f.inputs;
      in.push_back(w);
      std::vector<HostTensor> grads = {
          HostTensor(DType::f32, {T, d}), HostTensor(DType::f32, {d, E}),
          HostTensor(DType::f32, {E, d, h}),
          gated ? HostTensor(DType::f32, {E, d, h}) : absentTensor(),
          HostTensor(DType::f32, {E, h, d})};
      auto ref = expectVariantsAgree(OpCode::MoeGrad, a, in, grads, 0, 0);
      std::string what = "moe_grad activation " + std::to_string(activation) +
                         " top_k " + std::to_string(topK);
      int operandOf[] = {0, 1, 3, 4, 5};
      for (int r = 0; r < 5; ++r)
        if (!ref[size_t(r)].absent)
          expectGradient(f, w, operandOf[r], ref[size_t(r)], 1e-3,
                         what + " result " + std::to_string(r), 5e-3);
    }
}

TEST(MoeGrad, RejectsGateProjectionGradientWithoutGateProjection) {
  std::vector<HostTensor> out = {
      HostTensor(DType::f32, {2, 4}), HostTensor(DType::f32, {4, 2}),
      HostTensor(DType::f32, {2, 4, 3}), HostTensor(DType::f32, {2, 4, 3}),
      HostTensor(DType::f32, {2, 3, 4})};
  Status s =
      runKernel(OpCode::MoeGrad, KernelVariant::Reference,
                attrs({{"top_k", int64_t(1)}, {"activation", int64_t(0)}}),
                {randomFloats({2, 4}), randomFloats({4, 2}), randomFloats({2}),
                 randomFloats({2, 4, 3}), absentTensor(),
                 randomFloats({2, 3, 4}), randomFloats({2, 4})},
                out);
  EXPECT_FALSE(s.isOk());
}

} // namespace
