//===- Optimizers.cpp - GlobalNorm, AdamW, SGD and in-place updates -------===//
//
// The ops of a training step after the backward pass (docs/training.md):
// the global gradient norm for clipping, the AdamW/Adam and SGD updates in
// PyTorch's formulas, the auxiliary-loss-free MoE bias update, gradient
// accumulation and Fill. All but GlobalNorm have no results: they write
// their in-place operands, parameters of a TrainStep entry.
//
// optimizer.hparams is f32[8]: lr, beta1 | momentum, beta2 | nesterov, eps,
// weight_decay, grad_clip, grad scale, reserved. The hyperparameters come
// from the driver's command line, so the kernels check them like data.
//
// Optimized kernels: elementwise loops over fixed chunks in parallel; the
// norm's partial sums are per fixed chunk (double) and added in order, so
// every result is independent of the thread count.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

constexpr int64_t kChunk = 16384;

//===----------------------------------------------------------------------===//
// GlobalNorm
//===----------------------------------------------------------------------===//

/// Σ g² of one tensor in double. Optimized: partial sums per fixed chunk
/// (16 float lanes over runs of 256, then double), added in chunk order.
double chunkSumOfSquares(const float *g, int64_t begin, int64_t end) {
  double sum = 0;
  for (int64_t j = begin; j < end; j += 256) {
    int64_t len = std::min<int64_t>(256, end - j);
    sum += double(dotLanes(g + j, g + j, len));
  }
  return sum;
}

/// Adds Σ g² of `tensors` to `total`, in tensor order; the fused updates
/// call it with their gradients, so their norm is GlobalNorm's bit for bit.
template <KernelVariant V>
void addSumOfSquares(const KernelCall &call,
                     const std::vector<const TensorView *> &tensors,
                     double &total) {
  if constexpr (V == kRef) {
    for (const TensorView *t : tensors) {
      const float *g = t->as<const float>();
      for (int64_t j = 0, n = t->numel(); j < n; ++j)
        total += double(g[j]) * g[j];
    }
    return;
  }
  // Every (tensor, chunk) is one piece; one parallel loop over all pieces.
  struct Piece {
    const float *g;
    int64_t begin, end;
  };
  std::vector<Piece> pieces;
  for (const TensorView *t : tensors)
    for (int64_t begin = 0, n = t->numel(); begin < n; begin += kChunk)
      pieces.push_back(
          {t->as<const float>(), begin, std::min(n, begin + kChunk)});
  std::vector<double> partial(pieces.size(), 0.0);
  parallelFor(call, int64_t(pieces.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c)
      partial[size_t(c)] = chunkSumOfSquares(
          pieces[size_t(c)].g, pieces[size_t(c)].begin, pieces[size_t(c)].end);
  });
  for (double p : partial)
    total += p;
}

