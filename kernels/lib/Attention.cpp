//===- Attention.cpp - fused multi-head attention -------------------------===//
//
// q [..., Lq, H·dk], k [..., Lk, Hkv·dk], v [..., Lk, Hkv·dv] -> y [..., Lq,
// H·dv], heads packed in the last axis, query head h reading key/value head
// h / (H / Hkv). Scores scale·q·k + bias; keys excluded by the mask or by
// causality (j > i + Lk − Lq); softmax over the allowed keys (a row with
// none gives zeros) or HSTU's silu(score) / Lk.
//
// The optimized kernel is flash-style: one work item per (batch, head,
// block of 64 queries). For each block of up to 256 keys, the scores are one
// small GEMM (q·kᵀ straight from the packed-head layout via leading
// dimensions), then mask/bias/causality and an online softmax (running max
// and sum, rescaling the output accumulator), then O += P·v as a second GEMM.
// Only a [64, 256] panel of scores exists at a time, never [Lq, Lk]; causal
// key blocks past the diagonal are skipped.
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

/// Where score operand (mask or bias) element (batch b, head h, i, j) is:
/// base(b) + h·head + i·row + j·col.
struct ScoreOperand {
  const void *data = nullptr;
  int64_t strides[Shape::kMaxRank] = {};
  int64_t head = 0, row = 0, col = 0;
};

struct AttentionShape {
  Shape batch;
  int64_t heads, kvHeads, group, lq, lk, dk, dv;
  int64_t qStrides[Shape::kMaxRank], kStrides[Shape::kMaxRank],
      vStrides[Shape::kMaxRank];
  float scale;
  bool causal, silu;
  ScoreOperand mask, bias;
};

Status checkScoreOperand(const KernelCall &call, const TensorView *t,
                         DType dtype, const char *what, const AttentionShape &s,
                         ScoreOperand &op) {
  if (!t)
    return Status::ok();
  int nb = s.batch.rank;
  Shape scores = s.batch;
  scores.dims[scores.rank++] = s.heads;
  scores.dims[scores.rank++] = s.lq;
  scores.dims[scores.rank++] = s.lk;
  // Rank batch + 3: one per head. Otherwise shared by the heads: pad to
  // batch + 2 and insert a head axis of 1.
  Shape aligned;
  if (t->shape.rank == nb + 3) {
    aligned = t->shape;
  } else {
    ONEREC_KERNEL_CHECK(call, t->shape.rank <= nb + 2,
                        "attention: {} {} has too many dims", what,
                        t->shape.toString());
    int pad = nb + 2 - t->shape.rank;
    aligned.rank = nb + 3;
    for (int i = 0; i < nb + 2; ++i)
      aligned.dims[i < nb ? i : i + 1] = i < pad ? 1 : t->shape[i - pad];
    aligned.dims[nb] = 1;
  }
  ONEREC_KERNEL_CHECK(call, t->dtype == dtype && broadcastsTo(aligned, scores),
                      "attention: {} {} does not broadcast to the scores {}",
                      what, t->shape.toString(), scores.toString());
  broadcastStrides(aligned, scores, op.strides);
  op.data = t->data;
  op.head = op.strides[nb];
  op.row = op.strides[nb + 1];
  op.col = op.strides[nb + 2];
  return Status::ok();
}

