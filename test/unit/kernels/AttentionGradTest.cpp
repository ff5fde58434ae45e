//===- AttentionGradTest.cpp - the backward of fused attention ------------===//
//
// The flash-style kernel against the reference (causal, Lq != Lk, GQA,
// masks with fully masked rows, shared and per-head bias with its gradient,
// HSTU silu, several query blocks, broadcast batch dims of k, v or of q
// (learned queries), absent results),
// and both against finite differences of the forward reference.
//
//===----------------------------------------------------------------------===//

#include "GradTestUtil.h"

using namespace onerec::kernels::test;

namespace {

struct Config {
  std::string name;
  Shape batch;   // of q (and of the result)
  Shape kvBatch; // of k and v
  int64_t heads, kvHeads, lq, lk, dk, dv;
  bool causal = false, silu = false;
  int mask = 0;   // 0 none, 1 shared by heads, 2 per head
  int bias = 0;   // 0 none, 1 shared by heads, 2 per head, 3 [Lq, Lk] only
  Shape qBatch{}; // of q when it broadcasts (learned queries); else batch
};

Shape with(Shape batch, std::initializer_list<int64_t> tail) {
  for (int64_t d : tail)
    batch.dims[batch.rank++] = d;
  return batch;
}

struct Problem {
  ForwardSpec forward;
  KernelAttrs attributes;
};

Problem makeProblem(const Config &c) {
  KernelAttrs a = attrs({{"num_heads", c.heads},
                         {"num_kv_heads", c.kvHeads},
                         {"causal", int64_t(c.causal)},
                         {"scale", 1.0 / std::sqrt(double(c.dk))},
                         {"score_norm", int64_t(c.silu)}});
  HostTensor mask = absentTensor(), bias = absentTensor();
  if (c.mask) {
    mask = randomBools(c.mask == 1 ? with(c.batch, {c.lq, c.lk})
                                   : with(c.batch, {c.heads, c.lq, c.lk}),
                       0.7);
    // A fully masked row (no allowed key) for the first query.
    for (int64_t j = 0; j < c.lk; ++j)
      mask.data<uint8_t>()[j] = 0;
  }
  if (c.bias)
    bias = randomFloats(c.bias == 1   ? with(c.batch, {c.lq, c.lk})
                        : c.bias == 2 ? with(c.batch, {c.heads, c.lq, c.lk})
                                      : Shape{c.lq, c.lk}); // batch-shared
  Problem p{
      ForwardSpec{
          OpCode::Attention,
          a,
          {randomFloats(with(c.qBatch.rank ? c.qBatch : c.batch,
                             {c.lq, c.heads * c.dk})),
           randomFloats(with(c.kvBatch, {c.lk, c.kvHeads * c.dk})),
           randomFloats(with(c.kvBatch, {c.lk, c.kvHeads * c.dv})), mask, bias},
          {HostTensor(DType::f32, with(c.batch, {c.lq, c.heads * c.dv}))}},
      a};
  return p;
}

std::vector<HostTensor> gradInputs(const ForwardSpec &f, const HostTensor &dy) {
  return {f.inputs[0], f.inputs[1], f.inputs[2], f.inputs[3], f.inputs[4], dy};
}

/// dq, dk, dv, and dbias when there is a bias.
std::vector<HostTensor> gradResults(const ForwardSpec &f) {
  std::vector<HostTensor> out;
  for (int i : {0, 1, 2, 4})
    if (!f.inputs[size_t(i)].absent)
      out.push_back(HostTensor(DType::f32, f.inputs[size_t(i)].shape));
  return out;
}

std::vector<Config> configs() {
  return {
      {"plain", {2}, {2}, 1, 1, 6, 6, 4, 4},
      {"causal", {2}, {2}, 2, 2, 5, 5, 4, 3, true},
      {"causal-lq<lk", {2}, {2}, 2, 2, 3, 9, 4, 4, true},
      {"gqa", {2}, {2}, 4, 2, 5, 7, 4, 4},
      {"gqa-mqa-causal", {1, 2}, {1, 2}, 4, 1, 6, 6, 2, 5, true},
      {"mask-shared", {2}, {2}, 2, 2, 5, 6, 4, 4, false, false, 1},
      {"mask-per-head-bias", {2}, {2}, 2, 1, 5, 6, 4, 4, false, false, 2, 2},
      {"bias-shared-causal", {3}, {3}, 1, 1, 4, 4, 8, 8, true, false, 0, 1},
      {"silu", {2}, {2}, 2, 2, 5, 5, 4, 4, true, true},
      {"silu-mask", {2}, {2}, 2, 1, 4, 6, 4, 4, false, true, 1},
      {"blocks", {1}, {1}, 1, 1, 70, 70, 8, 8, true},
      {"broadcast-kv", {2, 2}, {1, 2}, 2, 2, 3, 4, 4, 4},
      {"bias-per-head-gqa", {2}, {2}, 4, 2, 5, 5, 4, 4, true, false, 0, 2},
      {"bias-silu", {2}, {2}, 2, 2, 4, 5, 4, 4, false, true, 1, 1},
      {"bias-blocks", {1}, {1}, 1, 1, 70, 70, 4, 4, true, false, 0, 1},
      {"bias-2d", {2, 2}, {2, 2}, 2, 2, 4, 4, 4, 4, false, false, 1, 3},
      // Learned queries shared by the batch (a Q-Former): dq sums over it.
      {"broadcast-q", {3}, {3}, 2, 2, 4, 6, 4, 4, false, false, 0, 0, {1}},
      {"broadcast-q-rank",
       {2, 3},
       {2, 3},
       2,
       1,
       5,
       7,
       4,
       4,
       false,
       false,
       1,
       0,
       {1, 1}},
  };
}

TEST(AttentionGrad, OptimizedMatchesReference) {
  for (const Config &c : configs()) {
    Problem p = makeProblem(c);
    const ForwardSpec &f = p.forward;
    HostTensor dy = projectionFor(f);
    std::vector<HostTensor> out = gradResults(f);
    SCOPED_TRACE(c.name);
    expectVariantsAgree(OpCode::AttentionGrad, p.attributes, gradInputs(f, dy),
                        out, 1e-4, 1e-5);
    // dq only.
    std::vector<HostTensor> dqOnly = {out[0], absentTensor(), absentTensor()};
    if (c.bias)
      dqOnly.push_back(absentTensor());
    expectVariantsAgree(OpCode::AttentionGrad, p.attributes, gradInputs(f, dy),
                        dqOnly, 1e-4, 1e-5);
    if (c.bias) // dbias only
      expectVariantsAgree(
          OpCode::AttentionGrad, p.attributes, gradInputs(f, dy),
          {absentTensor(), absentTensor(), absentTensor(), out[3]}, 1e-4, 1e-5);
  }
}

TEST(AttentionGrad, MatchesFiniteDifferences) {
  for (const Config &c : configs()) {
    if (c.lq > 16)
      continue; // covered by the comparison with the reference
    Problem p = makeProblem(c);
    const ForwardSpec &f = p.forward;
    HostTensor w = projectionFor(f);
    for (KernelVariant v :
         {KernelVariant::Reference, KernelVariant::Optimized}) {
      std::vector<HostTensor> grads = gradResults(f);
      Status s = runKernel(OpCode::AttentionGrad, v, p.attributes,
                           gradInputs(f, w), grads);
      ASSERT_TRUE(s.isOk()) << s.toString();
      for (size_t r = 0; r < grads.size(); ++r) {
        int operand = r < 3 ? int(r) : 4;
        expectGradient(f, w, operand, grads[r], 1e-2,
                       c.name + " " + variantName(v) + " operand " +
                           std::to_string(operand));
      }
    }
  }
}

TEST(AttentionGrad, FullyMaskedRowsHaveNoGradient) {
  Config c{"masked", {1}, {1}, 1, 1, 3, 4, 4, 4};
  c.mask = 1;
  Problem p = makeProblem(c); // query 0 sees no key
  HostTensor dy = projectionFor(p.forward);
  auto grads = runOptimized(
      OpCode::AttentionGrad, p.attributes, gradInputs(p.forward, dy),
      {HostTensor(DType::f32, {1, 3, 4}), HostTensor(DType::f32, {1, 4, 4}),
       HostTensor(DType::f32, {1, 4, 4})});
  for (int p2 = 0; p2 < 4; ++p2)
    EXPECT_EQ(grads[0].at<float>(p2), 0.0f);
}

TEST(AttentionGrad, RejectsDyOfTheWrongShape) {
  Problem p = makeProblem({"plain", {2}, {2}, 1, 1, 6, 6, 4, 4});
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 6, 4}),
                                 HostTensor(DType::f32, {2, 6, 4}),
                                 HostTensor(DType::f32, {2, 6, 4})};
  Status s =
      runKernel(OpCode::AttentionGrad, KernelVariant::Optimized, p.attributes,
                gradInputs(p.forward, randomFloats({2, 5, 4})), out);
  EXPECT_FALSE(s.isOk());
}

} // namespace