template <KernelVariant V> Status globalNormKernel(const KernelCall &call) {
  ONEREC_KERNEL_CHECK(call, call.numInputs >= 1 && call.numOutputs == 1,
                      "global_norm: expected gradients and one result");
  ONEREC_KERNEL_CHECK(call,
                      call.out(0).present() && call.out(0).numel() == 1 &&
                          call.out(0).dtype == DType::f32,
                      "global_norm: the result is an f32 scalar");
  std::vector<const TensorView *> tensors;
  for (int i = 0; i < call.numInputs; ++i) {
    ONEREC_KERNEL_CHECK(call,
                        call.in(i).present() && call.in(i).dtype == DType::f32,
                        "global_norm: operand {} must be an f32 tensor", i);
    tensors.push_back(&call.in(i));
  }
  double total = 0;
  addSumOfSquares<V>(call, tensors, total);
  call.out(0).as<float>()[0] = float(std::sqrt(total));
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// AdamW / Adam, SGD
//===----------------------------------------------------------------------===//

/// The hyperparameters of one update, checked.
struct Hyper {
  double lr, beta1, beta2, eps, wd, clip, scale;
  int64_t step;
  /// grad · gradScale is the scaled, clipped gradient.
  double gradScale;
};

/// Reads step and hparams (operands stepIndex, stepIndex + 1) and, with
/// clipping, scales by the global norm `*norm` (null: the plan has none).
Status readHyperWithNorm(const KernelCall &call, const char *op, int stepIndex,
                         const float *norm, Hyper &h) {
  const TensorView &step = call.in(stepIndex), &hp = call.in(stepIndex + 1);
  ONEREC_KERNEL_CHECK(call, isIndexType(step.dtype) && step.numel() == 1,
                      "{}: optimizer.step must be an integer scalar", op);
  ONEREC_KERNEL_CHECK(call, hp.dtype == DType::f32 && hp.numel() == 8,
                      "{}: optimizer.hparams must be f32[8]", op);
  h.step = indexAt(step, 0);
  ONEREC_KERNEL_CHECK(call, h.step >= 1,
                      "{}: optimizer.step is {}; updates are numbered from 1",
                      op, h.step);
  const float *v = hp.as<const float>();
  h.lr = v[0], h.beta1 = v[1], h.beta2 = v[2], h.eps = v[3], h.wd = v[4];
  h.clip = v[5], h.scale = v[6];
  for (int i = 0; i < 7; ++i)
    ONEREC_KERNEL_CHECK(call, std::isfinite(v[i]) && v[i] >= 0,
                        "{}: optimizer.hparams[{}] is {}, expected a finite "
                        "value >= 0",
                        op, i, v[i]);
  ONEREC_KERNEL_CHECK(call, h.clip == 0 || norm,
                      "{}: grad_clip is {} but the plan passes no gradient "
                      "norm to clip by",
                      op, h.clip);
  double c = 1;
  if (h.clip > 0)
    c = std::min(1.0, h.clip / (double(*norm) * h.scale + 1e-6));
  h.gradScale = h.scale * c;
  return Status::ok();
}

Status readHyper(const KernelCall &call, const char *op, int paramIndex,
                 int stepIndex, int normIndex, Hyper &h) {
  const TensorView &param = call.in(paramIndex);
  ONEREC_KERNEL_CHECK(call, param.dtype == DType::f32,
                      "{}: expected an f32 parameter", op);
  const TensorView *norm = optionalInput(call, normIndex);
  ONEREC_KERNEL_CHECK(
      call, !norm || (norm->dtype == DType::f32 && norm->numel() == 1),
      "{}: the global norm must be an f32 scalar", op);
  return readHyperWithNorm(call, op, stepIndex,
                           norm ? norm->as<const float>() : nullptr, h);
}

Status checkSameSize(const KernelCall &call, const char *op, int i,
                     const char *what) {
  ONEREC_KERNEL_CHECK(call,
                      call.in(i).dtype == DType::f32 &&
                          call.in(i).numel() == call.in(0).numel(),
                      "{}: {} {} must match the parameter {}", op, what,
                      call.in(i).shape.toString(), call.in(0).shape.toString());
  return Status::ok();
}

/// Runs body(begin, end) over [0, n): one loop for references, fixed chunks
/// in parallel for optimized kernels.
template <KernelVariant V, typename Body>
void elementLoop(const KernelCall &call, int64_t n, Body &&body) {
  if constexpr (V == kRef)
    body(int64_t(0), n);
  else
    parallelFor(call, (n + kChunk - 1) / kChunk, 1,
                [&](int64_t lo, int64_t hi) {
                  body(lo * kChunk, std::min(n, hi * kChunk));
                });
}

struct AdamScalars {
  float gs, b1, b2, c1, c2, l2, shrink, stepSize, invSqrtBc2, eps;
};

/// The optimized AdamW/Adam loop. The validator keeps param, m and v
/// distinct parameters and the gradient elsewhere, so nothing aliases.
void adamChunk(float *__restrict p, float *__restrict m, float *__restrict v,
               const float *__restrict g, int64_t n, AdamScalars c) {
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] * c.gs + c.l2 * p[i];
    float mi = c.b1 * m[i] + c.c1 * gi;
    float vi = c.b2 * v[i] + c.c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * c.shrink -
           c.stepSize * mi / (std::sqrt(vi) * c.invSqrtBc2 + c.eps);
  }
}

