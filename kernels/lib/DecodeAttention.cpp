//===- DecodeAttention.cpp - attention of newly decoded tokens ------------===//
//
// q [N, S, H·dk]; keys k [Bk, L, Hkv·dk], values v [Bk, L, Hkv·dv] (a KV
// cache, or cross-attention keys shared by a request's beams); optional
// k_new / v_new [N, S, ...] (the new tokens' own keys), lengths [N], rows
// [N]. Row n, query head h, new token i attends over
//
//   k[r][0 .. len)  then  k_new[n][0 .. i]        (r = rows[n] or n,
//                                                  len = lengths[n] or L)
//
// with softmax(scale·q·k) weights. This is the inner loop of beam search.
// Cross-attention (no lengths, no new keys): the beams of a request read one
// key row, so consecutive rows with the same key row are one problem per
// head, two GEMMs (q·kᵀ, then p·v) over up to 64 rows. Self-attention: each
// row has its own few cached keys; a loop per (row, head) with vectorized
// dot products. Every row and length is checked before any is read.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include "onerec/Kernels/Gemm.h"

#include <cmath>
#include <vector>

using namespace onerec;
using namespace onerec::kernels;

namespace {

struct DecodeShape {
  int64_t rows, s, keyRows, length, heads, kvHeads, group, dk, dv;
  float scale;
  bool hasNew;
};

Status checkDecodeAttention(const KernelCall &call, DecodeShape &d) {
  const TensorView &q = call.in(0), &k = call.in(1), &v = call.in(2);
  d.rows = q.shape.dims[0];
  d.s = q.shape.dims[1];
  d.keyRows = k.shape.dims[0];
  d.length = k.shape.dims[1];
  d.heads = call.attr().getInt("num_heads");
  d.kvHeads = call.attr().getInt("num_kv_heads");
  d.group = d.heads / d.kvHeads;
  d.dk = q.shape.dims[2] / d.heads;
  d.dv = v.shape.dims[2] / d.kvHeads;
  d.scale = float(call.attr().getFloat("scale"));
  d.hasNew = call.in(3).present();
  const TensorView &lengths = call.in(5), &rows = call.in(6);
  for (int64_t n = 0; n < d.rows; ++n) {
    if (lengths.present()) {
      int64_t len = indexAt(lengths, n);
      if (len < 0 || len > d.length)
        return call.fail(
            fmt::format("row {} attends over {} cached keys, outside [0, {}]",
                        n, len, d.length));
    }
    if (rows.present()) {
      int64_t r = indexAt(rows, n);
      if (r < 0 || r >= d.keyRows)
        return call.fail(fmt::format("row {} reads key row {}, outside [0, {})",
                                     n, r, d.keyRows));
    }
  }
  return Status::ok();
}

/// The keys and values one (row, query head) problem reads.
struct RowView {
  const float *k, *v, *kNew, *vNew;
  int64_t len;
};

RowView rowView(const KernelCall &call, const DecodeShape &d, int64_t n,
                int64_t h) {
  int64_t kvh = h / d.group;
  int64_t r = call.in(6).present() ? indexAt(call.in(6), n) : n;
  int64_t kRow = d.kvHeads * d.dk, vRow = d.kvHeads * d.dv;
  RowView rv;
  rv.k = call.in(1).as<const float>() + r * d.length * kRow + kvh * d.dk;
  rv.v = call.in(2).as<const float>() + r * d.length * vRow + kvh * d.dv;
  rv.kNew = d.hasNew
                ? call.in(3).as<const float>() + n * d.s * kRow + kvh * d.dk
                : nullptr;
  rv.vNew = d.hasNew
                ? call.in(4).as<const float>() + n * d.s * vRow + kvh * d.dv
                : nullptr;
  rv.len = call.in(5).present() ? indexAt(call.in(5), n) : d.length;
  return rv;
}

/// Key j of query i: cached keys first, then the new ones up to i.
template <typename Fn>
void forEachKey(const DecodeShape &d, const RowView &rv, int64_t i, Fn &&fn) {
  int64_t kRow = d.kvHeads * d.dk, vRow = d.kvHeads * d.dv;
  for (int64_t j = 0; j < rv.len; ++j)
    fn(rv.k + j * kRow, rv.v + j * vRow);
  if (d.hasNew)
    for (int64_t j = 0; j <= i; ++j)
      fn(rv.kNew + j * kRow, rv.vNew + j * vRow);
}

Status decodeAttentionReference(const KernelCall &call, const DecodeShape &d) {
  std::vector<double> scores, acc(size_t(d.dv));
  for (int64_t n = 0; n < d.rows; ++n)
    for (int64_t h = 0; h < d.heads; ++h) {
      RowView rv = rowView(call, d, n, h);
      for (int64_t i = 0; i < d.s; ++i) {
        const float *q = call.in(0).as<const float>() +
                         (n * d.s + i) * d.heads * d.dk + h * d.dk;
        scores.clear();
        forEachKey(d, rv, i, [&](const float *k, const float *) {
          double dot = 0;
          for (int64_t p = 0; p < d.dk; ++p)
            dot += double(q[p]) * k[p];
          scores.push_back(double(d.scale) * dot);
        });
        double m = -INFINITY, sum = 0;
        for (double x : scores)
          m = std::max(m, x);
        std::fill(acc.begin(), acc.end(), 0.0);
        size_t j = 0;
        forEachKey(d, rv, i, [&](const float *, const float *v) {
          double w = std::exp(scores[j++] - m);
          sum += w;
          for (int64_t p = 0; p < d.dv; ++p)
            acc[size_t(p)] += w * v[p];
        });
        float *y =
            call.out(0).as<float>() + (n * d.s + i) * d.heads * d.dv + h * d.dv;
        for (int64_t p = 0; p < d.dv; ++p)
          y[p] = sum > 0 ? float(acc[size_t(p)] / sum) : 0.0f;
      }
    }
  return Status::ok();
}

/// Dot product with eight partial sums (vectorizes without reassociation
/// flags; the order is fixed, so results do not depend on threads).
float dot(const float *a, const float *b, int64_t n) {
  float part[8] = {};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8)
    for (int l = 0; l < 8; ++l)
      part[l] += a[p + l] * b[p + l];
  float sum = ((part[0] + part[1]) + (part[2] + part[3])) +
              ((part[4] + part[5]) + (part[6] + part[7]));
  for (; p < n; ++p)
    sum += a[p] * b[p];
  return sum;
}

