//===- DataMovementTest.cpp - broadcast, transpose, gather, topk ... ------===//

#include "KernelTestUtil.h"

#include <algorithm>

using namespace onerec::kernels::test;

namespace {

using Ints = std::vector<int64_t>;

TEST(DataMovementKernels, BroadcastAgrees) {
  const std::vector<std::pair<Shape, Shape>> cases = {{{}, {3, 4}},
                                                      {{4}, {3, 4}},
                                                      {{3, 1}, {3, 4}},
                                                      {{2, 1, 5}, {2, 7, 5}},
                                                      {{1}, {50000}}};
  for (const auto &[from, to] : cases) {
    expectVariantsAgree(OpCode::Broadcast, {}, {randomFloats(from)},
                        {HostTensor(DType::f32, to)});
    expectVariantsAgree(OpCode::Broadcast, {},
                        {randomInts(DType::i64, from, 0, 99)},
                        {HostTensor(DType::i64, to)});
  }
}

TEST(DataMovementKernels, TransposeAgreesForEveryPermutation) {
  Shape s3{5, 37, 70};
  Ints perm = {0, 1, 2};
  do {
    Shape out{s3[int(perm[0])], s3[int(perm[1])], s3[int(perm[2])]};
    expectVariantsAgree(OpCode::Transpose, attrs({{"permutation", perm}}),
                        {randomFloats(s3)}, {HostTensor(DType::f32, out)});
  } while (std::next_permutation(perm.begin(), perm.end()));
  expectVariantsAgree(OpCode::Transpose, attrs({{"permutation", Ints{1, 0}}}),
                      {randomFloats({130, 67})},
                      {HostTensor(DType::f32, {67, 130})});
  expectVariantsAgree(OpCode::Transpose,
                      attrs({{"permutation", Ints{0, 2, 1, 3}}}),
                      {randomInts(DType::i64, {2, 3, 4, 5}, 0, 1000)},
                      {HostTensor(DType::i64, {2, 4, 3, 5})});
  expectVariantsAgree(
      OpCode::Transpose, attrs({{"permutation", Ints{2, 0, 1}}}),
      {randomFloats({3, 1, 40})}, {HostTensor(DType::f32, {40, 3, 1})});
  expectVariantsAgree(
      OpCode::Transpose, attrs({{"permutation", Ints{2, 1, 0}}}),
      {randomFloats({3, 0, 4})}, {HostTensor(DType::f32, {4, 0, 3})});
  auto y = runOptimized(OpCode::Transpose, attrs({{"permutation", Ints{1, 0}}}),
                        {floats({2, 3}, {1, 2, 3, 4, 5, 6})},
                        {HostTensor(DType::f32, {3, 2})});
  const float expected[6] = {1, 4, 2, 5, 3, 6};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(y[0].at<float>(i), expected[i]);
}

TEST(DataMovementKernels, ConcatAndSlice) {
  for (int64_t axis = 0; axis < 3; ++axis) {
    Shape a{2, 3, 4}, b{2, 3, 4}, c{2, 3, 4};
    b[int(axis)] = 1;
    c[int(axis)] = 5;
    Shape out{2, 3, 4};
    out[int(axis)] = a[int(axis)] + 1 + 5;
    expectVariantsAgree(OpCode::Concat, attrs({{"axis", axis}}),
                        {randomFloats(a), randomFloats(b), randomFloats(c)},
                        {HostTensor(DType::f32, out)});
    Shape sliced{4, 6, 8};
    sliced[int(axis)] = 2;
    expectVariantsAgree(
        OpCode::Slice,
        attrs({{"axis", axis}, {"start", int64_t(1)}, {"end", int64_t(3)}}),
        {randomFloats({4, 6, 8})}, {HostTensor(DType::f32, sliced)});
  }
  auto cat =
      runOptimized(OpCode::Concat, attrs({{"axis", int64_t(1)}}),
                   {floats({2, 1}, {1, 2}), floats({2, 2}, {3, 4, 5, 6})},
                   {HostTensor(DType::f32, {2, 3})});
  const float expected[6] = {1, 3, 4, 2, 5, 6};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(cat[0].at<float>(i), expected[i]);
  auto last = runOptimized(
      OpCode::Slice,
      attrs({{"axis", int64_t(1)}, {"start", int64_t(2)}, {"end", int64_t(3)}}),
      {floats({2, 3}, {1, 2, 3, 4, 5, 6})}, {HostTensor(DType::f32, {2, 1})});
  EXPECT_EQ(last[0].at<float>(0), 3.0f);
  EXPECT_EQ(last[0].at<float>(1), 6.0f);
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 2})};
  EXPECT_FALSE(runKernel(OpCode::Slice, KernelVariant::Optimized,
                         attrs({{"axis", int64_t(1)},
                                {"start", int64_t(2)},
                                {"end", int64_t(4)}}),
                         {randomFloats({2, 3})}, out)
                   .isOk());
}

