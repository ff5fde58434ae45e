//===- Gemm.cpp - GEMM backends and the Matmul kernels --------------------===//
//
// sgemm goes to OpenBLAS when the build found it, else to a blocked GEMM in
// the Goto/BLIS style: B packed in kc x NR panels, A in MR x kc panels, an
// MR x NR register tile accumulated over kc whose inner loop the compiler
// vectorizes. OpenBLAS is pinned to one thread; parallelSgemm splits the
// product over onerec's pool instead, so there is one set of threads and no
// oversubscription when kernels run back to back.
//
// Matmul folds batch dims into M when the right operand is shared by the
// whole batch (every linear layer), and otherwise runs one GEMM per batch
// element, in parallel over the batch when it is large enough.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

#include "onerec/Kernels/Gemm.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#if ONEREC_HAVE_BLAS
#include <cblas.h>
#endif

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;
using onerec::runtime::ThreadPool;

//===----------------------------------------------------------------------===//
// The blocked fallback GEMM
//===----------------------------------------------------------------------===//

namespace {
#if defined(__AVX512F__)
constexpr int64_t kMR = 8, kNR = 32;
#elif defined(__AVX2__) || defined(__AVX__)
constexpr int64_t kMR = 6, kNR = 16;
#else
constexpr int64_t kMR = 4, kNR = 8;
#endif
constexpr int64_t kMC = 96, kKC = 256, kNC = 2048;

/// acc[MR][NR] = sum_p ap[p][:] (x) bp[p][:].
inline void microKernel(int64_t kc, const float *__restrict ap,
                        const float *__restrict bp, float *__restrict acc) {
  float c[kMR][kNR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float *b = bp + p * kNR;
    for (int64_t i = 0; i < kMR; ++i) {
      float a = ap[p * kMR + i];
      for (int64_t j = 0; j < kNR; ++j)
        c[i][j] += a * b[j];
    }
  }
  std::memcpy(acc, c, sizeof(c));
}

struct GemmScratch {
  std::vector<float> a, b;
};
GemmScratch &gemmScratch() {
  thread_local GemmScratch s;
  return s;
}
} // namespace

