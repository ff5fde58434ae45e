//===- Elementwise.cpp - constants, unary, binary, compare, select, cast --===//
//
// One template per op family, instantiated per op and dtype. References walk
// the output one element at a time through broadcastOffset and compute in
// double; optimized kernels walk the collapsed BroadcastLoop in parallel
// rows whose inner loops have unit or zero strides (same shape, scalar and
// bias operands become straight vector loops) and use the branch-free math
// of KernelSupport.h. Integer arithmetic wraps (no signed-overflow UB);
// integer division by zero is an error, not a crash.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

#include "VectorMath.h"

#include "onerec/Kernels/Philox.h"

#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

using namespace onerec;
using namespace onerec::kernels;
using onerec::runtime::Shape;

namespace {

//===----------------------------------------------------------------------===//
// Shared loops
//===----------------------------------------------------------------------===//

/// Calls fn(begin, end) over [0, n) in parallel chunks (flat elementwise).
template <typename Fn>
void parallelElements(const KernelCall &call, int64_t n, Fn &&fn) {
  parallelFor(call, n, 16384, fn);
}

/// Applies f to a row with operand strides in {0, 1}; the common stride
/// patterns get loops the compiler vectorizes.
template <typename R, typename A, typename B, typename F>
inline void binaryRow(R *y, const A *a, const B *b, int64_t n, const int64_t *s,
                      F f) {
  if (s[0] == 1 && s[1] == 1) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = f(a[i], b[i]);
  } else if (s[0] == 1 && s[1] == 0) {
    B bv = *b;
    for (int64_t i = 0; i < n; ++i)
      y[i] = f(a[i], bv);
  } else if (s[0] == 0 && s[1] == 1) {
    A av = *a;
    for (int64_t i = 0; i < n; ++i)
      y[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i)
      y[i] = f(a[i * s[0]], b[i * s[1]]);
  }
}

/// y = f(a, b) with broadcasting: the reference walk or the optimized one.
template <KernelVariant V, typename R, typename A, typename B, typename F>
void broadcastBinary(const KernelCall &call, F f) {
  const TensorView &ta = call.in(0), &tb = call.in(1);
  const Shape &out = call.out(0).shape;
  const A *a = ta.as<const A>();
  const B *b = tb.as<const B>();
  R *y = call.out(0).as<R>();
  if constexpr (V == kRef) {
    int64_t sa[Shape::kMaxRank], sb[Shape::kMaxRank];
    broadcastStrides(ta.shape, out, sa);
    broadcastStrides(tb.shape, out, sb);
    for (int64_t i = 0, n = out.numel(); i < n; ++i)
      y[i] = f(a[broadcastOffset(i, out, sa)], b[broadcastOffset(i, out, sb)]);
  } else {
    const Shape *shapes[2] = {&ta.shape, &tb.shape};
    forEachBroadcastRow<2>(
        call, out, shapes,
        [&](int64_t o, const int64_t *off, int64_t n, const int64_t *s) {
          binaryRow(y + o, a + off[0], b + off[1], n, s, f);
        });
  }
}

//===----------------------------------------------------------------------===//
// Constant, Iota, Copy
//===----------------------------------------------------------------------===//

template <typename T, KernelVariant V>
Status constantKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "constant", 0, 0, 1); !st)
    return st;
  const auto &attrs = call.attr();
  T value;
  if constexpr (std::is_floating_point_v<T>) {
    value = T(attrs.getFloat("value"));
  } else {
    // The validator gives integer results an integer value.
    value = T(attrs.getInt("value"));
    if (std::is_same_v<T, uint8_t>)
      value = value != 0;
  }
  T *y = call.out(0).as<T>();
  int64_t n = call.out(0).numel();
  if constexpr (V == kRef) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = value;
  } else {
    parallelElements(call, n, [&](int64_t lo, int64_t hi) {
      std::fill(y + lo, y + hi, value);
    });
  }
  return Status::ok();
}

