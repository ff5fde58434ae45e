//===- LossGrads.cpp - backward of CrossEntropy, BCE, SampledSoftmax ------===//
//
// Each loss element r gets the coefficient c_r = ∂loss/∂loss_r from dloss
// and the reduction: dloss[r] for `none`, dloss for `sum`, dloss / count for
// `mean` (0 when nothing is counted); masked elements get 0. Then
//   CrossEntropy:   dlogits = c·(softmax(x) − (1 − ε)·onehot(y) − ε/C)
//   BceWithLogits:  dlogits = c·(σ(x) − y)
//   SampledSoftmax: with q = softmax over [pos, negs] scores, ds = c·(q −
//                   e_0); dh = Σ ds_j·table[row_j], dtable[row_j] += ds_j·h
//                   (dtable is full [V, d], zero except sampled rows).
//                   With remove_hits a negative equal to the positive
//                   scores -inf: q_j = 0, ds_j = 0.
// Labels and sampled ids are checked like the forward kernels check them.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include <limits>

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

/// The per-element coefficients c_r (double; both variants use them).
Status lossCoefficients(const KernelCall &call, const char *op, int64_t n,
                        const TensorView *mask, const TensorView &dloss,
                        std::vector<double> &coef) {
  int64_t reduction = call.attr().getInt("reduction");
  ONEREC_KERNEL_CHECK(call, reduction >= 0 && reduction <= 2,
                      "{}: unknown reduction {}", op, reduction);
  ONEREC_KERNEL_CHECK(call,
                      dloss.dtype == DType::f32 &&
                          dloss.numel() == (reduction == 2 ? n : 1),
                      "{}: dloss {} does not fit reduction {} of {} elements",
                      op, dloss.shape.toString(), reduction, n);
  ONEREC_KERNEL_CHECK(
      call, !mask || (mask->dtype == DType::bool8 && mask->numel() == n),
      "{}: the mask must be {} booleans", op, n);
  const uint8_t *m = mask ? mask->as<const uint8_t>() : nullptr;
  const float *g = dloss.as<const float>();
  int64_t count = 0;
  for (int64_t r = 0; r < n; ++r)
    count += !m || m[r];
  double shared = reduction == 1   ? double(g[0])
                  : reduction == 0 ? (count ? double(g[0]) / double(count) : 0)
                                   : 0;
  coef.assign(size_t(n), 0.0);
  for (int64_t r = 0; r < n; ++r)
    if (!m || m[r])
      coef[size_t(r)] = reduction == 2 ? double(g[r]) : shared;
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// CrossEntropyGrad, BceWithLogitsGrad
//===----------------------------------------------------------------------===//

template <KernelVariant V>
Status crossEntropyGradKernel(const KernelCall &call) {
  const char *op = "cross_entropy_grad";
  if (Status st = checkCounts(call, op, 4, 1, 1u << 2); !st)
    return st;
  const TensorView &logits = call.in(0), &labels = call.in(1);
  const TensorView *mask = optionalInput(call, 2);
  int64_t C = logits.shape.last(), n = C ? logits.numel() / C : 0;
  ONEREC_KERNEL_CHECK(call,
                      logits.shape.rank >= 1 && logits.dtype == DType::f32 &&
                          labels.numel() == n && isIndexType(labels.dtype),
                      "{}: labels {} do not fit logits {}", op,
                      labels.shape.toString(), logits.shape.toString());
  ONEREC_KERNEL_CHECK(
      call, call.out(0).present() && call.out(0).numel() == logits.numel(),
      "{}: dlogits {} must have the shape of the logits {}", op,
      call.out(0).shape.toString(), logits.shape.toString());
  std::vector<double> coef;
  if (Status st = lossCoefficients(call, op, n, mask, call.in(3), coef); !st)
    return st;
  const uint8_t *m = mask ? mask->as<const uint8_t>() : nullptr;
  int64_t bad = firstIndexOutOfRange(labels, C, m);
  ONEREC_KERNEL_CHECK(call, bad < 0,
                      "{}: label {} at position {} is outside the {} classes",
                      op, bad < 0 ? 0 : indexAt(labels, bad), bad, C);
  double eps = call.attr().getFloat("label_smoothing");
  const float *x = logits.as<const float>();
  float *dx = call.out(0).as<float>();
  if constexpr (V == kRef) {
    for (int64_t r = 0; r < n; ++r) {
      const float *row = x + r * C;
      float *out = dx + r * C;
      double c = coef[size_t(r)];
      if (m && !m[r]) {
        std::fill(out, out + C, 0.0f);
        continue;
      }
      double mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < C; ++k)
        mx = std::max(mx, double(row[k]));
      for (int64_t k = 0; k < C; ++k)
        sum += std::exp(double(row[k]) - mx);
      int64_t y = indexAt(labels, r);
      for (int64_t k = 0; k < C; ++k)
        out[k] = float(c * (std::exp(double(row[k]) - mx) / sum -
                            (k == y ? 1 - eps : 0.0) - eps / double(C)));
    }
    return Status::ok();
  }
  parallelFor(call, n, grainFor(C), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float *row = x + r * C;
      float *out = dx + r * C;
      float c = float(coef[size_t(r)]);
      if ((m && !m[r]) || c == 0.0f) {
        std::fill(out, out + C, 0.0f);
        continue;
      }
      float mx = maxF32(row, C);
      float scale = c / expShiftSum(row, out, C, mx);
      float shift = c * float(eps / double(C));
      for (int64_t k = 0; k < C; ++k)
        out[k] = out[k] * scale - shift;
      out[indexAt(labels, r)] -= c * float(1 - eps);
    }
  });
  return Status::ok();
}