/// The optimized SGD loop (buf null without momentum).
void sgdChunk(float *__restrict p, float *__restrict buf,
              const float *__restrict g, int64_t n, float gs, float l2,
              float mu, float lr, bool first, bool nesterov) {
  if (!buf) {
    for (int64_t i = 0; i < n; ++i)
      p[i] -= lr * (g[i] * gs + l2 * p[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] * gs + l2 * p[i];
    float b = first ? gi : mu * buf[i] + gi;
    buf[i] = b;
    p[i] -= lr * (nesterov ? gi + mu * b : b);
  }
}

/// The per-update constants of AdamW / Adam for one decay flag.
struct AdamStep {
  Hyper h;
  bool decoupled;
  double bc1, bc2;

  AdamStep(const Hyper &hyper, bool decoupledUpdate)
      : h(hyper), decoupled(decoupledUpdate),
        bc1(1 - std::pow(hyper.beta1, double(hyper.step))),
        bc2(1 - std::pow(hyper.beta2, double(hyper.step))) {}

  /// The reference update of n elements, in double.
  void reference(float *p, float *m, float *v, const float *g, int64_t n,
                 bool decay) const {
    double wd = decay ? h.wd : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      double gi = double(g[i]) * h.gradScale, pi = p[i];
      if (!decoupled)
        gi += wd * pi;
      double mi = h.beta1 * m[i] + (1 - h.beta1) * gi;
      double vi = h.beta2 * v[i] + (1 - h.beta2) * gi * gi;
      if (decoupled)
        pi -= h.lr * wd * pi;
      pi -= h.lr * (mi / bc1) / (std::sqrt(vi / bc2) + h.eps);
      m[i] = float(mi), v[i] = float(vi), p[i] = float(pi);
    }
  }

  /// The optimized loop's constants. PyTorch's arrangement: step size
  /// lr / bc1, denominator √v / √bc2 + eps.
  AdamScalars scalars(bool decay) const {
    double wd = decay ? h.wd : 0.0;
    AdamScalars c;
    c.gs = float(h.gradScale), c.b1 = float(h.beta1), c.b2 = float(h.beta2);
    c.c1 = float(1 - h.beta1), c.c2 = float(1 - h.beta2);
    c.l2 = decoupled ? 0.0f : float(wd);
    c.shrink = decoupled ? float(1 - h.lr * wd) : 1.0f;
    c.stepSize = float(h.lr / bc1), c.invSqrtBc2 = float(1 / std::sqrt(bc2));
    c.eps = float(h.eps);
    return c;
  }
};

Status checkBetas(const KernelCall &call, const char *op, const Hyper &h) {
  ONEREC_KERNEL_CHECK(call, h.beta1 < 1 && h.beta2 < 1,
                      "{}: betas ({}, {}) must be below 1", op, h.beta1,
                      h.beta2);
  return Status::ok();
}

template <KernelVariant V> Status adamWKernel(const KernelCall &call) {
  const char *op = "adamw_update";
  if (Status st = checkCounts(call, op, 7, 0, 1u << 6); !st)
    return st;
  Hyper h;
  if (Status st = readHyper(call, op, 0, 4, 6, h); !st)
    return st;
  for (auto [i, what] : {std::pair<int, const char *>{1, "the gradient"},
                         {2, "the first moment"},
                         {3, "the second moment"}})
    if (Status st = checkSameSize(call, op, i, what); !st)
      return st;
  if (Status st = checkBetas(call, op, h); !st)
    return st;
  AdamStep adam(h, call.attr().getInt("decoupled") != 0);
  bool decay = call.attr().getInt("decay") != 0;
  float *p = call.in(0).as<float>(), *m = call.in(2).as<float>(),
        *v = call.in(3).as<float>();
  const float *g = call.in(1).as<const float>();
  int64_t n = call.in(0).numel();
  if constexpr (V == kRef) {
    adam.reference(p, m, v, g, n, decay);
    return Status::ok();
  }
  AdamScalars c = adam.scalars(decay);
  elementLoop<V>(call, n, [&](int64_t lo, int64_t hi) {
    adamChunk(p + lo, m + lo, v + lo, g + lo, hi - lo, c);
  });
  return Status::ok();
}