TEST(DataMovementKernels, GatherAgreesAndChecksIndices) {
  for (DType it : {DType::i64, DType::i32}) {
    expectVariantsAgree(
        OpCode::Gather, attrs({{"axis", int64_t(1)}}),
        {randomFloats({3, 20, 16}), randomInts(it, {4, 5}, 0, 19)},
        {HostTensor(DType::f32, {3, 4, 5, 16})});
    expectVariantsAgree(
        OpCode::Gather, attrs({{"axis", int64_t(0)}}),
        {randomInts(DType::i64, {50, 3}, 0, 9), randomInts(it, {7}, 0, 49)},
        {HostTensor(DType::i64, {7, 3})});
  }
  auto y = runOptimized(
      OpCode::Gather, attrs({{"axis", int64_t(1)}}),
      {floats({2, 3}, {1, 2, 3, 4, 5, 6}), ints(DType::i64, {2}, {2, 0})},
      {HostTensor(DType::f32, {2, 2})});
  const float expected[4] = {3, 1, 6, 4};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(y[0].at<float>(i), expected[i]);
  for (int64_t bad : {int64_t(3), int64_t(-1)}) {
    std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 2})};
    for (KernelVariant v :
         {KernelVariant::Reference, KernelVariant::Optimized}) {
      Status s = runKernel(
          OpCode::Gather, v, attrs({{"axis", int64_t(1)}}),
          {randomFloats({2, 3}), ints(DType::i64, {2}, {0, bad})}, out);
      ASSERT_FALSE(s.isOk());
      EXPECT_NE(
          s.message().find("index " + std::to_string(bad) + " at position 1"),
          std::string::npos)
          << s.message();
    }
  }
}

TEST(DataMovementKernels, ScatterAddAccumulatesDuplicates) {
  // outer = 1 (an embedding gradient) and outer > threads.
  expectVariantsAgree(OpCode::ScatterAdd, attrs({{"axis", int64_t(0)}}),
                      {randomFloats({100, 8}),
                       randomInts(DType::i64, {3, 50}, 0, 99),
                       randomFloats({3, 50, 8})},
                      {HostTensor(DType::f32, {100, 8})}, 0, 0);
  expectVariantsAgree(OpCode::ScatterAdd, attrs({{"axis", int64_t(1)}}),
                      {randomFloats({9, 10, 3}),
                       randomInts(DType::i32, {25}, 0, 9),
                       randomFloats({9, 25, 3})},
                      {HostTensor(DType::f32, {9, 10, 3})}, 0, 0);
  expectVariantsAgree(OpCode::ScatterAdd, attrs({{"axis", int64_t(0)}}),
                      {randomInts(DType::i64, {6}, 0, 9),
                       randomInts(DType::i64, {20}, 0, 5),
                       randomInts(DType::i64, {20}, -5, 5)},
                      {HostTensor(DType::i64, {6})});
  auto y =
      runOptimized(OpCode::ScatterAdd, attrs({{"axis", int64_t(0)}}),
                   {floats({3}, {1, 1, 1}), ints(DType::i64, {4}, {2, 0, 2, 2}),
                    floats({4}, {10, 20, 30, 40})},
                   {HostTensor(DType::f32, {3})});
  EXPECT_EQ(y[0].at<float>(0), 21.0f);
  EXPECT_EQ(y[0].at<float>(1), 1.0f);
  EXPECT_EQ(y[0].at<float>(2), 81.0f);
  std::vector<HostTensor> out = {HostTensor(DType::f32, {3})};
  Status s = runKernel(
      OpCode::ScatterAdd, KernelVariant::Optimized,
      attrs({{"axis", int64_t(0)}}),
      {floats({3}, {1, 1, 1}), ints(DType::i64, {1}, {3}), floats({1}, {1})},
      out);
  EXPECT_FALSE(s.isOk());
}