void onerec::kernels::sgemmFallback(const GemmArgs &g) {
  if (g.m <= 0 || g.n <= 0)
    return;
  auto A = [&](int64_t i, int64_t p) {
    return g.transA ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
  };
  auto B = [&](int64_t p, int64_t j) {
    return g.transB ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
  };
  if (g.k <= 0) {
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j)
        g.c[i * g.ldc + j] =
            g.beta == 0.0f ? 0.0f : g.beta * g.c[i * g.ldc + j];
    return;
  }
  GemmScratch &s = gemmScratch();
  for (int64_t jc = 0; jc < g.n; jc += kNC) {
    int64_t nc = std::min(kNC, g.n - jc);
    int64_t nPanels = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < g.k; pc += kKC) {
      int64_t kc = std::min(kKC, g.k - pc);
      float beta = pc == 0 ? g.beta : 1.0f;
      s.b.resize(size_t(nPanels * kc * kNR));
      for (int64_t jp = 0; jp < nPanels; ++jp)
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t j = 0; j < kNR; ++j) {
            int64_t col = jc + jp * kNR + j;
            s.b[(jp * kc + p) * kNR + j] =
                col < jc + nc ? B(pc + p, col) : 0.0f;
          }
      for (int64_t ic = 0; ic < g.m; ic += kMC) {
        int64_t mc = std::min(kMC, g.m - ic);
        int64_t mPanels = (mc + kMR - 1) / kMR;
        s.a.resize(size_t(mPanels * kc * kMR));
        for (int64_t ip = 0; ip < mPanels; ++ip)
          for (int64_t p = 0; p < kc; ++p)
            for (int64_t i = 0; i < kMR; ++i) {
              int64_t row = ic + ip * kMR + i;
              s.a[(ip * kc + p) * kMR + i] =
                  row < ic + mc ? A(row, pc + p) : 0.0f;
            }
        for (int64_t jp = 0; jp < nPanels; ++jp)
          for (int64_t ip = 0; ip < mPanels; ++ip) {
            float acc[kMR * kNR];
            microKernel(kc, &s.a[size_t(ip * kc * kMR)],
                        &s.b[size_t(jp * kc * kNR)], acc);
            int64_t rows = std::min(kMR, mc - ip * kMR),
                    cols = std::min(kNR, nc - jp * kNR);
            for (int64_t i = 0; i < rows; ++i) {
              float *c = g.c + (ic + ip * kMR + i) * g.ldc + jc + jp * kNR;
              for (int64_t j = 0; j < cols; ++j)
                c[j] = g.alpha * acc[i * kNR + j] +
                       (beta == 0.0f ? 0.0f : beta * c[j]);
            }
          }
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Backend selection and the parallel split
//===----------------------------------------------------------------------===//

const char *onerec::kernels::gemmBackendName() {
#if ONEREC_HAVE_BLAS
  // OpenBLAS picks its kernels per CPU at load time; name them, since an
  // unrecognized CPU (Zen 5 in OpenBLAS 0.3.21) silently gets AVX2 kernels.
  static const std::string name =
      std::string("openblas/") + openblas_get_corename();
  return name.c_str();
#else
  return "onerec-blocked";
#endif
}

void onerec::kernels::sgemm(const GemmArgs &g) {
#if ONEREC_HAVE_BLAS
  static std::once_flag pinned;
  std::call_once(pinned, [] { openblas_set_num_threads(1); });
  if (g.m <= 0 || g.n <= 0)
    return;
  if (g.k <= 0)
    return sgemmFallback(g); // BLAS needs k >= 1 for valid leading dimensions
  cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans,
              g.transB ? CblasTrans : CblasNoTrans, blasint(g.m), blasint(g.n),
              blasint(g.k), g.alpha, g.a, blasint(g.lda), g.b, blasint(g.ldb),
              g.beta, g.c, blasint(g.ldc));
#else
  sgemmFallback(g);
#endif
}

void onerec::kernels::weightGradProduct(ThreadPool &pool, const float *a,
                                        const float *b, float *c,
                                        int64_t positions, int64_t k, int64_t n,
                                        bool reference) {
  if (reference) {
    std::vector<double> acc(size_t(k * n), 0.0);
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < n; ++j)
          acc[size_t(i * n + j)] += double(a[p * k + i]) * b[p * n + j];
    for (int64_t i = 0; i < k * n; ++i)
      c[i] = float(acc[size_t(i)]);
    return;
  }
  if (positions == 0) {
    std::fill(c, c + k * n, 0.0f);
    return;
  }
  GemmArgs g;
  g.transA = true;
  g.m = k, g.n = n, g.k = positions;
  g.a = a, g.lda = k, g.b = b, g.ldb = n, g.c = c, g.ldc = n;
  parallelSgemm(pool, g);
}