/// The per-update constants of SGD.
struct SgdStep {
  Hyper h;
  double mu;
  bool nesterov, first;

  explicit SgdStep(const Hyper &hyper)
      : h(hyper), mu(hyper.beta1), nesterov(hyper.beta2 != 0),
        first(hyper.step == 1) {}

  /// The reference update of n elements (buf unused without momentum).
  void reference(float *p, float *buf, const float *g, int64_t n,
                 bool decay) const {
    double wd = decay ? h.wd : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      double gi = double(g[i]) * h.gradScale + wd * p[i];
      double d = gi;
      if (mu != 0) {
        double b = first ? gi : mu * buf[i] + gi;
        buf[i] = float(b);
        d = nesterov ? gi + mu * b : b;
      }
      p[i] = float(p[i] - h.lr * d);
    }
  }

  /// The optimized loop over n elements.
  void optimized(float *p, float *buf, const float *g, int64_t n,
                 bool decay) const {
    float m = float(mu);
    sgdChunk(p, m != 0.0f ? buf : nullptr, g, n, float(h.gradScale),
             decay ? float(h.wd) : 0.0f, m, float(h.lr), first, nesterov);
  }
};

template <KernelVariant V> Status sgdKernel(const KernelCall &call) {
  const char *op = "sgd_update";
  if (Status st = checkCounts(call, op, 6, 0, 1u << 2 | 1u << 5); !st)
    return st;
  Hyper h;
  if (Status st = readHyper(call, op, 0, 3, 5, h); !st)
    return st;
  if (Status st = checkSameSize(call, op, 1, "the gradient"); !st)
    return st;
  const TensorView *buffer = optionalInput(call, 2);
  if (buffer)
    if (Status st = checkSameSize(call, op, 2, "the momentum buffer"); !st)
      return st;
  SgdStep sgd(h);
  ONEREC_KERNEL_CHECK(call, sgd.mu == 0 || buffer,
                      "{}: momentum is {} but the plan has no momentum buffer "
                      "for this parameter (compile with momentum > 0)",
                      op, sgd.mu);
  bool decay = call.attr().getInt("decay") != 0;
  float *p = call.in(0).as<float>();
  float *buf = buffer ? buffer->as<float>() : nullptr;
  const float *g = call.in(1).as<const float>();
  int64_t n = call.in(0).numel();
  if constexpr (V == kRef) {
    sgd.reference(p, buf, g, n, decay);
    return Status::ok();
  }
  elementLoop<V>(call, n, [&](int64_t lo, int64_t hi) {
    sgd.optimized(p + lo, buf ? buf + lo : nullptr, g + lo, hi - lo, decay);
  });
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// MultiAdamWUpdate, MultiSgdUpdate (1.2)
//===----------------------------------------------------------------------===//

/// The operands of a multi-tensor update: n parameters and `streams` - 1
/// more segments of n (gradients, then state), then step and hparams.
struct MultiOperands {
  int n = 0;
  int streams = 0;
  const TensorView &at(const KernelCall &call, int stream, int i) const {
    return call.in(stream * n + i);
  }
};

/// Checks what the validator checks, for plans built by hand, and returns
/// the segment layout.
Status checkMulti(const KernelCall &call, const char *op, int streams,
                  MultiOperands &ops) {
  ONEREC_KERNEL_CHECK(call,
                      call.numInputs >= streams + 2 &&
                          (call.numInputs - 2) % streams == 0 &&
                          call.numOutputs == 1,
                      "{}: expected {} segments of equal length, step, "
                      "hparams and one result, got {} operands and {} results",
                      op, streams, call.numInputs, call.numOutputs);
  ops.n = (call.numInputs - 2) / streams;
  ops.streams = streams;
  for (int i = 0; i < call.numInputs; ++i)
    ONEREC_KERNEL_CHECK(call, call.in(i).present(),
                        "{}: operand {} has no data", op, i);
  ONEREC_KERNEL_CHECK(call,
                      call.out(0).present() && call.out(0).numel() == 1 &&
                          call.out(0).dtype == DType::f32,
                      "{}: the result (the global norm) is an f32 scalar", op);
  ONEREC_KERNEL_CHECK(call,
                      call.attr().getInts("decay").size() == size_t(ops.n),
                      "{}: {} decay flags for {} parameters", op,
                      call.attr().getInts("decay").size(), ops.n);
  for (int i = 0; i < ops.n; ++i) {
    const TensorView &p = ops.at(call, 0, i);
    ONEREC_KERNEL_CHECK(call, p.dtype == DType::f32,
                        "{}: parameter {} must be f32", op, i);
    for (int s = 1; s < streams; ++s) {
      const TensorView &t = ops.at(call, s, i);
      ONEREC_KERNEL_CHECK(call, t.dtype == DType::f32 && t.numel() == p.numel(),
                          "{}: operand {} {} must match parameter {} {}", op,
                          s * ops.n + i, t.shape.toString(), i,
                          p.shape.toString());
    }
  }
  return Status::ok();
}

/// Computes the global norm of the gradients (segment 1) into the result
/// and reads the hyperparameters with it.
template <KernelVariant V>
Status multiNormAndHyper(const KernelCall &call, const char *op,
                         const MultiOperands &ops, Hyper &h) {
  std::vector<const TensorView *> grads;
  for (int i = 0; i < ops.n; ++i)
    grads.push_back(&ops.at(call, 1, i));
  double total = 0;
  addSumOfSquares<V>(call, grads, total);
  float *norm = call.out(0).as<float>();
  norm[0] = float(std::sqrt(total));
  return readHyperWithNorm(call, op, ops.streams * ops.n, norm, h);
}

/// A flat range of the update: tensors [first, last) whose elements lie
/// back to back in every stream (the parameter store's flat buffers and an
/// arena that placed the gradients so), with one decay flag. A layout that
/// is not flat gives a run per tensor; results are the same either way.
struct Run {
  int first;
  int64_t elements;
  bool decay;
};

std::vector<Run> flatRuns(const KernelCall &call, const MultiOperands &ops) {
  const std::vector<int64_t> &decay = call.attr().getInts("decay");
  std::vector<Run> runs;
  for (int i = 0; i < ops.n; ++i) {
    int64_t n = ops.at(call, 0, i).numel();
    bool flag = decay[size_t(i)] != 0;
    bool extends = false;
    if (!runs.empty() && runs.back().decay == flag) {
      extends = true;
      for (int s = 0; s < ops.streams && extends; ++s) {
        auto end = reinterpret_cast<uintptr_t>(
                       ops.at(call, s, runs.back().first).as<const float>()) +
                   uintptr_t(runs.back().elements) * sizeof(float);
        extends = end == reinterpret_cast<uintptr_t>(
                             ops.at(call, s, i).as<const float>());
      }
    }
    if (extends)
      runs.back().elements += n;
    else
      runs.push_back({i, n, flag});
  }
  return runs;
}

/// Runs body(run, lo, hi) over every run in fixed chunks, in parallel.
template <typename Body>
void forEachChunk(const KernelCall &call, const std::vector<Run> &runs,
                  Body &&body) {
  struct Piece {
    size_t run;
    int64_t begin, end;
  };
  std::vector<Piece> pieces;
  for (size_t r = 0; r < runs.size(); ++r)
    for (int64_t b = 0; b < runs[r].elements; b += kChunk)
      pieces.push_back({r, b, std::min(runs[r].elements, b + kChunk)});
  parallelFor(call, int64_t(pieces.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Piece &piece = pieces[size_t(c)];
      body(runs[piece.run], piece.begin, piece.end);
    }
  });
}