template <typename T, KernelVariant V>
Status iotaKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "iota", 0, 0, 1); !st)
    return st;
  const Shape &s = call.out(0).shape;
  int64_t axis = call.attr().getInt("axis");
  ONEREC_KERNEL_CHECK(call, axis >= 0 && axis < std::max(s.rank, 1),
                      "iota: axis {} is outside the result's rank {}", axis,
                      s.rank);
  AxisSplit sp = splitAtAxis(s, int(axis));
  T *y = call.out(0).as<T>();
  if constexpr (V == kRef) {
    for (int64_t i = 0, n = s.numel(); i < n; ++i)
      y[i] = T((i / sp.inner) % sp.extent);
  } else {
    parallelFor(call, sp.outer * sp.extent, grainFor(sp.inner),
                [&](int64_t lo, int64_t hi) {
                  for (int64_t r = lo; r < hi; ++r)
                    std::fill(y + r * sp.inner, y + (r + 1) * sp.inner,
                              T(r % sp.extent));
                });
  }
  return Status::ok();
}

template <KernelVariant V> Status copyKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "copy", 1, 1, 1); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.in(0).bytes() == call.out(0).bytes(),
                      "copy: {} bytes into {} bytes", call.in(0).bytes(),
                      call.out(0).bytes());
  const char *x = call.in(0).as<const char>();
  char *y = call.out(0).as<char>();
  int64_t n = int64_t(call.in(0).bytes());
  if (x == y || n == 0)
    return Status::ok();
  if constexpr (V == kRef) {
    std::memcpy(y, x, size_t(n));
  } else {
    parallelFor(call, n, 1 << 18, [&](int64_t lo, int64_t hi) {
      std::memcpy(y + lo, x + lo, size_t(hi - lo));
    });
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Unary
//===----------------------------------------------------------------------===//

enum class Unary {
  Neg,
  Abs,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Tanh,
  Sigmoid,
  Silu,
  Gelu,
  Relu,
  Not
};

/// The reference: double precision, libm.
template <Unary U> double unaryRef(double x) {
  switch (U) {
  case Unary::Neg:
    return -x;
  case Unary::Abs:
    return std::fabs(x);
  case Unary::Exp:
    return std::exp(x);
  case Unary::Log:
    return std::log(x);
  case Unary::Sqrt:
    return std::sqrt(x);
  case Unary::Rsqrt:
    return 1.0 / std::sqrt(x);
  case Unary::Tanh:
    return std::tanh(x);
  case Unary::Sigmoid:
    return refSigmoid(x);
  case Unary::Silu:
    return refSilu(x);
  case Unary::Gelu:
    return refGelu(x);
  case Unary::Relu:
    return x > 0 ? x : 0.0;
  case Unary::Not:
    return x == 0 ? 1.0 : 0.0;
  }
  return 0;
}

/// The optimized float form: branch-free so loops vectorize. The
/// transcendentals run through the same formulas in VectorMath.cpp, compiled
/// per vector ISA; their cases here keep the switch total.
template <Unary U> inline float unaryFast(float x) {
  switch (U) {
  case Unary::Neg:
    return -x;
  case Unary::Abs:
    return std::fabs(x);
  case Unary::Exp:
    return fastExp(x);
  case Unary::Log:
    return std::log(x);
  case Unary::Sqrt:
    return std::sqrt(x);
  case Unary::Rsqrt:
    return 1.0f / std::sqrt(x);
  case Unary::Tanh:
    return fastTanh(x);
  case Unary::Sigmoid:
    return fastSigmoid(x);
  case Unary::Silu:
    return x * fastSigmoid(x);
  case Unary::Gelu:
    return fastGelu(x);
  case Unary::Relu:
    return x > 0.0f ? x : 0.0f;
  case Unary::Not:
    return x == 0.0f ? 1.0f : 0.0f;
  }
  return 0;
}

/// The multiversioned loop of U, if it has one.
constexpr std::pair<bool, VecUnary> vecUnaryOf(Unary U) {
  switch (U) {
  case Unary::Exp:
    return {true, VecUnary::Exp};
  case Unary::Tanh:
    return {true, VecUnary::Tanh};
  case Unary::Sigmoid:
    return {true, VecUnary::Sigmoid};
  case Unary::Silu:
    return {true, VecUnary::Silu};
  case Unary::Gelu:
    return {true, VecUnary::Gelu};
  default:
    return {false, VecUnary::Exp};
  }
}

/// Integers and booleans: exact, the same in both variants.
template <Unary U, typename T> inline T unaryExact(T x) {
  using UT = std::make_unsigned_t<T>;
  switch (U) {
  case Unary::Neg:
    return T(UT(0) - UT(x));
  case Unary::Abs:
    return x < 0 ? T(UT(0) - UT(x)) : x;
  case Unary::Relu:
    return x > 0 ? x : T(0);
  case Unary::Not:
    return T(x == 0);
  default:
    return x;
  }
}

template <Unary U, typename T, KernelVariant V>
Status unaryKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "unary", 1, 1, 1); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.in(0).numel() == call.out(0).numel(),
                      "elementwise op: {} elements into {}", call.in(0).numel(),
                      call.out(0).numel());
  const T *x = call.in(0).as<const T>();
  T *y = call.out(0).as<T>();
  int64_t n = call.in(0).numel();
  if constexpr (V == kRef) {
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_floating_point_v<T>)
        y[i] = T(unaryRef<U>(double(x[i])));
      else
        y[i] = unaryExact<U>(x[i]);
    }
  } else {
    parallelElements(call, n, [&](int64_t lo, int64_t hi) {
      // Transcendentals go to the multiversioned loops (AVX-512/AVX2).
      if constexpr (std::is_floating_point_v<T> && vecUnaryOf(U).first) {
        unaryF32(vecUnaryOf(U).second, x + lo, y + lo, hi - lo);
      } else {
        for (int64_t i = lo; i < hi; ++i) {
          if constexpr (std::is_floating_point_v<T>)
            y[i] = unaryFast<U>(x[i]);
          else
            y[i] = unaryExact<U>(x[i]);
        }
      }
    });
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Binary
//===----------------------------------------------------------------------===//

enum class Binary { Add, Sub, Mul, Div, Pow, Max, Min, And, Or };

/// Integer power by squaring, wrapping; negative exponents truncate.
template <typename T> T intPow(T base, T exp) {
  using UT = std::make_unsigned_t<T>;
  if (exp < 0)
    return base == 1 ? T(1) : base == -1 ? T((exp & 1) ? -1 : 1) : T(0);
  UT result = 1, b = UT(base);
  for (UT e = UT(exp); e; e >>= 1, b *= b)
    if (e & 1)
      result *= b;
  return T(result);
}

template <Binary Op, typename T> inline T binaryExact(T a, T b) {
  using UT = std::make_unsigned_t<T>;
  switch (Op) {
  case Binary::Add:
    return T(UT(a) + UT(b));
  case Binary::Sub:
    return T(UT(a) - UT(b));
  case Binary::Mul:
    return T(UT(a) * UT(b));
  // b == 0 was rejected; -1 negates by wrapping (min / -1 would trap).
  case Binary::Div:
    return b == -1 ? T(UT(0) - UT(a)) : b == 0 ? T(0) : T(a / b);
  case Binary::Pow:
    return intPow(a, b);
  case Binary::Max:
    return a > b ? a : b;
  case Binary::Min:
    return a < b ? a : b;
  case Binary::And:
    return T(a != 0 && b != 0);
  case Binary::Or:
    return T(a != 0 || b != 0);
  }
  return 0;
}

template <Binary Op> inline float binaryFloat(float a, float b) {
  switch (Op) {
  case Binary::Add:
    return a + b;
  case Binary::Sub:
    return a - b;
  case Binary::Mul:
    return a * b;
  case Binary::Div:
    return a / b;
  case Binary::Pow:
    return std::pow(a, b);
  case Binary::Max:
    return maxOf(a, b);
  case Binary::Min:
    return minOf(a, b);
  default:
    return 0;
  }
}

template <Binary Op, typename T, KernelVariant V>
Status binaryKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "binary", 2, 2, 1); !st)
    return st;
  if (Status st = checkBroadcast(call, "binary", 2); !st)
    return st;
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (V == kRef && Op == Binary::Pow)
      broadcastBinary<V, T, T, T>(
          call, [](T a, T b) { return T(std::pow(double(a), double(b))); });
    else
      broadcastBinary<V, T, T, T>(
          call, [](T a, T b) { return binaryFloat<Op>(a, b); });
  } else {
    if constexpr (Op == Binary::Div) {
      int64_t zero = -1, n = call.in(1).numel();
      const T *b = call.in(1).as<const T>();
      for (int64_t i = 0; i < n && zero < 0; ++i)
        if (b[i] == 0)
          zero = i;
      ONEREC_KERNEL_CHECK(call, zero < 0,
                          "div: integer division by zero (divisor element {})",
                          zero);
    }
    broadcastBinary<V, T, T, T>(
        call, [](T a, T b) { return binaryExact<Op, T>(a, b); });
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Cmp, Select
//===----------------------------------------------------------------------===//

template <typename T, KernelVariant V>
Status cmpKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "cmp", 2, 2, 1); !st)
    return st;
  if (Status st = checkBroadcast(call, "cmp", 2); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.in(1).dtype == call.in(0).dtype,
                      "cmp: operands of different types");
  using B = uint8_t;
  switch (call.attr().getInt("predicate", -1)) {
  case 0:
    broadcastBinary<V, B, T, T>(call, [](T a, T b) { return B(a == b); });
    break;
  case 1:
    broadcastBinary<V, B, T, T>(call, [](T a, T b) { return B(a != b); });
    break;
  case 2:
    broadcastBinary<V, B, T, T>(call, [](T a, T b) { return B(a < b); });
    break;
  case 3:
    broadcastBinary<V, B, T, T>(call, [](T a, T b) { return B(a <= b); });
    break;
  case 4:
    broadcastBinary<V, B, T, T>(call, [](T a, T b) { return B(a > b); });
    break;
  case 5:
    broadcastBinary<V, B, T, T>(call, [](T a, T b) { return B(a >= b); });
    break;
  default:
    return call.fail(fmt::format("cmp: unknown predicate {}",
                                 call.attr().getInt("predicate")));
  }
  return Status::ok();
}

