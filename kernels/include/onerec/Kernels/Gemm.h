//===- Gemm.h - single-precision matrix multiplication --------------------===//
//
// The one GEMM entry point of the CPU kernels: C = alpha·op(A)·op(B) + beta·C
// on row-major matrices. It goes to the BLAS found at configure time
// (OpenBLAS, pinned to one thread: onerec's own pool is the only source of
// threads) or, in builds without one, to a blocked, vectorizable C++ GEMM.
// parallelSgemm cuts the product into blocks of rows (or, for short wide
// products, columns) chosen from the shape alone and deals them to the pool,
// so results are bit-identical for any thread count.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_KERNELS_GEMM_H
#define ONEREC_KERNELS_GEMM_H

#include <cstdint>

namespace onerec::runtime {
class ThreadPool;
}

namespace onerec::kernels {

/// Row-major GEMM arguments; lda/ldb/ldc are row strides in elements.
struct GemmArgs {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float *a = nullptr;
  int64_t lda = 0;
  const float *b = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float *c = nullptr;
  int64_t ldc = 0;
};

/// One-threaded GEMM through the configured backend.
void sgemm(const GemmArgs &g);
/// The portable blocked GEMM (the backend of BLAS-less builds; also exposed
/// so tests and benchmarks can hold it to the reference everywhere).
void sgemmFallback(const GemmArgs &g);
/// sgemm split over `pool` (inline when the product is small).
void parallelSgemm(runtime::ThreadPool &pool, const GemmArgs &g);
/// c [k, n] = aᵀ·b for a [positions, k] and b [positions, n]: the gradient
/// of a weight shared by every position. `reference` accumulates each
/// element in double, in position order (the reference kernels); otherwise
/// parallelSgemm over `pool`.
void weightGradProduct(runtime::ThreadPool &pool, const float *a,
                       const float *b, float *c, int64_t positions, int64_t k,
                       int64_t n, bool reference);
/// "openblas/<kernel set>" (e.g. openblas/SkylakeX) or "onerec-blocked".
const char *gemmBackendName();

} // namespace onerec::kernels

#endif // ONEREC_KERNELS_GEMM_H