template <KernelVariant V> Status multiAdamWKernel(const KernelCall &call) {
  const char *op = "multi_adamw_update";
  MultiOperands ops;
  if (Status st = checkMulti(call, op, 4, ops); !st)
    return st;
  Hyper h;
  if (Status st = multiNormAndHyper<V>(call, op, ops, h); !st)
    return st;
  if (Status st = checkBetas(call, op, h); !st)
    return st;
  AdamStep adam(h, call.attr().getInt("decoupled") != 0);
  auto ptr = [&](int stream, int i) {
    return ops.at(call, stream, i).as<float>();
  };
  if constexpr (V == kRef) {
    const std::vector<int64_t> &decay = call.attr().getInts("decay");
    for (int i = 0; i < ops.n; ++i)
      adam.reference(ptr(0, i), ptr(2, i), ptr(3, i), ptr(1, i),
                     ops.at(call, 0, i).numel(), decay[size_t(i)] != 0);
    return Status::ok();
  }
  AdamScalars withDecay = adam.scalars(true), noDecay = adam.scalars(false);
  forEachChunk(call, flatRuns(call, ops),
               [&](const Run &run, int64_t lo, int64_t hi) {
                 adamChunk(ptr(0, run.first) + lo, ptr(2, run.first) + lo,
                           ptr(3, run.first) + lo, ptr(1, run.first) + lo,
                           hi - lo, run.decay ? withDecay : noDecay);
               });
  return Status::ok();
}