template <KernelVariant V> Status bceGradKernel(const KernelCall &call) {
  const char *op = "bce_with_logits_grad";
  if (Status st = checkCounts(call, op, 4, 1, 1u << 2); !st)
    return st;
  int64_t n = call.in(0).numel();
  ONEREC_KERNEL_CHECK(
      call,
      call.in(0).dtype == DType::f32 && call.in(1).dtype == DType::f32 &&
          call.in(1).numel() == n && call.out(0).present() &&
          call.out(0).numel() == n,
      "{}: labels {} and dlogits {} must match the logits {}", op,
      call.in(1).shape.toString(), call.out(0).shape.toString(),
      call.in(0).shape.toString());
  std::vector<double> coef;
  if (Status st = lossCoefficients(call, op, n, optionalInput(call, 2),
                                   call.in(3), coef);
      !st)
    return st;
  const float *x = call.in(0).as<const float>(),
              *y = call.in(1).as<const float>();
  float *dx = call.out(0).as<float>();
  if constexpr (V == kRef) {
    for (int64_t i = 0; i < n; ++i)
      dx[i] = float(coef[size_t(i)] * (refSigmoid(x[i]) - double(y[i])));
  } else {
    parallelFor(call, n, 8192, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        dx[i] = float(coef[size_t(i)]) * (fastSigmoid(x[i]) - y[i]);
    });
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// SampledSoftmaxGrad
//===----------------------------------------------------------------------===//

struct SampledShape {
  int64_t P, N, d, V;
  bool shared;
};

Status checkSampledGrad(const KernelCall &call, SampledShape &s,
                        std::vector<double> &coef) {
  const char *op = "sampled_softmax_grad";
  if (Status st = checkCounts(call, op, 6, 2, 1u << 4); !st)
    return st;
  const TensorView &h = call.in(0), &table = call.in(1), &pos = call.in(2),
                   &neg = call.in(3);
  s.d = h.shape.last();
  s.P = s.d ? h.numel() / s.d : 0;
  s.shared = neg.shape.rank == 1;
  s.N = neg.shape.last();
  ONEREC_KERNEL_CHECK(
      call,
      h.shape.rank >= 1 && table.shape.rank == 2 && table.shape[1] == s.d &&
          h.dtype == DType::f32 && table.dtype == DType::f32 &&
          pos.numel() == s.P && isIndexType(pos.dtype) &&
          isIndexType(neg.dtype) && (s.shared || neg.numel() == s.P * s.N),
      "{}: h {}, table {}, positives {}, negatives {} do not fit", op,
      h.shape.toString(), table.shape.toString(), pos.shape.toString(),
      neg.shape.toString());
  s.V = table.shape[0];
  ONEREC_KERNEL_CHECK(
      call, !optionalResult(call, 0) || call.out(0).numel() == h.numel(),
      "{}: dh {} must have the shape of h {}", op, call.out(0).shape.toString(),
      h.shape.toString());
  ONEREC_KERNEL_CHECK(
      call, !optionalResult(call, 1) || call.out(1).numel() == table.numel(),
      "{}: dtable {} must have the shape of the table {}", op,
      call.out(1).shape.toString(), table.shape.toString());
  const TensorView *mask = optionalInput(call, 4);
  if (Status st = lossCoefficients(call, op, s.P, mask, call.in(5), coef); !st)
    return st;
  const uint8_t *m = mask ? mask->as<const uint8_t>() : nullptr;
  int64_t bad = firstIndexOutOfRange(pos, s.V, m);
  ONEREC_KERNEL_CHECK(call, bad < 0,
                      "{}: positive id {} at position {} is outside the "
                      "table's {} rows",
                      op, bad < 0 ? 0 : indexAt(pos, bad), bad, s.V);
  for (int64_t i = 0; i < neg.numel(); ++i) {
    int64_t id = indexAt(neg, i);
    bool counted = s.shared || !m || m[i / std::max<int64_t>(s.N, 1)];
    ONEREC_KERNEL_CHECK(call, !counted || (id >= 0 && id < s.V),
                        "{}: negative id {} at position {} is outside the "
                        "table's {} rows",
                        op, id, i, s.V);
  }
  return Status::ok();
}

template <KernelVariant V>
Status sampledSoftmaxGradKernel(const KernelCall &call) {
  SampledShape s;
  std::vector<double> coef;
  if (Status st = checkSampledGrad(call, s, coef); !st)
    return st;
  const TensorView &pos = call.in(2), &neg = call.in(3);
  const float *h = call.in(0).as<const float>(),
              *table = call.in(1).as<const float>();
  float *dh = optionalResult(call, 0), *dtable = optionalResult(call, 1);
  int64_t P = s.P, N = s.N, d = s.d, S = N + 1;
  // Row of score j (0 = the positive) of position p.
  auto rowOf = [&](int64_t p, int64_t j) {
    return j == 0 ? indexAt(pos, p)
                  : indexAt(neg, s.shared ? j - 1 : p * N + j - 1);
  };
  // remove_hits: score j > 0 is an accidental hit when its row is the
  // positive's; it is left out of the softmax (score -inf, ds 0).
  bool removeHits = call.attr().getInt("remove_hits", 0) != 0;
  auto hit = [&](int64_t p, int64_t j) {
    return removeHits && j > 0 && rowOf(p, j) == indexAt(pos, p);
  };
  if constexpr (V == kRef) {
    std::vector<double> gh(size_t(P * d), 0.0),
        gt(dtable ? size_t(s.V * d) : 0, 0.0), score(static_cast<size_t>(S));
    for (int64_t p = 0; p < P; ++p) {
      double c = coef[size_t(p)];
      if (c == 0)
        continue;
      for (int64_t j = 0; j < S; ++j) {
        if (hit(p, j)) {
          score[size_t(j)] = -std::numeric_limits<double>::infinity();
          continue;
        }
        double dot = 0;
        for (int64_t i = 0; i < d; ++i)
          dot += double(h[p * d + i]) * table[rowOf(p, j) * d + i];
        score[size_t(j)] = dot;
      }
      double mx = *std::max_element(score.begin(), score.end()), sum = 0;
      for (double v : score)
        sum += std::exp(v - mx);
      for (int64_t j = 0; j < S; ++j) {
        if (hit(p, j))
          continue;
        double ds =
            c * (std::exp(score[size_t(j)] - mx) / sum - (j == 0 ? 1.0 : 0.0));
        int64_t row = rowOf(p, j);
        for (int64_t i = 0; i < d; ++i) {
          gh[size_t(p * d + i)] += ds * table[row * d + i];
          if (dtable)
            gt[size_t(row * d + i)] += ds * h[p * d + i];
        }
      }
    }
    if (dh)
      for (int64_t i = 0; i < P * d; ++i)
        dh[i] = float(gh[size_t(i)]);
    if (dtable)
      for (int64_t i = 0; i < s.V * d; ++i)
        dtable[i] = float(gt[size_t(i)]);
    return Status::ok();
  }
  // 1. Per position: scores, ds (kept for the table pass), dh.
  std::vector<float> ds(size_t(P * S), 0.0f);
  parallelFor(call, P, grainFor(S * d), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      float c = float(coef[size_t(p)]);
      float *dsp = &ds[size_t(p * S)];
      if (c == 0.0f) {
        if (dh)
          std::fill(dh + p * d, dh + (p + 1) * d, 0.0f);
        continue;
      }
      const float *hp = h + p * d;
      for (int64_t j = 0; j < S; ++j)
        dsp[j] = hit(p, j) ? -std::numeric_limits<float>::infinity()
                           : dotLanes(hp, table + rowOf(p, j) * d, d);
      float mx = maxF32(dsp, S);
      float scale = c / expShiftSum(dsp, dsp, S, mx);
      for (int64_t j = 0; j < S; ++j)
        dsp[j] *= scale;
      dsp[0] -= c;
      if (dh) {
        float *out = dh + p * d;
        std::fill(out, out + d, 0.0f);
        for (int64_t j = 0; j < S; ++j) {
          const float *row = table + rowOf(p, j) * d;
          for (int64_t i = 0; i < d; ++i)
            out[i] += dsp[j] * row[i];
        }
      }
    }
  });
  if (!dtable)
    return Status::ok();
  // 2. dtable by row partitions (as EmbeddingGrad): a stable counting sort
  // of the (position, score) pairs, then each partition adds its pairs in
  // order.
  int64_t rowsPerPart =
      std::max<int64_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)),
                        (s.V + 4095) / 4096);
  int64_t parts = (s.V + rowsPerPart - 1) / rowsPerPart, pairs = P * S;
  std::vector<int64_t> start(size_t(parts + 1), 0), order;
  auto counted = [&](int64_t pair) {
    return coef[size_t(pair / S)] != 0 && !hit(pair / S, pair % S);
  };
  for (int64_t pair = 0; pair < pairs; ++pair)
    if (counted(pair))
      ++start[size_t(rowOf(pair / S, pair % S) / rowsPerPart + 1)];
  for (int64_t p = 0; p < parts; ++p)
    start[size_t(p + 1)] += start[size_t(p)];
  order.resize(size_t(start[size_t(parts)]));
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t pair = 0; pair < pairs; ++pair)
      if (counted(pair))
        order[size_t(next[size_t(rowOf(pair / S, pair % S) / rowsPerPart)]++)] =
            pair;
  }
  parallelFor(call, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) {
      int64_t r0 = part * rowsPerPart, r1 = std::min(s.V, r0 + rowsPerPart);
      std::fill(dtable + r0 * d, dtable + r1 * d, 0.0f);
      for (int64_t k = start[size_t(part)]; k < start[size_t(part + 1)]; ++k) {
        int64_t pair = order[size_t(k)], p = pair / S;
        float *row = dtable + rowOf(p, pair % S) * d;
        float g = ds[size_t(pair)];
        const float *hp = h + p * d;
        for (int64_t i = 0; i < d; ++i)
          row[i] += g * hp[i];
      }
    }
  });
  return Status::ok();
}

} // namespace

void onerec::kernels::registerLossGradKernels(KernelRegistry &r) {
  addCpu(r, OpCode::CrossEntropyGrad, DType::f32, crossEntropyGradKernel<kRef>,
         crossEntropyGradKernel<kOpt>);
  addCpu(r, OpCode::BceWithLogitsGrad, DType::f32, bceGradKernel<kRef>,
         bceGradKernel<kOpt>);
  addCpu(r, OpCode::SampledSoftmaxGrad, DType::f32,
         sampledSoftmaxGradKernel<kRef>, sampledSoftmaxGradKernel<kOpt>);
}
