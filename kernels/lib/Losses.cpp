//===- Losses.cpp - cross-entropy, BCE, sampled softmax, DPO, ECPO --------===//
//
// Losses compute one value per element (position, sequence), then reduce:
// `none` writes them (masked elements 0), `sum` adds the counted ones,
// `mean` divides by their count (0 when nothing is counted). The reduction
// is one ordered pass in double for both variants, so losses are
// bit-reproducible whatever the thread count. Labels, positives and
// negatives are ids from user data: every counted one is range-checked.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include "onerec/Kernels/Gemm.h"

#include <limits>

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

/// Accumulation type of a variant: double for references.
template <KernelVariant V>
using Real = std::conditional_t<V == kRef, double, float>;

Status checkMask(const KernelCall &call, const char *op, const TensorView *mask,
                 int64_t n) {
  ONEREC_KERNEL_CHECK(
      call, !mask || (mask->dtype == DType::bool8 && mask->numel() == n),
      "{}: the mask must be {} booleans", op, n);
  return Status::ok();
}

Status checkReduction(const KernelCall &call, const char *op, int64_t n) {
  int64_t reduction = call.attr().getInt("reduction");
  ONEREC_KERNEL_CHECK(call, reduction >= 0 && reduction <= 2,
                      "{}: unknown reduction {}", op, reduction);
  ONEREC_KERNEL_CHECK(
      call,
      call.out(0).dtype == DType::f32 &&
          call.out(0).numel() == (reduction == 2 ? n : 1),
      "{}: the result {} does not fit reduction {} of {} elements", op,
      call.out(0).shape.toString(), reduction, n);
  return Status::ok();
}

/// Writes per-element losses `values` reduced as the call asks.
template <typename Acc>
void finishLoss(const KernelCall &call, const Acc *values, const uint8_t *mask,
                int64_t n) {
  int64_t reduction = call.attr().getInt("reduction");
  float *out = call.out(0).as<float>();
  if (reduction == 2) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = mask && !mask[i] ? 0.0f : float(values[i]);
    return;
  }
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i)
    if (!mask || mask[i]) {
      sum += double(values[i]);
      ++count;
    }
  out[0] = float(reduction == 1 ? sum : (count ? sum / double(count) : 0.0));
}

const uint8_t *maskData(const TensorView *mask) {
  return mask ? mask->as<const uint8_t>() : nullptr;
}

/// log(1 + e^x) without overflow.
template <typename R> inline R softplus(R x) {
  return std::max(x, R(0)) + std::log1p(std::exp(-std::fabs(x)));
}

//===----------------------------------------------------------------------===//
// CrossEntropy, BceWithLogits
//===----------------------------------------------------------------------===//

template <KernelVariant V> Status crossEntropyKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "cross_entropy", 2, 3, 1); !st)
    return st;
  const TensorView &logits = call.in(0), &labels = call.in(1);
  const TensorView *mask = optionalInput(call, 2);
  int64_t C = logits.shape.last(), n = C ? logits.numel() / C : 0;
  ONEREC_KERNEL_CHECK(call,
                      logits.shape.rank >= 1 && labels.numel() == n &&
                          isIndexType(labels.dtype),
                      "cross_entropy: labels {} do not fit logits {}",
                      labels.shape.toString(), logits.shape.toString());
  if (Status st = checkMask(call, "cross_entropy", mask, n); !st)
    return st;
  if (Status st = checkReduction(call, "cross_entropy", n); !st)
    return st;
  const uint8_t *m = maskData(mask);
  int64_t bad = firstIndexOutOfRange(labels, C, m);
  ONEREC_KERNEL_CHECK(
      call, bad < 0,
      "cross_entropy: label {} at position {} is outside the {} "
      "classes",
      bad < 0 ? 0 : indexAt(labels, bad), bad, C);
  double eps = call.attr().getFloat("label_smoothing");
  const float *x = logits.as<const float>();
  using R = Real<V>;
  std::vector<R> loss(size_t(n), R(0));
  auto rowLoss = [&](int64_t r) {
    const float *row = x + r * C;
    R lse, mean;
    if constexpr (V == kRef) {
      double mx = -INFINITY, sum = 0, total = 0;
      for (int64_t c = 0; c < C; ++c)
        mx = std::max(mx, double(row[c]));
      for (int64_t c = 0; c < C; ++c) {
        sum += std::exp(double(row[c]) - mx);
        total += row[c];
      }
      lse = mx + std::log(sum);
      mean = total / double(C);
    } else {
      float mx = maxF32(row, C);
      lse = mx + std::log(sumExpShift(row, C, mx));
      mean = sumLanes(row, C) / float(C);
    }
    R nll = lse - R(row[indexAt(labels, r)]);
    loss[size_t(r)] = R(1 - eps) * nll + R(eps) * (lse - mean);
  };
  if constexpr (V == kRef) {
    for (int64_t r = 0; r < n; ++r)
      if (!m || m[r])
        rowLoss(r);
  } else {
    parallelFor(call, n, grainFor(C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        if (!m || m[r])
          rowLoss(r);
    });
  }
  finishLoss(call, loss.data(), m, n);
  return Status::ok();
}

