//===- MultiEmbedding.cpp - fused lookups and their gradients (1.2) -------===//
//
// MultiEmbedding: tables [R_i, d_i] and plain ids of one shape -> y [...,
// Σ d_i], lookup t's row of table i copied to columns off_i .. off_i + d_i
// of y[t]: what Concat of the Embedding kernels' results holds.
//
// MultiEmbeddingGrad: dy [..., D] and plain ids_i -> dtable_i [R_i, d_i],
// each table's rows the sum of the dy columns offsets[i] .. + d_i of the
// lookups that named them. As in EmbeddingGrad, the optimized kernel sorts
// each table's lookups by row partition (stably, with the same partition
// size) and gives whole partitions, of all tables at once, to the threads;
// every row adds its contributions in lookup order, so each table equals
// EmbeddingGrad's result bit for bit, whatever the thread count.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

using namespace onerec;
using namespace onerec::kernels;

namespace {

/// Checks that table `i` ([rows, d]) can take the ids `ids`.
Status checkIds(const KernelCall &call, const char *op, int i,
                const TensorView &ids, int64_t rows, int64_t lookups) {
  ONEREC_KERNEL_CHECK(call, isIndexType(ids.dtype) && ids.numel() == lookups,
                      "{}: ids {} must be i64/i32 with {} elements, got {} {}",
                      op, i, lookups, runtime::dtypeName(ids.dtype),
                      ids.shape.toString());
  int64_t bad = firstIndexOutOfRange(ids, rows);
  ONEREC_KERNEL_CHECK(
      call, bad < 0,
      "{}: id {} at position {} of ids {} is outside the table's {} rows", op,
      bad < 0 ? 0 : indexAt(ids, bad), bad, i, rows);
  return Status::ok();
}

template <KernelVariant V> Status multiEmbeddingKernel(const KernelCall &call) {
  int n = call.numInputs / 2;
  ONEREC_KERNEL_CHECK(call,
                      n >= 1 && call.numInputs == 2 * n &&
                          call.numOutputs == 1 && call.out(0).present(),
                      "multi_embedding: expected n tables, n ids and one "
                      "result, got {} operands and {} results",
                      call.numInputs, call.numOutputs);
  int64_t lookups = call.in(n).numel(), width = 0;
  std::vector<int64_t> offset(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const TensorView &table = call.in(i);
    ONEREC_KERNEL_CHECK(call,
                        table.present() && table.shape.rank == 2 &&
                            table.dtype == DType::f32,
                        "multi_embedding: table {} must be an f32 [rows, d] "
                        "matrix, got {}",
                        i, table.shape.toString());
    if (Status st = checkIds(call, "multi_embedding", i, call.in(n + i),
                             table.shape[0], lookups);
        !st)
      return st;
    offset[size_t(i)] = width;
    width += table.shape[1];
  }
  ONEREC_KERNEL_CHECK(call, call.out(0).numel() == lookups * width,
                      "multi_embedding: {} lookups of width {} do not fill {}",
                      lookups, width, call.out(0).shape.toString());
  float *y = call.out(0).as<float>();
  auto copyRow = [&](int64_t t) {
    for (int i = 0; i < n; ++i) {
      int64_t d = call.in(i).shape[1];
      const float *row =
          call.in(i).as<const float>() + indexAt(call.in(n + i), t) * d;
      float *dst = y + t * width + offset[size_t(i)];
      if constexpr (V == kRef)
        for (int64_t j = 0; j < d; ++j)
          dst[j] = row[j];
      else
        std::memcpy(dst, row, size_t(d) * sizeof(float));
    }
  };
  if constexpr (V == kRef) {
    for (int64_t t = 0; t < lookups; ++t)
      copyRow(t);
  } else {
    parallelFor(call, lookups, grainFor(width), [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t)
        copyRow(t);
    });
  }
  return Status::ok();
}

/// One table's share of a MultiEmbeddingGrad: its lookups sorted stably by
/// row partition, EmbeddingGrad's partitioning.
struct TableGrad {
  const TensorView *ids;
  float *table;
  int64_t rows, d, offset, rowsPerPart, parts;
  std::vector<int64_t> start, order;
};

