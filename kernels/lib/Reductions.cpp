//===- Reductions.cpp - ReduceSum/Mean/Max/Min, Softmax, LogSoftmax -------===//
//
// A reduction's reduced and kept dimensions are merged into alternating
// groups. The optimized kernel has a loop for each shape that matters: all
// reduced (fixed-size blocks, partials merged in order, so the result does
// not depend on the thread count), [kept, reduced] (rows, 16-lane
// accumulators), [kept, reduced, kept] (columns, vectorized across the
// trailing kept dim) and a generic walk for the rest. References walk input
// elements in order, accumulating floats in double.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include <limits>
#include <type_traits>

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

enum class Reduce { Sum, Mean, Max, Min };

/// How a reduction accumulates values of T: floats in float (optimized) or
/// double (reference), integers wrapping in 64 bits; max/min in T,
/// propagating NaN.
template <Reduce R, typename T, KernelVariant V> struct Accumulate {
  static constexpr bool kSum = R == Reduce::Sum || R == Reduce::Mean;
  using Acc = std::conditional_t<
      !kSum, T,
      std::conditional_t<std::is_floating_point_v<T>,
                         std::conditional_t<V == kRef, double, float>,
                         uint64_t>>;
  static Acc init() {
    if constexpr (kSum)
      return Acc(0);
    else if constexpr (std::is_floating_point_v<T>)
      return R == Reduce::Max ? -std::numeric_limits<T>::infinity()
                              : std::numeric_limits<T>::infinity();
    else
      return R == Reduce::Max ? std::numeric_limits<T>::lowest()
                              : std::numeric_limits<T>::max();
  }
  static Acc add(Acc a, Acc x) {
    if constexpr (kSum)
      return a + x;
    else if constexpr (R == Reduce::Max)
      return maxOf(a, x);
    else
      return minOf(a, x);
  }
  static Acc lift(T x) {
    if constexpr (kSum && !std::is_floating_point_v<T>)
      return uint64_t(int64_t(x));
    else
      return Acc(x);
  }
  static T finish(Acc a, int64_t count) {
    if constexpr (R == Reduce::Mean) {
      if constexpr (std::is_floating_point_v<T>)
        return T(a / Acc(count));
      else
        return count ? T(int64_t(a) / count) : T(0);
    } else {
      return T(a);
    }
  }
};

/// The validated reduction: input dims, which are reduced, and the count of
/// elements per output.
struct ReduceShape {
  Shape in;
  bool reduced[Shape::kMaxRank] = {};
  int64_t count = 1;
};

Status checkReduce(const KernelCall &call, ReduceShape &s) {
  if (Status st = checkArity(call, "reduce", 1, 1, 1); !st)
    return st;
  s.in = call.in(0).shape;
  const std::vector<int64_t> &axes = call.attr().getInts("axes");
  for (size_t i = 0; i < axes.size(); ++i)
    ONEREC_KERNEL_CHECK(
        call,
        axes[i] >= 0 && axes[i] < s.in.rank &&
            (i == 0 || axes[i] > axes[i - 1]),
        "reduce: axes must be sorted, distinct and inside rank {}", s.in.rank);
  for (int i = 0; i < s.in.rank; ++i)
    s.reduced[i] = axes.empty();
  for (int64_t a : axes)
    s.reduced[a] = true;
  int64_t kept = 1;
  for (int i = 0; i < s.in.rank; ++i)
    (s.reduced[i] ? s.count : kept) *= s.in[i];
  ONEREC_KERNEL_CHECK(
      call,
      call.out(0).numel() == kept && call.out(0).dtype == call.in(0).dtype,
      "reduce: {} reduced gives {} elements, the result {} has {}",
      s.in.toString(), kept, call.out(0).shape.toString(), call.out(0).numel());
  return Status::ok();
}

