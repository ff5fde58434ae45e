//===- FusedGemm.cpp - the Gemm and GroupedWeightGrad kernels (1.2) -------===//
//
// The kernels of rec-fuse-gemm's ops (docs/fusion.md, "GEMM fusion").
//
// Gemm computes its output in blocks of rows, each block a task of the
// pool: every product of the block goes to the BLAS (sgemm, one thread),
// accumulating into the block (beta = 1 after the first), and the epilogue
// (bias, activation, residual; SwiGLU's product) runs over the block while
// it is still in cache, so no intermediate is written to memory. With a
// shared left operand the block's rows of the left operand are used for
// every right operand in turn. Blocks are cut from the shape alone, so
// results do not depend on the thread count. Batch dims fold into the rows
// when every right operand is shared by the whole batch (linear layers),
// as Matmul does; otherwise each batch element is its own set of blocks.
//
// GroupedWeightGrad is WeightGrad for several result gradients of one
// activation: one kernel launch, each product split over the pool as
// WeightGrad splits it (same blocks, so the same bits as unfused).
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include "onerec/Kernels/Gemm.h"

#include <vector>

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

/// Plan values of the `epilogue` attribute.
enum class Epilogue : int64_t {
  None = 0,
  Relu = 1,
  Gelu = 2,
  Silu = 3,
  Sigmoid = 4,
  Tanh = 5,
  Swiglu = 6
};

constexpr int kMaxProducts = 4096;

/// One product a_p · b_p of a Gemm call.
struct Product {
  const float *a = nullptr, *b = nullptr;
  /// Its result (the Gemm's only one unless the left operand is shared).
  float *y = nullptr;
  int64_t k = 0, n = 0;
  Shape aBatch, bBatch;
  int64_t aStrides[Shape::kMaxRank] = {}, bStrides[Shape::kMaxRank] = {};
};

/// The validated geometry of a Gemm call.
struct GemmShape {
  bool transA = false, transB = false, shared = false;
  Epilogue epilogue = Epilogue::None;
  int64_t m = 0, n = 0;
  Shape batch;
  std::vector<Product> products;
  const float *bias = nullptr, *residual = nullptr;
  int outputs = 1;
};

