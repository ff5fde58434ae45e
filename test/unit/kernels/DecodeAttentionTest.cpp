//===- DecodeAttentionTest.cpp - attention of newly decoded tokens --------===//
//
// DecodeAttention must compute what full attention computes for the same
// positions: a causal self-attention row over the cache plus the new token,
// and cross-attention over keys shared by a request's beams, read through
// `rows`. Both variants agree; bad rows and lengths are errors.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include <cstring>

using namespace onerec::kernels::test;

namespace {

constexpr int64_t kHeads = 4, kKvHeads = 2, kDk = 8, kDv = 8;

KernelAttrs decodeAttrs() {
  return attrs({{"num_heads", kHeads},
                {"num_kv_heads", kKvHeads},
                {"scale", 1.0 / std::sqrt(double(kDk))}});
}

/// Row `row` (of `len` rows of `width`) of x [b, len, width].
const float *rowOf(const HostTensor &x, int64_t b, int64_t row) {
  int64_t len = x.shape[1], width = x.shape[2];
  return x.data<float>() + (b * len + row) * width;
}

TEST(DecodeAttentionKernel, CachedSelfAttentionMatchesCausalAttention) {
  // Full causal attention over T tokens; then each position p decoded alone
  // against a cache holding positions < p (garbage beyond) plus its own key.
  const int64_t n = 3, t = 7;
  HostTensor q = randomFloats({n, t, kHeads * kDk}, -2, 2);
  HostTensor k = randomFloats({n, t, kKvHeads * kDk}, -2, 2);
  HostTensor v = randomFloats({n, t, kKvHeads * kDv});
  std::vector<HostTensor> full =
      runOptimized(OpCode::Attention,
                   attrs({{"num_heads", kHeads},
                          {"num_kv_heads", kKvHeads},
                          {"causal", int64_t(1)},
                          {"scale", 1.0 / std::sqrt(double(kDk))},
                          {"score_norm", int64_t(0)}}),
                   {q, k, v, absentTensor(), absentTensor()},
                   {HostTensor(DType::f32, {n, t, kHeads * kDv})});
  for (int64_t p = 0; p < t; ++p) {
    HostTensor cacheK = randomFloats({n, t, kKvHeads * kDk}, 50, 60);
    HostTensor cacheV = randomFloats({n, t, kKvHeads * kDv}, 50, 60);
    HostTensor qp(DType::f32, {n, 1, kHeads * kDk});
    HostTensor kp(DType::f32, {n, 1, kKvHeads * kDk});
    HostTensor vp(DType::f32, {n, 1, kKvHeads * kDv});
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t j = 0; j < p; ++j) {
        std::memcpy(const_cast<float *>(rowOf(cacheK, b, j)), rowOf(k, b, j),
                    kKvHeads * kDk * sizeof(float));
        std::memcpy(const_cast<float *>(rowOf(cacheV, b, j)), rowOf(v, b, j),
                    kKvHeads * kDv * sizeof(float));
      }
      std::memcpy(qp.data<float>() + b * kHeads * kDk, rowOf(q, b, p),
                  kHeads * kDk * sizeof(float));
      std::memcpy(kp.data<float>() + b * kKvHeads * kDk, rowOf(k, b, p),
                  kKvHeads * kDk * sizeof(float));
      std::memcpy(vp.data<float>() + b * kKvHeads * kDv, rowOf(v, b, p),
                  kKvHeads * kDv * sizeof(float));
    }
    HostTensor lengths = ints(DType::i64, {n}, {p, p, p});
    std::vector<HostTensor> step = expectVariantsAgree(
        OpCode::DecodeAttention, decodeAttrs(),
        {qp, cacheK, cacheV, kp, vp, lengths, absentTensor()},
        {HostTensor(DType::f32, {n, 1, kHeads * kDv})}, 1e-5, 1e-6);
    HostTensor expected(DType::f32, {n, 1, kHeads * kDv});
    for (int64_t b = 0; b < n; ++b)
      std::memcpy(expected.data<float>() + b * kHeads * kDv,
                  rowOf(full[0], b, p), kHeads * kDv * sizeof(float));
    expectClose(step[0], expected, 1e-5, 1e-6, "position " + std::to_string(p));
  }
}

