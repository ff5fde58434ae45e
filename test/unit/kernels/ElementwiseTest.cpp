//===- ElementwiseTest.cpp - constants, unary, binary, cmp, select, cast --===//

#include "KernelTestUtil.h"

#include "onerec/Kernels/Philox.h"

#include <limits>

using namespace onerec::kernels;
using namespace onerec::kernels::test;

namespace {

const std::vector<Shape> kUnaryShapes = {
    {}, {7}, {3, 33}, {2, 3, 1001}, {0, 5}};

/// (lhs, rhs) shape pairs: same shape, bias, scalar, both sides broadcast,
/// middle axis, rank mismatch.
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{5, 7}, {5, 7}},   {{4, 6, 9}, {9}},         {{}, {3, 5}},
    {{1, 5}, {4, 1}},   {{3, 1, 5}, {3, 4, 5}},   {{2, 3, 4, 5}, {4, 1}},
    {{40000}, {40000}}, {{2, 20000}, {1, 20000}}, {{6, 1, 1}, {1, 7, 3}}};

Shape broadcastShape(const Shape &a, const Shape &b) {
  Shape r;
  r.rank = std::max(a.rank, b.rank);
  for (int i = 1; i <= r.rank; ++i) {
    int64_t da = i <= a.rank ? a[a.rank - i] : 1,
            db = i <= b.rank ? b[b.rank - i] : 1;
    r[r.rank - i] = da == 1 ? db : da;
  }
  return r;
}

TEST(ElementwiseKernels, FloatUnaryOpsAgree) {
  struct Case {
    OpCode op;
    float lo, hi;
  };
  for (Case c : {Case{OpCode::Neg, -5, 5}, Case{OpCode::Abs, -5, 5},
                 Case{OpCode::Exp, -80, 80}, Case{OpCode::Log, 1e-3f, 100},
                 Case{OpCode::Sqrt, 0, 100}, Case{OpCode::Rsqrt, 1e-3f, 100},
                 Case{OpCode::Tanh, -10, 10}, Case{OpCode::Sigmoid, -30, 30},
                 Case{OpCode::Silu, -30, 30}, Case{OpCode::Gelu, -10, 10},
                 Case{OpCode::Relu, -5, 5}})
    for (const Shape &s : kUnaryShapes)
      expectVariantsAgree(c.op, {}, {randomFloats(s, c.lo, c.hi)},
                          {HostTensor(DType::f32, s)}, 2e-6, 2e-7);
}

TEST(ElementwiseKernels, UnaryGolden) {
  HostTensor x = floats({4}, {-2.0f, 0.0f, 1.0f, 3.0f});
  auto y = runOptimized(OpCode::Gelu, {}, {x}, {HostTensor(DType::f32, {4})});
  // 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), computed in double.
  const double expected[4] = {-0.04540230591222, 0.0, 0.84119199060827,
                              2.99636261}; // NOLINT
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(y[0].at<float>(i), expected[i], 1e-5);
  auto e = runOptimized(OpCode::Exp, {}, {floats({3}, {-1000.0f, 0.0f, 1.0f})},
                        {HostTensor(DType::f32, {3})});
  EXPECT_EQ(e[0].at<float>(0), 0.0f);
  EXPECT_EQ(e[0].at<float>(1), 1.0f);
  EXPECT_NEAR(e[0].at<float>(2), 2.718281828f, 1e-6);
}

TEST(ElementwiseKernels, IntegerUnaryOpsAgreeAndWrap) {
  for (DType t : {DType::i64, DType::i32})
    for (OpCode op : {OpCode::Neg, OpCode::Abs, OpCode::Relu})
      expectVariantsAgree(op, {}, {randomInts(t, {3, 17}, -1000, 1000)},
                          {HostTensor(t, {3, 17})});
  int64_t lowest = std::numeric_limits<int64_t>::min();
  auto y = runOptimized(OpCode::Abs, {}, {ints(DType::i64, {2}, {lowest, -3})},
                        {HostTensor(DType::i64, {2})});
  EXPECT_EQ(y[0].at<int64_t>(0), lowest); // wraps like two's complement
  EXPECT_EQ(y[0].at<int64_t>(1), 3);
}