/// The shapes of q, k, v (operands 0-2), mask and bias (3, 4) and the
/// result `y` (Attention's result, AttentionGrad's dy).
Status checkAttentionShapes(const KernelCall &call, const TensorView &y,
                            AttentionShape &s) {
  const TensorView &q = call.in(0), &k = call.in(1), &v = call.in(2);
  const auto &attrs = call.attr();
  s.heads = attrs.getInt("num_heads", 1);
  s.kvHeads = attrs.getInt("num_kv_heads", s.heads);
  ONEREC_KERNEL_CHECK(call,
                      q.shape.rank >= 2 && k.shape.rank >= 2 &&
                          v.shape.rank >= 2 && y.shape.rank >= 2,
                      "attention: q, k, v need [..., length, features]");
  ONEREC_KERNEL_CHECK(call,
                      s.heads > 0 && s.kvHeads > 0 && s.heads % s.kvHeads == 0,
                      "attention: {} heads cannot share {} key/value heads",
                      s.heads, s.kvHeads);
  for (const TensorView *t : {&q, &k, &v, &y})
    ONEREC_KERNEL_CHECK(call, t->dtype == DType::f32,
                        "attention: expected f32 tensors");
  s.group = s.heads / s.kvHeads;
  s.lq = q.shape[q.shape.rank - 2];
  s.lk = k.shape[k.shape.rank - 2];
  s.dk = q.shape.last() / s.heads;
  s.dv = v.shape.last() / s.kvHeads;
  s.batch = leadingDims(y.shape, y.shape.rank - 2);
  ONEREC_KERNEL_CHECK(
      call,
      q.shape.last() == s.heads * s.dk && k.shape.last() == s.kvHeads * s.dk &&
          v.shape.last() == s.kvHeads * s.dv &&
          v.shape[v.shape.rank - 2] == s.lk &&
          y.shape[y.shape.rank - 2] == s.lq && y.shape.last() == s.heads * s.dv,
      "attention: q {}, k {}, v {} -> y {} with {}/{} heads is inconsistent",
      q.shape.toString(), k.shape.toString(), v.shape.toString(),
      y.shape.toString(), s.heads, s.kvHeads);
  Shape qb = leadingDims(q.shape, q.shape.rank - 2),
        kb = leadingDims(k.shape, k.shape.rank - 2),
        vb = leadingDims(v.shape, v.shape.rank - 2);
  ONEREC_KERNEL_CHECK(call,
                      broadcastsTo(qb, s.batch) && broadcastsTo(kb, s.batch) &&
                          broadcastsTo(vb, s.batch),
                      "attention: batch dims of q, k, v do not broadcast to {}",
                      s.batch.toString());
  broadcastStrides(qb, s.batch, s.qStrides);
  broadcastStrides(kb, s.batch, s.kStrides);
  broadcastStrides(vb, s.batch, s.vStrides);
  s.scale = float(attrs.getFloat(
      "scale", 1.0 / std::sqrt(double(std::max<int64_t>(s.dk, 1)))));
  s.causal = attrs.getInt("causal") != 0;
  int64_t norm = attrs.getInt("score_norm");
  ONEREC_KERNEL_CHECK(call, norm == 0 || norm == 1,
                      "attention: unknown score_norm {}", norm);
  s.silu = norm == 1;
  if (Status st = checkScoreOperand(call, optionalInput(call, 3), DType::bool8,
                                    "mask", s, s.mask);
      !st)
    return st;
  return checkScoreOperand(call, optionalInput(call, 4), DType::f32, "bias", s,
                           s.bias);
}

Status checkAttention(const KernelCall &call, AttentionShape &s) {
  if (Status st = checkArity(call, "attention", 3, 5, 1); !st)
    return st;
  return checkAttentionShapes(call, call.out(0), s);
}

/// Pointers of one (batch, head) problem.
struct HeadView {
  const float *q, *k, *v;
  float *y;
  int64_t qRow, kRow, vRow, yRow; // row strides
  const uint8_t *mask;
  const float *bias;
};

HeadView headView(const KernelCall &call, const AttentionShape &s, int64_t b,
                  int64_t h) {
  HeadView hv;
  int64_t kvh = h / s.group;
  hv.qRow = s.heads * s.dk;
  hv.kRow = s.kvHeads * s.dk;
  hv.vRow = s.kvHeads * s.dv;
  hv.yRow = s.heads * s.dv;
  hv.q = call.in(0).as<const float>() +
         broadcastOffset(b, s.batch, s.qStrides) * s.lq * hv.qRow + h * s.dk;
  hv.k = call.in(1).as<const float>() +
         broadcastOffset(b, s.batch, s.kStrides) * s.lk * hv.kRow + kvh * s.dk;
  hv.v = call.in(2).as<const float>() +
         broadcastOffset(b, s.batch, s.vStrides) * s.lk * hv.vRow + kvh * s.dv;
  hv.y = call.out(0).as<float>() + b * s.lq * hv.yRow + h * s.dv;
  hv.mask = s.mask.data ? static_cast<const uint8_t *>(s.mask.data) +
                              broadcastOffset(b, s.batch, s.mask.strides) +
                              h * s.mask.head
                        : nullptr;
  hv.bias = s.bias.data ? static_cast<const float *>(s.bias.data) +
                              broadcastOffset(b, s.batch, s.bias.strides) +
                              h * s.bias.head
                        : nullptr;
  return hv;
}

