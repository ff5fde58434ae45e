//===- FusedGemmTest.cpp - Gemm and GroupedWeightGrad (format 1.2) --------===//
//
// The fused kernels against the reference and against the unfused ops they
// replace (Matmul, Add, the activations, WeightGrad), for odd sizes,
// transposes, broadcast batch dims and several thread counts.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "onerec/Runtime/ThreadPool.h"

using namespace onerec;
using namespace onerec::kernels::test;

namespace {

/// [batch..., rows, cols], with rows/cols swapped when transposed.
Shape matrix(Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.dims[batch.rank++] = transposed ? cols : rows;
  batch.dims[batch.rank++] = transposed ? rows : cols;
  return batch;
}

/// Plan epilogue values and the unfused op of each activation.
const std::pair<int64_t, OpCode> kActivations[] = {
    {1, OpCode::Relu},    {2, OpCode::Gelu}, {3, OpCode::Silu},
    {4, OpCode::Sigmoid}, {5, OpCode::Tanh},
};

KernelAttrs gemmAttrs(bool ta, bool tb, int64_t epilogue, bool shared) {
  return attrs({{"transpose_a", int64_t(ta)},
                {"transpose_b", int64_t(tb)},
                {"epilogue", epilogue},
                {"shared_lhs", int64_t(shared)}});
}

HostTensor unary(OpCode op, const HostTensor &x) {
  return runOptimized(op, {}, {x}, {HostTensor(DType::f32, x.shape)})[0];
}
HostTensor binary(OpCode op, const HostTensor &a, const HostTensor &b,
                  Shape out) {
  return runOptimized(op, {}, {a, b}, {HostTensor(DType::f32, out)})[0];
}
HostTensor matmul(const HostTensor &a, const HostTensor &b, bool ta, bool tb,
                  Shape out) {
  return runOptimized(
      OpCode::Matmul,
      attrs({{"transpose_a", int64_t(ta)}, {"transpose_b", int64_t(tb)}}),
      {a, b}, {HostTensor(DType::f32, out)})[0];
}

struct SumCase {
  Shape aBatch, bBatch, yBatch;
  int64_t m, n;
  std::vector<int64_t> ks; // one product per inner dimension
};

TEST(GemmKernel, SumOfProductsWithEpiloguesMatchesUnfusedOps) {
  const std::vector<SumCase> cases = {
      {{}, {}, {}, 5, 3, {7}},                // plain, odd
      {{4, 50}, {}, {4, 50}, 1, 65, {64}},    // a linear layer (folded)
      {{3, 37}, {}, {3, 37}, 1, 33, {17, 9}}, // a data gradient of two
      {{3}, {3}, {3}, 33, 17, {65, 5, 8}},    // batched, three products
      {{2, 1}, {1, 3}, {2, 3}, 4, 6, {5, 2}}, // both sides broadcast
      {{2}, {}, {2}, 300, 129, {50}},         // several row blocks
      {{}, {}, {}, 1029, 1, {3}},             // one column
  };
  for (const SumCase &c : cases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Shape y = matrix(c.yBatch, c.m, c.n, false);
        std::vector<HostTensor> pairs;
        HostTensor sum;
        for (size_t p = 0; p < c.ks.size(); ++p) {
          HostTensor a = randomFloats(matrix(c.aBatch, c.m, c.ks[p], ta));
          HostTensor b = randomFloats(matrix(c.bBatch, c.ks[p], c.n, tb));
          HostTensor prod = matmul(a, b, ta, tb, y);
          sum = p == 0 ? prod : binary(OpCode::Add, sum, prod, y);
          pairs.push_back(a);
          pairs.push_back(b);
        }
        HostTensor bias = randomFloats({c.n}), residual = randomFloats(y);
        double atol = 1e-5 + 1e-5 * std::sqrt(double(c.ks[0]));
        for (int variant = 0; variant < 4; ++variant) {
          bool withBias = variant & 1, withResidual = variant & 2;
          for (auto [epilogue, act] : std::vector<std::pair<int64_t, OpCode>>{
                   {0, OpCode::Copy},
                   kActivations[variant % 5],
                   kActivations[(variant + 2) % 5]}) {
            // a_0, b_0, bias?, residual?, then the further pairs.
            std::vector<HostTensor> inputs = {
                pairs[0], pairs[1], withBias ? bias : absentTensor(),
                withResidual ? residual : absentTensor()};
            inputs.insert(inputs.end(), pairs.begin() + 2, pairs.end());
            KernelAttrs a = gemmAttrs(ta, tb, epilogue, false);
            auto ref =
                expectVariantsAgree(OpCode::Gemm, a, inputs,
                                    {HostTensor(DType::f32, y)}, 1e-5, atol);
            HostTensor expected = sum;
            if (withBias)
              expected = binary(OpCode::Add, expected, bias, y);
            if (epilogue != 0)
              expected = unary(act, expected);
            if (withResidual)
              expected = binary(OpCode::Add, expected, residual, y);
            auto fused = runOptimized(OpCode::Gemm, a, inputs,
                                      {HostTensor(DType::f32, y)});
            expectClose(fused[0], expected, 1e-5, atol,
                        "gemm " + y.toString() + " epilogue " +
                            std::to_string(epilogue));
          }
        }
      }
}

TEST(GemmKernel, SharedLhsAndSwigluMatchUnfusedOps) {
  for (Shape batch : {Shape{}, Shape{3, 41}, Shape{2}})
    for (bool tb : {false, true}) {
      bool ta = false;
      int64_t m = batch.rank == 2 ? 1 : 77, k = 19;
      HostTensor x = randomFloats(matrix(batch, m, k, ta));
      std::vector<int64_t> ns = {5, 64, 33};
      // x, b_0, (no bias), (no residual), b_1, b_2.
      std::vector<HostTensor> inputs = {x};
      std::vector<HostTensor> outs, expected;
      for (int64_t n : ns) {
        HostTensor w = randomFloats(matrix({}, k, n, tb));
        inputs.push_back(w);
        if (inputs.size() == 2) {
          inputs.push_back(absentTensor());
          inputs.push_back(absentTensor());
        }
        Shape y = matrix(batch, m, n, false);
        outs.emplace_back(DType::f32, y);
        expected.push_back(matmul(x, w, ta, tb, y));
      }
      KernelAttrs a = gemmAttrs(ta, tb, 0, true);
      expectVariantsAgree(OpCode::Gemm, a, inputs, outs, 1e-5, 1e-5);
      auto fused = runOptimized(OpCode::Gemm, a, inputs, outs);
      for (size_t j = 0; j < ns.size(); ++j)
        expectClose(fused[j], expected[j], 1e-6, 1e-6, "shared lhs");

      // SwiGLU: silu(x·Wg) * (x·Wu), one result.
      Shape y = matrix(batch, m, 40, false);
      HostTensor wg = randomFloats(matrix({}, k, 40, tb)),
                 wu = randomFloats(matrix({}, k, 40, tb));
      std::vector<HostTensor> swigluInputs = {x, wg, absentTensor(),
                                              absentTensor(), wu};
      KernelAttrs s = gemmAttrs(ta, tb, 6, true);
      expectVariantsAgree(OpCode::Gemm, s, swigluInputs,
                          {HostTensor(DType::f32, y)}, 1e-5, 1e-5);
      HostTensor unfused =
          binary(OpCode::Mul, unary(OpCode::Silu, matmul(x, wg, ta, tb, y)),
                 matmul(x, wu, ta, tb, y), y);
      auto swiglu = runOptimized(OpCode::Gemm, s, swigluInputs,
                                 {HostTensor(DType::f32, y)});
      expectClose(swiglu[0], unfused, 1e-5, 1e-6, "swiglu");
    }
}

TEST(GemmKernel, SameBitsForAnyThreadCount) {
  Shape y = {4, 300, 70};
  std::vector<HostTensor> inputs = {
      randomFloats({4, 300, 33}), randomFloats({33, 70}),
      randomFloats({70}),         randomFloats(y),
      randomFloats({4, 300, 20}), randomFloats({20, 70})};
  KernelAttrs a = gemmAttrs(false, false, 2, false);
  std::vector<HostTensor> first;
  for (int threads : {1, 2, 5}) {
    runtime::ThreadPool pool(threads);
    RunOptions options;
    options.pool = &pool;
    auto out = runOptimized(OpCode::Gemm, a, inputs,
                            {HostTensor(DType::f32, y)}, options);
    if (first.empty())
      first = out;
    else
      EXPECT_EQ(0, std::memcmp(out[0].data<float>(), first[0].data<float>(),
                               sizeof(float) * size_t(y.numel())))
          << threads << " threads";
  }
}

TEST(GemmKernel, RejectsInconsistentCalls) {
  auto fails = [](KernelAttrs a, std::vector<HostTensor> inputs,
                  std::vector<HostTensor> outs) {
    Status s =
        runKernel(OpCode::Gemm, KernelVariant::Optimized, a, inputs, outs);
    EXPECT_FALSE(s.isOk());
    s = runKernel(OpCode::Gemm, KernelVariant::Reference, a, inputs, outs);
    EXPECT_FALSE(s.isOk());
  };
  KernelAttrs sum = gemmAttrs(false, false, 0, false);
  // Inner dimensions differ.
  fails(sum,
        {randomFloats({4, 3}), randomFloats({2, 5}), absentTensor(),
         absentTensor()},
        {HostTensor(DType::f32, {4, 5})});
  // Products of different shapes.
  fails(sum,
        {randomFloats({4, 3}), randomFloats({3, 5}), absentTensor(),
         absentTensor(), randomFloats({4, 2}), randomFloats({2, 6})},
        {HostTensor(DType::f32, {4, 5})});
  // A bias that is not a vector over the last dim; a residual of another shape.
  fails(sum,
        {randomFloats({4, 3}), randomFloats({3, 5}), randomFloats({4}),
         absentTensor()},
        {HostTensor(DType::f32, {4, 5})});
  fails(sum,
        {randomFloats({4, 3}), randomFloats({3, 5}), absentTensor(),
         randomFloats({1, 5})},
        {HostTensor(DType::f32, {4, 5})});
  // An odd operand count for a sum; swiglu with three right operands.
  fails(sum, {randomFloats({4, 3}), randomFloats({3, 5}), absentTensor()},
        {HostTensor(DType::f32, {4, 5})});
  fails(gemmAttrs(false, false, 6, true),
        {randomFloats({4, 3}), randomFloats({3, 5}), absentTensor(),
         absentTensor(), randomFloats({3, 5}), randomFloats({3, 5})},
        {HostTensor(DType::f32, {4, 5})});
}

TEST(GroupedWeightGradKernel, MatchesWeightGradBitForBit) {
  for (Shape lead : {Shape{3, 5}, Shape{1}, Shape{70, 131}, Shape{0}}) {
    int64_t k = 6;
    Shape xs = lead;
    xs.dims[xs.rank++] = k;
    HostTensor x = randomFloats(xs);
    std::vector<HostTensor> inputs = {x}, outs;
    std::vector<HostTensor> expected;
    for (int64_t n : {4, 1, 9}) {
      Shape ys = lead;
      ys.dims[ys.rank++] = n;
      HostTensor dy = randomFloats(ys);
      inputs.push_back(dy);
      outs.emplace_back(DType::f32, Shape{k, n});
      expected.push_back(runOptimized(OpCode::WeightGrad, {}, {x, dy},
                                      {HostTensor(DType::f32, {k, n})})[0]);
    }
    expectVariantsAgree(OpCode::GroupedWeightGrad, {}, inputs, outs, 1e-4,
                        1e-5);
    auto fused = runOptimized(OpCode::GroupedWeightGrad, {}, inputs, outs);
    for (size_t j = 0; j < expected.size(); ++j)
      expectClose(fused[j], expected[j], 0, 0, "grouped weight grad");
  }
  std::vector<HostTensor> out = {HostTensor(DType::f32, {3, 2})};
  EXPECT_FALSE(runKernel(OpCode::GroupedWeightGrad, KernelVariant::Optimized,
                         {}, {randomFloats({4, 3}), randomFloats({5, 2})}, out)
                   .isOk());
}

} // namespace