TEST(ElementwiseKernels, FloatBinaryOpsAgreeUnderBroadcasting) {
  for (OpCode op : {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div,
                    OpCode::Pow, OpCode::Maximum, OpCode::Minimum})
    for (const auto &[sa, sb] : kBroadcastPairs) {
      bool pow = op == OpCode::Pow;
      HostTensor a = randomFloats(sa, pow ? 0.1f : -3.0f, 3.0f);
      HostTensor b = randomFloats(sb, pow ? -2.0f : 0.5f, 2.0f);
      expectVariantsAgree(op, {}, {a, b},
                          {HostTensor(DType::f32, broadcastShape(sa, sb))});
    }
}

TEST(ElementwiseKernels, IntegerBinaryOpsAgree) {
  for (DType t : {DType::i64, DType::i32})
    for (OpCode op : {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div,
                      OpCode::Pow, OpCode::Maximum, OpCode::Minimum})
      for (const auto &[sa, sb] : kBroadcastPairs) {
        HostTensor a = randomInts(t, sa, -50, 50);
        HostTensor b = op == OpCode::Pow ? randomInts(t, sb, -2, 5)
                                         : randomInts(t, sb, 1, 9);
        expectVariantsAgree(op, {}, {a, b},
                            {HostTensor(t, broadcastShape(sa, sb))});
      }
}

TEST(ElementwiseKernels, IntegerDivisionTruncatesAndRejectsZero) {
  auto y = runOptimized(
      OpCode::Div, {},
      {ints(DType::i64, {3}, {-7, 7, std::numeric_limits<int64_t>::min()}),
       ints(DType::i64, {3}, {2, -2, -1})},
      {HostTensor(DType::i64, {3})});
  EXPECT_EQ(y[0].at<int64_t>(0), -3);
  EXPECT_EQ(y[0].at<int64_t>(1), -3);
  EXPECT_EQ(y[0].at<int64_t>(2), std::numeric_limits<int64_t>::min());
  std::vector<HostTensor> out = {HostTensor(DType::i32, {2})};
  for (KernelVariant v : {KernelVariant::Reference, KernelVariant::Optimized}) {
    Status s = runKernel(
        OpCode::Div, v, {},
        {ints(DType::i32, {2}, {1, 2}), ints(DType::i32, {2}, {1, 0})}, out);
    EXPECT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("division by zero"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("test.rdsl:1:1"), std::string::npos)
        << s.message();
  }
}

TEST(ElementwiseKernels, BooleanOps) {
  HostTensor a = ints(DType::bool8, {4}, {0, 0, 1, 1}),
             b = ints(DType::bool8, {4}, {0, 1, 0, 1});
  auto andY =
      runOptimized(OpCode::And, {}, {a, b}, {HostTensor(DType::bool8, {4})});
  auto orY =
      runOptimized(OpCode::Or, {}, {a, b}, {HostTensor(DType::bool8, {4})});
  auto notY =
      runOptimized(OpCode::Not, {}, {a}, {HostTensor(DType::bool8, {4})});
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(andY[0].at<uint8_t>(i), i == 3);
    EXPECT_EQ(orY[0].at<uint8_t>(i), i != 0);
    EXPECT_EQ(notY[0].at<uint8_t>(i), i < 2);
  }
  for (const auto &[sa, sb] : kBroadcastPairs)
    for (OpCode op : {OpCode::And, OpCode::Or})
      expectVariantsAgree(op, {}, {randomBools(sa), randomBools(sb)},
                          {HostTensor(DType::bool8, broadcastShape(sa, sb))});
}