Status attentionReference(const KernelCall &call, const AttentionShape &s) {
  std::vector<double> score(size_t(s.lk));
  std::vector<char> allowed(size_t(s.lk));
  std::vector<double> acc(size_t(s.dv));
  for (int64_t b = 0, nb = s.batch.numel(); b < nb; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      HeadView hv = headView(call, s, b, h);
      for (int64_t i = 0; i < s.lq; ++i) {
        double m = -INFINITY;
        for (int64_t j = 0; j < s.lk; ++j) {
          double dot = 0;
          for (int64_t p = 0; p < s.dk; ++p)
            dot += double(hv.q[i * hv.qRow + p]) * hv.k[j * hv.kRow + p];
          score[size_t(j)] =
              double(s.scale) * dot +
              (hv.bias ? hv.bias[i * s.bias.row + j * s.bias.col] : 0.0);
          allowed[size_t(j)] =
              (!hv.mask || hv.mask[i * s.mask.row + j * s.mask.col]) &&
              (!s.causal || j <= i + (s.lk - s.lq));
          if (allowed[size_t(j)])
            m = std::max(m, score[size_t(j)]);
        }
        double sum = 0;
        for (int64_t j = 0; j < s.lk; ++j) {
          double w = 0;
          if (allowed[size_t(j)])
            w = s.silu ? refSilu(score[size_t(j)]) / double(s.lk)
                       : std::exp(score[size_t(j)] - m);
          score[size_t(j)] = w;
          sum += w;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < s.lk; ++j)
          for (int64_t p = 0; p < s.dv; ++p)
            acc[size_t(p)] += score[size_t(j)] * hv.v[j * hv.vRow + p];
        for (int64_t p = 0; p < s.dv; ++p)
          hv.y[i * hv.yRow + p] = float(
              s.silu ? acc[size_t(p)] : (sum > 0 ? acc[size_t(p)] / sum : 0.0));
      }
    }
  return Status::ok();
}

constexpr int64_t kBlockQ = 64, kBlockK = 256;

/// Per-thread buffers of the flash kernel: one score/probability panel
/// [kBlockQ, kBlockK], the output accumulator [kBlockQ, dv], running max/sum.
struct FlashScratch {
  std::vector<float> scores, out, rowMax, rowSum;
  explicit FlashScratch(const AttentionShape &s)
      : scores(size_t(kBlockQ * kBlockK)), out(size_t(kBlockQ * s.dv)),
        rowMax(kBlockQ), rowSum(kBlockQ) {}
};

/// One (batch, head, query block): both block products are GEMMs (S = q·kᵀ
/// over a key block, O += P·v), with the online softmax in between.
void flashBlock(const AttentionShape &s, const HeadView &hv, int64_t i0,
                int64_t i1, FlashScratch &w) {
  const int64_t nq = i1 - i0, dv = s.dv, shift = s.lk - s.lq;
  const float negInf = -std::numeric_limits<float>::infinity();
  float *sc = w.scores.data(), *out = w.out.data();
  std::fill(out, out + nq * dv, 0.0f);
  std::fill(w.rowMax.begin(), w.rowMax.end(), negInf);
  std::fill(w.rowSum.begin(), w.rowSum.end(), 0.0f);
  // Keys beyond the last query's causal horizon are never read.
  int64_t keyEnd =
      s.causal ? std::min(s.lk, std::max<int64_t>(0, i1 + shift)) : s.lk;
  for (int64_t j0 = 0; j0 < keyEnd; j0 += kBlockK) {
    int64_t nk = std::min(kBlockK, keyEnd - j0);
    GemmArgs qk;
    qk.transB = true;
    qk.m = nq, qk.n = nk, qk.k = s.dk, qk.alpha = s.scale;
    qk.a = hv.q + i0 * hv.qRow, qk.lda = hv.qRow;
    qk.b = hv.k + j0 * hv.kRow, qk.ldb = hv.kRow;
    qk.c = sc, qk.ldc = kBlockK;
    sgemm(qk);
    for (int64_t qi = 0; qi < nq; ++qi) {
      int64_t i = i0 + qi;
      float *row = sc + qi * kBlockK;
      if (hv.bias)
        for (int64_t j = 0; j < nk; ++j)
          row[j] += hv.bias[i * s.bias.row + (j0 + j) * s.bias.col];
      if (hv.mask)
        for (int64_t j = 0; j < nk; ++j)
          row[j] =
              hv.mask[i * s.mask.row + (j0 + j) * s.mask.col] ? row[j] : negInf;
      if (s.causal) // keys j > i + shift are excluded
        for (int64_t j = std::max<int64_t>(0, i + shift + 1 - j0); j < nk; ++j)
          row[j] = negInf;
      if (s.silu) {
        float inv = 1.0f / float(s.lk);
        for (int64_t j = 0; j < nk; ++j)
          row[j] = row[j] == negInf ? 0.0f : row[j] * fastSigmoid(row[j]) * inv;
        continue;
      }
      float blockMax = maxF32(row, nk);
      float newMax = std::max(w.rowMax[size_t(qi)], blockMax);
      if (newMax == negInf) { // nothing allowed yet: probabilities are 0
        std::fill(row, row + nk, 0.0f);
        continue;
      }
      float correction = fastExp(w.rowMax[size_t(qi)] - newMax);
      w.rowMax[size_t(qi)] = newMax;
      w.rowSum[size_t(qi)] =
          w.rowSum[size_t(qi)] * correction + expShiftSum(row, row, nk, newMax);
      if (correction != 1.0f)
        for (int64_t p = 0; p < dv; ++p)
          out[qi * dv + p] *= correction;
    }
    GemmArgs pv;
    pv.m = nq, pv.n = dv, pv.k = nk, pv.beta = 1.0f;
    pv.a = sc, pv.lda = kBlockK;
    pv.b = hv.v + j0 * hv.vRow, pv.ldb = hv.vRow;
    pv.c = out, pv.ldc = dv;
    sgemm(pv);
  }
  for (int64_t qi = 0; qi < nq; ++qi) {
    float *yrow = hv.y + (i0 + qi) * hv.yRow;
    float inv = s.silu ? 1.0f
                       : (w.rowSum[size_t(qi)] > 0 ? 1.0f / w.rowSum[size_t(qi)]
                                                   : 0.0f);
    for (int64_t p = 0; p < dv; ++p)
      yrow[p] = out[qi * dv + p] * inv;
  }
}

