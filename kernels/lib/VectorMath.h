//===- VectorMath.h - multiversioned float loops of the hot kernels -------===//
//
// The loops that dominate softmax, attention, losses and activations (exp,
// sigmoid, tanh, GELU, SiLU, max), as plain functions compiled three times,
// for AVX-512, AVX2+FMA and the x86-64 baseline, and picked once at load
// time for the CPU at hand (GCC/Clang target_clones). The library stays
// portable while these loops run at the machine's vector width. The
// functions are bodies of loops over fastExp & co. from KernelSupport.h, so
// every variant computes the same formulas.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_KERNELS_LIB_VECTORMATH_H
#define ONEREC_KERNELS_LIB_VECTORMATH_H

#include <cstdint>

namespace onerec::kernels {

enum class VecUnary { Exp, Tanh, Sigmoid, Silu, Gelu };

/// y[i] = op(x[i]) for i < n (y may equal x).
void unaryF32(VecUnary op, const float *x, float *y, int64_t n);

/// y[i] = exp(x[i] - shift); returns the sum of the y (y may equal x).
float expShiftSum(const float *x, float *y, int64_t n, float shift);

/// sum of exp(x[i] - shift), without storing the terms.
float sumExpShift(const float *x, int64_t n, float shift);

/// The maximum of x[0..n) (n >= 1); NaN if any element is NaN.
float maxF32(const float *x, int64_t n);

/// Dropout of elements [4·blockLo, min(4·blockHi, n)): y[i] = x[i]·scale
/// where the Philox4x32-10 uniform of element i under (key, step) is at
/// least `rate`, else 0 (y may equal x). With AVX2, eight blocks at a time
/// in vector registers; the draws are exactly philoxUniform's.
void dropoutBlocks(const float *x, float *y, int64_t n, int64_t blockLo,
                   int64_t blockHi, uint64_t key, uint64_t step, float rate,
                   float scale);

} // namespace onerec::kernels

#endif // ONEREC_KERNELS_LIB_VECTORMATH_H
