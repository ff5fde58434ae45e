//===- EmbeddingGrad.cpp - backward of table lookups ----------------------===//
//
// dtable [R, d] = 0, then every lookup's dy is added to the row(s) it read:
// plain ids add dy[t] to row id; semantic ids [..., L] with codebook K add
// to row l·K + code_l the whole dy[t] (sum), dy[t] / L (mean) or level l's
// slice dy[t, l·d:(l+1)·d] (concat). Ids are checked as in the forward
// kernel: one bad id fails the call, nothing outside the table is written.
//
// The optimized kernel avoids atomics by partitioning the table's rows: a
// stable counting sort groups the (lookup, level) pairs by row partition
// (the partition count depends on the shapes only), then each partition
// zeroes its rows and adds its pairs in lookup order. Every row therefore
// sums its contributions in the same order as a sequential loop, whatever
// the thread count.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

enum class Combine { Sum = 0, Mean = 1, Concat = 2 };

struct EmbeddingGradShape {
  int64_t rows, d, codebook, levels, lookups;
  Combine combine;
};

Status checkEmbeddingGrad(const KernelCall &call, EmbeddingGradShape &s) {
  if (Status st = checkCounts(call, "embedding_grad", 2, 1); !st)
    return st;
  const TensorView &ids = call.in(0), &dy = call.in(1), &table = call.out(0);
  ONEREC_KERNEL_CHECK(
      call,
      table.present() && table.shape.rank == 2 && table.dtype == DType::f32 &&
          dy.dtype == DType::f32 && isIndexType(ids.dtype),
      "embedding_grad: expected i64/i32 ids, f32 dy and an f32 [rows, d] "
      "result, got {}, {} and {}",
      runtime::dtypeName(ids.dtype), runtime::dtypeName(dy.dtype),
      table.shape.toString());
  s.rows = table.shape[0];
  s.d = table.shape[1];
  s.codebook = call.attr().getInt("codebook");
  int64_t combine = call.attr().getInt("combine");
  ONEREC_KERNEL_CHECK(call, combine >= 0 && combine <= 2 && s.codebook >= 0,
                      "embedding_grad: combine {} / codebook {} invalid",
                      combine, s.codebook);
  s.combine = Combine(combine);
  if (s.codebook == 0) {
    s.levels = 1;
    s.lookups = ids.numel();
    ONEREC_KERNEL_CHECK(call, dy.numel() == s.lookups * s.d,
                        "embedding_grad: {} ids of width {} do not match dy {}",
                        s.lookups, s.d, dy.shape.toString());
    int64_t bad = firstIndexOutOfRange(ids, s.rows);
    ONEREC_KERNEL_CHECK(
        call, bad < 0,
        "embedding_grad: id {} at position {} is outside the table's {} rows",
        bad < 0 ? 0 : indexAt(ids, bad), bad, s.rows);
    return Status::ok();
  }
  ONEREC_KERNEL_CHECK(call, ids.shape.rank >= 1,
                      "embedding_grad: semantic ids need a level axis");
  s.levels = ids.shape.last();
  s.lookups = s.levels ? ids.numel() / s.levels : 0;
  int64_t width = s.combine == Combine::Concat ? s.levels * s.d : s.d;
  ONEREC_KERNEL_CHECK(
      call, s.levels * s.codebook == s.rows && dy.numel() == s.lookups * width,
      "embedding_grad: {} levels of {} codes need {} rows (table has {}) and "
      "dy of width {} (dy is {})",
      s.levels, s.codebook, s.levels * s.codebook, s.rows, width,
      dy.shape.toString());
  int64_t bad = firstIndexOutOfRange(ids, s.codebook);
  ONEREC_KERNEL_CHECK(call, bad < 0,
                      "embedding_grad: code {} at position {} (level {}) is "
                      "outside the codebook of {}",
                      bad < 0 ? 0 : indexAt(ids, bad), bad,
                      bad < 0 ? 0 : bad % s.levels, s.codebook);
  return Status::ok();
}