template <Reduce R, typename T, KernelVariant V>
Status reduceKernel(const KernelCall &call) {
  ReduceShape s;
  if (Status st = checkReduce(call, s); !st)
    return st;
  using A = Accumulate<R, T, V>;
  using Acc = typename A::Acc;
  const T *x = call.in(0).as<const T>();
  T *y = call.out(0).as<T>();
  int64_t outN = call.out(0).numel(), inN = s.in.numel();
  if constexpr (V == kRef) {
    std::vector<Acc> acc(size_t(outN), A::init());
    for (int64_t i = 0; i < inN; ++i) {
      int64_t rem = i, o = 0, scale = 1;
      for (int d = s.in.rank - 1; d >= 0; --d) {
        int64_t idx = rem % s.in[d];
        rem /= s.in[d];
        if (!s.reduced[d]) {
          o += idx * scale;
          scale *= s.in[d];
        }
      }
      acc[size_t(o)] = A::add(acc[size_t(o)], A::lift(x[i]));
    }
    for (int64_t o = 0; o < outN; ++o)
      y[o] = A::finish(acc[size_t(o)], s.count);
    return Status::ok();
  }
  // Merge adjacent dims of the same kind: groups alternate kept/reduced.
  int groups = 0;
  int64_t extent[Shape::kMaxRank];
  bool red[Shape::kMaxRank];
  for (int d = 0; d < s.in.rank; ++d) {
    if (s.in[d] == 1)
      continue;
    if (groups && red[groups - 1] == s.reduced[d]) {
      extent[groups - 1] *= s.in[d];
    } else {
      extent[groups] = s.in[d];
      red[groups++] = s.reduced[d];
    }
  }
  auto rowReduce = [](const T *p, int64_t n) {
    Acc lanes[16];
    for (Acc &l : lanes)
      l = A::init();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; ++l)
        lanes[l] = A::add(lanes[l], A::lift(p[i + l]));
    Acc acc = A::init();
    for (; i < n; ++i)
      acc = A::add(acc, A::lift(p[i]));
    for (int l = 0; l < 16; ++l)
      acc = A::add(acc, lanes[l]);
    return acc;
  };
  if (inN == 0 ||
      s.count == 1) { // nothing reduced (or empty): finish each element
    for (int64_t o = 0; o < outN; ++o)
      y[o] = A::finish(s.count ? A::lift(x[o]) : A::init(), s.count);
    return Status::ok();
  }
  if (groups == 1 && red[0]) {
    // Everything: fixed blocks, so the sum does not depend on threading.
    constexpr int64_t kBlock = 8192;
    int64_t blocks = (inN + kBlock - 1) / kBlock;
    std::vector<Acc> partial(static_cast<size_t>(blocks));
    parallelFor(call, blocks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b)
        partial[size_t(b)] =
            rowReduce(x + b * kBlock, std::min(kBlock, inN - b * kBlock));
    });
    Acc acc = A::init();
    for (Acc p : partial)
      acc = A::add(acc, p);
    y[0] = A::finish(acc, s.count);
  } else if (groups == 2 && red[1]) {
    int64_t rows = extent[0], n = extent[1];
    parallelFor(call, rows, grainFor(n), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        y[r] = A::finish(rowReduce(x + r * n, n), s.count);
    });
  } else if ((groups == 2 && red[0]) || (groups == 3 && red[1])) {
    int64_t outer = groups == 3 ? extent[0] : 1;
    int64_t n = extent[groups - 2], inner = extent[groups - 1];
    constexpr int64_t kChunk = 1024;
    int64_t chunks = (inner + kChunk - 1) / kChunk;
    parallelFor(call, outer * chunks,
                std::max<int64_t>(1, 8192 / (n * std::min(inner, kChunk))),
                [&](int64_t lo, int64_t hi) {
                  Acc acc[kChunk];
                  for (int64_t t = lo; t < hi; ++t) {
                    int64_t o = t / chunks, c0 = (t % chunks) * kChunk;
                    int64_t len = std::min(kChunk, inner - c0);
                    for (int64_t j = 0; j < len; ++j)
                      acc[j] = A::init();
                    for (int64_t i = 0; i < n; ++i) {
                      const T *row = x + (o * n + i) * inner + c0;
                      for (int64_t j = 0; j < len; ++j)
                        acc[j] = A::add(acc[j], A::lift(row[j]));
                    }
                    for (int64_t j = 0; j < len; ++j)
                      y[o * inner + c0 + j] = A::finish(acc[j], s.count);
                  }
                });
  } else {
    // Several reduced groups: walk each output's reduced sub-space.
    int64_t stride[Shape::kMaxRank];
    for (int64_t g = groups - 1, st = 1; g >= 0; --g) {
      stride[g] = st;
      st *= extent[g];
    }
    parallelFor(call, outN, grainFor(s.count), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        int64_t base = 0, rem = o;
        for (int g = groups - 1; g >= 0; --g)
          if (!red[g]) {
            base += (rem % extent[g]) * stride[g];
            rem /= extent[g];
          }
        Acc acc = A::init();
        for (int64_t r = 0; r < s.count; ++r) {
          int64_t off = base, rr = r;
          for (int g = groups - 1; g >= 0; --g)
            if (red[g]) {
              off += (rr % extent[g]) * stride[g];
              rr /= extent[g];
            }
          acc = A::add(acc, A::lift(x[off]));
        }
        y[o] = A::finish(acc, s.count);
      }
    });
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Softmax, LogSoftmax
//===----------------------------------------------------------------------===//

