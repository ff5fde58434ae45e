//===- Moe.cpp - mixture of experts: gate, top-k, grouped expert GEMMs ----===//
//
// For each token x [d]: p = softmax(x·gate) over E experts; the top_k
// experts by p + gate_bias are chosen (ties to the lower index; the bias
// steers selection, not weights), weighted by their p renormalized; expert e
// computes act(x·up[e])·down[e], or (silu(x·gate_proj[e]) * x·up[e])·down[e]
// for swiglu; `load` is each expert's share of the (token, slot)
// assignments.
//
// The optimized kernel routes all tokens first (one GEMM for the gate
// logits, then per-token softmax and top-k), sorts the (token, slot) pairs
// by expert with a counting sort (stable, so deterministic), gathers each
// expert's tokens into a contiguous block and runs its FFN as two or three
// GEMMs, then combines each token's slots in slot order.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include "onerec/Kernels/Gemm.h"

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

enum class Activation { Gelu = 0, Relu = 1, Silu = 2, Swiglu = 3 };

struct MoeShape {
  int64_t tokens, d, experts, hidden, topK;
  Activation act;
  const float *x, *gate, *gateBias, *up, *gateProj, *down;
  float *y, *load;
};

Status checkMoe(const KernelCall &call, MoeShape &s) {
  if (Status st = checkArity(call, "moe", 4, 6, 2); !st)
    return st;
  ONEREC_KERNEL_CHECK(
      call, call.numInputs >= 5 && call.in(call.numInputs - 1).present(),
      "moe: expected x, gate, gate_bias, up, gate_proj?, down");
  // x, gate, gate_bias, up, gate_proj?, down (gate_proj's slot may be absent).
  const TensorView &x = call.in(0), &gate = call.in(1), &bias = call.in(2),
                   &up = call.in(3);
  const TensorView *gp = call.numInputs == 6 ? optionalInput(call, 4) : nullptr;
  const TensorView &down = call.in(call.numInputs - 1);
  int64_t act = call.attr().getInt("activation");
  ONEREC_KERNEL_CHECK(call, act >= 0 && act <= 3, "moe: unknown activation {}",
                      act);
  s.act = Activation(act);
  ONEREC_KERNEL_CHECK(
      call,
      x.shape.rank >= 1 && gate.shape.rank == 2 && up.shape.rank == 3 &&
          down.shape.rank == 3,
      "moe: expected x [..., d], gate [d, E], up [E, d, h], down [E, h, d]");
  s.d = x.shape.last();
  s.tokens = s.d ? x.numel() / s.d : 0;
  s.experts = gate.shape[1];
  s.hidden = up.shape[2];
  s.topK = call.attr().getInt("top_k");
  Shape expertIn{s.experts, s.d, s.hidden}, expertOut{s.experts, s.hidden, s.d};
  ONEREC_KERNEL_CHECK(
      call,
      gate.shape[0] == s.d && bias.numel() == s.experts &&
          up.shape == expertIn && down.shape == expertOut &&
          (!gp || gp->shape == expertIn),
      "moe: gate {}, gate_bias {}, up {}, down {} do not fit x {}",
      gate.shape.toString(), bias.shape.toString(), up.shape.toString(),
      down.shape.toString(), x.shape.toString());
  ONEREC_KERNEL_CHECK(
      call, (s.act == Activation::Swiglu) == (gp != nullptr),
      "moe: swiglu experts need a gate projection, others take none");
  ONEREC_KERNEL_CHECK(call, s.topK >= 1 && s.topK <= s.experts,
                      "moe: top_k {} of {} experts", s.topK, s.experts);
  ONEREC_KERNEL_CHECK(
      call, call.out(0).shape == x.shape && call.out(1).numel() == s.experts,
      "moe: results must be y {} and load [{}]", x.shape.toString(), s.experts);
  s.x = x.as<const float>();
  s.gate = gate.as<const float>();
  s.gateBias = bias.as<const float>();
  s.up = up.as<const float>();
  s.gateProj = gp ? gp->as<const float>() : nullptr;
  s.down = down.as<const float>();
  s.y = call.out(0).as<float>();
  s.load = call.out(1).as<float>();
  return Status::ok();
}