template <KernelVariant V> Status attentionKernel(const KernelCall &call) {
  AttentionShape s;
  if (Status st = checkAttention(call, s); !st)
    return st;
  if constexpr (V == kRef) {
    return attentionReference(call, s);
  } else {
    int64_t qBlocks = (s.lq + kBlockQ - 1) / kBlockQ;
    int64_t items = s.batch.numel() * s.heads * qBlocks;
    int64_t work = kBlockQ * s.lk * (s.dk + s.dv);
    parallelFor(call, items,
                std::max<int64_t>(1, 65536 / std::max<int64_t>(work, 1)),
                [&](int64_t lo, int64_t hi) {
                  FlashScratch scratch(s);
                  for (int64_t t = lo; t < hi; ++t) {
                    int64_t qb = t % qBlocks, bh = t / qBlocks;
                    HeadView hv = headView(call, s, bh / s.heads, bh % s.heads);
                    flashBlock(s, hv, qb * kBlockQ,
                               std::min(s.lq, (qb + 1) * kBlockQ), scratch);
                  }
                });
    return Status::ok();
  }
}

//===----------------------------------------------------------------------===//
// AttentionGrad: q, k, v, mask?, bias?, dy -> dq, dk, dv
//===----------------------------------------------------------------------===//
//
// With P the probabilities (recomputed) and dP = dy·vᵀ:
//   softmax: dS = P ∘ (dP − rowsum(P ∘ dP));  silu: dS = dP ∘ silu'(S) / Lk
//   dv = Pᵀ·dy,  dq = scale·dS·k,  dk = scale·dSᵀ·q
// summed over the query heads sharing a key/value head and over broadcast
// batch dims.

Status checkAttentionGrad(const KernelCall &call, AttentionShape &s) {
  // dq, dk, dv, and dbias exactly when there is a bias.
  int results = call.numInputs > 4 && call.in(4).present() ? 4 : 3;
  if (Status st = checkCounts(call, "attention_grad", 6, results, 0b011000);
      !st)
    return st;
  if (Status st = checkAttentionShapes(call, call.in(5), s); !st)
    return st;
  for (int i = 0; i < results; ++i) {
    int operand = i < 3 ? i : 4;
    ONEREC_KERNEL_CHECK(call,
                        !optionalResult(call, i) ||
                            (call.out(i).dtype == DType::f32 &&
                             call.out(i).shape == call.in(operand).shape),
                        "attention_grad: result {} {} must have the shape of "
                        "operand {} {}",
                        i, call.out(i).shape.toString(), operand,
                        call.in(operand).shape.toString());
  }
  return Status::ok();
}

