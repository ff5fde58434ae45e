//===- BlasBench.cpp - sgemm on onerec's shapes across BLAS libraries -----===//
//
// Times C = A·B (row-major, f32) on the GEMM shapes of SASRec (ML-1M) and the
// OneRec 0.015B configuration at B = 128, with a fixed thread count, and
// prints one JSON object with the median time and GFLOP/s per shape. Built
// once per library (BLIS and OpenBLAS both export cblas_sgemm, so they
// cannot share a binary); ONEREC_BENCH_BACKEND selects the code path:
//   1 onerec  : OpenBLAS with its own threads, then onerec's path (OpenBLAS
//               pinned to one thread, split over onerec's pool) and onerec's
//               blocked fallback GEMM on the same split
//   2 blis    : BLIS (cblas interface), its own threads
//   3 dnnl    : oneDNN dnnl_sgemm, OpenMP threads
// Usage: onerec-bench-blas-<backend> [threads=2] [min_seconds_per_shape=0.3]
// bench/blas/run.sh runs all three and merges the output.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#if ONEREC_BENCH_BACKEND == 1
#include "onerec/Kernels/Gemm.h"
#include "onerec/Runtime/ThreadPool.h"
#include <cblas.h>
#elif ONEREC_BENCH_BACKEND == 2
#include <cblas.h>
extern "C" void bli_thread_set_num_threads(long n);
#elif ONEREC_BENCH_BACKEND == 3
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

namespace {

struct GemmShape {
  const char *name;
  bool transA;
  long m, n, k;
};

/// B = 128: SASRec (d = 50 and d = 64 variants, 200 positions, 3417 items
/// scored at the last position) and OneRec 0.015B (d = 128, FFN 256; 405
/// encoder tokens, 20 decoder tokens with a 768-wide fused projection).
const GemmShape kShapes[] = {
    {"sasrec_proj_d50 [B*200,50]x[50,50]", false, 128 * 200, 50, 50},
    {"sasrec_proj_d64 [B*200,64]x[64,64]", false, 128 * 200, 64, 64},
    {"sasrec_logits [B,50]x[50,3417]", false, 128, 3417, 50},
    {"sasrec_weight_grad [64,B*200]x[B*200,64] (A^T)", true, 64, 64, 128 * 200},
    {"onerec_enc_ffn [B*405,128]x[128,256]", false, 128 * 405, 256, 128},
    {"onerec_dec_proj [B*20,128]x[128,768]", false, 128 * 20, 768, 128},
};

using Gemm = std::function<void(const GemmShape &, const float *, const float *,
                                float *)>;

struct Timing {
  double medianMs;
  double maxError; // against a double-precision product on sampled entries
};

Timing timeGemm(const GemmShape &s, const Gemm &gemm, double minSeconds) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(size_t(s.m * s.k)), b(size_t(s.k * s.n)),
      c(size_t(s.m * s.n));
  for (float &x : a)
    x = dist(rng);
  for (float &x : b)
    x = dist(rng);
  for (int i = 0; i < 3; ++i)
    gemm(s, a.data(), b.data(), c.data());
  std::vector<double> ms;
  auto start = std::chrono::steady_clock::now();
  while (ms.size() < 5 || (std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                                   .count() < minSeconds &&
                           ms.size() < 1000)) {
    auto t0 = std::chrono::steady_clock::now();
    gemm(s, a.data(), b.data(), c.data());
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::nth_element(ms.begin(), ms.begin() + long(ms.size() / 2), ms.end());
  // A library that returns early must not look fast: check the result.
  double maxError = 0;
  std::uniform_int_distribution<long> row(0, s.m - 1), col(0, s.n - 1);
  for (int sample = 0; sample < 64; ++sample) {
    long i = row(rng), j = col(rng);
    double ref = 0;
    for (long p = 0; p < s.k; ++p)
      ref +=
          double(s.transA ? a[size_t(p * s.m + i)] : a[size_t(i * s.k + p)]) *
          double(b[size_t(p * s.n + j)]);
    maxError =
        std::max(maxError, std::abs(ref - double(c[size_t(i * s.n + j)])));
  }
  return {ms[ms.size() / 2], maxError};
}

void report(const char *backend, int threads, double minSeconds,
            const Gemm &gemm, bool &first) {
  for (const GemmShape &s : kShapes) {
    Timing t = timeGemm(s, gemm, minSeconds);
    double ms = t.medianMs;
    double gflops = 2.0 * double(s.m) * double(s.n) * double(s.k) / (ms * 1e6);
    std::printf("%s    {\"backend\": \"%s\", \"threads\": %d, \"shape\": "
                "\"%s\", \"m\": %ld, "
                "\"n\": %ld, \"k\": %ld, \"median_ms\": %.4f, \"gflops\": "
                "%.2f, \"max_abs_error\": %.2g}",
                first ? "" : ",\n", backend, threads, s.name, s.m, s.n, s.k, ms,
                gflops, t.maxError);
    first = false;
    std::fflush(stdout);
  }
}

#if ONEREC_BENCH_BACKEND == 1 || ONEREC_BENCH_BACKEND == 2
void cblasGemm(const GemmShape &s, const float *a, const float *b, float *c) {
  cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, CblasNoTrans,
              int(s.m), int(s.n), int(s.k), 1.0f, a, int(s.transA ? s.m : s.k),
              b, int(s.n), 0.0f, c, int(s.n));
}
#endif

} // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  double minSeconds = argc > 2 ? std::atof(argv[2]) : 0.3;
  bool first = true;
  std::printf("{\n  \"benchmark\": \"sgemm\",\n  \"results\": [\n");