Status checkGemm(const KernelCall &call, GemmShape &s) {
  s.transA = call.attr().getInt("transpose_a") != 0;
  s.transB = call.attr().getInt("transpose_b") != 0;
  s.shared = call.attr().getInt("shared_lhs") != 0;
  int64_t epilogue = call.attr().getInt("epilogue");
  ONEREC_KERNEL_CHECK(call, epilogue >= 0 && epilogue <= 6,
                      "gemm: unknown epilogue {}", epilogue);
  s.epilogue = static_cast<Epilogue>(epilogue);
  bool swiglu = s.epilogue == Epilogue::Swiglu;
  // Operands: a_0, b_0, bias?, residual?, then (a_p, b_p) or (shared) b_j.
  int inputs = call.numInputs;
  int products = s.shared ? inputs - 3 : (inputs - 2) / 2;
  auto lhsOf = [&](int p) { return s.shared || p == 0 ? 0 : 2 + 2 * p; };
  auto rhsOf = [&](int p) { return p == 0 ? 1 : s.shared ? 3 + p : 3 + 2 * p; };
  bool countsOk =
      inputs >= 4 && products >= 1 && products <= kMaxProducts &&
      (s.shared ? products >= 2 && (!swiglu || products == 2) &&
                      call.numOutputs == (swiglu ? 1 : products) &&
                      (swiglu || s.epilogue == Epilogue::None)
                : inputs % 2 == 0 && call.numOutputs == 1 && !swiglu);
  ONEREC_KERNEL_CHECK(
      call, countsOk, "gemm: {} operands and {} results do not form {}", inputs,
      call.numOutputs, s.shared ? "a shared-lhs group" : "a sum of products");
  for (int i = 0; i < inputs; ++i)
    ONEREC_KERNEL_CHECK(call,
                        i == 2 || i == 3 || call.in(i).present() ||
                            call.in(i).numel() == 0,
                        "gemm: operand {} has no data", i);
  s.outputs = call.numOutputs;
  const Shape &y = call.out(0).shape;
  ONEREC_KERNEL_CHECK(call, y.rank >= 2, "gemm: result needs two dimensions");
  s.m = y[y.rank - 2];
  s.n = y[y.rank - 1];
  s.batch = leadingDims(y, y.rank - 2);
  for (int p = 0; p < products; ++p) {
    const TensorView &a = call.in(lhsOf(p)), &b = call.in(rhsOf(p));
    const Shape &out = call.out(s.shared && !swiglu ? p : 0).shape;
    ONEREC_KERNEL_CHECK(call, a.shape.rank >= 2 && b.shape.rank >= 2,
                        "gemm: product {} needs two dimensions", p);
    Product prod;
    int64_t m = a.shape[a.shape.rank - (s.transA ? 1 : 2)];
    int64_t ka = a.shape[a.shape.rank - (s.transA ? 2 : 1)];
    prod.k = b.shape[b.shape.rank - (s.transB ? 1 : 2)];
    prod.n = b.shape[b.shape.rank - (s.transB ? 2 : 1)];
    prod.aBatch = leadingDims(a.shape, a.shape.rank - 2);
    prod.bBatch = leadingDims(b.shape, b.shape.rank - 2);
    ONEREC_KERNEL_CHECK(
        call,
        leadingDims(out, out.rank - 1) == leadingDims(y, y.rank - 1) &&
            out[out.rank - 1] == prod.n &&
            ((s.shared && !swiglu) || prod.n == s.n) && ka == prod.k &&
            m == s.m && broadcastsTo(prod.aBatch, s.batch) &&
            broadcastsTo(prod.bBatch, s.batch) && a.dtype == DType::f32 &&
            b.dtype == DType::f32 && call.out(0).dtype == DType::f32,
        "gemm: product {}: {} x {} -> {} is inconsistent", p,
        a.shape.toString(), b.shape.toString(), out.toString());
    broadcastStrides(prod.aBatch, s.batch, prod.aStrides);
    broadcastStrides(prod.bBatch, s.batch, prod.bStrides);
    prod.a = a.as<const float>();
    prod.b = b.as<const float>();
    prod.y = call.out(s.shared && !swiglu ? p : 0).as<float>();
    s.products.push_back(prod);
  }
  if (const TensorView *bias = optionalInput(call, 2)) {
    ONEREC_KERNEL_CHECK(
        call,
        !s.shared && bias->dtype == DType::f32 && bias->shape == Shape{s.n},
        "gemm: bias {} is not a vector of {}", bias->shape.toString(), s.n);
    s.bias = bias->as<const float>();
  }
  if (const TensorView *residual = optionalInput(call, 3)) {
    ONEREC_KERNEL_CHECK(call,
                        !s.shared && residual->dtype == DType::f32 &&
                            residual->shape == y,
                        "gemm: residual {} does not have the result's shape {}",
                        residual->shape.toString(), y.toString());
    s.residual = residual->as<const float>();
  }
  return Status::ok();
}

double refActivation(Epilogue e, double x) {
  switch (e) {
  case Epilogue::Relu:
    return x > 0 ? x : 0;
  case Epilogue::Gelu:
    return refGelu(x);
  case Epilogue::Silu:
    return refSilu(x);
  case Epilogue::Sigmoid:
    return refSigmoid(x);
  case Epilogue::Tanh:
    return std::tanh(x);
  default:
    return x;
  }
}