template <KernelVariant V> Status multiSgdKernel(const KernelCall &call) {
  const char *op = "multi_sgd_update";
  MultiOperands ops;
  if (Status st = checkMulti(call, op, 3, ops); !st)
    return st;
  Hyper h;
  if (Status st = multiNormAndHyper<V>(call, op, ops, h); !st)
    return st;
  SgdStep sgd(h);
  auto ptr = [&](int stream, int i) {
    return ops.at(call, stream, i).as<float>();
  };
  if constexpr (V == kRef) {
    const std::vector<int64_t> &decay = call.attr().getInts("decay");
    for (int i = 0; i < ops.n; ++i)
      sgd.reference(ptr(0, i), ptr(2, i), ptr(1, i), ops.at(call, 0, i).numel(),
                    decay[size_t(i)] != 0);
    return Status::ok();
  }
  forEachChunk(call, flatRuns(call, ops),
               [&](const Run &run, int64_t lo, int64_t hi) {
                 sgd.optimized(ptr(0, run.first) + lo, ptr(2, run.first) + lo,
                               ptr(1, run.first) + lo, hi - lo, run.decay);
               });
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// MoeBiasUpdate, AssignAdd, Fill
//===----------------------------------------------------------------------===//

template <KernelVariant V> Status moeBiasUpdateKernel(const KernelCall &call) {
  const char *op = "moe_bias_update";
  if (Status st = checkCounts(call, op, 3, 0); !st)
    return st;
  const TensorView &bias = call.in(0), &load = call.in(1);
  ONEREC_KERNEL_CHECK(call,
                      bias.dtype == DType::f32 && load.dtype == DType::f32 &&
                          load.numel() == bias.numel(),
                      "{}: load {} must match the bias {}", op,
                      load.shape.toString(), bias.shape.toString());
  double rate = call.attr().getFloat("rate");
  int64_t experts = bias.numel();
  const float *l = load.as<const float>();
  double mean = 0;
  for (int64_t e = 0; e < experts; ++e)
    mean += l[e];
  mean /= double(experts);
  float *b = bias.as<float>();
  for (int64_t e = 0; e < experts; ++e) {
    double diff = mean - double(l[e]);
    double sign = diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0;
    b[e] = float(double(b[e]) + rate * sign);
  }
  return Status::ok();
}

template <KernelVariant V, typename T>
Status assignAddKernel(const KernelCall &call) {
  if (Status st = checkCounts(call, "assign_add", 2, 0); !st)
    return st;
  ONEREC_KERNEL_CHECK(call,
                      call.in(1).dtype == call.in(0).dtype &&
                          call.in(1).numel() == call.in(0).numel(),
                      "assign_add: {} does not match the target {}",
                      call.in(1).shape.toString(), call.in(0).shape.toString());
  T *target = call.in(0).as<T>();
  const T *x = call.in(1).as<const T>();
  elementLoop<V>(call, call.in(0).numel(), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      if constexpr (std::is_integral_v<T>) // integers wrap, as in ScatterAdd
        target[i] = T(std::make_unsigned_t<T>(target[i]) +
                      std::make_unsigned_t<T>(x[i]));
      else
        target[i] += x[i];
    }
  });
  return Status::ok();
}