template <bool Log, KernelVariant V>
Status softmaxKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "softmax", 1, 1, 1); !st)
    return st;
  const Shape &in = call.in(0).shape;
  int64_t axis = call.attr().getInt("axis");
  ONEREC_KERNEL_CHECK(call, axis >= 0 && axis < in.rank,
                      "softmax: axis {} outside rank {}", axis, in.rank);
  ONEREC_KERNEL_CHECK(call, call.out(0).shape == in,
                      "softmax: the result must have shape {}", in.toString());
  AxisSplit s = splitAtAxis(in, int(axis));
  if (in.numel() == 0)
    return Status::ok();
  const float *x = call.in(0).as<const float>();
  float *y = call.out(0).as<float>();
  if constexpr (V == kRef) {
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t r = 0; r < s.inner; ++r) {
        auto at = [&](int64_t i) { return (o * s.extent + i) * s.inner + r; };
        double m = -INFINITY, sum = 0;
        for (int64_t i = 0; i < s.extent; ++i)
          m = std::max(m, double(x[at(i)]));
        for (int64_t i = 0; i < s.extent; ++i)
          sum += std::exp(double(x[at(i)]) - m);
        for (int64_t i = 0; i < s.extent; ++i)
          y[at(i)] = Log ? float(double(x[at(i)]) - m - std::log(sum))
                         : float(std::exp(double(x[at(i)]) - m) / sum);
      }
    return Status::ok();
  }
  if (s.inner == 1) {
    int64_t n = s.extent;
    parallelFor(call, s.outer, grainFor(n), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        const float *xr = x + o * n;
        float *yr = y + o * n;
        float m = maxF32(xr, n);
        if (Log) {
          // (x - m) - log(sum): m + log(sum) would round away small logits.
          float logSum = std::log(sumExpShift(xr, n, m));
          for (int64_t i = 0; i < n; ++i)
            yr[i] = (xr[i] - m) - logSum;
        } else {
          float inv = 1.0f / expShiftSum(xr, yr, n, m);
          for (int64_t i = 0; i < n; ++i)
            yr[i] *= inv;
        }
      }
    });
    return Status::ok();
  }
  // Softmax over a middle axis: column-wise, vectorized across `inner`.
  parallelFor(
      call, s.outer, grainFor(s.extent * s.inner), [&](int64_t lo, int64_t hi) {
        std::vector<float> m(size_t(s.inner)), sum(size_t(s.inner));
        for (int64_t o = lo; o < hi; ++o) {
          const float *xs = x + o * s.extent * s.inner;
          float *ys = y + o * s.extent * s.inner;
          std::fill(m.begin(), m.end(), -INFINITY);
          std::fill(sum.begin(), sum.end(), 0.0f);
          for (int64_t i = 0; i < s.extent; ++i)
            for (int64_t r = 0; r < s.inner; ++r)
              m[size_t(r)] = maxOf(m[size_t(r)], xs[i * s.inner + r]);
          for (int64_t i = 0; i < s.extent; ++i)
            for (int64_t r = 0; r < s.inner; ++r) {
              float e = fastExp(xs[i * s.inner + r] - m[size_t(r)]);
              ys[i * s.inner + r] = e;
              sum[size_t(r)] += e;
            }
          for (int64_t r = 0; r < s.inner; ++r)
            sum[size_t(r)] =
                Log ? std::log(sum[size_t(r)]) : 1.0f / sum[size_t(r)];
          for (int64_t i = 0; i < s.extent; ++i)
            for (int64_t r = 0; r < s.inner; ++r)
              ys[i * s.inner + r] =
                  Log ? (xs[i * s.inner + r] - m[size_t(r)]) - sum[size_t(r)]
                      : ys[i * s.inner + r] * sum[size_t(r)];
        }
      });
  return Status::ok();
}

template <typename T> void addReductions(KernelRegistry &r) {
  DType t = dtypeOf<T>();
  addCpu(r, OpCode::ReduceSum, t, reduceKernel<Reduce::Sum, T, kRef>,
         reduceKernel<Reduce::Sum, T, kOpt>);
  addCpu(r, OpCode::ReduceMean, t, reduceKernel<Reduce::Mean, T, kRef>,
         reduceKernel<Reduce::Mean, T, kOpt>);
  addCpu(r, OpCode::ReduceMax, t, reduceKernel<Reduce::Max, T, kRef>,
         reduceKernel<Reduce::Max, T, kOpt>);
  addCpu(r, OpCode::ReduceMin, t, reduceKernel<Reduce::Min, T, kRef>,
         reduceKernel<Reduce::Min, T, kOpt>);
}

} // namespace

void onerec::kernels::registerReductionKernels(KernelRegistry &r) {
  addReductions<float>(r);
  addReductions<int64_t>(r);
  addReductions<int32_t>(r);
  addCpu(r, OpCode::Softmax, DType::f32, softmaxKernel<false, kRef>,
         softmaxKernel<false, kOpt>);
  addCpu(r, OpCode::LogSoftmax, DType::f32, softmaxKernel<true, kRef>,
         softmaxKernel<true, kOpt>);
}