/// The reference: every output element on its own, in double.
Status gemmReference(const GemmShape &s) {
  int64_t batches = s.batch.numel();
  bool swiglu = s.epilogue == Epilogue::Swiglu;
  auto dot = [&](const Product &p, int64_t bi, int64_t i, int64_t j) {
    int64_t m = s.m, n = p.n, k = p.k;
    const float *am = p.a + broadcastOffset(bi, s.batch, p.aStrides) * m * k;
    const float *bm = p.b + broadcastOffset(bi, s.batch, p.bStrides) * k * n;
    double acc = 0;
    for (int64_t q = 0; q < k; ++q)
      acc += double(s.transA ? am[q * m + i] : am[i * k + q]) *
             double(s.transB ? bm[j * k + q] : bm[q * n + j]);
    return acc;
  };
  if (s.shared && !swiglu) {
    for (const Product &p : s.products)
      for (int64_t bi = 0; bi < batches; ++bi)
        for (int64_t i = 0; i < s.m; ++i)
          for (int64_t j = 0; j < p.n; ++j)
            p.y[(bi * s.m + i) * p.n + j] = float(dot(p, bi, i, j));
    return Status::ok();
  }
  float *y = s.products[0].y;
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        int64_t at = (bi * s.m + i) * s.n + j;
        if (swiglu) {
          double g = dot(s.products[0], bi, i, j),
                 u = dot(s.products[1], bi, i, j);
          y[at] = float(refSilu(g) * u);
          continue;
        }
        double acc = 0;
        for (const Product &p : s.products)
          acc += dot(p, bi, i, j);
        if (s.bias)
          acc += s.bias[j];
        acc = refActivation(s.epilogue, acc);
        if (s.residual)
          acc += s.residual[at];
        y[at] = float(acc);
      }
  return Status::ok();
}

/// The epilogue over `rows` full rows of the output at `c` (row stride n);
/// `residual` points at the same rows of the residual.
void applyEpilogue(const GemmShape &s, float *c, int64_t rows,
                   const float *residual) {
  bool activation = s.epilogue != Epilogue::None;
  if (!s.bias && !activation && !residual)
    return;
  for (int64_t i = 0; i < rows; ++i) {
    float *row = c + i * s.n;
    if (s.bias)
      for (int64_t j = 0; j < s.n; ++j)
        row[j] += s.bias[j];
    switch (s.epilogue) {
    case Epilogue::Relu:
      for (int64_t j = 0; j < s.n; ++j)
        row[j] = row[j] > 0.0f ? row[j] : 0.0f;
      break;
    case Epilogue::Gelu:
      unaryF32(VecUnary::Gelu, row, row, s.n);
      break;
    case Epilogue::Silu:
      unaryF32(VecUnary::Silu, row, row, s.n);
      break;
    case Epilogue::Sigmoid:
      unaryF32(VecUnary::Sigmoid, row, row, s.n);
      break;
    case Epilogue::Tanh:
      unaryF32(VecUnary::Tanh, row, row, s.n);
      break;
    default:
      break;
    }
    if (residual && activation)
      for (int64_t j = 0; j < s.n; ++j)
        row[j] += residual[i * s.n + j];
  }
}