/// One (row, query head) problem in float: scores, softmax, weighted values.
/// The self-attention step: a few cached keys per row, each row its own.
void decodeRowHead(const KernelCall &call, const DecodeShape &d, int64_t n,
                   int64_t h, std::vector<float> &scores,
                   std::vector<float> &acc) {
  RowView rv = rowView(call, d, n, h);
  for (int64_t i = 0; i < d.s; ++i) {
    const float *q = call.in(0).as<const float>() +
                     (n * d.s + i) * d.heads * d.dk + h * d.dk;
    int64_t count = 0;
    forEachKey(d, rv, i, [&](const float *k, const float *) {
      scores[size_t(count++)] = d.scale * dot(q, k, d.dk);
    });
    float *y =
        call.out(0).as<float>() + (n * d.s + i) * d.heads * d.dv + h * d.dv;
    if (count == 0) {
      std::fill(y, y + d.dv, 0.0f);
      continue;
    }
    float m = maxF32(scores.data(), count);
    float sum = expShiftSum(scores.data(), scores.data(), count, m);
    std::fill(acc.begin(), acc.end(), 0.0f);
    int64_t j = 0;
    forEachKey(d, rv, i, [&](const float *, const float *v) {
      float w = scores[size_t(j++)];
      for (int64_t p = 0; p < d.dv; ++p)
        acc[size_t(p)] += w * v[p];
    });
    float inv = 1.0f / sum;
    for (int64_t p = 0; p < d.dv; ++p)
      y[p] = acc[size_t(p)] * inv;
  }
}