TEST(DecodeAttentionKernel, SharedKeysThroughRowsMatchCopies) {
  // Two requests' cross-attention keys, five beam rows reading them.
  const int64_t requests = 2, beams = 5, m = 9;
  HostTensor q = randomFloats({beams, 1, kHeads * kDk}, -2, 2);
  HostTensor k = randomFloats({requests, m, kKvHeads * kDk}, -2, 2);
  HostTensor v = randomFloats({requests, m, kKvHeads * kDv});
  std::vector<int64_t> rowIds = {0, 0, 1, 1, 0};
  HostTensor copiesK(DType::f32, {beams, m, kKvHeads * kDk});
  HostTensor copiesV(DType::f32, {beams, m, kKvHeads * kDv});
  for (int64_t b = 0; b < beams; ++b) {
    std::memcpy(copiesK.data<float>() + b * m * kKvHeads * kDk,
                rowOf(k, rowIds[b], 0), m * kKvHeads * kDk * sizeof(float));
    std::memcpy(copiesV.data<float>() + b * m * kKvHeads * kDv,
                rowOf(v, rowIds[b], 0), m * kKvHeads * kDv * sizeof(float));
  }
  HostTensor out(DType::f32, {beams, 1, kHeads * kDv});
  std::vector<HostTensor> shared =
      expectVariantsAgree(OpCode::DecodeAttention, decodeAttrs(),
                          {q, k, v, absentTensor(), absentTensor(),
                           absentTensor(), ints(DType::i64, {beams}, rowIds)},
                          {out});
  std::vector<HostTensor> copied =
      expectVariantsAgree(OpCode::DecodeAttention, decodeAttrs(),
                          {q, copiesK, copiesV, absentTensor(), absentTensor(),
                           absentTensor(), absentTensor()},
                          {out});
  expectClose(shared[0], copied[0], 0, 0, "shared vs copied keys");
}

TEST(DecodeAttentionKernel, SeveralNewTokensAreCausalAmongThemselves) {
  const int64_t n = 2, s = 3, l = 5;
  expectVariantsAgree(OpCode::DecodeAttention, decodeAttrs(),
                      {randomFloats({n, s, kHeads * kDk}, -2, 2),
                       randomFloats({n, l, kKvHeads * kDk}, -2, 2),
                       randomFloats({n, l, kKvHeads * kDv}),
                       randomFloats({n, s, kKvHeads * kDk}, -2, 2),
                       randomFloats({n, s, kKvHeads * kDv}),
                       ints(DType::i32, {n}, {0, 4}), absentTensor()},
                      {HostTensor(DType::f32, {n, s, kHeads * kDv})});
}

TEST(DecodeAttentionKernel, RejectsRowsAndLengthsOutsideTheKeys) {
  const int64_t n = 2, l = 4;
  std::vector<HostTensor> in = {randomFloats({n, 1, kHeads * kDk}),
                                randomFloats({1, l, kKvHeads * kDk}),
                                randomFloats({1, l, kKvHeads * kDv}),
                                absentTensor(),
                                absentTensor(),
                                ints(DType::i64, {n}, {4, 5}),
                                ints(DType::i64, {n}, {0, 0})};
  for (KernelVariant variant :
       {KernelVariant::Reference, KernelVariant::Optimized}) {
    std::vector<HostTensor> out = {
        HostTensor(DType::f32, {n, 1, kHeads * kDv})};
    Status s =
        runKernel(OpCode::DecodeAttention, variant, decodeAttrs(), in, out);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("row 1 attends over 5 cached keys"),
              std::string::npos)
        << s.message();
  }
  in[5] = absentTensor();
  in[6] = ints(DType::i64, {n}, {0, 1});
  std::vector<HostTensor> out = {HostTensor(DType::f32, {n, 1, kHeads * kDv})};
  Status s = runKernel(OpCode::DecodeAttention, KernelVariant::Optimized,
                       decodeAttrs(), in, out);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("row 1 reads key row 1, outside [0, 1)"),
            std::string::npos)
      << s.message();
}

} // namespace
