//===- EmbeddingTest.cpp - id and semantic-id lookups ---------------------===//

#include "KernelTestUtil.h"

using namespace onerec::kernels::test;

namespace {

TEST(EmbeddingKernel, PlainIdsAgree) {
  for (DType t : {DType::i64, DType::i32})
    expectVariantsAgree(
        OpCode::Embedding, {},
        {randomFloats({500, 64}), randomInts(t, {8, 200}, 0, 499)},
        {HostTensor(DType::f32, {8, 200, 64})}, 0, 0);
}

TEST(EmbeddingKernel, SemanticIdsAgreeForEveryCombine) {
  const int64_t K = 16, L = 3, d = 8;
  HostTensor table = randomFloats({L * K, d});
  HostTensor ids = randomInts(DType::i64, {4, 5, L}, 0, K - 1);
  for (int64_t combine = 0; combine < 3; ++combine)
    expectVariantsAgree(
        OpCode::Embedding, attrs({{"combine", combine}, {"codebook", K}}),
        {table, ids},
        {HostTensor(DType::f32, {4, 5, combine == 2 ? L * d : d})}, 1e-6, 1e-7);
}

TEST(EmbeddingKernel, GoldenSemanticIds) {
  // Two levels of codebook 2, d = 1: rows [l*2 + c] = 1, 2, 10, 20.
  HostTensor table = floats({4, 1}, {1, 2, 10, 20});
  HostTensor ids = ints(DType::i64, {2, 2}, {0, 1, 1, 0});
  auto sum =
      runOptimized(OpCode::Embedding,
                   attrs({{"combine", int64_t(0)}, {"codebook", int64_t(2)}}),
                   {table, ids}, {HostTensor(DType::f32, {2, 1})});
  EXPECT_EQ(sum[0].at<float>(0), 21.0f);
  EXPECT_EQ(sum[0].at<float>(1), 12.0f);
  auto mean =
      runOptimized(OpCode::Embedding,
                   attrs({{"combine", int64_t(1)}, {"codebook", int64_t(2)}}),
                   {table, ids}, {HostTensor(DType::f32, {2, 1})});
  EXPECT_EQ(mean[0].at<float>(0), 10.5f);
  auto cat =
      runOptimized(OpCode::Embedding,
                   attrs({{"combine", int64_t(2)}, {"codebook", int64_t(2)}}),
                   {table, ids}, {HostTensor(DType::f32, {2, 2})});
  const float expected[4] = {1, 20, 2, 10};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(cat[0].at<float>(i), expected[i]);
}

TEST(EmbeddingKernel, OutOfRangeIdsFailWithTheIdAndItsPosition) {
  HostTensor table = randomFloats({12102, 4});
  HostTensor ids = randomInts(DType::i64, {2, 5}, 0, 12101);
  ids.data<int64_t>()[7] = 12345;
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 5, 4})};
    Status s = runKernel(OpCode::Embedding, v, {}, {table, ids}, out);
    ASSERT_FALSE(s.isOk());
    EXPECT_EQ(s.code(), Status::Code::InvalidArgument);
    EXPECT_EQ(s.message(),
              "test.rdsl:1:1: embedding: id 12345 at position 7 is outside the "
              "table's 12102 rows");
  }
  HostTensor negative = ints(DType::i32, {2}, {3, -1});
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 4})};
  Status s = runKernel(OpCode::Embedding, KernelVariant::Optimized, {},
                       {table, negative}, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("id -1 at position 1"), std::string::npos)
      << s.message();
  // A semantic-id code outside its codebook.
  HostTensor sids = ints(DType::i64, {1, 3}, {1, 7, 2});
  std::vector<HostTensor> sout = {HostTensor(DType::f32, {1, 4})};
  s = runKernel(OpCode::Embedding, KernelVariant::Optimized,
                attrs({{"combine", int64_t(0)}, {"codebook", int64_t(4)}}),
                {randomFloats({12, 4}), sids}, sout);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("code 7 at position 1 (level 1)"),
            std::string::npos)
      << s.message();
}

} // namespace
