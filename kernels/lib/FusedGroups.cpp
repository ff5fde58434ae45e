//===- FusedGroups.cpp - the tile interpreter of Fused kernels ------------===//
//
// A Fused kernel runs the program of a rec.fused group (plan format 1.2)
// over its rows x cols domain. The optimized kernel cuts the rows into
// blocks whose registers fit in cache, runs the blocks in parallel, and
// executes each instruction as one vectorizable loop over the block; no
// intermediate of the group is ever written to memory. Rows are independent
// and each row is reduced in a fixed order, so results do not depend on the
// thread count. The reference kernel runs one row at a time in double
// precision with libm.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "VectorMath.h"

#include "onerec/Runtime/FusedProgram.h"

#include <utility>

namespace onerec::kernels {
namespace {

using plan::FusedKind;
using plan::FusedOpKind;

/// The group's domain, from the kernel's tensors.
struct Domain {
  int64_t rows = 1;
  int64_t cols = 1;
};

int64_t kindRows(FusedKind k, int64_t rows) {
  return k == FusedKind::Full || k == FusedKind::Row ? rows : 1;
}
int64_t kindCols(FusedKind k, int64_t cols) {
  return k == FusedKind::Full || k == FusedKind::Column ? cols : 1;
}

/// Checks the program and every tensor against the domain it implies.
Status checkFused(const KernelCall &call, Domain &d) {
  std::string error = runtime::checkFusedProgram(
      call.program, static_cast<uint32_t>(call.numInputs),
      static_cast<uint32_t>(call.numOutputs));
  ONEREC_KERNEL_CHECK(call, error.empty(), "fused: {}", error);
  const plan::FusedProgram &p = *call.program;
  const TensorView *full = nullptr;
  for (int i = 0; i < call.numOutputs && !full; ++i)
    if (p.output_kinds()->Get(i) == FusedKind::Full)
      full = &call.out(i);
  for (int i = 0; i < call.numInputs && !full; ++i)
    if (p.input_kinds()->Get(i) == FusedKind::Full)
      full = &call.in(i);
  ONEREC_KERNEL_CHECK(call, full, "fused: no operand or result is Full");
  d.cols = full->shape.last();
  d.rows = d.cols ? full->numel() / d.cols : 0;
  auto check = [&](const TensorView &t, FusedKind kind, const char *role,
                   int i) -> Status {
    ONEREC_KERNEL_CHECK(call, t.present() || t.numel() == 0,
                        "fused: {} {} has no data", role, i);
    ONEREC_KERNEL_CHECK(call, t.dtype == DType::f32 || t.dtype == DType::bool8,
                        "fused: {} {} is {}; groups compute with f32 and bool",
                        role, i, runtime::dtypeName(t.dtype));
    int64_t want = kindRows(kind, d.rows) * kindCols(kind, d.cols);
    ONEREC_KERNEL_CHECK(call,
                        t.numel() == want && (kind != FusedKind::Full ||
                                              t.shape.last() == d.cols),
                        "fused: {} {} {} is not a {} value of the {}x{} domain",
                        role, i, t.shape.toString(),
                        plan::EnumNameFusedKind(kind), d.rows, d.cols);
    return Status::ok();
  };
  for (int i = 0; i < call.numInputs; ++i)
    if (Status s = check(call.in(i), p.input_kinds()->Get(i), "operand", i); !s)
      return s;
  for (int i = 0; i < call.numOutputs; ++i)
    if (Status s = check(call.out(i), p.output_kinds()->Get(i), "result", i);
        !s)
      return s;
  return Status::ok();
}

/// Elementwise math in T: float with the optimized kernels' formulas, or
/// double with libm (the reference).
template <typename T> struct Math;

template <> struct Math<float> {
  static void unary(FusedOpKind op, const float *x, float *y, int64_t n) {
    auto map = [&](auto f) {
      for (int64_t i = 0; i < n; ++i)
        y[i] = f(x[i]);
    };
    switch (op) {
    case FusedOpKind::Exp:
      return unaryF32(VecUnary::Exp, x, y, n);
    case FusedOpKind::Tanh:
      return unaryF32(VecUnary::Tanh, x, y, n);
    case FusedOpKind::Sigmoid:
      return unaryF32(VecUnary::Sigmoid, x, y, n);
    case FusedOpKind::Silu:
      return unaryF32(VecUnary::Silu, x, y, n);
    case FusedOpKind::Gelu:
      return unaryF32(VecUnary::Gelu, x, y, n);
    case FusedOpKind::Rsqrt:
      return map([](float v) { return 1.0f / std::sqrt(v); });
    default:
      return generic(op, x, y, n);
    }
  }
  static void generic(FusedOpKind op, const float *x, float *y, int64_t n);
};

template <> struct Math<double> {
  static void unary(FusedOpKind op, const double *x, double *y, int64_t n) {
    auto map = [&](auto f) {
      for (int64_t i = 0; i < n; ++i)
        y[i] = f(x[i]);
    };
    switch (op) {
    case FusedOpKind::Exp:
      return map([](double v) { return std::exp(v); });
    case FusedOpKind::Tanh:
      return map([](double v) { return std::tanh(v); });
    case FusedOpKind::Sigmoid:
      return map(refSigmoid);
    case FusedOpKind::Silu:
      return map(refSilu);
    case FusedOpKind::Gelu:
      return map(refGelu);
    case FusedOpKind::Rsqrt:
      return map([](double v) { return 1.0 / std::sqrt(v); });
    default:
      return generic(op, x, y, n);
    }
  }
  static void generic(FusedOpKind op, const double *x, double *y, int64_t n);
};

/// The unary ops whose formula is the same in both precisions.
template <typename T>
void genericUnary(FusedOpKind op, const T *x, T *y, int64_t n) {
  auto map = [&](auto f) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = f(x[i]);
  };
  switch (op) {
  case FusedOpKind::Neg:
    return map([](T v) { return -v; });
  case FusedOpKind::Abs:
    return map([](T v) { return std::fabs(v); });
  case FusedOpKind::Log:
    return map([](T v) { return std::log(v); });
  case FusedOpKind::Sqrt:
    return map([](T v) { return std::sqrt(v); });
  case FusedOpKind::Relu:
    return map([](T v) { return v > T(0) ? v : T(0); });
  case FusedOpKind::Not:
    return map([](T v) { return v == T(0) ? T(1) : T(0); });
  default:
    return;
  }
}

void Math<float>::generic(FusedOpKind op, const float *x, float *y, int64_t n) {
  genericUnary(op, x, y, n);
}
void Math<double>::generic(FusedOpKind op, const double *x, double *y,
                           int64_t n) {
  genericUnary(op, x, y, n);
}

/// One register's value for the rows of a block: `data` with row stride
/// `rowStride` (cols, 1 or 0) and column stride `colStride` (1 or 0).
template <typename T> struct Operand {
  const T *data;
  int64_t rowStride;
  int64_t colStride;
};

template <typename T>
Operand<T> operandOf(const T *data, FusedKind kind, int64_t cols) {
  switch (kind) {
  case FusedKind::Full:
    return {data, cols, 1};
  case FusedKind::Row:
    return {data, 1, 0};
  case FusedKind::Column:
    return {data, 0, 1};
  case FusedKind::Scalar:
    return {data, 0, 0};
  }
  return {data, 0, 0};
}

/// y[r, c] = f(a[r, c], b[r, c]) over `rows` x `cols` of the result, with
/// the column loop specialized on which operands vary along it.
template <typename T, typename F>
void mapBinary(Operand<T> a, Operand<T> b, T *y, int64_t rows, int64_t cols,
               F f) {
  for (int64_t r = 0; r < rows; ++r) {
    const T *pa = a.data + r * a.rowStride;
    const T *pb = b.data + r * b.rowStride;
    T *py = y + r * cols;
    if (a.colStride && b.colStride) {
      for (int64_t c = 0; c < cols; ++c)
        py[c] = f(pa[c], pb[c]);
    } else if (a.colStride) {
      T vb = *pb;
      for (int64_t c = 0; c < cols; ++c)
        py[c] = f(pa[c], vb);
    } else if (b.colStride) {
      T va = *pa;
      for (int64_t c = 0; c < cols; ++c)
        py[c] = f(va, pb[c]);
    } else {
      py[0] = f(*pa, *pb);
    }
  }
}

template <typename T>
void binary(FusedOpKind op, int predicate, Operand<T> a, Operand<T> b, T *y,
            int64_t rows, int64_t cols) {
  auto run = [&](auto f) { mapBinary(a, b, y, rows, cols, f); };
  switch (op) {
  case FusedOpKind::Add:
    return run([](T u, T v) { return u + v; });
  case FusedOpKind::Sub:
    return run([](T u, T v) { return u - v; });
  case FusedOpKind::Mul:
    return run([](T u, T v) { return u * v; });
  case FusedOpKind::Div:
    return run([](T u, T v) { return u / v; });
  case FusedOpKind::Pow:
    return run([](T u, T v) { return T(std::pow(u, v)); });
  case FusedOpKind::Maximum:
    return run([](T u, T v) { return maxOf(u, v); });
  case FusedOpKind::Minimum:
    return run([](T u, T v) { return minOf(u, v); });
  case FusedOpKind::And:
    return run([](T u, T v) { return T(u != T(0) && v != T(0)); });
  case FusedOpKind::Or:
    return run([](T u, T v) { return T(u != T(0) || v != T(0)); });
  case FusedOpKind::Cmp:
    switch (predicate) {
    case 0:
      return run([](T u, T v) { return T(u == v); });
    case 1:
      return run([](T u, T v) { return T(u != v); });
    case 2:
      return run([](T u, T v) { return T(u < v); });
    case 3:
      return run([](T u, T v) { return T(u <= v); });
    case 4:
      return run([](T u, T v) { return T(u > v); });
    default:
      return run([](T u, T v) { return T(u >= v); });
    }
  default:
    return;
  }
}

/// The sum of a row: 16 float lanes (optimized) or a double loop.
inline float rowSum(const float *x, int64_t n) { return sumLanes(x, n); }
inline double rowSum(const double *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += x[i];
  return s;
}

template <typename T>
void reduce(FusedOpKind op, const T *x, T *y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T *row = x + r * cols;
    switch (op) {
    case FusedOpKind::ReduceSum:
      y[r] = rowSum(row, cols);
      break;
    case FusedOpKind::ReduceMean:
      y[r] = cols ? rowSum(row, cols) / T(cols) : T(0);
      break;
    case FusedOpKind::ReduceMax:
    case FusedOpKind::ReduceMin: {
      bool isMax = op == FusedOpKind::ReduceMax;
      T m = isMax ? -std::numeric_limits<T>::infinity()
                  : std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < cols; ++c)
        m = isMax ? maxOf(m, row[c]) : minOf(m, row[c]);
      y[r] = m;
      break;
    }
    default:
      break;
    }
  }
}