/// Where dS element (b, h, i, j) goes in dbias: the bias's broadcast
/// strides, so that broadcast dims (batch, heads) are summed.
int64_t biasOffset(const AttentionShape &s, int64_t b, int64_t h) {
  return broadcastOffset(b, s.batch, s.bias.strides) + h * s.bias.head;
}

/// Offsets of one (batch, head) problem in q/dq, k/dk, v/dv, dy; the mask
/// and bias of its scores.
struct GradOffsets {
  int64_t q, k, v, y;
  const uint8_t *mask;
  const float *bias;
};

GradOffsets gradOffsets(const KernelCall &call, const AttentionShape &s,
                        int64_t b, int64_t h) {
  GradOffsets o;
  int64_t kvh = h / s.group;
  o.q = broadcastOffset(b, s.batch, s.qStrides) * s.lq * s.heads * s.dk +
        h * s.dk;
  o.k = broadcastOffset(b, s.batch, s.kStrides) * s.lk * s.kvHeads * s.dk +
        kvh * s.dk;
  o.v = broadcastOffset(b, s.batch, s.vStrides) * s.lk * s.kvHeads * s.dv +
        kvh * s.dv;
  o.y = b * s.lq * s.heads * s.dv + h * s.dv;
  (void)call;
  o.mask = s.mask.data ? static_cast<const uint8_t *>(s.mask.data) +
                             broadcastOffset(b, s.batch, s.mask.strides) +
                             h * s.mask.head
                       : nullptr;
  o.bias = s.bias.data ? static_cast<const float *>(s.bias.data) +
                             broadcastOffset(b, s.batch, s.bias.strides) +
                             h * s.bias.head
                       : nullptr;
  return o;
}

/// silu'(x) = σ(x)·(1 + x·(1 − σ(x))).
double refSiluGrad(double x) {
  double sg = refSigmoid(x);
  return sg * (1 + x * (1 - sg));
}

Status attentionGradReference(const KernelCall &call, const AttentionShape &s) {
  const float *Q = call.in(0).as<const float>(),
              *K = call.in(1).as<const float>(),
              *Vv = call.in(2).as<const float>(),
              *dY = call.in(5).as<const float>();
  int64_t qRow = s.heads * s.dk, kRow = s.kvHeads * s.dk,
          vRow = s.kvHeads * s.dv, yRow = s.heads * s.dv;
  std::vector<double> gq(size_t(call.in(0).numel()), 0.0),
      gk(size_t(call.in(1).numel()), 0.0), gv(size_t(call.in(2).numel()), 0.0);
  float *dbias = optionalResult(call, 3);
  std::vector<double> gb(dbias ? size_t(call.in(4).numel()) : 0, 0.0);
  std::vector<double> score(size_t(s.lk)), w(size_t(s.lk)), dp(size_t(s.lk)),
      ds(size_t(s.lk));
  std::vector<char> allowed(size_t(s.lk));
  for (int64_t b = 0, nb = s.batch.numel(); b < nb; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      GradOffsets o = gradOffsets(call, s, b, h);
      for (int64_t i = 0; i < s.lq; ++i) {
        const float *q = Q + o.q + i * qRow, *dy = dY + o.y + i * yRow;
        double m = -INFINITY;
        for (int64_t j = 0; j < s.lk; ++j) {
          double dot = 0;
          for (int64_t p = 0; p < s.dk; ++p)
            dot += double(q[p]) * K[o.k + j * kRow + p];
          score[size_t(j)] =
              double(s.scale) * dot +
              (o.bias ? o.bias[i * s.bias.row + j * s.bias.col] : 0.0);
          allowed[size_t(j)] =
              (!o.mask || o.mask[i * s.mask.row + j * s.mask.col]) &&
              (!s.causal || j <= i + (s.lk - s.lq));
          if (allowed[size_t(j)])
            m = std::max(m, score[size_t(j)]);
          double d = 0;
          for (int64_t p = 0; p < s.dv; ++p)
            d += double(dy[p]) * Vv[o.v + j * vRow + p];
          dp[size_t(j)] = d;
        }
        double sum = 0;
        for (int64_t j = 0; j < s.lk; ++j) {
          double e = 0;
          if (allowed[size_t(j)])
            e = s.silu ? refSilu(score[size_t(j)]) / double(s.lk)
                       : std::exp(score[size_t(j)] - m);
          w[size_t(j)] = e;
          sum += e;
        }
        if (!s.silu) {
          if (sum <= 0)
            continue; // no allowed key: y = 0, no gradient
          double dot = 0;
          for (int64_t j = 0; j < s.lk; ++j) {
            w[size_t(j)] /= sum;
            dot += w[size_t(j)] * dp[size_t(j)];
          }
          for (int64_t j = 0; j < s.lk; ++j)
            ds[size_t(j)] = w[size_t(j)] * (dp[size_t(j)] - dot);
        } else {
          for (int64_t j = 0; j < s.lk; ++j)
            ds[size_t(j)] = allowed[size_t(j)]
                                ? dp[size_t(j)] *
                                      refSiluGrad(score[size_t(j)]) /
                                      double(s.lk)
                                : 0.0;
        }
        if (dbias)
          for (int64_t j = 0; j < s.lk; ++j)
            gb[size_t(biasOffset(s, b, h) + i * s.bias.row + j * s.bias.col)] +=
                ds[size_t(j)];
        for (int64_t j = 0; j < s.lk; ++j) {
          for (int64_t p = 0; p < s.dv; ++p)
            gv[size_t(o.v + j * vRow + p)] += w[size_t(j)] * dy[p];
          double g = double(s.scale) * ds[size_t(j)];
          for (int64_t p = 0; p < s.dk; ++p) {
            gq[size_t(o.q + i * qRow + p)] += g * K[o.k + j * kRow + p];
            gk[size_t(o.k + j * kRow + p)] += g * q[p];
          }
        }
      }
    }
  const std::vector<double> *grads[4] = {&gq, &gk, &gv, &gb};
  for (int r = 0; r < call.numOutputs; ++r)
    if (float *out = optionalResult(call, r))
      for (size_t i = 0; i < grads[r]->size(); ++i)
        out[i] = float((*grads[r])[i]);
  return Status::ok();
}

