//===- VectorMath.cpp - multiversioned float loops of the hot kernels -----===//

#include "VectorMath.h"

#include "KernelSupport.h"
#include "onerec/Kernels/Philox.h"

#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) &&        \
    !defined(ONEREC_NO_MULTIVERSION)
#define ONEREC_MULTIVERSION                                                    \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ONEREC_MULTIVERSION
#endif

namespace onerec::kernels {

namespace {
template <VecUnary Op>
inline void unaryLoop(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if constexpr (Op == VecUnary::Exp)
      y[i] = fastExp(v);
    else if constexpr (Op == VecUnary::Tanh)
      y[i] = fastTanh(v);
    else if constexpr (Op == VecUnary::Sigmoid)
      y[i] = fastSigmoid(v);
    else if constexpr (Op == VecUnary::Silu)
      y[i] = v * fastSigmoid(v);
    else
      y[i] = fastGelu(v);
  }
}
} // namespace

ONEREC_MULTIVERSION
void unaryF32(VecUnary op, const float *x, float *y, int64_t n) {
  switch (op) {
  case VecUnary::Exp:
    return unaryLoop<VecUnary::Exp>(x, y, n);
  case VecUnary::Tanh:
    return unaryLoop<VecUnary::Tanh>(x, y, n);
  case VecUnary::Sigmoid:
    return unaryLoop<VecUnary::Sigmoid>(x, y, n);
  case VecUnary::Silu:
    return unaryLoop<VecUnary::Silu>(x, y, n);
  case VecUnary::Gelu:
    return unaryLoop<VecUnary::Gelu>(x, y, n);
  }
}

ONEREC_MULTIVERSION
float expShiftSum(const float *x, float *y, int64_t n, float shift) {
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      float e = fastExp(x[i + l] - shift);
      y[i + l] = e;
      lanes[l] += e;
    }
  float sum = 0;
  for (; i < n; ++i)
    sum += (y[i] = fastExp(x[i] - shift));
  for (float l : lanes)
    sum += l;
  return sum;
}

ONEREC_MULTIVERSION
float sumExpShift(const float *x, int64_t n, float shift) {
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l)
      lanes[l] += fastExp(x[i + l] - shift);
  float sum = 0;
  for (; i < n; ++i)
    sum += fastExp(x[i] - shift);
  for (float l : lanes)
    sum += l;
  return sum;
}

ONEREC_MULTIVERSION
float maxF32(const float *x, int64_t n) {
  // Lanes of plain compare-and-select (maxps) plus a NaN flag per lane.
  float acc[16];
  int32_t nan[16] = {};
  float m = x[0];
  int32_t anyNan = x[0] != x[0];
  int64_t i = 0;
  if (n >= 16) {
    for (int l = 0; l < 16; ++l)
      acc[l] = x[l];
    for (i = 16; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; ++l) {
        float v = x[i + l];
        acc[l] = v > acc[l] ? v : acc[l];
        nan[l] |= v != v;
      }
    for (int l = 0; l < 16; ++l) {
      m = acc[l] > m ? acc[l] : m;
      anyNan |= nan[l] | (acc[l] != acc[l]);
    }
  }
  for (; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    anyNan |= x[i] != x[i];
  }
  return anyNan ? std::numeric_limits<float>::quiet_NaN() : m;
}