template <typename T, KernelVariant V>
void selectTyped(const KernelCall &call) {
  const TensorView &tc = call.in(0), &ta = call.in(1), &tb = call.in(2);
  const Shape &out = call.out(0).shape;
  const uint8_t *c = tc.as<const uint8_t>();
  const T *a = ta.as<const T>(), *b = tb.as<const T>();
  T *y = call.out(0).as<T>();
  if constexpr (V == kRef) {
    int64_t sc[Shape::kMaxRank], sa[Shape::kMaxRank], sb[Shape::kMaxRank];
    broadcastStrides(tc.shape, out, sc);
    broadcastStrides(ta.shape, out, sa);
    broadcastStrides(tb.shape, out, sb);
    for (int64_t i = 0, n = out.numel(); i < n; ++i)
      y[i] = c[broadcastOffset(i, out, sc)] ? a[broadcastOffset(i, out, sa)]
                                            : b[broadcastOffset(i, out, sb)];
  } else {
    const Shape *shapes[3] = {&tc.shape, &ta.shape, &tb.shape};
    forEachBroadcastRow<3>(
        call, out, shapes,
        [&](int64_t o, const int64_t *off, int64_t n, const int64_t *s) {
          const uint8_t *pc = c + off[0];
          const T *pa = a + off[1], *pb = b + off[2];
          T *py = y + o;
          if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
            for (int64_t i = 0; i < n; ++i)
              py[i] = pc[i] ? pa[i] : pb[i];
          } else {
            for (int64_t i = 0; i < n; ++i)
              py[i] = pc[i * s[0]] ? pa[i * s[1]] : pb[i * s[2]];
          }
        });
  }
}