TEST(ElementwiseKernels, CmpAllPredicatesAndTypes) {
  for (int64_t pred = 0; pred < 6; ++pred) {
    for (const auto &[sa, sb] : kBroadcastPairs) {
      Shape out = broadcastShape(sa, sb);
      expectVariantsAgree(
          OpCode::Cmp, attrs({{"predicate", pred}}),
          {randomInts(DType::i64, sa, 0, 3), randomInts(DType::i64, sb, 0, 3)},
          {HostTensor(DType::bool8, out)});
      HostTensor fa = randomFloats(sa), fb = randomFloats(sb);
      expectVariantsAgree(OpCode::Cmp, attrs({{"predicate", pred}}), {fa, fb},
                          {HostTensor(DType::bool8, out)});
    }
  }
  // ids != 0 (a padding mask), the scalar on the right.
  auto y = runOptimized(
      OpCode::Cmp, attrs({{"predicate", int64_t(1)}}),
      {ints(DType::i64, {2, 3}, {0, 5, 7, 0, 0, 1}), ints(DType::i64, {}, {0})},
      {HostTensor(DType::bool8, {2, 3})});
  const uint8_t expected[6] = {0, 1, 1, 0, 0, 1};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(y[0].at<uint8_t>(i), expected[i]);
  std::vector<HostTensor> out = {HostTensor(DType::bool8, {1})};
  EXPECT_FALSE(runKernel(OpCode::Cmp, KernelVariant::Optimized,
                         attrs({{"predicate", int64_t(9)}}),
                         {randomFloats({1}), randomFloats({1})}, out)
                   .isOk());
}

TEST(ElementwiseKernels, SelectBroadcastsAllThree) {
  for (DType t : {DType::f32, DType::i64}) {
    auto value = [&](Shape s) {
      return t == DType::f32 ? randomFloats(s) : randomInts(t, s, -9, 9);
    };
    expectVariantsAgree(OpCode::Select, {},
                        {randomBools({4, 1, 6}), value({5, 6}), value({6})},
                        {HostTensor(t, {4, 5, 6})});
    expectVariantsAgree(
        OpCode::Select, {},
        {randomBools({300, 70}), value({300, 70}), value({300, 70})},
        {HostTensor(t, {300, 70})});
  }
  auto y = runOptimized(OpCode::Select, {},
                        {ints(DType::bool8, {2, 1}, {1, 0}),
                         floats({1, 2}, {1.0f, 2.0f}), floats({}, {-1.0f})},
                        {HostTensor(DType::f32, {2, 2})});
  const float expected[4] = {1.0f, 2.0f, -1.0f, -1.0f};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(y[0].at<float>(i), expected[i]);
}

