//===- MatmulTest.cpp - GEMM backends and the Matmul kernel ---------------===//

#include "KernelTestUtil.h"

#include "onerec/Kernels/Gemm.h"

using namespace onerec::kernels;
using namespace onerec::kernels::test;

namespace {

/// [batch..., rows, cols], with rows/cols swapped when transposed.
Shape matrix(Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.dims[batch.rank++] = transposed ? cols : rows;
  batch.dims[batch.rank++] = transposed ? rows : cols;
  return batch;
}

TEST(MatmulKernel, AgreesForTransposesAndBatchBroadcasting) {
  struct Case {
    Shape aBatch, bBatch, yBatch;
    int64_t m, k, n;
  };
  const std::vector<Case> cases = {
      {{}, {}, {}, 5, 7, 3},             // plain
      {{4, 50}, {}, {4, 50}, 1, 64, 64}, // a linear layer: folded into one GEMM
      {{3}, {3}, {3}, 33, 17, 65},       // batched
      {{}, {6}, {6}, 9, 8, 7},           // a broadcast over b's batch
      {{2, 1}, {1, 3}, {2, 3}, 4, 5, 6}, // both sides broadcast
      {{2}, {}, {2}, 300, 50, 129},      // large enough to split over threads
      {{}, {}, {}, 64, 50, 3417},        // short and wide: split by columns
      {{}, {}, {}, 40, 9000, 24},        // a weight gradient: split along k
  };
  for (const Case &c : cases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        HostTensor a = randomFloats(matrix(c.aBatch, c.m, c.k, ta));
        HostTensor b = randomFloats(matrix(c.bBatch, c.k, c.n, tb));
        expectVariantsAgree(
            OpCode::Matmul,
            attrs({{"transpose_a", int64_t(ta)}, {"transpose_b", int64_t(tb)}}),
            {a, b}, {HostTensor(DType::f32, matrix(c.yBatch, c.m, c.n, false))},
            1e-5, 1e-5 + 4e-6 * std::sqrt(double(c.k)));
      }
}

TEST(MatmulKernel, Golden) {
  auto y =
      runOptimized(OpCode::Matmul, attrs({{"transpose_b", int64_t(1)}}),
                   {floats({2, 2}, {1, 2, 3, 4}), floats({2, 2}, {5, 6, 7, 8})},
                   {HostTensor(DType::f32, {2, 2})});
  // [[1,2],[3,4]] x [[5,7],[6,8]]
  const float expected[4] = {17, 23, 39, 53};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(y[0].at<float>(i), expected[i]);
  std::vector<HostTensor> out = {HostTensor(DType::f32, {2, 2})};
  Status s = runKernel(OpCode::Matmul, KernelVariant::Optimized, {},
                       {randomFloats({2, 3}), randomFloats({2, 2})}, out);
  EXPECT_FALSE(s.isOk());
}

/// The blocked fallback GEMM (the backend of BLAS-less builds) against a
/// double-precision loop: edge tiles, several kc blocks, alpha and beta.
TEST(GemmBackend, FallbackMatchesReference) {
  struct Case {
    int64_t m, n, k;
  };
  for (Case c : {Case{1, 1, 1}, Case{7, 9, 5}, Case{100, 70, 300},
                 Case{13, 2100, 3}, Case{5, 3, 0}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        HostTensor a = randomFloats({c.m * std::max<int64_t>(c.k, 1)});
        HostTensor b = randomFloats({c.n * std::max<int64_t>(c.k, 1)});
        HostTensor cMat = randomFloats({c.m * (c.n + 3)});
        HostTensor expected = cMat;
        GemmArgs g;
        g.transA = ta, g.transB = tb, g.m = c.m, g.n = c.n, g.k = c.k;
        g.alpha = 0.5f, g.beta = -2.0f;
        g.a = a.data<float>(), g.lda = ta ? c.m : c.k;
        g.b = b.data<float>(), g.ldb = tb ? c.k : c.n;
        g.c = cMat.data<float>(), g.ldc = c.n + 3; // a padded leading dimension
        sgemmFallback(g);
        for (int64_t i = 0; i < c.m; ++i)
          for (int64_t j = 0; j < c.n; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < c.k; ++p)
              acc += double(ta ? g.a[p * g.lda + i] : g.a[i * g.lda + p]) *
                     double(tb ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j]);
            float &e = expected.data<float>()[i * g.ldc + j];
            e = float(0.5 * acc - 2.0 * e);
          }
        expectClose(cMat, expected, 1e-5, 1e-5, "sgemmFallback");
      }
}

TEST(GemmBackend, ParallelSplitIsBitIdenticalForAnyThreadCount) {
  struct Case {
    int64_t m, n, k;
  };
  for (Case c : {Case{2000, 64, 64}, Case{128, 3417, 50}, Case{64, 64, 5000},
                 Case{257, 130, 64}, Case{64, 48, 20000}}) {
    HostTensor a = randomFloats({c.m, c.k}), b = randomFloats({c.k, c.n});
    HostTensor one(DType::f32, {c.m, c.n});
    GemmArgs g;
    g.m = c.m, g.n = c.n, g.k = c.k;
    g.a = a.data<float>(), g.lda = c.k, g.b = b.data<float>(), g.ldb = c.n,
    g.ldc = c.n;
    g.c = one.data<float>();
    onerec::runtime::ThreadPool single(1);
    parallelSgemm(single, g);
    for (unsigned threads : {2u, 3u}) {
      HostTensor split(DType::f32, {c.m, c.n});
      g.c = split.data<float>();
      onerec::runtime::ThreadPool pool(threads);
      parallelSgemm(pool, g);
      EXPECT_EQ(std::memcmp(split.data<float>(), one.data<float>(),
                            size_t(c.m * c.n) * 4),
                0)
          << c.m << "x" << c.n << "x" << c.k << " on " << threads << " threads";
    }
  }
  std::string backend = gemmBackendName();
  EXPECT_TRUE(backend.rfind("openblas/", 0) == 0 || backend == "onerec-blocked")
      << backend;
}

} // namespace