/// Runs the program over rows [r0, r0 + n) with `scratch` holding
/// registers + 1 buffers of n x cols values, then stores the results.
template <typename T>
void runBlock(const KernelCall &call, const Domain &d, int64_t r0, int64_t n,
              T *scratch) {
  const plan::FusedProgram &p = *call.program;
  uint32_t registers = p.registers();
  int64_t tile = n * d.cols;
  // Each register's buffer, the value it holds now (its buffer, or an f32
  // operand read in place) and that value's kind. Every instruction writes
  // the spare buffer, which then becomes its destination's, so a register
  // may be overwritten by an instruction that reads it.
  std::vector<T *> buffers(registers + 1);
  std::vector<const T *> values(registers);
  std::vector<FusedKind> kinds(registers, FusedKind::Scalar);
  for (uint32_t i = 0; i <= registers; ++i)
    buffers[i] = scratch + i * tile;
  auto offsetOf = [&](FusedKind kind) {
    return kind == FusedKind::Full  ? r0 * d.cols
           : kind == FusedKind::Row ? r0
                                    : 0;
  };
  auto operand = [&](uint16_t reg) {
    return operandOf(values[reg], kinds[reg], d.cols);
  };
  for (const plan::FusedInstr *ins : *p.instructions()) {
    FusedKind kind = ins->kind();
    int64_t rows = kindRows(kind, n), cols = kindCols(kind, d.cols);
    T *y = buffers[registers];
    FusedOpKind op = ins->op();
    if (op == FusedOpKind::Load) {
      const TensorView &t = call.in(ins->a());
      int64_t count = rows * cols, offset = offsetOf(kind);
      if (t.dtype == DType::f32) {
        const float *x = t.as<const float>() + offset;
        if constexpr (std::is_same_v<T, float>) {
          values[ins->dst()] = x; // read in place
          kinds[ins->dst()] = kind;
          continue;
        }
        for (int64_t i = 0; i < count; ++i)
          y[i] = T(x[i]);
      } else {
        const uint8_t *x = t.as<const uint8_t>() + offset;
        for (int64_t i = 0; i < count; ++i)
          y[i] = T(x[i] != 0);
      }
    } else if (op == FusedOpKind::Const) {
      y[0] = T(ins->value());
    } else if (op == FusedOpKind::Select) {
      Operand<T> c = operand(ins->a()), a = operand(ins->b()),
                 b = operand(ins->c());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j)
          y[r * cols + j] = c.data[r * c.rowStride + j * c.colStride] != T(0)
                                ? a.data[r * a.rowStride + j * a.colStride]
                                : b.data[r * b.rowStride + j * b.colStride];
    } else if (op == FusedOpKind::ReduceSum || op == FusedOpKind::ReduceMean ||
               op == FusedOpKind::ReduceMax || op == FusedOpKind::ReduceMin) {
      reduce(op, values[ins->a()], y, n, d.cols);
    } else if (runtime::fusedArity(op) == 2) {
      binary(op, ins->predicate(), operand(ins->a()), operand(ins->b()), y,
             rows, cols);
    } else {
      Math<T>::unary(op, values[ins->a()], y, rows * cols);
    }
    std::swap(buffers[ins->dst()], buffers[registers]);
    values[ins->dst()] = buffers[ins->dst()];
    kinds[ins->dst()] = kind;
  }
  for (int i = 0; i < call.numOutputs; ++i) {
    TensorView &t = call.out(i);
    FusedKind kind = p.output_kinds()->Get(i);
    const T *x = values[p.outputs()->Get(i)];
    int64_t count = kindRows(kind, n) * kindCols(kind, d.cols);
    int64_t offset = offsetOf(kind);
    if (t.dtype == DType::f32) {
      float *out = t.as<float>() + offset;
      for (int64_t j = 0; j < count; ++j)
        out[j] = float(x[j]);
    } else {
      uint8_t *out = t.as<uint8_t>() + offset;
      for (int64_t j = 0; j < count; ++j)
        out[j] = x[j] != T(0);
    }
  }
}