uint64_t splitmixFinalizer(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

TEST(DataMovementKernels, HashIsSplitmixModBuckets) {
  KernelAttrs a = attrs({{"buckets", int64_t(1000)}, {"salt", int64_t(3)}});
  for (DType t : {DType::i64, DType::i32})
    expectVariantsAgree(OpCode::Hash, a,
                        {randomInts(t, {40000}, -100000, 100000)},
                        {HostTensor(DType::i64, {40000})});
  auto y = runOptimized(OpCode::Hash, a, {ints(DType::i64, {2}, {0, 12345})},
                        {HostTensor(DType::i64, {2})});
  for (int i = 0; i < 2; ++i) {
    uint64_t id = i ? 12345 : 0;
    EXPECT_EQ(uint64_t(y[0].at<int64_t>(i)),
              splitmixFinalizer(id + 0x9E3779B97F4A7C15ull * 4) % 1000);
  }
}

TEST(DataMovementKernels, TopKOrdersDescendingWithTiesToLowerIndex) {
  for (int64_t k : {int64_t(1), int64_t(3), int64_t(40)}) {
    // Few distinct values: plenty of ties.
    expectVariantsAgree(
        OpCode::TopK, attrs({{"k", k}}),
        {randomInts(DType::i64, {6, 50}, 0, 5)},
        {HostTensor(DType::i64, {6, k}), HostTensor(DType::i64, {6, k})});
    HostTensor x = randomFloats({3, 4, 100});
    for (int64_t i = 0; i < x.numel(); i += 3)
      x.data<float>()[i] = 0.5f;
    expectVariantsAgree(
        OpCode::TopK, attrs({{"k", k}}), {x},
        {HostTensor(DType::f32, {3, 4, k}), HostTensor(DType::i64, {3, 4, k})});
  }
  auto y =
      runOptimized(OpCode::TopK, attrs({{"k", int64_t(3)}}),
                   {floats({5}, {1.0f, 3.0f, 2.0f, 3.0f, NAN})},
                   {HostTensor(DType::f32, {3}), HostTensor(DType::i64, {3})});
  EXPECT_TRUE(std::isnan(y[0].at<float>(0))); // NaN ranks first
  EXPECT_EQ(y[1].at<int64_t>(0), 4);
  EXPECT_EQ(y[1].at<int64_t>(1), 1); // the tie keeps the lower index first
  EXPECT_EQ(y[1].at<int64_t>(2), 3);
  EXPECT_EQ(y[0].at<float>(1), 3.0f);
  // k = 0 and an empty row set are no-ops.
  expectVariantsAgree(
      OpCode::TopK, attrs({{"k", int64_t(0)}}), {randomFloats({3, 5})},
      {HostTensor(DType::f32, {3, 0}), HostTensor(DType::i64, {3, 0})});
  expectVariantsAgree(
      OpCode::TopK, attrs({{"k", int64_t(2)}}), {randomFloats({0, 5})},
      {HostTensor(DType::f32, {0, 2}), HostTensor(DType::i64, {0, 2})});
}

TEST(DataMovementKernels, ArgMaxFirstMaximum) {
  for (int64_t axis = 0; axis < 3; ++axis) {
    Shape out{4, 5, 6};
    Shape reduced;
    for (int i = 0; i < 3; ++i)
      if (i != axis)
        reduced.dims[reduced.rank++] = out[i];
    expectVariantsAgree(OpCode::ArgMax, attrs({{"axis", axis}}),
                        {randomInts(DType::i64, out, 0, 3)},
                        {HostTensor(DType::i64, reduced)});
    expectVariantsAgree(OpCode::ArgMax, attrs({{"axis", axis}}),
                        {randomFloats(out)}, {HostTensor(DType::i64, reduced)});
  }
  auto y = runOptimized(OpCode::ArgMax, attrs({{"axis", int64_t(1)}}),
                        {floats({2, 4}, {1, 5, 5, 2, -1, -3, -1, -2})},
                        {HostTensor(DType::i64, {2})});
  EXPECT_EQ(y[0].at<int64_t>(0), 1);
  EXPECT_EQ(y[0].at<int64_t>(1), 0);
}

} // namespace