/// Picks the top_k experts of one token by p + bias into `chosen`
/// (descending, ties to the lower index). P is float or double.
template <typename P>
void route(const P *p, const float *bias, int64_t experts, int64_t k,
           int64_t *chosen) {
  int64_t filled = 0;
  for (int64_t e = 0; e < experts; ++e) {
    P key = p[e] + bias[e];
    auto keyOf = [&](int64_t i) { return p[chosen[i]] + bias[chosen[i]]; };
    if (filled == k && !(key > keyOf(k - 1)))
      continue;
    int64_t pos = filled < k ? filled++ : k - 1;
    while (pos > 0 && key > keyOf(pos - 1)) {
      chosen[pos] = chosen[pos - 1];
      --pos;
    }
    chosen[pos] = e;
  }
}

/// The reference kernels' routing of one token: gate logits and softmax in
/// double, then top-k by p + bias. The reference forward and backward both
/// route with it.
void routeTokenReference(const MoeShape &s, const float *xt,
                         std::vector<double> &p, std::vector<int64_t> &chosen) {
  int64_t E = s.experts, d = s.d;
  double m = -INFINITY, sum = 0;
  for (int64_t e = 0; e < E; ++e) {
    double logit = 0;
    for (int64_t i = 0; i < d; ++i)
      logit += double(xt[i]) * s.gate[i * E + e];
    p[size_t(e)] = logit;
    m = std::max(m, logit);
  }
  for (double &v : p)
    sum += (v = std::exp(v - m));
  for (double &v : p)
    v /= sum;
  route(p.data(), s.gateBias, E, s.topK, chosen.data());
}

void finishLoad(const MoeShape &s, const std::vector<int64_t> &counts) {
  double slots = double(s.tokens * s.topK);
  for (int64_t e = 0; e < s.experts; ++e)
    s.load[e] = slots > 0 ? float(double(counts[size_t(e)]) / slots) : 0.0f;
}

Status moeReference(const MoeShape &s) {
  int64_t E = s.experts, d = s.d, h = s.hidden, k = s.topK;
  std::vector<double> p(static_cast<size_t>(E)), hid(static_cast<size_t>(h)),
      out(static_cast<size_t>(d));
  std::vector<int64_t> chosen(static_cast<size_t>(k)),
      counts(static_cast<size_t>(E), 0);
  auto act = [&](double g, double u) {
    switch (s.act) {
    case Activation::Gelu:
      return refGelu(u);
    case Activation::Relu:
      return u > 0 ? u : 0.0;
    case Activation::Silu:
      return refSilu(u);
    case Activation::Swiglu:
      return refSilu(g) * u;
    }
    return 0.0;
  };
  for (int64_t t = 0; t < s.tokens; ++t) {
    const float *xt = s.x + t * d;
    routeTokenReference(s, xt, p, chosen);
    double norm = 0;
    for (int64_t e : chosen)
      norm += p[size_t(e)];
    std::fill(out.begin(), out.end(), 0.0);
    for (int64_t e : chosen) {
      ++counts[size_t(e)];
      for (int64_t j = 0; j < h; ++j) {
        double u = 0, g = 0;
        for (int64_t i = 0; i < d; ++i) {
          u += double(xt[i]) * s.up[(e * d + i) * h + j];
          if (s.gateProj)
            g += double(xt[i]) * s.gateProj[(e * d + i) * h + j];
        }
        hid[size_t(j)] = act(g, u);
      }
      double w = norm > 0 ? p[size_t(e)] / norm : 1.0 / double(k);
      for (int64_t j = 0; j < h; ++j)
        for (int64_t i = 0; i < d; ++i)
          out[size_t(i)] += w * hid[size_t(j)] * s.down[(e * h + j) * d + i];
    }
    for (int64_t i = 0; i < d; ++i)
      s.y[t * d + i] = float(out[size_t(i)]);
  }
  finishLoad(s, counts);
  return Status::ok();
}

