//===- KernelSupport.h - helpers shared by the CPU kernel families --------===//
//
// Registration, argument checks that turn broken invariants into Status
// errors, dtype dispatch, index reading with range checks, and the small
// vectorizable math (exp, tanh, reductions with independent lanes) the
// optimized kernels are written with. Internal to kernels/lib.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_KERNELS_LIB_KERNELSUPPORT_H
#define ONEREC_KERNELS_LIB_KERNELSUPPORT_H

#include "onerec/Kernels/Shapes.h"
#include "onerec/Runtime/Kernel.h"
#include "onerec/Runtime/ThreadPool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace onerec::kernels {

using runtime::DType;
using runtime::KernelCall;
using runtime::KernelFn;
using runtime::KernelRegistry;
using runtime::KernelVariant;
using runtime::OpCode;
using runtime::Status;
using runtime::TensorView;

constexpr KernelVariant kRef = KernelVariant::Reference;
constexpr KernelVariant kOpt = KernelVariant::Optimized;

/// Family registration functions (one per source file).
void registerElementwiseKernels(KernelRegistry &r);
void registerDataMovementKernels(KernelRegistry &r);
void registerReductionKernels(KernelRegistry &r);
void registerNormalizationKernels(KernelRegistry &r);
void registerMatmulKernels(KernelRegistry &r);
void registerAttentionKernels(KernelRegistry &r);
void registerDecodeAttentionKernels(KernelRegistry &r);
void registerMoeKernels(KernelRegistry &r);
void registerEmbeddingKernels(KernelRegistry &r);
void registerLossKernels(KernelRegistry &r);
// 1.1: training (docs/training.md).
void registerNormalizationGradKernels(KernelRegistry &r);
void registerEmbeddingGradKernels(KernelRegistry &r);
void registerLossGradKernels(KernelRegistry &r);
void registerOptimizerKernels(KernelRegistry &r);
// 1.2: fusion (docs/fusion.md).
void registerFusedKernels(KernelRegistry &r);
// 1.2: GEMM fusion (docs/fusion.md).
void registerFusedGemmKernels(KernelRegistry &r);
// 1.2: embedding fusion (docs/fusion.md).
void registerMultiEmbeddingKernels(KernelRegistry &r);

/// Registers `fn<kRef>` and `fn<kOpt>` for (op, dtype) on the CPU.
inline void addCpu(KernelRegistry &r, OpCode op, DType dtype,
                   KernelFn reference, KernelFn optimized) {
  r.add(op, dtype, runtime::Device::Cpu, kRef, reference);
  r.add(op, dtype, runtime::Device::Cpu, kOpt, optimized);
}

/// Returns call.fail(...) from the enclosing kernel when `cond` is false.
#define ONEREC_KERNEL_CHECK(call, cond, ...)                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      return (call).fail(fmt::format(__VA_ARGS__));                            \
  } while (false)

/// Checks operand and result counts (optional operands count).
inline Status checkArity(const KernelCall &call, const char *op, int minInputs,
                         int maxInputs, int outputs) {
  if (call.numInputs < minInputs || call.numInputs > maxInputs ||
      call.numOutputs != outputs)
    return call.fail(fmt::format(
        "{}: expected {}..{} operands and {} results, got {} and {}", op,
        minInputs, maxInputs, outputs, call.numInputs, call.numOutputs));
  for (int i = 0; i < minInputs; ++i)
    if (!call.in(i).present() && call.in(i).numel() > 0)
      return call.fail(fmt::format("{}: operand {} has no data", op, i));
  for (int i = 0; i < outputs; ++i)
    if (!call.out(i).present() && call.out(i).numel() > 0)
      return call.fail(fmt::format("{}: result {} has no data", op, i));
  return Status::ok();
}

/// Checks the exact operand and result counts of a training op, whose
/// operands not in `optionalInputs` (bit i: operand i) must be present and
/// whose results may each be absent (a gradient nobody needs).
inline Status checkCounts(const KernelCall &call, const char *op, int inputs,
                          int outputs, uint32_t optionalInputs = 0) {
  if (call.numInputs != inputs || call.numOutputs != outputs)
    return call.fail(
        fmt::format("{}: expected {} operands and {} results, got {} and {}",
                    op, inputs, outputs, call.numInputs, call.numOutputs));
  for (int i = 0; i < inputs; ++i)
    if (!(optionalInputs >> i & 1) && !call.in(i).present())
      return call.fail(fmt::format("{}: operand {} has no data", op, i));
  return Status::ok();
}