template <KernelVariant V>
Status multiEmbeddingGradKernel(const KernelCall &call) {
  int n = call.numInputs - 1;
  ONEREC_KERNEL_CHECK(
      call, n >= 1 && call.numOutputs == n && call.in(0).present(),
      "multi_embedding_grad: expected dy, n ids and n results, got {} "
      "operands and {} results",
      call.numInputs, call.numOutputs);
  const TensorView &dyView = call.in(0);
  ONEREC_KERNEL_CHECK(call,
                      dyView.dtype == DType::f32 && dyView.shape.rank >= 1,
                      "multi_embedding_grad: dy must be f32 [..., D], got {}",
                      dyView.shape.toString());
  const std::vector<int64_t> &offsets = call.attr().getInts("offsets");
  ONEREC_KERNEL_CHECK(call, static_cast<int>(offsets.size()) == n,
                      "multi_embedding_grad: {} offsets for {} tables",
                      offsets.size(), n);
  int64_t width = dyView.shape.last();
  int64_t lookups = width ? dyView.numel() / width : 0;
  const float *dy = dyView.as<const float>();
  std::vector<TableGrad> tables(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const TensorView &out = call.out(i);
    ONEREC_KERNEL_CHECK(
        call, out.present() && out.shape.rank == 2 && out.dtype == DType::f32,
        "multi_embedding_grad: result {} must be an f32 "
        "[rows, d] matrix, got {}",
        i, out.shape.toString());
    TableGrad &g = tables[size_t(i)];
    g.ids = &call.in(i + 1);
    g.table = out.as<float>();
    g.rows = out.shape[0];
    g.d = out.shape[1];
    g.offset = offsets[size_t(i)];
    ONEREC_KERNEL_CHECK(call, g.offset >= 0 && g.offset + g.d <= width,
                        "multi_embedding_grad: columns {}..{} of table {} lie "
                        "outside dy's {}",
                        g.offset, g.offset + g.d, i, width);
    if (Status st =
            checkIds(call, "multi_embedding_grad", i, *g.ids, g.rows, lookups);
        !st)
      return st;
  }
  if constexpr (V == kRef) {
    for (TableGrad &g : tables) {
      std::vector<double> acc(size_t(g.rows * g.d), 0.0);
      for (int64_t t = 0; t < lookups; ++t) {
        double *row = &acc[size_t(indexAt(*g.ids, t) * g.d)];
        const float *src = dy + t * width + g.offset;
        for (int64_t j = 0; j < g.d; ++j)
          row[j] += double(src[j]);
      }
      for (int64_t k = 0; k < g.rows * g.d; ++k)
        g.table[k] = float(acc[size_t(k)]);
    }
    return Status::ok();
  }
  // EmbeddingGrad's partitions: about 64 KiB of rows, at most 4096.
  std::vector<int64_t> firstPart(static_cast<size_t>(n + 1), 0);
  int64_t work = 0;
  for (int i = 0; i < n; ++i) {
    TableGrad &g = tables[size_t(i)];
    g.rowsPerPart = std::max<int64_t>(
        std::max<int64_t>(1, 16384 / std::max<int64_t>(g.d, 1)),
        (g.rows + 4095) / 4096);
    g.parts = (g.rows + g.rowsPerPart - 1) / g.rowsPerPart;
    g.start.assign(size_t(g.parts + 1), 0);
    for (int64_t t = 0; t < lookups; ++t)
      ++g.start[size_t(indexAt(*g.ids, t) / g.rowsPerPart + 1)];
    for (int64_t p = 0; p < g.parts; ++p)
      g.start[size_t(p + 1)] += g.start[size_t(p)];
    g.order.resize(size_t(lookups));
    std::vector<int64_t> next(g.start.begin(), g.start.end() - 1);
    for (int64_t t = 0; t < lookups; ++t)
      g.order[size_t(next[size_t(indexAt(*g.ids, t) / g.rowsPerPart)]++)] = t;
    firstPart[size_t(i + 1)] = firstPart[size_t(i)] + g.parts;
    work += (g.rows + lookups) * g.d;
  }
  int64_t parts = firstPart[size_t(n)];
  parallelFor(call, parts,
              std::max<int64_t>(1, parts * 32768 / std::max<int64_t>(work, 1)),
              [&](int64_t lo, int64_t hi) {
                for (int64_t task = lo; task < hi; ++task) {
                  int i = int(std::upper_bound(firstPart.begin(),
                                               firstPart.end(), task) -
                              firstPart.begin()) -
                          1;
                  TableGrad &g = tables[size_t(i)];
                  int64_t p = task - firstPart[size_t(i)];
                  int64_t r0 = p * g.rowsPerPart,
                          r1 = std::min(g.rows, r0 + g.rowsPerPart), d = g.d;
                  std::fill(g.table + r0 * d, g.table + r1 * d, 0.0f);
                  for (int64_t k = g.start[size_t(p)];
                       k < g.start[size_t(p + 1)]; ++k) {
                    int64_t t = g.order[size_t(k)];
                    float *row = g.table + indexAt(*g.ids, t) * d;
                    const float *src = dy + t * width + g.offset;
                    for (int64_t j = 0; j < d; ++j)
                      row[j] += src[j];
                  }
                }
              });
  return Status::ok();
}

} // namespace

void onerec::kernels::registerMultiEmbeddingKernels(KernelRegistry &r) {
  addCpu(r, OpCode::MultiEmbedding, DType::f32, multiEmbeddingKernel<kRef>,
         multiEmbeddingKernel<kOpt>);
  addCpu(r, OpCode::MultiEmbeddingGrad, DType::f32,
         multiEmbeddingGradKernel<kRef>, multiEmbeddingGradKernel<kOpt>);
}