template <KernelVariant V> Status bceKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "bce_with_logits", 2, 3, 1); !st)
    return st;
  const TensorView *mask = optionalInput(call, 2);
  int64_t n = call.in(0).numel();
  ONEREC_KERNEL_CHECK(call,
                      call.in(1).numel() == n && call.in(1).dtype == DType::f32,
                      "bce_with_logits: labels {} do not fit logits {}",
                      call.in(1).shape.toString(), call.in(0).shape.toString());
  if (Status st = checkMask(call, "bce_with_logits", mask, n); !st)
    return st;
  if (Status st = checkReduction(call, "bce_with_logits", n); !st)
    return st;
  const float *x = call.in(0).as<const float>(),
              *y = call.in(1).as<const float>();
  using R = Real<V>;
  std::vector<R> loss(static_cast<size_t>(n));
  auto range = [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      R xi = x[i];
      loss[size_t(i)] = softplus(xi) - xi * R(y[i]);
    }
  };
  if constexpr (V == kRef)
    range(0, n);
  else
    parallelFor(call, n, 8192, range);
  finishLoss(call, loss.data(), maskData(mask), n);
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// SampledSoftmax
//===----------------------------------------------------------------------===//

template <KernelVariant V> Status sampledSoftmaxKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "sampled_softmax", 4, 5, 1); !st)
    return st;
  const TensorView &h = call.in(0), &table = call.in(1), &pos = call.in(2),
                   &neg = call.in(3);
  const TensorView *mask = optionalInput(call, 4);
  int64_t d = h.shape.last(), P = d ? h.numel() / d : 0;
  bool shared = neg.shape.rank == 1;
  int64_t N = neg.shape.last();
  ONEREC_KERNEL_CHECK(
      call,
      h.shape.rank >= 1 && table.shape.rank == 2 && table.shape[1] == d &&
          pos.numel() == P && isIndexType(pos.dtype) &&
          isIndexType(neg.dtype) && (shared || neg.numel() == P * N),
      "sampled_softmax: h {}, table {}, positives {}, negatives {} do not fit",
      h.shape.toString(), table.shape.toString(), pos.shape.toString(),
      neg.shape.toString());
  if (Status st = checkMask(call, "sampled_softmax", mask, P); !st)
    return st;
  if (Status st = checkReduction(call, "sampled_softmax", P); !st)
    return st;
  const uint8_t *m = maskData(mask);
  int64_t V_ = table.shape[0];
  int64_t bad = firstIndexOutOfRange(pos, V_, m);
  ONEREC_KERNEL_CHECK(
      call, bad < 0,
      "sampled_softmax: positive id {} at position {} is outside "
      "the table's {} rows",
      bad < 0 ? 0 : indexAt(pos, bad), bad, V_);
  for (int64_t i = 0; i < neg.numel(); ++i) {
    int64_t id = indexAt(neg, i);
    bool counted = shared || !m || m[i / std::max<int64_t>(N, 1)];
    ONEREC_KERNEL_CHECK(
        call, !counted || (id >= 0 && id < V_),
        "sampled_softmax: negative id {} at position {} is outside the table's "
        "{} rows",
        id, i, V_);
  }
  const float *hv = h.as<const float>(), *tv = table.as<const float>();
  auto negId = [&](int64_t p, int64_t j) {
    return indexAt(neg, shared ? j : p * N + j);
  };
  // remove_hits: a negative equal to the position's positive scores -inf
  // (left out of the softmax).
  bool removeHits = call.attr().getInt("remove_hits", 0) != 0;
  auto hit = [&](int64_t p, int64_t j) {
    return removeHits && negId(p, j) == indexAt(pos, p);
  };
  using R = Real<V>;
  std::vector<R> loss(size_t(P), R(0));
  if constexpr (V == kRef) {
    std::vector<double> score(size_t(N + 1));
    for (int64_t p = 0; p < P; ++p) {
      if (m && !m[p])
        continue;
      auto dot = [&](int64_t row) {
        double acc = 0;
        for (int64_t i = 0; i < d; ++i)
          acc += double(hv[p * d + i]) * tv[row * d + i];
        return acc;
      };
      score[0] = dot(indexAt(pos, p));
      for (int64_t j = 0; j < N; ++j)
        score[size_t(j + 1)] = hit(p, j)
                                   ? -std::numeric_limits<double>::infinity()
                                   : dot(negId(p, j));
      double mx = *std::max_element(score.begin(), score.end()), sum = 0;
      for (double s : score)
        sum += std::exp(s - mx);
      loss[size_t(p)] = mx + std::log(sum) - score[0];
    }
  } else {
    // Shared negatives: gather their rows once and score a block of
    // positions against all of them with one GEMM.
    std::vector<float> negRows, scores;
    constexpr int64_t kBlock = 2048;
    if (shared) {
      negRows.resize(size_t(N * d));
      for (int64_t j = 0; j < N; ++j)
        std::memcpy(&negRows[size_t(j * d)], tv + negId(0, j) * d,
                    size_t(d) * sizeof(float));
      scores.resize(size_t(std::min(P, kBlock) * N));
    }
    for (int64_t p0 = 0; p0 < P; p0 += kBlock) {
      int64_t np = std::min(kBlock, P - p0);
      if (shared && N > 0) {
        GemmArgs g;
        g.transB = true;
        g.m = np, g.n = N, g.k = d;
        g.a = hv + p0 * d, g.lda = d, g.b = negRows.data(), g.ldb = d;
        g.c = scores.data(), g.ldc = N;
        parallelSgemm(pool(call), g);
      }
      parallelFor(call, np, grainFor(N * d), [&](int64_t lo, int64_t hi) {
        std::vector<float> row(size_t(N + 1));
        for (int64_t q = lo; q < hi; ++q) {
          int64_t p = p0 + q;
          if (m && !m[p])
            continue;
          const float *hp = hv + p * d;
          row[0] = dotLanes(hp, tv + indexAt(pos, p) * d, d);
          // Hits are masked after the shared negatives' GEMM.
          for (int64_t j = 0; j < N; ++j)
            row[size_t(j + 1)] =
                hit(p, j) ? -std::numeric_limits<float>::infinity()
                : shared  ? scores[size_t(q * N + j)]
                          : dotLanes(hp, tv + negId(p, j) * d, d);
          float mx = maxF32(row.data(), N + 1);
          loss[size_t(p)] =
              mx + std::log(sumExpShift(row.data(), N + 1, mx)) - row[0];
        }
      });
    }
  }
  finishLoss(call, loss.data(), m, P);
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// DpoLoss, EcpoLoss: sequence-level objectives over [B]; O(B) work, so the
// optimized variant is the same loop in float, without threads.
//===----------------------------------------------------------------------===//