template <KernelVariant V> Status embeddingGradKernel(const KernelCall &call) {
  EmbeddingGradShape s;
  if (Status st = checkEmbeddingGrad(call, s); !st)
    return st;
  const TensorView &ids = call.in(0);
  const float *dy = call.in(1).as<const float>();
  float *table = call.out(0).as<float>();
  int64_t d = s.d, L = s.levels;
  bool concat = s.codebook > 0 && s.combine == Combine::Concat;
  double scale =
      s.codebook > 0 && s.combine == Combine::Mean ? 1.0 / double(L) : 1.0;
  auto rowOf = [&](int64_t pair) { // pair = lookup·L + level
    return (pair % L) * s.codebook + indexAt(ids, pair);
  };
  // The dy slice pair `pair` adds: its level's slice for concat, else the
  // lookup's whole row.
  auto sourceOf = [&](int64_t pair) {
    return concat ? dy + pair * d : dy + (pair / L) * d;
  };
  int64_t pairs = s.lookups * L;
  if constexpr (V == kRef) {
    std::vector<double> acc(size_t(s.rows * d), 0.0);
    for (int64_t pair = 0; pair < pairs; ++pair) {
      double *row = &acc[size_t(rowOf(pair) * d)];
      const float *src = sourceOf(pair);
      for (int64_t j = 0; j < d; ++j)
        row[j] += double(src[j]) * scale;
    }
    for (int64_t i = 0; i < s.rows * d; ++i)
      table[i] = float(acc[size_t(i)]);
    return Status::ok();
  }
  // Partitions of about 64 KiB of rows, at most 4096 of them.
  int64_t rowsPerPart =
      std::max<int64_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)),
                        (s.rows + 4095) / 4096);
  int64_t parts = (s.rows + rowsPerPart - 1) / rowsPerPart;
  std::vector<int64_t> rowOfPair(static_cast<size_t>(pairs));
  std::vector<int64_t> start(size_t(parts + 1), 0);
  for (int64_t pair = 0; pair < pairs; ++pair) {
    int64_t row = rowOf(pair);
    rowOfPair[size_t(pair)] = row;
    ++start[size_t(row / rowsPerPart + 1)];
  }
  for (int64_t p = 0; p < parts; ++p)
    start[size_t(p + 1)] += start[size_t(p)];
  std::vector<int64_t> order(static_cast<size_t>(pairs));
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t pair = 0; pair < pairs; ++pair)
      order[size_t(next[size_t(rowOfPair[size_t(pair)] / rowsPerPart)]++)] =
          pair;
  }
  float fscale = float(scale);
  // Work per partition: zeroing its rows plus its share of the additions.
  int64_t work = (s.rows + pairs) * d;
  parallelFor(
      call, parts,
      std::max<int64_t>(1, parts * 32768 / std::max<int64_t>(work, 1)),
      [&](int64_t lo, int64_t hi) {
        for (int64_t p = lo; p < hi; ++p) {
          int64_t r0 = p * rowsPerPart, r1 = std::min(s.rows, r0 + rowsPerPart);
          std::fill(table + r0 * d, table + r1 * d, 0.0f);
          for (int64_t k = start[size_t(p)]; k < start[size_t(p + 1)]; ++k) {
            int64_t pair = order[size_t(k)];
            float *row = table + rowOfPair[size_t(pair)] * d;
            const float *src = sourceOf(pair);
            if (fscale == 1.0f)
              for (int64_t j = 0; j < d; ++j)
                row[j] += src[j];
            else
              for (int64_t j = 0; j < d; ++j)
                row[j] += src[j] * fscale;
          }
        }
      });
  return Status::ok();
}

} // namespace

void onerec::kernels::registerEmbeddingGradKernels(KernelRegistry &r) {
  // Keyed by operand 0, the ids.
  for (DType ids : {DType::i64, DType::i32})
    addCpu(r, OpCode::EmbeddingGrad, ids, embeddingGradKernel<kRef>,
           embeddingGradKernel<kOpt>);
}
