//===- Embedding.cpp - table lookups for ids and semantic ids -------------===//
//
// Plain ids: y[..., :] = table[id]. Semantic ids [..., L] with codebook K:
// level l's code c is row l·K + c, and the L rows are summed, averaged or
// concatenated. Ids come from user data, so all of them are checked before
// the lookup: one bad id fails the call with its value and position, and
// nothing outside the table is read.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

enum class Combine { Sum = 0, Mean = 1, Concat = 2 };

struct EmbeddingShape {
  int64_t rows, d, codebook, levels, lookups; // lookups: output rows
  Combine combine;
};

Status checkEmbedding(const KernelCall &call, EmbeddingShape &s) {
  if (Status st = checkArity(call, "embedding", 2, 2, 1); !st)
    return st;
  const TensorView &table = call.in(0), &ids = call.in(1);
  ONEREC_KERNEL_CHECK(
      call, table.shape.rank == 2 && isIndexType(ids.dtype),
      "embedding: expected a [rows, d] table and i64/i32 ids, got {} and {}",
      table.shape.toString(), runtime::dtypeName(ids.dtype));
  s.rows = table.shape[0];
  s.d = table.shape[1];
  s.codebook = call.attr().getInt("codebook");
  int64_t combine = call.attr().getInt("combine");
  ONEREC_KERNEL_CHECK(call, combine >= 0 && combine <= 2 && s.codebook >= 0,
                      "embedding: combine {} / codebook {} invalid", combine,
                      s.codebook);
  s.combine = Combine(combine);
  if (s.codebook == 0) {
    s.levels = 1;
    s.lookups = ids.numel();
    ONEREC_KERNEL_CHECK(call, call.out(0).numel() == s.lookups * s.d,
                        "embedding: {} ids of width {} do not fill {}",
                        s.lookups, s.d, call.out(0).shape.toString());
    int64_t bad = firstIndexOutOfRange(ids, s.rows);
    ONEREC_KERNEL_CHECK(
        call, bad < 0,
        "embedding: id {} at position {} is outside the table's {} rows",
        bad < 0 ? 0 : indexAt(ids, bad), bad, s.rows);
    return Status::ok();
  }
  ONEREC_KERNEL_CHECK(call, ids.shape.rank >= 1,
                      "embedding: semantic ids need a level axis");
  s.levels = ids.shape.last();
  s.lookups = s.levels ? ids.numel() / s.levels : 0;
  int64_t width = s.combine == Combine::Concat ? s.levels * s.d : s.d;
  ONEREC_KERNEL_CHECK(
      call,
      s.levels * s.codebook == s.rows &&
          call.out(0).numel() == s.lookups * width,
      "embedding: {} levels of {} codes need {} rows (table has {}) and give "
      "width {} (result {})",
      s.levels, s.codebook, s.levels * s.codebook, s.rows, width,
      call.out(0).shape.toString());
  int64_t bad = firstIndexOutOfRange(ids, s.codebook);
  ONEREC_KERNEL_CHECK(
      call, bad < 0,
      "embedding: code {} at position {} (level {}) is outside the codebook "
      "of {}",
      bad < 0 ? 0 : indexAt(ids, bad), bad, bad < 0 ? 0 : bad % s.levels,
      s.codebook);
  return Status::ok();
}

template <KernelVariant V> Status embeddingKernel(const KernelCall &call) {
  EmbeddingShape s;
  if (Status st = checkEmbedding(call, s); !st)
    return st;
  const float *table = call.in(0).as<const float>();
  const TensorView &ids = call.in(1);
  float *y = call.out(0).as<float>();
  int64_t d = s.d, L = s.levels;
  auto rowOf = [&](int64_t lookup, int64_t level) {
    return table + (level * s.codebook + indexAt(ids, lookup * L + level)) * d;
  };
  if constexpr (V == kRef) {
    for (int64_t t = 0; t < s.lookups; ++t) {
      if (s.codebook == 0 || s.combine == Combine::Concat) {
        for (int64_t l = 0; l < L; ++l)
          for (int64_t j = 0; j < d; ++j)
            y[(t * L + l) * d + j] = rowOf(t, l)[j];
        continue;
      }
      for (int64_t j = 0; j < d; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < L; ++l)
          acc += rowOf(t, l)[j];
        y[t * d + j] =
            float(s.combine == Combine::Mean ? acc / double(L) : acc);
      }
    }
    return Status::ok();
  }
  bool copies = s.codebook == 0 || s.combine == Combine::Concat;
  float scale = s.combine == Combine::Mean && L ? 1.0f / float(L) : 1.0f;
  parallelFor(call, s.lookups, grainFor(L * d), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      if (copies) {
        for (int64_t l = 0; l < L; ++l)
          std::memcpy(y + (t * L + l) * d, rowOf(t, l),
                      size_t(d) * sizeof(float));
        continue;
      }
      float *yr = y + t * d;
      std::memcpy(yr, rowOf(t, 0), size_t(d) * sizeof(float));
      for (int64_t l = 1; l < L; ++l) {
        const float *row = rowOf(t, l);
        for (int64_t j = 0; j < d; ++j)
          yr[j] += row[j];
      }
      if (scale != 1.0f)
        for (int64_t j = 0; j < d; ++j)
          yr[j] *= scale;
    }
  });
  return Status::ok();
}

} // namespace

void onerec::kernels::registerEmbeddingKernels(KernelRegistry &r) {
  addCpu(r, OpCode::Embedding, DType::f32, embeddingKernel<kRef>,
         embeddingKernel<kOpt>);
}