/// The optimized kernels' routing of every token: gate logits [T, E] in one
/// GEMM, softmax (fastExp) and top-k by p + bias. The forward and the
/// backward both route with this one function, so a token's gradient is
/// always that of the experts its forward used, even at near-ties.
void routeTokens(const KernelCall &call, const MoeShape &s,
                 std::vector<float> &probs, std::vector<int64_t> &chosen) {
  int64_t T = s.tokens, E = s.experts, d = s.d, k = s.topK;
  probs.assign(size_t(T * E), 0.0f);
  GemmArgs g;
  g.m = T, g.n = E, g.k = d, g.a = s.x, g.lda = d, g.b = s.gate, g.ldb = E;
  g.c = probs.data(), g.ldc = E;
  parallelSgemm(pool(call), g);
  chosen.assign(size_t(T * k), 0);
  parallelFor(call, T, grainFor(E * 8), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      float *p = &probs[size_t(t * E)];
      float m = maxLanes(p, E), sum = 0;
      for (int64_t e = 0; e < E; ++e)
        sum += (p[e] = fastExp(p[e] - m));
      for (int64_t e = 0; e < E; ++e)
        p[e] /= sum;
      route(p, s.gateBias, E, k, &chosen[size_t(t * k)]);
    }
  });
}

Status moeOptimized(const KernelCall &call, const MoeShape &s) {
  int64_t T = s.tokens, E = s.experts, d = s.d, h = s.hidden, k = s.topK;
  runtime::ThreadPool &tp = pool(call);
  // 1. Routing, then each chosen expert's weight.
  std::vector<float> probs;
  std::vector<int64_t> chosen;
  routeTokens(call, s, probs, chosen);
  std::vector<float> weight(size_t(T * k));
  for (int64_t t = 0; t < T; ++t) {
    const float *p = &probs[size_t(t * E)];
    const int64_t *c = &chosen[size_t(t * k)];
    float norm = 0;
    for (int64_t j = 0; j < k; ++j)
      norm += p[c[j]];
    // Chosen experts whose probabilities all underflowed (a gate bias can
    // steer the choice there) share the token equally.
    for (int64_t j = 0; j < k; ++j)
      weight[size_t(t * k + j)] = norm > 0 ? p[c[j]] / norm : 1.0f / float(k);
  }
  // 2. Counting sort of the (token, slot) pairs by expert.
  std::vector<int64_t> counts(size_t(E), 0), start(size_t(E + 1), 0);
  for (int64_t e : chosen)
    ++counts[size_t(e)];
  for (int64_t e = 0; e < E; ++e)
    start[size_t(e + 1)] = start[size_t(e)] + counts[size_t(e)];
  std::vector<int64_t> position(size_t(T * k)), tokenOf(size_t(T * k));
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t slot = 0; slot < T * k; ++slot) {
      int64_t pos = next[size_t(chosen[size_t(slot)])]++;
      position[size_t(slot)] = pos;
      tokenOf[size_t(pos)] = slot / k;
    }
  }
  // 3. Gather tokens grouped by expert, then each expert's FFN as GEMMs.
  std::vector<float> grouped(size_t(T * k * d)), expertOut(size_t(T * k * d));
  parallelFor(call, T * k, grainFor(d), [&](int64_t lo, int64_t hi) {
    for (int64_t pos = lo; pos < hi; ++pos)
      std::memcpy(&grouped[size_t(pos * d)], s.x + tokenOf[size_t(pos)] * d,
                  size_t(d) * sizeof(float));
  });
  int64_t maxRows = *std::max_element(counts.begin(), counts.end());
  auto runExpert = [&](int64_t e, bool parallel) {
    int64_t rows = counts[size_t(e)];
    if (rows == 0)
      return;
    float *hid = threadScratch<float>(0, size_t(maxRows * h));
    float *gated =
        s.gateProj ? threadScratch<float>(1, size_t(maxRows * h)) : nullptr;
    auto gemm = [&](GemmArgs a) { parallel ? parallelSgemm(tp, a) : sgemm(a); };
    GemmArgs upArgs;
    upArgs.m = rows, upArgs.n = h, upArgs.k = d;
    upArgs.a = &grouped[size_t(start[size_t(e)] * d)], upArgs.lda = d;
    upArgs.b = s.up + e * d * h, upArgs.ldb = h;
    upArgs.c = hid, upArgs.ldc = h;
    gemm(upArgs);
    if (gated) {
      GemmArgs gpArgs = upArgs;
      gpArgs.b = s.gateProj + e * d * h;
      gpArgs.c = gated;
      gemm(gpArgs);
    }
    int64_t n = rows * h;
    switch (s.act) {
    case Activation::Gelu:
      unaryF32(VecUnary::Gelu, hid, hid, n);
      break;
    case Activation::Relu:
      for (int64_t i = 0; i < n; ++i)
        hid[i] = hid[i] > 0.0f ? hid[i] : 0.0f;
      break;
    case Activation::Silu:
      unaryF32(VecUnary::Silu, hid, hid, n);
      break;
    case Activation::Swiglu:
      unaryF32(VecUnary::Silu, gated, gated, n);
      for (int64_t i = 0; i < n; ++i)
        hid[i] *= gated[i];
      break;
    }
    GemmArgs downArgs;
    downArgs.m = rows, downArgs.n = d, downArgs.k = h;
    downArgs.a = hid, downArgs.lda = h;
    downArgs.b = s.down + e * h * d, downArgs.ldb = d;
    downArgs.c = &expertOut[size_t(start[size_t(e)] * d)], downArgs.ldc = d;
    gemm(downArgs);
  };
  // Many small experts: one expert per task. Few large ones: split GEMMs.
  // (Chosen by shape, not thread count, so results are thread-independent.)
  if (E >= 8 && maxRows * d * h < (1 << 22)) {
    parallelFor(call, E, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t e = lo; e < hi; ++e)
        runExpert(e, false);
    });
  } else {
    for (int64_t e = 0; e < E; ++e)
      runExpert(e, true);
  }
  // 4. Combine each token's slots in slot order.
  parallelFor(call, T, grainFor(k * d), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      float *yt = s.y + t * d;
      std::fill(yt, yt + d, 0.0f);
      for (int64_t j = 0; j < k; ++j) {
        float w = weight[size_t(t * k + j)];
        const float *src = &expertOut[size_t(position[size_t(t * k + j)] * d)];
        for (int64_t i = 0; i < d; ++i)
          yt[i] += w * src[i];
      }
    }
  });
  finishLoad(s, counts);
  return Status::ok();
}

