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

Status checkAttention(const KernelCall &call, AttentionShape &s) {
  if (Status st = checkArity(call, "attention", 3, 5, 1); !st)
    return st;
  const TensorView &q = call.in(0), &k = call.in(1), &v = call.in(2),
                   &y = call.out(0);
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

} // namespace

void onerec::kernels::registerAttentionKernels(KernelRegistry &r) {
  addCpu(r, OpCode::Attention, DType::f32, attentionKernel<kRef>,
         attentionKernel<kOpt>);
}