/// Keyed by the condition (bool8); the value type comes from operand 1.
template <KernelVariant V> Status selectKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "select", 3, 3, 1); !st)
    return st;
  if (Status st = checkBroadcast(call, "select", 3); !st)
    return st;
  DType t = call.in(1).dtype;
  ONEREC_KERNEL_CHECK(call, call.in(2).dtype == t && call.out(0).dtype == t,
                      "select: value operands and result differ in type");
  bool known =
      dispatchDType(t, [&](auto tag) { selectTyped<decltype(tag), V>(call); });
  ONEREC_KERNEL_CHECK(call, known, "select: no CPU kernel for {}",
                      runtime::dtypeName(t));
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Cast
//===----------------------------------------------------------------------===//

/// float -> int truncates toward zero, NaN gives 0 and out-of-range values
/// saturate (a plain cast would be undefined behaviour); anything -> bool is
/// `!= 0`.
template <typename To, typename From> inline To convert(From x) {
  if constexpr (std::is_same_v<To, uint8_t>) {
    return To(x != From(0));
  } else if constexpr (std::is_floating_point_v<From> &&
                       std::is_integral_v<To>) {
    if (!(x == x))
      return To(0);
    constexpr double lo = double(std::numeric_limits<To>::min());
    constexpr double hi = double(std::numeric_limits<To>::max());
    if (double(x) <= lo)
      return std::numeric_limits<To>::min();
    if (double(x) >= hi)
      return std::numeric_limits<To>::max();
    return To(x);
  } else {
    return To(x);
  }
}