template <KernelVariant V> Status moeKernel(const KernelCall &call) {
  MoeShape s;
  if (Status st = checkMoe(call, s); !st)
    return st;
  return V == kRef ? moeReference(s) : moeOptimized(call, s);
}

//===----------------------------------------------------------------------===//
// MoeGrad: x, gate, gate_bias, up, gate_proj?, down, dy -> dx, dgate, dup,
// dgate_proj?, ddown
//===----------------------------------------------------------------------===//
//
// The backward of y for the same routing: the top-k choice (made with
// gate_bias) is a constant; gradients flow through the renormalized
// weights w_e = p_e / Σ_chosen p (into the softmax and the gate) and
// through each chosen expert's FFN. A reference only (double accumulation,
// one token at a time); it is registered as the optimized kernel too.

double activationGrad(Activation act, double u) {
  switch (act) {
  case Activation::Gelu: {
    const double c = 0.7978845608028654, a = 0.044715;
    double t = std::tanh(c * (u + a * u * u * u));
    return 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * c * (1 + 3 * a * u * u);
  }
  case Activation::Relu:
    return u > 0 ? 1.0 : 0.0;
  case Activation::Silu:
  case Activation::Swiglu: {
    double sg = refSigmoid(u);
    return sg * (1 + u * (1 - sg));
  }
  }
  return 0.0;
}

