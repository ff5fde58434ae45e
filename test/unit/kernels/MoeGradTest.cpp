//===- MoeGradTest.cpp - the backward of the mixture of experts -----------===//
//
// MoeGrad (a reference kernel) against finite differences of the Moe
// reference for every activation, top-1 and top-2 routing with a gate bias
// that steers the choice. The routing is fixed under the small perturbations
// used (random inputs keep a margin between experts).
//
//===----------------------------------------------------------------------===//

#include "GradTestUtil.h"

#include <algorithm>
#include <functional>

using namespace onerec::kernels::test;

namespace {

/// The smallest gap, over tokens, between the k-th and (k+1)-th largest
/// p + bias: a perturbation that moves p by less keeps the routing.
double routingMargin(const HostTensor &x, const HostTensor &gate,
                     const HostTensor &bias, int64_t k) {
  int64_t d = gate.shape[0], E = gate.shape[1], T = x.numel() / d;
  double margin = INFINITY;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> key(static_cast<size_t>(E));
    double mx = -INFINITY, sum = 0;
    for (int64_t e = 0; e < E; ++e) {
      double logit = 0;
      for (int64_t i = 0; i < d; ++i)
        logit +=
            double(x.data<float>()[t * d + i]) * gate.data<float>()[i * E + e];
      key[size_t(e)] = logit;
      mx = std::max(mx, logit);
    }
    for (double &v : key)
      sum += (v = std::exp(v - mx));
    for (int64_t e = 0; e < E; ++e)
      key[size_t(e)] = key[size_t(e)] / sum + bias.data<float>()[e];
    std::sort(key.begin(), key.end(), std::greater<double>());
    if (k < E)
      margin = std::min(margin, key[size_t(k - 1)] - key[size_t(k)]);
  }
  return margin;
}

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
      // Tokens whose top-k choice is nearly a tie would switch experts
      // under the perturbation: draw until every choice has a margin.
      for (int attempt = 0;
           attempt < 200 &&
           routingMargin(f.inputs[0], f.inputs[1], f.inputs[2], topK) < 0.02;
           ++attempt)
        f.inputs[0] = randomFloats({T, d});
      ASSERT_GE(routingMargin(f.inputs[0], f.inputs[1], f.inputs[2], topK),
                0.02);
      HostTensor w = projectionFor(f);
      std::vector<HostTensor> in = f.inputs;
      in.push_back(w);
      std::vector<HostTensor> grads = {
          HostTensor(DType::f32, {T, d}), HostTensor(DType::f32, {d, E}),
          HostTensor(DType::f32, {E, d, h}),
          gated ? HostTensor(DType::f32, {E, d, h}) : absentTensor(),
          HostTensor(DType::f32, {E, h, d})};
      // The optimized variant routes with the optimized forward's float
      // probabilities (the reference in double): the same experts here
      // (every choice has a margin), weights equal to float rounding.
      auto ref = expectVariantsAgree(OpCode::MoeGrad, a, in, grads, 1e-5, 1e-6);
      std::string what = "moe_grad activation " + std::to_string(activation) +
                         " top_k " + std::to_string(topK);
      int operandOf[] = {0, 1, 3, 4, 5};
      for (int r = 0; r < 5; ++r)
        if (!ref[size_t(r)].absent)
          // ReLU's kink: a perturbation that crosses it errs by about
          // eps relative to the derivative, so relu takes a smaller one.
          expectGradient(f, w, operandOf[r], ref[size_t(r)],
                         activation == 1 ? 1e-4 : 1e-3,
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