void onerec::kernels::parallelSgemm(ThreadPool &pool, const GemmArgs &g) {
  // The split depends on the shape only, never on the thread count: a BLAS
  // computes an element differently depending on the block it is in, so a
  // split by threads would make results depend on ONEREC_NUM_THREADS.
  double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  if (flops < 4.0e5) {
    sgemm(g);
    return;
  }
  // A small result over a long k (a weight gradient: Xᵀ·dY over all tokens)
  // has too few rows to split: split k into fixed chunks instead, and add
  // the partial products in chunk order.
  constexpr int64_t kChunkK = 4096;
  if (g.m * g.n <= 65536 && g.k >= 2 * kChunkK) {
    int64_t chunks = (g.k + kChunkK - 1) / kChunkK, mn = g.m * g.n;
    std::vector<float> partial(size_t(chunks * mn));
    pool.parallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        int64_t p0 = c * kChunkK;
        GemmArgs part = g;
        part.k = std::min(kChunkK, g.k - p0);
        part.alpha = 1.0f, part.beta = 0.0f;
        part.a = g.transA ? g.a + p0 * g.lda : g.a + p0;
        part.b = g.transB ? g.b + p0 : g.b + p0 * g.ldb;
        part.c = &partial[size_t(c * mn)], part.ldc = g.n;
        sgemm(part);
      }
    });
    for (int64_t i = 0; i < g.m; ++i) {
      float *crow = g.c + i * g.ldc;
      for (int64_t j = 0; j < g.n; ++j) {
        float acc = 0.0f;
        for (int64_t c = 0; c < chunks; ++c)
          acc += partial[size_t(c * mn + i * g.n + j)];
        crow[j] = g.alpha * acc + (g.beta == 0.0f ? 0.0f : g.beta * crow[j]);
      }
    }
    return;
  }
  // Up to 32 blocks of rows (or, for short wide products, of columns), each
  // a multiple of 16 so blocks run full register tiles; the pool deals them
  // out.
  bool byRows = g.m >= 512 || g.m >= g.n;
  int64_t extent = byRows ? g.m : g.n;
  int64_t step =
      (std::max<int64_t>(byRows ? 16 : 64, (extent + 31) / 32) + 15) / 16 * 16;
  int64_t blocks = (extent + step - 1) / step;
  pool.parallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      int64_t lo = blk * step, len = std::min(step, extent - lo);
      GemmArgs part = g;
      if (byRows) {
        part.m = len;
        part.a = g.transA ? g.a + lo : g.a + lo * g.lda;
        part.c = g.c + lo * g.ldc;
      } else {
        part.n = len;
        part.b = g.transB ? g.b + lo * g.ldb : g.b + lo;
        part.c = g.c + lo;
      }
      sgemm(part);
    }
  });
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