/// Result i as floats, or null when it is absent.
inline float *optionalResult(const KernelCall &call, int i) {
  return i < call.numOutputs && call.out(i).present() ? call.out(i).as<float>()
                                                      : nullptr;
}

/// Optional operand i, or null when absent (or beyond numInputs).
inline const TensorView *optionalInput(const KernelCall &call, int i) {
  return i < call.numInputs && call.in(i).present() ? &call.in(i) : nullptr;
}

inline runtime::ThreadPool &pool(const KernelCall &call) {
  return *call.context->pool;
}

/// Runs fn(begin, end) over [0, n) on the call's pool.
template <typename Fn>
void parallelFor(const KernelCall &call, int64_t n, int64_t grain, Fn &&fn) {
  if (n <= 0)
    return;
  call.context->pool->parallelFor(n, grain, fn);
}

/// Grain (iterations per chunk) so that a chunk holds about 32k elements of
/// work when one iteration costs `work` elements.
inline int64_t grainFor(int64_t work) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1));
}

/// The optimized broadcast walk: rows of the collapsed loop, long rows cut
/// into segments, all in parallel. rowFn(outOffset, operandOffsets, length,
/// operandRowStrides).
template <int N, typename RowFn>
void forEachBroadcastRow(const KernelCall &call, const Shape &out,
                         const Shape *const *operands, RowFn &&rowFn) {
  BroadcastLoop<N> loop = makeBroadcastLoop<N>(out, operands);
  int64_t rows = loop.rows(), len = loop.rowLength();
  if (rows * len == 0)
    return;
  constexpr int64_t kSegment = 16384;
  int64_t segments = (len + kSegment - 1) / kSegment;
  int64_t strides[N];
  for (int k = 0; k < N; ++k)
    strides[k] = loop.rowStride(k);
  parallelFor(call, rows * segments, std::max<int64_t>(1, kSegment / len),
              [&](int64_t lo, int64_t hi) {
                int64_t offsets[N];
                for (int64_t t = lo; t < hi; ++t) {
                  int64_t row = t / segments, seg = t % segments;
                  int64_t start = seg * kSegment,
                          count = std::min(kSegment, len - start);
                  loop.rowOffsets(row, offsets);
                  for (int k = 0; k < N; ++k)
                    offsets[k] += start * strides[k];
                  rowFn(row * len + start, offsets, count, strides);
                }
              });
}

/// Checks that operands 0..operands-1 broadcast to result 0.
inline Status checkBroadcast(const KernelCall &call, const char *op,
                             int operands) {
  for (int i = 0; i < operands; ++i)
    ONEREC_KERNEL_CHECK(call, broadcastsTo(call.in(i).shape, call.out(0).shape),
                        "{}: operand {} {} does not broadcast to the result {}",
                        op, i, call.in(i).shape.toString(),
                        call.out(0).shape.toString());
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Dtype dispatch
//===----------------------------------------------------------------------===//

template <typename T> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::f32; }
template <> constexpr DType dtypeOf<int64_t>() { return DType::i64; }
template <> constexpr DType dtypeOf<int32_t>() { return DType::i32; }
template <> constexpr DType dtypeOf<uint8_t>() { return DType::bool8; }

/// Calls fn(T{}) with T the C++ type of a numeric or boolean dtype; false
/// for f16/bf16 (no CPU kernels yet).
template <typename Fn> bool dispatchDType(DType t, Fn &&fn) {
  switch (t) {
  case DType::f32:
    fn(float{});
    return true;
  case DType::i64:
    fn(int64_t{});
    return true;
  case DType::i32:
    fn(int32_t{});
    return true;
  case DType::bool8:
    fn(uint8_t{});
    return true;
  default:
    return false;
  }
}

//===----------------------------------------------------------------------===//
// Indices
//===----------------------------------------------------------------------===//

/// Element i of an i64 or i32 index tensor.
inline int64_t indexAt(const TensorView &t, int64_t i) {
  return t.dtype == DType::i32 ? int64_t(t.as<const int32_t>()[i])
                               : t.as<const int64_t>()[i];
}

inline bool isIndexType(DType t) { return t == DType::i64 || t == DType::i32; }