/// One (batch, key/value head) of the flash-style backward: dk and dv of the
/// head are this item's alone, and so are dq of its query heads. For each
/// query head and block of up to kBlockQ queries the scores are recomputed
/// as a GEMM, the probabilities follow (the full key range of the block is
/// in one panel), then dP = dy·vᵀ, dS, and dq, dk, dv as three more GEMMs.
/// With `dsAll` (when dbias is wanted) every dS row is also kept there, as
/// [batch, heads, Lq, Lk], for the ordered reduction into dbias.
/// Where the flash backward writes dq, dk and dv: the results themselves, or
/// for an operand broadcast over batch dims a scratch copy per batch item
/// (full-batch layout), summed into the result afterwards.
struct GradTargets {
  float *dq = nullptr, *dk = nullptr, *dv = nullptr;
  bool qFull = true, kFull = true, vFull = true;
  /// The batch item in the scratch's first slot.
  int64_t scratchBase = 0;
};

void flashGradItem(const KernelCall &call, const AttentionShape &s, int64_t b,
                   int64_t kvh, const GradTargets &targets,
                   std::vector<float> &scores, std::vector<float> &dprob,
                   float *dsAll) {
  const int64_t qRow = s.heads * s.dk, kRow = s.kvHeads * s.dk,
                vRow = s.kvHeads * s.dv, yRow = s.heads * s.dv, lk = s.lk,
                shift = s.lk - s.lq;
  const float negInf = -std::numeric_limits<float>::infinity();
  float *dQ = targets.dq, *dK = targets.dk, *dV = targets.dv;
  GradOffsets head = gradOffsets(call, s, b, kvh * s.group);
  const float *k = call.in(1).as<const float>() + head.k,
              *v = call.in(2).as<const float>() + head.v;
  // A broadcast operand's gradient goes to this item's scratch slot.
  int64_t slot = b - targets.scratchBase;
  int64_t dkOffset = targets.kFull ? head.k : slot * lk * kRow + kvh * s.dk;
  int64_t dvOffset = targets.vFull ? head.v : slot * lk * vRow + kvh * s.dv;
  float *dk = dK ? dK + dkOffset : nullptr;
  float *dv = dV ? dV + dvOffset : nullptr;
  for (int64_t j = 0; j < lk; ++j) {
    if (dk)
      std::fill(dk + j * kRow, dk + j * kRow + s.dk, 0.0f);
    if (dv)
      std::fill(dv + j * vRow, dv + j * vRow + s.dv, 0.0f);
  }
  float *sc = scores.data(), *dp = dprob.data();
  for (int64_t h = kvh * s.group; h < (kvh + 1) * s.group; ++h) {
    GradOffsets o = gradOffsets(call, s, b, h);
    const float *q = call.in(0).as<const float>() + o.q,
                *dy = call.in(5).as<const float>() + o.y;
    float *dq = dQ ? dQ + (targets.qFull ? o.q : slot * s.lq * qRow + h * s.dk)
                   : nullptr;
    for (int64_t i0 = 0; i0 < s.lq; i0 += kBlockQ) {
      int64_t nq = std::min(kBlockQ, s.lq - i0), i1 = i0 + nq;
      int64_t nk =
          s.causal ? std::min(lk, std::max<int64_t>(0, i1 + shift)) : lk;
      if (nk == 0) {
        if (dq)
          for (int64_t qi = 0; qi < nq; ++qi)
            std::fill(dq + (i0 + qi) * qRow, dq + (i0 + qi) * qRow + s.dk,
                      0.0f);
        continue;
      }
      GemmArgs qk;
      qk.transB = true;
      qk.m = nq, qk.n = nk, qk.k = s.dk, qk.alpha = s.scale;
      qk.a = q + i0 * qRow, qk.lda = qRow;
      qk.b = k, qk.ldb = kRow;
      qk.c = sc, qk.ldc = lk;
      sgemm(qk);
      GemmArgs dyv;
      dyv.transB = true;
      dyv.m = nq, dyv.n = nk, dyv.k = s.dv;
      dyv.a = dy + i0 * yRow, dyv.lda = yRow;
      dyv.b = v, dyv.ldb = vRow;
      dyv.c = dp, dyv.ldc = lk;
      sgemm(dyv);
      for (int64_t qi = 0; qi < nq; ++qi) {
        int64_t i = i0 + qi;
        float *row = sc + qi * lk, *drow = dp + qi * lk;
        if (o.bias)
          for (int64_t j = 0; j < nk; ++j)
            row[j] += o.bias[i * s.bias.row + j * s.bias.col];
        if (o.mask)
          for (int64_t j = 0; j < nk; ++j)
            row[j] = o.mask[i * s.mask.row + j * s.mask.col] ? row[j] : negInf;
        if (s.causal)
          for (int64_t j = std::max<int64_t>(0, i + shift + 1); j < nk; ++j)
            row[j] = negInf;
        if (s.silu) {
          float inv = 1.0f / float(lk);
          for (int64_t j = 0; j < nk; ++j) {
            float x = row[j];
            if (x == negInf) {
              row[j] = 0.0f, drow[j] = 0.0f;
              continue;
            }
            float sg = fastSigmoid(x);
            drow[j] *= sg * (1.0f + x * (1.0f - sg)) * inv;
            row[j] = x * sg * inv;
          }
          continue;
        }
        float mx = maxF32(row, nk);
        if (mx == negInf) { // no allowed key: no gradient
          std::fill(row, row + nk, 0.0f);
          std::fill(drow, drow + nk, 0.0f);
          continue;
        }
        float inv = 1.0f / expShiftSum(row, row, nk, mx);
        for (int64_t j = 0; j < nk; ++j)
          row[j] *= inv;
        float d = dotLanes(row, drow, nk);
        for (int64_t j = 0; j < nk; ++j)
          drow[j] = row[j] * (drow[j] - d);
      }
      if (dsAll)
        for (int64_t qi = 0; qi < nq; ++qi)
          std::memcpy(dsAll + ((b * s.heads + h) * s.lq + i0 + qi) * lk,
                      dp + qi * lk, size_t(nk) * sizeof(float));
      if (dq) {
        GemmArgs g;
        g.m = nq, g.n = s.dk, g.k = nk, g.alpha = s.scale;
        g.a = dp, g.lda = lk, g.b = k, g.ldb = kRow;
        g.c = dq + i0 * qRow, g.ldc = qRow;
        sgemm(g);
      }
      if (dk) {
        GemmArgs g;
        g.transA = true;
        g.m = nk, g.n = s.dk, g.k = nq, g.alpha = s.scale, g.beta = 1.0f;
        g.a = dp, g.lda = lk, g.b = q + i0 * qRow, g.ldb = qRow;
        g.c = dk, g.ldc = kRow;
        sgemm(g);
      }
      if (dv) {
        GemmArgs g;
        g.transA = true;
        g.m = nk, g.n = s.dv, g.k = nq, g.beta = 1.0f;
        g.a = sc, g.lda = lk, g.b = dy + i0 * yRow, g.ldb = yRow;
        g.c = dv, g.ldc = vRow;
        sgemm(g);
      }
    }
  }
}