namespace {
/// The validated geometry of a Matmul call.
struct MatmulShape {
  int64_t m, n, k;
  bool transA, transB;
  Shape batch, aBatch, bBatch;
  int64_t aStrides[Shape::kMaxRank], bStrides[Shape::kMaxRank];
};

Status checkMatmul(const KernelCall &call, MatmulShape &s) {
  if (Status st = checkArity(call, "matmul", 2, 2, 1); !st)
    return st;
  const Shape &a = call.in(0).shape, &b = call.in(1).shape,
              &y = call.out(0).shape;
  ONEREC_KERNEL_CHECK(call, a.rank >= 2 && b.rank >= 2 && y.rank >= 2,
                      "matmul: operands need two dimensions, got {} x {} -> {}",
                      a.toString(), b.toString(), y.toString());
  s.transA = call.attr().getInt("transpose_a") != 0;
  s.transB = call.attr().getInt("transpose_b") != 0;
  s.m = a[a.rank - (s.transA ? 1 : 2)];
  int64_t ka = a[a.rank - (s.transA ? 2 : 1)];
  s.k = b[b.rank - (s.transB ? 1 : 2)];
  s.n = b[b.rank - (s.transB ? 2 : 1)];
  s.batch = leadingDims(y, y.rank - 2);
  s.aBatch = leadingDims(a, a.rank - 2);
  s.bBatch = leadingDims(b, b.rank - 2);
  ONEREC_KERNEL_CHECK(
      call,
      ka == s.k && y[y.rank - 2] == s.m && y[y.rank - 1] == s.n &&
          broadcastsTo(s.aBatch, s.batch) && broadcastsTo(s.bBatch, s.batch),
      "matmul: {} x {} -> {} is inconsistent", a.toString(), b.toString(),
      y.toString());
  ONEREC_KERNEL_CHECK(call,
                      call.in(0).dtype == DType::f32 &&
                          call.in(1).dtype == DType::f32 &&
                          call.out(0).dtype == DType::f32,
                      "matmul: expected f32 operands");
  broadcastStrides(s.aBatch, s.batch, s.aStrides);
  broadcastStrides(s.bBatch, s.batch, s.bStrides);
  return Status::ok();
}

template <KernelVariant V> Status matmulKernel(const KernelCall &call) {
  MatmulShape s;
  if (Status st = checkMatmul(call, s); !st)
    return st;
  const float *a = call.in(0).as<const float>(),
              *b = call.in(1).as<const float>();
  float *y = call.out(0).as<float>();
  int64_t batches = s.batch.numel(), mk = s.m * s.k, kn = s.k * s.n,
          mn = s.m * s.n;
  auto aAt = [&](const float *am, int64_t i, int64_t p) {
    return s.transA ? am[p * s.m + i] : am[i * s.k + p];
  };
  auto bAt = [&](const float *bm, int64_t p, int64_t j) {
    return s.transB ? bm[j * s.k + p] : bm[p * s.n + j];
  };
  if constexpr (V == kRef) {
    for (int64_t bi = 0; bi < batches; ++bi) {
      const float *am = a + broadcastOffset(bi, s.batch, s.aStrides) * mk;
      const float *bm = b + broadcastOffset(bi, s.batch, s.bStrides) * kn;
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < s.k; ++p)
            acc += double(aAt(am, i, p)) * double(bAt(bm, p, j));
          y[bi * mn + i * s.n + j] = float(acc);
        }
    }
    return Status::ok();
  }
  GemmArgs g;
  g.transA = s.transA;
  g.transB = s.transB;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.lda = s.transA ? s.m : s.k;
  g.ldb = s.transB ? s.k : s.n;
  g.ldc = s.n;
  // A linear layer: b shared by the batch, a not broadcast -> one tall GEMM.
  if (s.bBatch.numel() == 1 && !s.transA && s.aBatch.numel() == batches) {
    g.m = s.m * batches;
    g.a = a;
    g.b = b;
    g.c = y;
    parallelSgemm(pool(call), g);
    return Status::ok();
  }
  auto one = [&](int64_t bi, bool parallel) {
    GemmArgs gi = g;
    gi.a = a + broadcastOffset(bi, s.batch, s.aStrides) * mk;
    gi.b = b + broadcastOffset(bi, s.batch, s.bStrides) * kn;
    gi.c = y + bi * mn;
    if (parallel)
      parallelSgemm(pool(call), gi);
    else
      sgemm(gi);
  };
  // Many batch elements: one GEMM each, in parallel (a shape-only choice,
  // so results do not depend on the thread count).
  if (batches >= 8) {
    parallelFor(call, batches, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t bi = lo; bi < hi; ++bi)
        one(bi, false);
    });
  } else {
    for (int64_t bi = 0; bi < batches; ++bi)
      one(bi, true);
  }
  return Status::ok();
}
/// WeightGrad: x [..., k], y [..., n] (same leading dims) -> [k, n] =
/// Σ_p x[p]ᵀ·y[p], the gradient of a weight used at every position: one
/// GEMM xᵀ·y over the flattened positions.
template <KernelVariant V> Status weightGradKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "weight_grad", 2, 2, 1); !st)
    return st;
  const TensorView &x = call.in(0), &y = call.in(1), &out = call.out(0);
  int64_t k = x.shape.last(), n = y.shape.last();
  int64_t positions = k ? x.numel() / k : 0;
  bool sameLeading = x.shape.rank == y.shape.rank && x.shape.rank >= 1;
  for (int i = 0; sameLeading && i + 1 < x.shape.rank; ++i)
    sameLeading = x.shape[i] == y.shape[i];
  ONEREC_KERNEL_CHECK(call,
                      sameLeading && x.dtype == DType::f32 &&
                          y.dtype == DType::f32 && (out.shape == Shape{k, n}),
                      "weight_grad: x {} and y {} -> {} is not [..., k], "
                      "[..., n] -> [k, n]",
                      x.shape.toString(), y.shape.toString(),
                      out.shape.toString());
  weightGradProduct(pool(call), x.as<const float>(), y.as<const float>(),
                    out.as<float>(), positions, k, n, V == kRef);
  return Status::ok();
}

} // namespace

void onerec::kernels::registerMatmulKernels(KernelRegistry &r) {
  addCpu(r, OpCode::Matmul, DType::f32, matmulKernel<kRef>, matmulKernel<kOpt>);
  addCpu(r, OpCode::WeightGrad, DType::f32, weightGradKernel<kRef>,
         weightGradKernel<kOpt>);
}