template <typename From, KernelVariant V>
Status castKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "cast", 1, 1, 1); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.in(0).numel() == call.out(0).numel(),
                      "cast: {} elements into {}", call.in(0).numel(),
                      call.out(0).numel());
  const From *x = call.in(0).as<const From>();
  int64_t n = call.in(0).numel();
  bool known = dispatchDType(call.out(0).dtype, [&](auto tag) {
    using To = decltype(tag);
    To *y = call.out(0).as<To>();
    if constexpr (V == kRef) {
      for (int64_t i = 0; i < n; ++i)
        y[i] = convert<To>(x[i]);
    } else {
      parallelElements(call, n, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          y[i] = convert<To>(x[i]);
      });
    }
  });
  ONEREC_KERNEL_CHECK(call, known, "cast: no CPU kernel to {}",
                      runtime::dtypeName(call.out(0).dtype));
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

template <KernelVariant V> Status dropoutKernel(const KernelCall &call) {
  if (Status st = checkArity(call, "dropout", 1, 1, 1); !st)
    return st;
  ONEREC_KERNEL_CHECK(call, call.in(0).numel() == call.out(0).numel(),
                      "dropout: {} elements into {}", call.in(0).numel(),
                      call.out(0).numel());
  double rate = call.attr().getFloat("rate");
  ONEREC_KERNEL_CHECK(call, rate >= 0 && rate < 1,
                      "dropout: rate {} is outside [0, 1)", rate);
  if (!call.context->training || rate == 0)
    return copyKernel<V>(call);
  const float *x = call.in(0).as<const float>();
  float *y = call.out(0).as<float>();
  int64_t n = call.in(0).numel();
  uint64_t key = call.context->seed ^ uint64_t(call.attr().getInt("stream"));
  uint64_t step = call.context->step;
  float keepRate = float(rate), scale = float(1.0 / (1.0 - rate));
  if constexpr (V == kRef) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = philoxUniform(key, step, uint64_t(i)) >= keepRate ? x[i] * scale
                                                               : 0.0f;
  } else {
    int64_t blocks = (n + 3) / 4;
    parallelFor(call, blocks, 4096, [&](int64_t lo, int64_t hi) {
      dropoutBlocks(x, y, n, lo, hi, key, step, keepRate, scale);
    });
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

template <Unary U, typename T> void addUnary(KernelRegistry &r, OpCode op) {
  addCpu(r, op, dtypeOf<T>(), unaryKernel<U, T, kRef>, unaryKernel<U, T, kOpt>);
}
template <Binary B, typename T> void addBinary(KernelRegistry &r, OpCode op) {
  addCpu(r, op, dtypeOf<T>(), binaryKernel<B, T, kRef>,
         binaryKernel<B, T, kOpt>);
}
template <typename T> void addTyped(KernelRegistry &r) {
  addCpu(r, OpCode::Constant, dtypeOf<T>(), constantKernel<T, kRef>,
         constantKernel<T, kOpt>);
  addCpu(r, OpCode::Cmp, dtypeOf<T>(), cmpKernel<T, kRef>, cmpKernel<T, kOpt>);
  addCpu(r, OpCode::Cast, dtypeOf<T>(), castKernel<T, kRef>,
         castKernel<T, kOpt>);
  if constexpr (!std::is_same_v<T, uint8_t>) {
    addCpu(r, OpCode::Iota, dtypeOf<T>(), iotaKernel<T, kRef>,
           iotaKernel<T, kOpt>);
    addUnary<Unary::Neg, T>(r, OpCode::Neg);
    addUnary<Unary::Abs, T>(r, OpCode::Abs);
    addUnary<Unary::Relu, T>(r, OpCode::Relu);
    addBinary<Binary::Add, T>(r, OpCode::Add);
    addBinary<Binary::Sub, T>(r, OpCode::Sub);
    addBinary<Binary::Mul, T>(r, OpCode::Mul);
    addBinary<Binary::Div, T>(r, OpCode::Div);
    addBinary<Binary::Pow, T>(r, OpCode::Pow);
    addBinary<Binary::Max, T>(r, OpCode::Maximum);
    addBinary<Binary::Min, T>(r, OpCode::Minimum);
  }
}

} // namespace