template <KernelVariant V, typename T>
Status assignKernel(const KernelCall &call) {
  if (Status st = checkCounts(call, "assign", 2, 0); !st)
    return st;
  ONEREC_KERNEL_CHECK(call,
                      call.in(1).dtype == call.in(0).dtype &&
                          call.in(1).numel() == call.in(0).numel(),
                      "assign: {} does not match the target {}",
                      call.in(1).shape.toString(), call.in(0).shape.toString());
  T *target = call.in(0).as<T>();
  const T *x = call.in(1).as<const T>();
  elementLoop<V>(call, call.in(0).numel(), [&](int64_t lo, int64_t hi) {
    std::copy(x + lo, x + hi, target + lo);
  });
  return Status::ok();
}

template <KernelVariant V, typename T>
Status fillKernel(const KernelCall &call) {
  if (Status st = checkCounts(call, "fill", 1, 0); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.in(0).dtype == dtypeOf<T>(),
                      "fill: unexpected dtype {}",
                      runtime::dtypeName(call.in(0).dtype));
  T value;
  if constexpr (std::is_floating_point_v<T>)
    value = T(call.attr().getFloat("value"));
  else
    value = T(call.attr().getInt("value"));
  if constexpr (std::is_same_v<T, uint8_t>)
    ONEREC_KERNEL_CHECK(call, value <= 1, "fill: a bool is 0 or 1, not {}",
                        call.attr().getInt("value"));
  T *target = call.in(0).as<T>();
  elementLoop<V>(call, call.in(0).numel(), [&](int64_t lo, int64_t hi) {
    std::fill(target + lo, target + hi, value);
  });
  return Status::ok();
}

template <typename T> void addAssignAdd(KernelRegistry &r) {
  addCpu(r, OpCode::AssignAdd, dtypeOf<T>(), assignAddKernel<kRef, T>,
         assignAddKernel<kOpt, T>);
}

template <typename T> void addAssign(KernelRegistry &r) {
  addCpu(r, OpCode::Assign, dtypeOf<T>(), assignKernel<kRef, T>,
         assignKernel<kOpt, T>);
}

template <typename T> void addFill(KernelRegistry &r) {
  addCpu(r, OpCode::Fill, dtypeOf<T>(), fillKernel<kRef, T>,
         fillKernel<kOpt, T>);
}

} // namespace

void onerec::kernels::registerOptimizerKernels(KernelRegistry &r) {
  addCpu(r, OpCode::GlobalNorm, DType::f32, globalNormKernel<kRef>,
         globalNormKernel<kOpt>);
  addCpu(r, OpCode::AdamWUpdate, DType::f32, adamWKernel<kRef>,
         adamWKernel<kOpt>);
  addCpu(r, OpCode::SgdUpdate, DType::f32, sgdKernel<kRef>, sgdKernel<kOpt>);
  addCpu(r, OpCode::MultiAdamWUpdate, DType::f32, multiAdamWKernel<kRef>,
         multiAdamWKernel<kOpt>);
  addCpu(r, OpCode::MultiSgdUpdate, DType::f32, multiSgdKernel<kRef>,
         multiSgdKernel<kOpt>);
  addCpu(r, OpCode::MoeBiasUpdate, DType::f32, moeBiasUpdateKernel<kRef>,
         moeBiasUpdateKernel<kOpt>);
  addAssignAdd<float>(r);
  addAssignAdd<int64_t>(r);
  addAssignAdd<int32_t>(r);
  addAssign<float>(r);
  addAssign<int64_t>(r);
  addAssign<int32_t>(r);
  addFill<float>(r);
  addFill<int64_t>(r);
  addFill<int32_t>(r);
  addFill<uint8_t>(r);
}