/// The position of the first index outside [0, bound) among the elements
/// of `t` whose `counted` entry is non-zero (all when counted is null), or -1.
inline int64_t firstIndexOutOfRange(const TensorView &t, int64_t bound,
                                    const uint8_t *counted = nullptr) {
  int64_t n = t.numel();
  auto scan = [&](const auto *ids) -> int64_t {
    for (int64_t i = 0; i < n; ++i)
      if ((!counted || counted[i]) && (ids[i] < 0 || ids[i] >= bound))
        return i;
    return -1;
  };
  return t.dtype == DType::i32 ? scan(t.as<const int32_t>())
                               : scan(t.as<const int64_t>());
}

//===----------------------------------------------------------------------===//
// Vectorizable math
//===----------------------------------------------------------------------===//

inline float bitsToFloat(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

/// exp(x) to about 2 ulp without calls or branches, so loops over it
/// vectorize (Cephes' expf polynomial, 2^n built in the exponent bits).
/// Exact 0 below -87.3; clamped at exp(88) above.
inline float fastExp(float x) {
  const float lo = -87.3f, hi = 88.0f;
  float xc = std::min(std::max(x, lo), hi);
  // n = round(x / ln2) by the 1.5·2^23 trick (valid for |n| < 2^22).
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
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float y = p * bitsToFloat(e);
  return x < lo ? 0.0f : y;
}

inline float fastSigmoid(float x) { return 1.0f / (1.0f + fastExp(-x)); }

/// tanh through exp: 1 - 2/(e^2x + 1); absolute error ~1e-7.
inline float fastTanh(float x) {
  return 1.0f - 2.0f / (fastExp(2.0f * x) + 1.0f);
}

/// The tanh GELU as x·sigmoid(2u) (= 0.5x(1 + tanh u)), which keeps full
/// relative precision in the negative tail where 1 + tanh u cancels.
inline float fastGelu(float x) {
  const float c2 = 1.5957691216057308f; // 2·sqrt(2/pi)
  return x * fastSigmoid(c2 * (x + 0.044715f * x * x * x));
}

/// Reference (double) versions of the activations.
inline double refSigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double refGelu(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
inline double refSilu(double x) { return x * refSigmoid(x); }

/// Sum of x[0..n) with 16 independent float lanes (vectorizes; the order is
/// fixed, so results do not depend on threading).
inline float sumLanes(const float *x, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l)
      acc[l] += x[i + l];
  float s = 0;
  for (; i < n; ++i)
    s += x[i];
  for (int l = 0; l < 16; ++l)
    s += acc[l];
  return s;
}

/// Dot product of x and y with 16 lanes.
inline float dotLanes(const float *x, const float *y, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l)
      acc[l] += x[i + l] * y[i + l];
  float s = 0;
  for (; i < n; ++i)
    s += x[i] * y[i];
  for (int l = 0; l < 16; ++l)
    s += acc[l];
  return s;
}

/// max of x[0..n) (n >= 1), NaN-propagating like maxOf.
inline float maxLanes(const float *x, int64_t n) {
  float acc[16];
  int64_t i = 0;
  float m = x[0];
  if (n >= 16) {
    for (int l = 0; l < 16; ++l)
      acc[l] = x[l];
    for (i = 16; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; ++l)
        acc[l] =
            (x[i + l] > acc[l] || x[i + l] != x[i + l]) ? x[i + l] : acc[l];
    m = acc[0];
    for (int l = 1; l < 16; ++l)
      m = (acc[l] > m || acc[l] != acc[l]) ? acc[l] : m;
  }
  for (; i < n; ++i)
    m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
  return m;
}

/// max and min that propagate NaN (the first NaN seen wins).
template <typename T> inline T maxOf(T a, T b) {
  return (b > a || b != b) && a == a ? b : a;
}
template <typename T> inline T minOf(T a, T b) {
  return (b < a || b != b) && a == a ? b : a;
}

//===----------------------------------------------------------------------===//
// Scratch memory
//===----------------------------------------------------------------------===//

/// A per-thread growable buffer, reused across calls so hot kernels do not
/// allocate; `slot` separates buffers a kernel needs at the same time.
template <typename T> T *threadScratch(int slot, size_t n) {
  thread_local std::vector<T> buffers[4];
  std::vector<T> &b = buffers[slot];
  if (b.size() < n)
    b.resize(n);
  return b.data();
}

} // namespace onerec::kernels

#endif // ONEREC_KERNELS_LIB_KERNELSUPPORT_H
