//===- VectorMath.cpp - multiversioned float loops of the hot kernels -----===//

#include "VectorMath.h"

#include "KernelSupport.h"

#include <limits>

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

} // namespace onerec::kernels