#if ONEREC_BENCH_BACKEND == 1
  openblas_set_num_threads(threads);
  // The kernel set OpenBLAS chose for this CPU (OPENBLAS_CORETYPE overrides).
  std::string core = openblas_get_corename();
  report(("openblas/" + core).c_str(), threads, minSeconds, cblasGemm, first);
  onerec::runtime::ThreadPool pool(static_cast<unsigned>(threads));
  auto onerecGemm = [&](bool fallback) {
    return [&pool, fallback](const GemmShape &s, const float *a, const float *b,
                             float *c) {
      onerec::kernels::GemmArgs g;
      g.transA = s.transA, g.m = s.m, g.n = s.n, g.k = s.k;
      g.a = a, g.lda = s.transA ? s.m : s.k, g.b = b, g.ldb = s.n, g.c = c,
      g.ldc = s.n;
      if (!fallback) {
        onerec::kernels::parallelSgemm(pool, g); // pins OpenBLAS to one thread
        return;
      }
      // The blocked kernel on the same row/column split as parallelSgemm.
      int64_t blocks = int64_t(pool.size());
      pool.parallelFor(blocks, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          onerec::kernels::GemmArgs part = g;
          int64_t r0 = s.m * i / blocks, r1 = s.m * (i + 1) / blocks;
          if (s.m >= 32 * blocks || s.m >= s.n) {
            part.m = r1 - r0;
            part.a = s.transA ? g.a + r0 : g.a + r0 * g.lda;
            part.c = g.c + r0 * g.ldc;
          } else {
            int64_t c0 = s.n * i / blocks, c1 = s.n * (i + 1) / blocks;
            part.n = c1 - c0, part.b = g.b + c0, part.c = g.c + c0;
          }
          onerec::kernels::sgemmFallback(part);
        }
      });
    };
  };
  report(("onerec(openblas/" + core + " 1-thread x pool)").c_str(), threads,
         minSeconds, onerecGemm(false), first);
  report("onerec-blocked(fallback x pool)", threads, minSeconds,
         onerecGemm(true), first);
#elif ONEREC_BENCH_BACKEND == 2
  bli_thread_set_num_threads(threads);
  report("blis", threads, minSeconds, cblasGemm, first);
#elif ONEREC_BENCH_BACKEND == 3
  omp_set_num_threads(threads);
  report(
      "onednn", threads, minSeconds,
      [](const GemmShape &s, const float *a, const float *b, float *c) {
        dnnl_sgemm(s.transA ? 'T' : 'N', 'N', s.m, s.n, s.k, 1.0f, a,
                   s.transA ? s.m : s.k, b, s.n, 0.0f, c, s.n);
      },
      first);
#endif
  std::printf("\n  ]\n}\n");
  return 0;
}