Status checkMoeGrad(const KernelCall &call, MoeShape &s, const float *&dy) {
  if (Status st = checkCounts(call, "moe_grad", 7, 5, 1u << 4); !st)
    return st;
  const TensorView &x = call.in(0), &gate = call.in(1), &bias = call.in(2),
                   &up = call.in(3), &down = call.in(5);
  const TensorView *gp = optionalInput(call, 4);
  int64_t act = call.attr().getInt("activation");
  ONEREC_KERNEL_CHECK(call, act >= 0 && act <= 3,
                      "moe_grad: unknown activation {}", act);
  s.act = Activation(act);
  ONEREC_KERNEL_CHECK(call,
                      x.shape.rank >= 1 && gate.shape.rank == 2 &&
                          up.shape.rank == 3 && down.shape.rank == 3,
                      "moe_grad: expected x [..., d], gate [d, E], up [E, d, "
                      "h], down [E, h, d]");
  s.d = x.shape.last();
  s.tokens = s.d ? x.numel() / s.d : 0;
  s.experts = gate.shape[1];
  s.hidden = up.shape[2];
  s.topK = call.attr().getInt("top_k");
  Shape expertIn{s.experts, s.d, s.hidden}, expertOut{s.experts, s.hidden, s.d};
  ONEREC_KERNEL_CHECK(
      call,
      gate.shape[0] == s.d && bias.numel() == s.experts &&
          up.shape == expertIn && down.shape == expertOut &&
          (!gp || gp->shape == expertIn) && call.in(6).shape == x.shape,
      "moe_grad: gate {}, gate_bias {}, up {}, down {}, dy {} do not fit x {}",
      gate.shape.toString(), bias.shape.toString(), up.shape.toString(),
      down.shape.toString(), call.in(6).shape.toString(), x.shape.toString());
  ONEREC_KERNEL_CHECK(
      call, (s.act == Activation::Swiglu) == (gp != nullptr),
      "moe_grad: swiglu experts need a gate projection, others take none");
  ONEREC_KERNEL_CHECK(call, s.topK >= 1 && s.topK <= s.experts,
                      "moe_grad: top_k {} of {} experts", s.topK, s.experts);
  ONEREC_KERNEL_CHECK(call, gp || !optionalResult(call, 3),
                      "moe_grad: dgate_proj without a gate projection");
  const TensorView *like[5] = {&x, &gate, &up, gp, &down};
  for (int i = 0; i < 5; ++i)
    ONEREC_KERNEL_CHECK(call,
                        !optionalResult(call, i) ||
                            (like[i] && call.out(i).shape == like[i]->shape),
                        "moe_grad: result {} {} has the wrong shape", i,
                        call.out(i).shape.toString());
  s.x = x.as<const float>();
  s.gate = gate.as<const float>();
  s.gateBias = bias.as<const float>();
  s.up = up.as<const float>();
  s.gateProj = gp ? gp->as<const float>() : nullptr;
  s.down = down.as<const float>();
  dy = call.in(6).as<const float>();
  return Status::ok();
}

