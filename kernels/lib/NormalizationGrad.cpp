//===- NormalizationGrad.cpp - backward of LayerNorm and RmsNorm ----------===//
//
// LayerNorm: with x̂ = (x − μ)·r, r = 1/√(var + eps) and g = dy·gain,
//   dx = r·(g − mean(g) − x̂·mean(g·x̂)),  dgain = Σ dy·x̂,  dbias = Σ dy.
// RmsNorm: with r = 1/√(mean(x²) + eps) and g = dy·gain,
//   dx = r·g − x·r³·mean(g·x),  dgain = Σ dy·x·r.
// The sums of dgain and dbias run over every leading position.
//
// The optimized kernels take blocks of rows (the block size depends on the
// width only, never on the thread count, so results are reproducible): each
// block writes its rows of dx and its own partial dgain/dbias, and the
// partials are then added in block order, one parallel pass over features.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

struct NormGradShape {
  int64_t rows, d;
  const float *x, *gain, *dy;
  float *dx, *dgain, *dbias;
};

Status checkNormGrad(const KernelCall &call, const char *op, int results,
                     NormGradShape &s) {
  if (Status st = checkCounts(call, op, 3, results); !st)
    return st;
  const TensorView &x = call.in(0), &gain = call.in(1), &dy = call.in(2);
  ONEREC_KERNEL_CHECK(call,
                      x.shape.rank >= 1 && x.dtype == DType::f32 &&
                          dy.dtype == DType::f32 && dy.shape == x.shape,
                      "{}: dy {} must have the shape of x {}", op,
                      dy.shape.toString(), x.shape.toString());
  s.d = x.shape.last();
  s.rows = s.d ? x.numel() / s.d : 0;
  ONEREC_KERNEL_CHECK(call, gain.dtype == DType::f32 && gain.numel() == s.d,
                      "{}: gain {} must be [{}]", op, gain.shape.toString(),
                      s.d);
  s.x = x.as<const float>();
  s.gain = gain.as<const float>();
  s.dy = dy.as<const float>();
  s.dx = optionalResult(call, 0);
  s.dgain = optionalResult(call, 1);
  s.dbias = results == 3 ? optionalResult(call, 2) : nullptr;
  ONEREC_KERNEL_CHECK(call, !s.dx || call.out(0).shape == x.shape,
                      "{}: dx {} must have the shape of x {}", op,
                      call.out(0).shape.toString(), x.shape.toString());
  for (int i = 1; i < results; ++i)
    ONEREC_KERNEL_CHECK(call,
                        !optionalResult(call, i) || call.out(i).numel() == s.d,
                        "{}: result {} {} must be [{}]", op, i,
                        call.out(i).shape.toString(), s.d);
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// References: one row at a time, double accumulation.
//===----------------------------------------------------------------------===//

void layerNormGradReference(const NormGradShape &s, double eps) {
  int64_t d = s.d;
  std::vector<double> dgain(size_t(d), 0.0), dbias(size_t(d), 0.0),
      xhat(static_cast<size_t>(d));
  for (int64_t r = 0; r < s.rows; ++r) {
    const float *x = s.x + r * d, *dy = s.dy + r * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i)
      mean += x[i];
    mean /= double(d);
    for (int64_t i = 0; i < d; ++i)
      var += (x[i] - mean) * (x[i] - mean);
    double inv = 1.0 / std::sqrt(var / double(d) + eps);
    double sumG = 0, sumGX = 0;
    for (int64_t i = 0; i < d; ++i) {
      xhat[size_t(i)] = (x[i] - mean) * inv;
      double g = double(dy[i]) * s.gain[i];
      sumG += g;
      sumGX += g * xhat[size_t(i)];
      dgain[size_t(i)] += double(dy[i]) * xhat[size_t(i)];
      dbias[size_t(i)] += dy[i];
    }
    if (s.dx)
      for (int64_t i = 0; i < d; ++i) {
        double g = double(dy[i]) * s.gain[i];
        s.dx[r * d + i] = float(
            inv * (g - sumG / double(d) - xhat[size_t(i)] * sumGX / double(d)));
      }
  }
  for (int64_t i = 0; i < d; ++i) {
    if (s.dgain)
      s.dgain[i] = float(dgain[size_t(i)]);
    if (s.dbias)
      s.dbias[i] = float(dbias[size_t(i)]);
  }
}

void rmsNormGradReference(const NormGradShape &s, double eps) {
  int64_t d = s.d;
  std::vector<double> dgain(size_t(d), 0.0);
  for (int64_t r = 0; r < s.rows; ++r) {
    const float *x = s.x + r * d, *dy = s.dy + r * d;
    double ss = 0, sumGX = 0;
    for (int64_t i = 0; i < d; ++i) {
      ss += double(x[i]) * x[i];
      sumGX += double(dy[i]) * s.gain[i] * x[i];
    }
    double inv = 1.0 / std::sqrt(ss / double(d) + eps);
    for (int64_t i = 0; i < d; ++i) {
      dgain[size_t(i)] += double(dy[i]) * x[i] * inv;
      if (s.dx)
        s.dx[r * d + i] =
            float(inv * double(dy[i]) * s.gain[i] -
                  double(x[i]) * inv * inv * inv * sumGX / double(d));
    }
  }
  if (s.dgain)
    for (int64_t i = 0; i < d; ++i)
      s.dgain[i] = float(dgain[size_t(i)]);
}

