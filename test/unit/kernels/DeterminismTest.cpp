//===- DeterminismTest.cpp - results do not depend on the thread count ----===//
//
// Architecture rule 9: the same plan, data and seed give bit-identical
// losses. Optimized kernels split work by shape, never by thread count;
// these tests run them on pools of 1, 2 and 3 threads and compare bits.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

void expectSameBitsOnEveryPool(OpCode op, const KernelAttrs &a,
                               const std::vector<HostTensor> &in,
                               const std::vector<HostTensor> &out,
                               RunOptions options = {}) {
  std::vector<std::vector<HostTensor>> results;
  for (unsigned threads : {1u, 2u, 3u}) {
    onerec::runtime::ThreadPool pool(threads);
    options.pool = &pool;
    results.push_back(runOptimized(op, a, in, out, options));
  }
  for (size_t r = 1; r < results.size(); ++r)
    for (size_t i = 0; i < out.size(); ++i)
      EXPECT_EQ(std::memcmp(results[r][i].storage.data(),
                            results[0][i].storage.data(),
                            results[0][i].view().bytes()),
                0)
          << onerec::plan::EnumNameOpCode(op) << " result " << i
          << " differs on " << r + 1 << " threads";
}

TEST(Determinism, HeavyKernelsGiveTheSameBitsOnAnyPool) {
  expectSameBitsOnEveryPool(
      OpCode::Matmul, {}, {randomFloats({8, 300, 64}), randomFloats({64, 96})},
      {HostTensor(DType::f32, {8, 300, 96})});
  expectSameBitsOnEveryPool(
      OpCode::Matmul, attrs({{"transpose_b", int64_t(1)}}),
      {randomFloats({3, 70, 32}), randomFloats({3, 90, 32})},
      {HostTensor(DType::f32, {3, 70, 90})});
  expectSameBitsOnEveryPool(
      OpCode::Attention,
      attrs({{"num_heads", int64_t(4)},
             {"num_kv_heads", int64_t(2)},
             {"causal", int64_t(1)},
             {"scale", 0.25}}),
      {randomFloats({3, 90, 64}), randomFloats({3, 300, 32}),
       randomFloats({3, 300, 32}), absentTensor(), absentTensor()},
      {HostTensor(DType::f32, {3, 90, 64})});
  for (int64_t experts : {int64_t(4), int64_t(12)})
    expectSameBitsOnEveryPool(
        OpCode::Moe, attrs({{"top_k", int64_t(2)}, {"activation", int64_t(3)}}),
        {randomFloats({500, 32}), randomFloats({32, experts}),
         randomFloats({experts}, -0.1f, 0.1f), randomFloats({experts, 32, 64}),
         randomFloats({experts, 32, 64}), randomFloats({experts, 64, 32})},
        {HostTensor(DType::f32, {500, 32}), HostTensor(DType::f32, {experts})});
  expectSameBitsOnEveryPool(OpCode::ReduceSum, {}, {randomFloats({300001})},
                            {HostTensor(DType::f32, {})});
  expectSameBitsOnEveryPool(
      OpCode::CrossEntropy, attrs({{"reduction", int64_t(0)}}),
      {randomFloats({500, 300}), randomInts(DType::i64, {500}, 0, 299)},
      {HostTensor(DType::f32, {})});
  expectSameBitsOnEveryPool(OpCode::SampledSoftmax,
                            attrs({{"reduction", int64_t(1)}}),
                            {randomFloats({3000, 16}), randomFloats({400, 16}),
                             randomInts(DType::i64, {3000}, 0, 399),
                             randomInts(DType::i64, {64}, 0, 399)},
                            {HostTensor(DType::f32, {})});
  expectSameBitsOnEveryPool(OpCode::ScatterAdd, attrs({{"axis", int64_t(0)}}),
                            {randomFloats({50, 8}),
                             randomInts(DType::i64, {4000}, 0, 49),
                             randomFloats({4000, 8})},
                            {HostTensor(DType::f32, {50, 8})});
  expectSameBitsOnEveryPool(
      OpCode::Dropout, attrs({{"rate", 0.5}, {"stream", int64_t(3)}}),
      {randomFloats({1001, 33})}, {HostTensor(DType::f32, {1001, 33})},
      RunOptions{true, 99, 4});
}

} // namespace