/// The backward in double. Tokens are routed in double like the reference
/// forward, or, given `routedProbs` [T, E] and `routedChosen` [T, k], as the
/// optimized forward routed them.
Status moeGradReference(const KernelCall &call, const MoeShape &s,
                        const float *dY, const float *routedProbs = nullptr,
                        const int64_t *routedChosen = nullptr) {
  int64_t E = s.experts, d = s.d, h = s.hidden, k = s.topK;
  std::vector<double> gx(size_t(s.tokens * d), 0.0), gGate(size_t(d * E), 0.0),
      gUp(size_t(E * d * h), 0.0), gGp(s.gateProj ? size_t(E * d * h) : 0, 0.0),
      gDown(size_t(E * h * d), 0.0);
  std::vector<double> p(static_cast<size_t>(E)), u(static_cast<size_t>(h)),
      g(static_cast<size_t>(h)), hid(static_cast<size_t>(h)),
      dhid(static_cast<size_t>(h)), dp(static_cast<size_t>(E));
  std::vector<int64_t> chosen(static_cast<size_t>(k));
  for (int64_t t = 0; t < s.tokens; ++t) {
    const float *xt = s.x + t * d, *dy = dY + t * d;
    if (routedProbs) {
      for (int64_t e = 0; e < E; ++e)
        p[size_t(e)] = routedProbs[t * E + e];
      std::copy(routedChosen + t * k, routedChosen + (t + 1) * k,
                chosen.begin());
    } else {
      routeTokenReference(s, xt, p, chosen);
    }
    double norm = 0;
    for (int64_t e : chosen)
      norm += p[size_t(e)];
    std::fill(dp.begin(), dp.end(), 0.0);
    double wdw = 0; // Σ w_e·dw_e
    for (int64_t e : chosen) {
      double w = norm > 0 ? p[size_t(e)] / norm : 1.0 / double(k);
      for (int64_t j = 0; j < h; ++j) {
        double uj = 0, gj = 0;
        for (int64_t i = 0; i < d; ++i) {
          uj += double(xt[i]) * s.up[(e * d + i) * h + j];
          if (s.gateProj)
            gj += double(xt[i]) * s.gateProj[(e * d + i) * h + j];
        }
        u[size_t(j)] = uj, g[size_t(j)] = gj;
        switch (s.act) {
        case Activation::Gelu:
          hid[size_t(j)] = refGelu(uj);
          break;
        case Activation::Relu:
          hid[size_t(j)] = uj > 0 ? uj : 0.0;
          break;
        case Activation::Silu:
          hid[size_t(j)] = refSilu(uj);
          break;
        case Activation::Swiglu:
          hid[size_t(j)] = refSilu(gj) * uj;
          break;
        }
      }
      // f = hid·down_e; dw = dy·f; the expert's output gradient is w·dy.
      double dw = 0;
      for (int64_t i = 0; i < d; ++i) {
        double fi = 0;
        for (int64_t j = 0; j < h; ++j)
          fi += hid[size_t(j)] * s.down[(e * h + j) * d + i];
        dw += double(dy[i]) * fi;
      }
      dp[size_t(e)] = dw; // dw_e for now
      wdw += w * dw;
      for (int64_t j = 0; j < h; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < d; ++i) {
          double dfi = w * dy[i];
          gDown[size_t((e * h + j) * d + i)] += hid[size_t(j)] * dfi;
          acc += s.down[(e * h + j) * d + i] * dfi;
        }
        dhid[size_t(j)] = acc;
      }
      for (int64_t j = 0; j < h; ++j) {
        double du, dg = 0;
        if (s.act == Activation::Swiglu) {
          du = dhid[size_t(j)] * refSilu(g[size_t(j)]);
          dg = dhid[size_t(j)] * u[size_t(j)] *
               activationGrad(Activation::Silu, g[size_t(j)]);
        } else {
          du = dhid[size_t(j)] * activationGrad(s.act, u[size_t(j)]);
        }
        for (int64_t i = 0; i < d; ++i) {
          gUp[size_t((e * d + i) * h + j)] += double(xt[i]) * du;
          gx[size_t(t * d + i)] += s.up[(e * d + i) * h + j] * du;
          if (s.gateProj) {
            gGp[size_t((e * d + i) * h + j)] += double(xt[i]) * dg;
            gx[size_t(t * d + i)] += s.gateProj[(e * d + i) * h + j] * dg;
          }
        }
      }
    }
    if (!(norm > 0))
      continue; // equal weights: nothing flows into the gate
    // w_c = p_c / norm: dp_c = (dw_c − Σ w·dw) / norm for chosen c.
    std::vector<char> isChosen(size_t(E), 0);
    for (int64_t e : chosen)
      isChosen[size_t(e)] = 1;
    double pdp = 0;
    for (int64_t e = 0; e < E; ++e) {
      dp[size_t(e)] = isChosen[size_t(e)] ? (dp[size_t(e)] - wdw) / norm : 0.0;
      pdp += p[size_t(e)] * dp[size_t(e)];
    }
    for (int64_t e = 0; e < E; ++e) {
      double dlogit = p[size_t(e)] * (dp[size_t(e)] - pdp);
      for (int64_t i = 0; i < d; ++i) {
        gGate[size_t(i * E + e)] += double(xt[i]) * dlogit;
        gx[size_t(t * d + i)] += s.gate[i * E + e] * dlogit;
      }
    }
  }
  const std::vector<double> *grads[5] = {&gx, &gGate, &gUp, &gGp, &gDown};
  for (int r = 0; r < 5; ++r)
    if (float *out = optionalResult(call, r))
      for (size_t i = 0; i < grads[r]->size(); ++i)
        out[i] = float((*grads[r])[i]);
  return Status::ok();
}

template <KernelVariant V> Status moeGradKernel(const KernelCall &call) {
  MoeShape s{};
  const float *dy = nullptr;
  if (Status st = checkMoeGrad(call, s, dy); !st)
    return st;
  if constexpr (V == kRef)
    return moeGradReference(call, s, dy);
  // The optimized forward's routing (float), so that the backward follows
  // the experts that forward chose.
  std::vector<float> probs;
  std::vector<int64_t> chosen;
  routeTokens(call, s, probs, chosen);
  return moeGradReference(call, s, dy, probs.data(), chosen.data());
}

} // namespace

void onerec::kernels::registerMoeKernels(KernelRegistry &r) {
  addCpu(r, OpCode::Moe, DType::f32, moeKernel<kRef>, moeKernel<kOpt>);
  // The backward's math is the reference's (double) in both variants; the
  // optimized variant routes tokens exactly as the optimized forward does.
  addCpu(r, OpCode::MoeGrad, DType::f32, moeGradKernel<kRef>,
         moeGradKernel<kOpt>);
}