/// Elements per register in one block of the optimized kernel: about 32 KB,
/// so a program's registers stay in L2.
constexpr int64_t kTileElements = 8192;

template <KernelVariant V> Status fusedKernel(const KernelCall &call) {
  Domain d;
  if (Status s = checkFused(call, d); !s)
    return s;
  if (d.rows == 0 || d.cols == 0)
    return Status::ok();
  uint32_t slots = call.program->registers() + 1;
  if constexpr (V == kRef) {
    std::vector<double> scratch(size_t(slots) * size_t(d.cols));
    for (int64_t r = 0; r < d.rows; ++r)
      runBlock<double>(call, d, r, 1, scratch.data());
  } else {
    int64_t blockRows = std::clamp<int64_t>(kTileElements / d.cols, 1, d.rows);
    int64_t blocks = (d.rows + blockRows - 1) / blockRows;
    parallelFor(call, blocks, 1, [&](int64_t lo, int64_t hi) {
      float *scratch =
          threadScratch<float>(0, size_t(slots) * size_t(blockRows * d.cols));
      for (int64_t b = lo; b < hi; ++b) {
        int64_t r0 = b * blockRows;
        runBlock<float>(call, d, r0, std::min(blockRows, d.rows - r0), scratch);
      }
    });
  }
  return Status::ok();
}

} // namespace

void registerFusedKernels(KernelRegistry &r) {
  // Keyed by the first operand's dtype (the first result's without one).
  for (DType t : {DType::f32, DType::bool8})
    addCpu(r, OpCode::Fused, t, fusedKernel<kRef>, fusedKernel<kOpt>);
}

} // namespace onerec::kernels
