//===- Normalization.cpp - RmsNorm and LayerNorm --------------------------===//
//
// Both normalize over the last axis. The optimized kernels take one row per
// iteration of a parallel loop; a row (d <= a few thousand floats) stays in
// L1 across its passes: statistics with 16-lane accumulators, then one
// fused scale-and-shift write. LayerNorm computes the variance around the
// mean (two passes over the cached row) rather than E[x²] − E[x]², which
// cancels catastrophically for rows with a large mean.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

/// Checks x [..., d] -> y [..., d] with per-feature params [d].
Status checkNorm(const KernelCall &call, const char *op, int params) {
  if (Status st = checkArity(call, op, 1 + params, 1 + params, 1); !st)
    return st;
  const Shape &x = call.in(0).shape;
  ONEREC_KERNEL_CHECK(call, x.rank >= 1 && call.out(0).shape == x,
                      "{}: the result must have the shape of x {}", op,
                      x.toString());
  for (int i = 1; i <= params; ++i)
    ONEREC_KERNEL_CHECK(
        call, call.in(i).numel() == x.last() && call.in(i).dtype == DType::f32,
        "{}: parameter {} {} must be [{}]", op, i, call.in(i).shape.toString(),
        x.last());
  return Status::ok();
}

template <KernelVariant V> Status rmsNormKernel(const KernelCall &call) {
  if (Status st = checkNorm(call, "rms_norm", 1); !st)
    return st;
  const float *x = call.in(0).as<const float>(),
              *gain = call.in(1).as<const float>();
  float *y = call.out(0).as<float>();
  int64_t d = call.in(0).shape.last(), rows = d ? call.in(0).numel() / d : 0;
  double eps = call.attr().getFloat("eps");
  if constexpr (V == kRef) {
    for (int64_t r = 0; r < rows; ++r) {
      const float *xr = x + r * d;
      double ss = 0;
      for (int64_t i = 0; i < d; ++i)
        ss += double(xr[i]) * xr[i];
      double inv = 1.0 / std::sqrt(ss / double(d) + eps);
      for (int64_t i = 0; i < d; ++i)
        y[r * d + i] = float(xr[i] * inv * gain[i]);
    }
    return Status::ok();
  }
  parallelFor(call, rows, grainFor(d), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float *xr = x + r * d;
      float *yr = y + r * d;
      float inv =
          float(1.0 / std::sqrt(double(dotLanes(xr, xr, d)) / double(d) + eps));
      for (int64_t i = 0; i < d; ++i)
        yr[i] = xr[i] * inv * gain[i];
    }
  });
  return Status::ok();
}

template <KernelVariant V> Status layerNormKernel(const KernelCall &call) {
  if (Status st = checkNorm(call, "layer_norm", 2); !st)
    return st;
  const float *x = call.in(0).as<const float>(),
              *gain = call.in(1).as<const float>(),
              *bias = call.in(2).as<const float>();
  float *y = call.out(0).as<float>();
  int64_t d = call.in(0).shape.last(), rows = d ? call.in(0).numel() / d : 0;
  double eps = call.attr().getFloat("eps");
  if constexpr (V == kRef) {
    for (int64_t r = 0; r < rows; ++r) {
      const float *xr = x + r * d;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < d; ++i)
        mean += xr[i];
      mean /= double(d);
      for (int64_t i = 0; i < d; ++i)
        var += (xr[i] - mean) * (xr[i] - mean);
      double inv = 1.0 / std::sqrt(var / double(d) + eps);
      for (int64_t i = 0; i < d; ++i)
        y[r * d + i] = float((xr[i] - mean) * inv * gain[i] + bias[i]);
    }
    return Status::ok();
  }
  parallelFor(call, rows, grainFor(d), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float *xr = x + r * d;
      float *yr = y + r * d;
      float mean = sumLanes(xr, d) / float(d);
      float lanes[16] = {};
      int64_t i = 0;
      for (; i + 16 <= d; i += 16)
        for (int l = 0; l < 16; ++l)
          lanes[l] += (xr[i + l] - mean) * (xr[i + l] - mean);
      float var = 0;
      for (; i < d; ++i)
        var += (xr[i] - mean) * (xr[i] - mean);
      for (float l : lanes)
        var += l;
      float inv = float(1.0 / std::sqrt(double(var) / double(d) + eps));
      for (int64_t j = 0; j < d; ++j)
        yr[j] = (xr[j] - mean) * inv * gain[j] + bias[j];
    }
  });
  return Status::ok();
}

} // namespace

void onerec::kernels::registerNormalizationKernels(KernelRegistry &r) {
  addCpu(r, OpCode::RmsNorm, DType::f32, rmsNormKernel<kRef>,
         rmsNormKernel<kOpt>);
  addCpu(r, OpCode::LayerNorm, DType::f32, layerNormKernel<kRef>,
         layerNormKernel<kOpt>);
}