template <KernelVariant V> Status dpoKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "dpo_loss", 4, 4, 1); !st)
    return st;
  int64_t n = call.in(0).numel();
  for (int i = 1; i < 4; ++i)
    ONEREC_KERNEL_CHECK(
        call, call.in(i).numel() == n && call.in(i).dtype == DType::f32,
        "dpo_loss: operand {} {} differs from [{}]", i,
        call.in(i).shape.toString(), n);
  ONEREC_KERNEL_CHECK(call, call.out(0).numel() == 1,
                      "dpo_loss: the result is a scalar");
  using R = Real<V>;
  R beta = R(call.attr().getFloat("beta"));
  const float *pw = call.in(0).as<const float>(),
              *pl = call.in(1).as<const float>(),
              *rw = call.in(2).as<const float>(),
              *rl = call.in(3).as<const float>();
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    R z = beta * ((R(pw[i]) - R(rw[i])) - (R(pl[i]) - R(rl[i])));
    sum += double(softplus(-z)); // -log sigmoid(z)
  }
  call.out(0).as<float>()[0] = float(n ? sum / double(n) : 0.0);
  return Status::ok();
}

template <KernelVariant V> Status ecpoKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "ecpo_loss", 3, 4, 1); !st)
    return st;
  int64_t n = call.in(0).numel();
  for (int i = 1; i < 3; ++i)
    ONEREC_KERNEL_CHECK(
        call, call.in(i).numel() == n && call.in(i).dtype == DType::f32,
        "ecpo_loss: operand {} {} differs from [{}]", i,
        call.in(i).shape.toString(), n);
  const TensorView *mask = optionalInput(call, 3);
  if (Status st = checkMask(call, "ecpo_loss", mask, n); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.out(0).numel() == 1,
                      "ecpo_loss: the result is a scalar");
  using R = Real<V>;
  R eps = R(call.attr().getFloat("epsilon")),
    delta = R(call.attr().getFloat("delta"));
  R logCap = std::log(R(1) + eps + delta);
  const float *logp = call.in(0).as<const float>(),
              *old = call.in(1).as<const float>(),
              *adv = call.in(2).as<const float>();
  const uint8_t *m = maskData(mask);
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (m && !m[i])
      continue;
    R oldC = std::max(R(logp[i]) - logCap, R(old[i]));
    R ratio = std::exp(R(logp[i]) - oldC), a = R(adv[i]);
    R clipped = std::min(std::max(ratio, R(1) - eps), R(1) + eps);
    sum += double(std::min(ratio * a, clipped * a));
    ++count;
  }
  call.out(0).as<float>()[0] = float(count ? -sum / double(count) : 0.0);
  return Status::ok();
}

} // namespace

void onerec::kernels::registerLossKernels(KernelRegistry &r) {
  addCpu(r, OpCode::CrossEntropy, DType::f32, crossEntropyKernel<kRef>,
         crossEntropyKernel<kOpt>);
  addCpu(r, OpCode::BceWithLogits, DType::f32, bceKernel<kRef>,
         bceKernel<kOpt>);
  addCpu(r, OpCode::SampledSoftmax, DType::f32, sampledSoftmaxKernel<kRef>,
         sampledSoftmaxKernel<kOpt>);
  addCpu(r, OpCode::DpoLoss, DType::f32, dpoKernel<kRef>, dpoKernel<kOpt>);
  addCpu(r, OpCode::EcpoLoss, DType::f32, ecpoKernel<kRef>, ecpoKernel<kOpt>);
}