template <KernelVariant V> Status attentionGradKernel(const KernelCall &call) {
  AttentionShape s;
  if (Status st = checkAttentionGrad(call, s); !st)
    return st;
  if (V == kRef)
    return attentionGradReference(call, s);
  // Each (batch, kv head) item owns its slice of dq, dk and dv. An operand
  // broadcast over batch dims (learned queries shared by every user, a
  // shared memory) has its gradient written per item into scratch, then
  // summed over the batch in item order, so threads never share a slice and
  // the sums do not depend on them. The scratch holds a chunk of items at a
  // time (about kScratchBytes), which does not change the order.
  constexpr int64_t kScratchBytes = int64_t(64) << 20;
  int64_t nb = s.batch.numel();
  GradTargets targets;
  std::vector<float> scratch[3];
  const int64_t itemSize[3] = {s.lq * s.heads * s.dk, s.lk * s.kvHeads * s.dk,
                               s.lk * s.kvHeads * s.dv};
  bool *full[3] = {&targets.qFull, &targets.kFull, &targets.vFull};
  float **target[3] = {&targets.dq, &targets.dk, &targets.dv};
  int64_t scratchPerItem = 0;
  for (int i = 0; i < 3; ++i) {
    *target[i] = optionalResult(call, i);
    *full[i] =
        leadingDims(call.in(i).shape, call.in(i).shape.rank - 2).numel() == nb;
    if (*target[i] && !*full[i])
      scratchPerItem += itemSize[i];
  }
  int64_t chunk =
      scratchPerItem == 0
          ? nb
          : std::clamp<int64_t>(
                kScratchBytes / int64_t(sizeof(float)) / scratchPerItem, 1, nb);
  const int64_t *strides[3] = {s.qStrides, s.kStrides, s.vStrides};
  for (int i = 0; i < 3; ++i)
    if (*target[i] && !*full[i]) {
      scratch[i].resize(size_t(chunk * itemSize[i]));
      *target[i] = scratch[i].data();
      std::fill(optionalResult(call, i),
                optionalResult(call, i) + call.out(i).numel(), 0.0f);
    }
  float *dbias = optionalResult(call, 3);
  std::vector<float> dsAll(dbias ? size_t(nb * s.heads * s.lq * s.lk) : 0,
                           0.0f);
  int64_t work = s.group * s.lq * s.lk * (2 * s.dk + 2 * s.dv);
  for (int64_t first = 0; first < nb; first += chunk) {
    int64_t items = std::min(chunk, nb - first);
    targets.scratchBase = first;
    parallelFor(call, items * s.kvHeads,
                std::max<int64_t>(1, 65536 / std::max<int64_t>(work, 1)),
                [&](int64_t lo, int64_t hi) {
                  std::vector<float> scores(size_t(kBlockQ * s.lk)),
                      dprob(size_t(kBlockQ * s.lk));
                  for (int64_t t = lo; t < hi; ++t)
                    flashGradItem(call, s, first + t / s.kvHeads, t % s.kvHeads,
                                  targets, scores, dprob,
                                  dbias ? dsAll.data() : nullptr);
                });
    for (int i = 0; i < 3; ++i) {
      float *out = optionalResult(call, i);
      if (!out || *full[i])
        continue;
      for (int64_t b = first; b < first + items; ++b) {
        float *dst =
            out + broadcastOffset(b, s.batch, strides[i]) * itemSize[i];
        const float *src = scratch[i].data() + (b - first) * itemSize[i];
        for (int64_t e = 0; e < itemSize[i]; ++e)
          dst[e] += src[e];
      }
    }
  }
  if (dbias) {
    // dbias sums dS over the dims the bias broadcasts along, in one fixed
    // order (O(scores) adds, small next to the GEMMs above).
    std::fill(dbias, dbias + call.in(4).numel(), 0.0f);
    const float *ds = dsAll.data();
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t h = 0; h < s.heads; ++h) {
        int64_t base = biasOffset(s, b, h);
        for (int64_t i = 0; i < s.lq; ++i, ds += s.lk)
          for (int64_t j = 0; j < s.lk; ++j)
            dbias[base + i * s.bias.row + j * s.bias.col] += ds[j];
      }
  }
  return Status::ok();
}

} // namespace

void onerec::kernels::registerAttentionKernels(KernelRegistry &r) {
  addCpu(r, OpCode::Attention, DType::f32, attentionKernel<kRef>,
         attentionKernel<kOpt>);
  addCpu(r, OpCode::AttentionGrad, DType::f32, attentionGradKernel<kRef>,
         attentionGradKernel<kOpt>);
}