template <KernelVariant V> Status gemmKernel(const KernelCall &call) {
  GemmShape s;
  if (Status st = checkGemm(call, s); !st)
    return st;
  if constexpr (V == kRef)
    return gemmReference(s);
  int64_t batches = s.batch.numel(), m = s.m, widest = 0;
  for (const Product &p : s.products)
    widest = std::max(widest, p.n);
  if (batches * m * widest == 0)
    return Status::ok();
  // Linear layers: every b shared by the batch, no a broadcast -> the batch
  // folds into the rows.
  bool fold = !s.transA;
  for (const Product &p : s.products)
    fold = fold && p.bBatch.numel() == 1 && p.aBatch.numel() == batches;
  int64_t groups = fold ? 1 : batches, rows = fold ? m * batches : m;
  // Blocks of rows: a multiple of 16 rows, at most about 64k output floats
  // (the block stays in L2 for the epilogue), at most 64 blocks per group.
  int64_t step = std::max<int64_t>(16, (rows + 63) / 64);
  step = std::min(step, std::max<int64_t>(16, 65536 / widest));
  step = (step + 15) / 16 * 16;
  int64_t blocks = (rows + step - 1) / step;
  bool swiglu = s.epilogue == Epilogue::Swiglu;
  parallelFor(call, groups * blocks, 1, [&](int64_t lo, int64_t hi) {
    thread_local std::vector<float> gate;
    for (int64_t t = lo; t < hi; ++t) {
      int64_t bi = t / blocks, r0 = (t % blocks) * step;
      int64_t len = std::min(step, rows - r0);
      int64_t n = s.n, outOffset = (bi * m + r0) * n;
      // Product p of the block into c (row stride p.n).
      auto product = [&](const Product &p, float *c, float beta) {
        GemmArgs g;
        g.transA = s.transA;
        g.transB = s.transB;
        g.m = len, g.n = p.n, g.k = p.k;
        const float *am =
            fold ? p.a
                 : p.a + broadcastOffset(bi, s.batch, p.aStrides) * m * p.k;
        g.a = s.transA ? am + r0 : am + r0 * p.k;
        g.lda = s.transA ? m : p.k;
        g.b = fold ? p.b
                   : p.b + broadcastOffset(bi, s.batch, p.bStrides) * p.k * p.n;
        g.ldb = s.transB ? p.k : p.n;
        g.beta = beta;
        g.c = c, g.ldc = p.n;
        sgemm(g);
      };
      if (s.shared && swiglu) {
        gate.resize(size_t(len * n));
        float *up = call.out(0).as<float>() + outOffset;
        product(s.products[0], gate.data(), 0.0f);
        product(s.products[1], up, 0.0f);
        unaryF32(VecUnary::Silu, gate.data(), gate.data(), len * n);
        for (int64_t i = 0; i < len * n; ++i)
          up[i] *= gate[size_t(i)];
      } else if (s.shared) {
        // The block's rows of the left operand stay in cache for every b_j.
        for (const Product &p : s.products)
          product(p, p.y + (bi * m + r0) * p.n, 0.0f);
      } else {
        float *c = call.out(0).as<float>() + outOffset;
        const float *residual = s.residual ? s.residual + outOffset : nullptr;
        // Without an activation the residual is the accumulator (beta = 1).
        bool accumulate = residual && s.epilogue == Epilogue::None;
        if (accumulate)
          std::memcpy(c, residual, sizeof(float) * size_t(len * n));
        for (size_t p = 0; p < s.products.size(); ++p)
          product(s.products[p], c, accumulate || p > 0 ? 1.0f : 0.0f);
        applyEpilogue(s, c, len, accumulate ? nullptr : residual);
      }
    }
  });
  return Status::ok();
}

/// GroupedWeightGrad: x [..., k], dy_j [..., n_j] -> dw_j [k, n_j].
template <KernelVariant V>
Status groupedWeightGradKernel(const KernelCall &call) {
  ONEREC_KERNEL_CHECK(
      call, call.numInputs >= 2 && call.numOutputs == call.numInputs - 1,
      "grouped_weight_grad: expected x, dy... and one result "
      "per dy, got {} operands and {} results",
      call.numInputs, call.numOutputs);
  const TensorView &x = call.in(0);
  int64_t k = x.shape.last();
  int64_t positions = k ? x.numel() / k : 0;
  for (int j = 0; j < call.numOutputs; ++j) {
    const TensorView &y = call.in(j + 1), &out = call.out(j);
    int64_t n = y.shape.last();
    bool sameLeading = x.shape.rank == y.shape.rank && x.shape.rank >= 1;
    for (int i = 0; sameLeading && i + 1 < x.shape.rank; ++i)
      sameLeading = x.shape[i] == y.shape[i];
    ONEREC_KERNEL_CHECK(call,
                        sameLeading && x.dtype == DType::f32 &&
                            y.dtype == DType::f32 && (out.shape == Shape{k, n}),
                        "grouped_weight_grad: x {} and dy {} {} -> {} is not "
                        "[..., k], [..., n] -> [k, n]",
                        x.shape.toString(), j, y.shape.toString(),
                        out.shape.toString());
  }
  const float *a = x.as<const float>();
  for (int j = 0; j < call.numOutputs; ++j) {
    const float *b = call.in(j + 1).as<const float>();
    float *c = call.out(j).as<float>();
    int64_t n = call.in(j + 1).shape.last();
    weightGradProduct(pool(call), a, b, c, positions, k, n, V == kRef);
  }
  return Status::ok();
}

} // namespace

void onerec::kernels::registerFusedGemmKernels(KernelRegistry &r) {
  addCpu(r, OpCode::Gemm, DType::f32, gemmKernel<kRef>, gemmKernel<kOpt>);
  addCpu(r, OpCode::GroupedWeightGrad, DType::f32,
         groupedWeightGradKernel<kRef>, groupedWeightGradKernel<kOpt>);
}
