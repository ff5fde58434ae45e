//===- CudaPrelude.h - device helpers of generated CUDA kernels -*- C++ -*-===//
//
// The CUDA C++ every kernel rec-generate-cuda writes starts with: the math of
// the CPU kernels (kernels/lib/KernelSupport.h) as device functions, integer
// helpers that wrap like the CPU's, and the row combine of reductions.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_CUDAPRELUDE_H
#define ONEREC_PASSES_CUDAPRELUDE_H

#include "llvm/ADT/StringRef.h"

namespace onerec {

/// The shared device helpers; the formulas are those of the CPU kernels.
inline constexpr llvm::StringLiteral kCudaPrelude = R"cuda(
__device__ __forceinline__ float onerec_exp(float x) {
  // Cephes expf as kernels/lib/KernelSupport.h fastExp: 0 below -87.3.
  const float lo = -87.3f, hi = 88.0f;
  float xc = fminf(fmaxf(x, lo), hi);
  const float shifter = 12582912.0f;
  float t = xc * 1.44269504088896341f + shifter;
  float n = t - shifter;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float y = p * __int_as_float((static_cast<int>(n) + 127) << 23);
  return x < lo ? 0.0f : y;
}
__device__ __forceinline__ float onerec_sigmoid(float x) {
  return 1.0f / (1.0f + onerec_exp(-x));
}
__device__ __forceinline__ float onerec_tanh(float x) {
  return 1.0f - 2.0f / (onerec_exp(2.0f * x) + 1.0f);
}
__device__ __forceinline__ float onerec_gelu(float x) {
  // 0.5x(1 + tanh u) as x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3).
  return x * onerec_sigmoid(1.5957691216057308f * (x + 0.044715f * x * x * x));
}
// NaN-propagating, as the CPU kernels' maxOf/minOf.
template <class T> __device__ __forceinline__ T onerec_max(T a, T b) {
  return ((b > a) || (b != b)) && (a == a) ? b : a;
}
template <class T> __device__ __forceinline__ T onerec_min(T a, T b) {
  return ((b < a) || (b != b)) && (a == a) ? b : a;
}
// Integers wrap, as on the CPU.
template <class T> struct onerec_unsigned;
template <> struct onerec_unsigned<int> { typedef unsigned int type; };
template <> struct onerec_unsigned<long long> { typedef unsigned long long type; };
template <class T> __device__ __forceinline__ T onerec_iadd(T a, T b) {
  typedef typename onerec_unsigned<T>::type U;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <class T> __device__ __forceinline__ T onerec_isub(T a, T b) {
  typedef typename onerec_unsigned<T>::type U;
  return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
}
template <class T> __device__ __forceinline__ T onerec_imul(T a, T b) {
  typedef typename onerec_unsigned<T>::type U;
  return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
}
template <class T> __device__ __forceinline__ T onerec_ineg(T a) {
  return onerec_isub(T(0), a);
}
template <class T> __device__ __forceinline__ T onerec_iabs(T a) {
  return a < 0 ? onerec_ineg(a) : a;
}
template <class T> __device__ __forceinline__ T onerec_idiv(T a, T b) {
  return b == -1 ? onerec_ineg(a) : b == 0 ? T(0) : T(a / b);
}
template <class T> __device__ __forceinline__ T onerec_ipow(T base, T e) {
  typedef typename onerec_unsigned<T>::type U;
  if (e < 0)
    return base == 1 ? T(1) : base == -1 ? T((e & 1) ? -1 : 1) : T(0);
  U result = 1, b = static_cast<U>(base);
  for (U k = static_cast<U>(e); k; k >>= 1, b *= b)
    if (k & 1)
      result *= b;
  return static_cast<T>(result);
}
// float -> integer: toward zero, NaN to 0, out of range saturates.
template <class T> __device__ __forceinline__ T onerec_ftoi(float x, T lo, T hi) {
  if (!(x == x))
    return T(0);
  if (double(x) <= double(lo))
    return lo;
  if (double(x) >= double(hi))
    return hi;
  return static_cast<T>(x);
}
struct onerec_sum_op {
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const {
    return a + b;
  }
  __device__ __forceinline__ int operator()(int a, int b) const {
    return onerec_iadd(a, b);
  }
  __device__ __forceinline__ long long operator()(long long a, long long b) const {
    return onerec_iadd(a, b);
  }
};
struct onerec_max_op {
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const {
    return onerec_max(a, b);
  }
};
struct onerec_min_op {
  template <class T> __device__ __forceinline__ T operator()(T a, T b) const {
    return onerec_min(a, b);
  }
};
// Combines one value per thread of a row (TPR threads, a power of two) in a
// fixed order, so results do not depend on timing. Every thread of the block
// calls it (inactive rows compute on a clamped row), so the barriers match.
template <int TPR, class T, class F>
__device__ __forceinline__ T onerec_row_reduce(T v, F f, unsigned long long *scratch) {
  const int width = TPR < 32 ? TPR : 32;
  for (int o = width / 2; o > 0; o /= 2)
    v = f(v, __shfl_xor_sync(0xffffffffu, v, o, width));
  if (TPR > 32) {
    T *s = reinterpret_cast<T *>(scratch);
    if (threadIdx.x % 32 == 0)
      s[threadIdx.x / 32] = v;
    __syncthreads();
    v = s[0];
    for (int w = 1; w < TPR / 32; ++w)
      v = f(v, s[w]);
    __syncthreads();
  }
  return v;
}
)cuda";

} // namespace onerec

#endif // ONEREC_PASSES_CUDAPRELUDE_H