void onerec::kernels::registerElementwiseKernels(KernelRegistry &r) {
  addTyped<float>(r);
  addTyped<int64_t>(r);
  addTyped<int32_t>(r);
  addTyped<uint8_t>(r);
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::bool8, DType::i32,
                  DType::i64})
    addCpu(r, OpCode::Copy, t, copyKernel<kRef>, copyKernel<kOpt>);
  addUnary<Unary::Exp, float>(r, OpCode::Exp);
  addUnary<Unary::Log, float>(r, OpCode::Log);
  addUnary<Unary::Sqrt, float>(r, OpCode::Sqrt);
  addUnary<Unary::Rsqrt, float>(r, OpCode::Rsqrt);
  addUnary<Unary::Tanh, float>(r, OpCode::Tanh);
  addUnary<Unary::Sigmoid, float>(r, OpCode::Sigmoid);
  addUnary<Unary::Silu, float>(r, OpCode::Silu);
  addUnary<Unary::Gelu, float>(r, OpCode::Gelu);
  addUnary<Unary::Not, uint8_t>(r, OpCode::Not);
  addBinary<Binary::And, uint8_t>(r, OpCode::And);
  addBinary<Binary::Or, uint8_t>(r, OpCode::Or);
  addCpu(r, OpCode::Select, DType::bool8, selectKernel<kRef>,
         selectKernel<kOpt>);
  addCpu(r, OpCode::Dropout, DType::f32, dropoutKernel<kRef>,
         dropoutKernel<kOpt>);
}