//===----------------------------------------------------------------------===//
// Optimized: blocks of rows in parallel, partial parameter gradients per
// block, then an ordered reduction over blocks.
//===----------------------------------------------------------------------===//

/// rowFn(row, dgainPartial, dbiasPartial) handles one row; partials are
/// [d] floats of the row's block (dbias null for RmsNorm).
template <typename RowFn>
void blockedNormGrad(const KernelCall &call, const NormGradShape &s,
                     bool hasBias, RowFn &&rowFn) {
  int64_t d = s.d;
  int64_t rowsPerBlock = std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1));
  int64_t blocks = (s.rows + rowsPerBlock - 1) / rowsPerBlock;
  bool params = s.dgain || (hasBias && s.dbias);
  int per = hasBias ? 2 : 1;
  std::vector<float> partial(params ? size_t(blocks * per * d) : 0, 0.0f);
  parallelFor(call, blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float *pg = params ? &partial[size_t(b * per * d)] : nullptr;
      float *pb = params && hasBias ? pg + d : nullptr;
      for (int64_t r = b * rowsPerBlock;
           r < std::min(s.rows, (b + 1) * rowsPerBlock); ++r)
        rowFn(r, pg, pb);
    }
  });
  if (!params)
    return;
  parallelFor(call, d, 256, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float g = 0, bsum = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        g += partial[size_t(b * per * d + i)];
        if (hasBias)
          bsum += partial[size_t(b * per * d + d + i)];
      }
      if (s.dgain)
        s.dgain[i] = g;
      if (hasBias && s.dbias)
        s.dbias[i] = bsum;
    }
  });
}

void layerNormGradOptimized(const KernelCall &call, const NormGradShape &s,
                            double eps) {
  int64_t d = s.d;
  blockedNormGrad(call, s, true, [&](int64_t r, float *pg, float *pb) {
    const float *x = s.x + r * d, *dy = s.dy + r * d;
    float mean = sumLanes(x, d) / float(d);
    float *xhat = threadScratch<float>(0, size_t(d));
    float *g = threadScratch<float>(1, size_t(d));
    for (int64_t i = 0; i < d; ++i)
      xhat[i] = x[i] - mean;
    float var = dotLanes(xhat, xhat, d);
    float inv = float(1.0 / std::sqrt(double(var) / double(d) + eps));
    for (int64_t i = 0; i < d; ++i) {
      xhat[i] *= inv;
      g[i] = dy[i] * s.gain[i];
    }
    if (pg) {
      for (int64_t i = 0; i < d; ++i) {
        pg[i] += dy[i] * xhat[i];
        pb[i] += dy[i];
      }
    }
    if (s.dx) {
      float meanG = sumLanes(g, d) / float(d);
      float meanGX = dotLanes(g, xhat, d) / float(d);
      float *dx = s.dx + r * d;
      for (int64_t i = 0; i < d; ++i)
        dx[i] = inv * (g[i] - meanG - xhat[i] * meanGX);
    }
  });
}

void rmsNormGradOptimized(const KernelCall &call, const NormGradShape &s,
                          double eps) {
  int64_t d = s.d;
  blockedNormGrad(call, s, false, [&](int64_t r, float *pg, float *) {
    const float *x = s.x + r * d, *dy = s.dy + r * d;
    float inv =
        float(1.0 / std::sqrt(double(dotLanes(x, x, d)) / double(d) + eps));
    if (pg)
      for (int64_t i = 0; i < d; ++i)
        pg[i] += dy[i] * x[i] * inv;
    if (s.dx) {
      float *g = threadScratch<float>(1, size_t(d));
      for (int64_t i = 0; i < d; ++i)
        g[i] = dy[i] * s.gain[i];
      float coef = inv * inv * inv * dotLanes(g, x, d) / float(d);
      float *dx = s.dx + r * d;
      for (int64_t i = 0; i < d; ++i)
        dx[i] = inv * g[i] - x[i] * coef;
    }
  });
}

template <KernelVariant V> Status layerNormGradKernel(const KernelCall &call) {
  NormGradShape s;
  if (Status st = checkNormGrad(call, "layer_norm_grad", 3, s); !st)
    return st;
  double eps = call.attr().getFloat("eps");
  if constexpr (V == kRef)
    layerNormGradReference(s, eps);
  else
    layerNormGradOptimized(call, s, eps);
  return Status::ok();
}

template <KernelVariant V> Status rmsNormGradKernel(const KernelCall &call) {
  NormGradShape s;
  if (Status st = checkNormGrad(call, "rms_norm_grad", 2, s); !st)
    return st;
  double eps = call.attr().getFloat("eps");
  if constexpr (V == kRef)
    rmsNormGradReference(s, eps);
  else
    rmsNormGradOptimized(call, s, eps);
  return Status::ok();
}

} // namespace

void onerec::kernels::registerNormalizationGradKernels(KernelRegistry &r) {
  addCpu(r, OpCode::LayerNormGrad, DType::f32, layerNormGradKernel<kRef>,
         layerNormGradKernel<kOpt>);
  addCpu(r, OpCode::RmsNormGrad, DType::f32, rmsNormGradKernel<kRef>,
         rmsNormGradKernel<kOpt>);
}