/// Cross-attention: consecutive rows that read the same key row (a
/// request's beams) and all L keys form one problem per head, two GEMMs:
/// scores [G·S, L] = q·kᵀ, then y = softmax(scores)·v.
void decodeSharedGroup(const KernelCall &call, const DecodeShape &d,
                       int64_t first, int64_t count, int64_t h,
                       std::vector<float> &scores) {
  RowView rv = rowView(call, d, first, h);
  int64_t m = count * d.s, l = d.length;
  GemmArgs qk;
  qk.transB = true;
  qk.m = m, qk.n = l, qk.k = d.dk, qk.alpha = d.scale;
  qk.a = call.in(0).as<const float>() + first * d.s * d.heads * d.dk + h * d.dk;
  qk.lda = d.heads * d.dk;
  qk.b = rv.k, qk.ldb = d.kvHeads * d.dk;
  qk.c = scores.data(), qk.ldc = l;
  sgemm(qk);
  for (int64_t r = 0; r < m; ++r) {
    float *row = scores.data() + r * l;
    float mx = maxF32(row, l);
    float inv = 1.0f / expShiftSum(row, row, l, mx);
    for (int64_t j = 0; j < l; ++j)
      row[j] *= inv;
  }
  GemmArgs pv;
  pv.m = m, pv.n = d.dv, pv.k = l;
  pv.a = scores.data(), pv.lda = l;
  pv.b = rv.v, pv.ldb = d.kvHeads * d.dv;
  pv.c = call.out(0).as<float>() + first * d.s * d.heads * d.dv + h * d.dv;
  pv.ldc = d.heads * d.dv;
  sgemm(pv);
}

template <KernelVariant V>
Status decodeAttentionKernel(const KernelCall &call) {
  DecodeShape d;
  if (Status st = checkDecodeAttention(call, d); !st)
    return st;
  if constexpr (V == kRef) {
    return decodeAttentionReference(call, d);
  } else {
    if (!d.hasNew && !call.in(5).present() && d.length > 0) {
      // Runs of rows reading one key row, split so no run is too big to
      // share the work.
      std::vector<std::pair<int64_t, int64_t>> runs;
      const TensorView &rows = call.in(6);
      for (int64_t n = 0; n < d.rows;) {
        int64_t r = rows.present() ? indexAt(rows, n) : n, end = n + 1;
        while (end < d.rows && end - n < 64 && rows.present() &&
               indexAt(rows, end) == r)
          ++end;
        runs.push_back({n, end - n});
        n = end;
      }
      int64_t work = 64 * d.s * d.length * (d.dk + d.dv);
      parallelFor(
          call, int64_t(runs.size()) * d.heads,
          std::max<int64_t>(1, 65536 / std::max<int64_t>(work, 1)),
          [&](int64_t lo, int64_t hi) {
            std::vector<float> scores(static_cast<size_t>(64 * d.s * d.length));
            for (int64_t t = lo; t < hi; ++t) {
              auto [first, count] = runs[size_t(t / d.heads)];
              decodeSharedGroup(call, d, first, count, t % d.heads, scores);
            }
          });
      return Status::ok();
    }
    int64_t keys = d.length + (d.hasNew ? d.s : 0);
    int64_t work = std::max<int64_t>(1, d.s * keys * (d.dk + d.dv));
    parallelFor(call, d.rows * d.heads, std::max<int64_t>(1, 32768 / work),
                [&](int64_t lo, int64_t hi) {
                  std::vector<float> scores(static_cast<size_t>(keys));
                  std::vector<float> acc(static_cast<size_t>(d.dv));
                  for (int64_t t = lo; t < hi; ++t)
                    decodeRowHead(call, d, t / d.heads, t % d.heads, scores,
                                  acc);
                });
    return Status::ok();
  }
}

} // namespace

void onerec::kernels::registerDecodeAttentionKernels(KernelRegistry &r) {
  addCpu(r, OpCode::DecodeAttention, DType::f32, decodeAttentionKernel<kRef>,
         decodeAttentionKernel<kOpt>);
}