TEST(ElementwiseKernels, CastConvertsEveryPair) {
  std::vector<DType> types = {DType::f32, DType::i64, DType::i32, DType::bool8};
  for (DType from : types)
    for (DType to : types) {
      HostTensor x = from == DType::f32 ? randomFloats({5, 13}, -100, 100)
                     : from == DType::bool8
                         ? randomBools({5, 13})
                         : randomInts(from, {5, 13}, -100, 100);
      expectVariantsAgree(OpCode::Cast, {}, {x}, {HostTensor(to, {5, 13})});
    }
  auto y = runOptimized(OpCode::Cast, {},
                        {floats({5}, {-2.7f, 2.7f, NAN, 1e30f, -1e30f})},
                        {HostTensor(DType::i32, {5})});
  EXPECT_EQ(y[0].at<int32_t>(0), -2); // toward zero
  EXPECT_EQ(y[0].at<int32_t>(1), 2);
  EXPECT_EQ(y[0].at<int32_t>(2), 0); // NaN
  EXPECT_EQ(y[0].at<int32_t>(3), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(y[0].at<int32_t>(4), std::numeric_limits<int32_t>::min());
  auto f = runOptimized(OpCode::Cast, {}, {ints(DType::bool8, {2}, {1, 0})},
                        {HostTensor(DType::f32, {2})});
  EXPECT_EQ(f[0].at<float>(0), 1.0f);
  EXPECT_EQ(f[0].at<float>(1), 0.0f);
}

TEST(ElementwiseKernels, ConstantAndIota) {
  for (DType t : {DType::f32, DType::i64, DType::i32, DType::bool8})
    expectVariantsAgree(OpCode::Constant, attrs({{"value", 3.0}}), {},
                        {HostTensor(t, {3, 50000})});
  auto c = runOptimized(OpCode::Constant, attrs({{"value", int64_t(-4)}}), {},
                        {HostTensor(DType::i64, {3})});
  EXPECT_EQ(c[0].at<int64_t>(2), -4);
  auto cf = runOptimized(OpCode::Constant, attrs({{"value", 0.25}}), {},
                         {HostTensor(DType::f32, {})});
  EXPECT_EQ(cf[0].at<float>(0), 0.25f);
  for (DType t : {DType::f32, DType::i64, DType::i32})
    for (int64_t axis = 0; axis < 3; ++axis)
      expectVariantsAgree(OpCode::Iota, attrs({{"axis", axis}}), {},
                          {HostTensor(t, {4, 5, 6})});
  auto iota = runOptimized(OpCode::Iota, attrs({{"axis", int64_t(1)}}), {},
                           {HostTensor(DType::i64, {2, 3})});
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(iota[0].at<int64_t>(i), i % 3);
}

TEST(ElementwiseKernels, CopyMovesBytesOfEveryDType) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::bool8, DType::i32,
                  DType::i64}) {
    HostTensor x(t, {3, 70001});
    for (size_t i = 0; i < x.storage.size(); ++i)
      x.storage[i] = i * 0x9E3779B97F4A7C15ull;
    auto y =
        expectVariantsAgree(OpCode::Copy, {}, {x}, {HostTensor(t, {3, 70001})});
    EXPECT_EQ(
        std::memcmp(y[0].storage.data(), x.storage.data(), x.view().bytes()),
        0);
  }
}

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Known-answer vectors of Random123 (kat_vectors: philox4x32 10 rounds).
  Philox4x32 zero = philox4x32_10({{0, 0, 0, 0}}, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  Philox4x32 ones = philox4x32_10({{~0u, ~0u, ~0u, ~0u}}, ~0ull);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
}

TEST(DropoutKernel, IdentityOutsideTrainingAndPhiloxMaskInside) {
  HostTensor x = randomFloats({64, 1001}, 1.0f, 2.0f);
  KernelAttrs a = attrs({{"rate", 0.25}, {"stream", int64_t(7)}});
  auto eval = expectVariantsAgree(OpCode::Dropout, a, {x},
                                  {HostTensor(DType::f32, x.shape)}, 0, 0);
  expectClose(eval[0], x, 0, 0, "dropout outside training");
  RunOptions train{true, 1234, 5};
  auto y = expectVariantsAgree(OpCode::Dropout, a, {x},
                               {HostTensor(DType::f32, x.shape)}, 0, 0, train);
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    float v = y[0].at<float>(i);
    if (v != 0.0f) {
      ++kept;
      EXPECT_FLOAT_EQ(v, x.at<float>(i) / 0.75f);
    }
  }
  EXPECT_NEAR(double(kept) / double(x.numel()), 0.75, 0.01);
  // Another step draws another mask; the same step the same one.
  auto again = runOptimized(OpCode::Dropout, a, {x},
                            {HostTensor(DType::f32, x.shape)}, train);
  expectClose(again[0], y[0], 0, 0, "same step");
  auto next =
      runOptimized(OpCode::Dropout, a, {x}, {HostTensor(DType::f32, x.shape)},
                   RunOptions{true, 1234, 6});
  int64_t same = 0;
  for (int64_t i = 0; i < x.numel(); ++i)
    same += (next[0].at<float>(i) == 0.0f) == (y[0].at<float>(i) == 0.0f);
  EXPECT_LT(same, x.numel() * 9 / 10);
}

} // namespace