namespace {

/// One Philox block's dropout of elements [4·blk, min(4·blk + 4, n)).
inline void dropoutBlock(const float *x, float *y, int64_t n, int64_t blk,
                         uint64_t key, uint64_t step, float rate, float scale) {
  Philox4x32 r = philoxBlock(key, step, uint64_t(blk));
  for (int64_t j = 0, i = blk * 4; j < 4 && i < n; ++j, ++i)
    y[i] = uniformFromBits(r.v[j]) >= rate ? x[i] * scale : 0.0f;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ONEREC_HAVE_AVX2_DROPOUT 1
/// The high and low words of the 32x32-bit products a·m, lane by lane.
__attribute__((target("avx2"))) inline void mulHiLo(__m256i a, __m256i m,
                                                    __m256i &hi, __m256i &lo) {
  __m256i even = _mm256_mul_epu32(a, m);
  __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_mullo_epi32(a, m);
}

/// Eight blocks (32 elements) per iteration: the ten rounds on eight
/// counters at once (32x32 -> 64-bit products from vpmuludq on the even
/// and odd lanes), then a 4x8 transpose puts word j of block l at element
/// 4·l + j.
__attribute__((target("avx2"))) void
dropoutBlocksAvx2(const float *x, float *y, int64_t n, int64_t blockLo,
                  int64_t blockHi, uint64_t key, uint64_t step, float rate,
                  float scale) {
  const __m256i mul0 = _mm256_set1_epi32(int(0xD2511F53u));
  const __m256i mul1 = _mm256_set1_epi32(int(0xCD9E8D57u));
  const __m256i weyl0 = _mm256_set1_epi32(int(0x9E3779B9u));
  const __m256i weyl1 = _mm256_set1_epi32(int(0xBB67AE85u));
  const __m256 rateV = _mm256_set1_ps(rate), scaleV = _mm256_set1_ps(scale);
  const __m256 unit = _mm256_set1_ps(1.0f / 16777216.0f);
  int64_t blk = blockLo;
  for (; blk + 8 <= blockHi && (blk + 8) * 4 <= n; blk += 8) {
    alignas(32) uint32_t lo32[8], hi32[8];
    for (int l = 0; l < 8; ++l) {
      lo32[l] = uint32_t(uint64_t(blk + l));
      hi32[l] = uint32_t(uint64_t(blk + l) >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i *>(lo32));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i *>(hi32));
    __m256i c2 = _mm256_set1_epi32(int(uint32_t(step)));
    __m256i c3 = _mm256_set1_epi32(int(uint32_t(step >> 32)));
    __m256i k0 = _mm256_set1_epi32(int(uint32_t(key)));
    __m256i k1 = _mm256_set1_epi32(int(uint32_t(key >> 32)));
    for (int round = 0; round < 10; ++round) {
      __m256i hi0, lo0, hi1, lo1;
      mulHiLo(c0, mul0, hi0, lo0);
      mulHiLo(c2, mul1, hi1, lo1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
      c1 = lo1;
      c3 = lo0;
      k0 = _mm256_add_epi32(k0, weyl0);
      k1 = _mm256_add_epi32(k1, weyl1);
    }
    __m256i t0 = _mm256_unpacklo_epi32(c0, c1),
            t1 = _mm256_unpackhi_epi32(c0, c1);
    __m256i t2 = _mm256_unpacklo_epi32(c2, c3),
            t3 = _mm256_unpackhi_epi32(c2, c3);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2),
            u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3),
            u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i words[4] = {_mm256_permute2x128_si256(u0, u1, 0x20),
                        _mm256_permute2x128_si256(u2, u3, 0x20),
                        _mm256_permute2x128_si256(u0, u1, 0x31),
                        _mm256_permute2x128_si256(u2, u3, 0x31)};
    for (int v = 0; v < 4; ++v) {
      __m256 u = _mm256_mul_ps(
          _mm256_cvtepi32_ps(_mm256_srli_epi32(words[v], 8)), unit);
      __m256 keep = _mm256_cmp_ps(u, rateV, _CMP_GE_OQ);
      __m256 xs = _mm256_loadu_ps(x + blk * 4 + v * 8);
      _mm256_storeu_ps(y + blk * 4 + v * 8,
                       _mm256_and_ps(keep, _mm256_mul_ps(xs, scaleV)));
    }
  }
  for (; blk < blockHi; ++blk)
    dropoutBlock(x, y, n, blk, key, step, rate, scale);
}
#endif

} // namespace

void dropoutBlocks(const float *x, float *y, int64_t n, int64_t blockLo,
                   int64_t blockHi, uint64_t key, uint64_t step, float rate,
                   float scale) {
#ifdef ONEREC_HAVE_AVX2_DROPOUT
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2)
    return dropoutBlocksAvx2(x, y, n, blockLo, blockHi, key, step, rate, scale);
#endif
  for (int64_t blk = blockLo; blk < blockHi; ++blk)
    dropoutBlock(x, y, n, blk, key, step, rate, scale);
}

} // namespace onerec::kernels
