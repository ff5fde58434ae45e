//===- BuiltinOps.cpp - math, reductions, shapes and bare attention -------===//
//
// Builtins that map to one or a few rec ops and create no weights (layers are
// in BuiltinLayers.cpp; losses, rewards and initializers in
// BuiltinObjectives.cpp).
//
//===----------------------------------------------------------------------===//

#include "Builtins.h"
#include "ModelCompiler.h"

#include "llvm/Support/MathExtras.h"
#include <cmath>

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;
using rec::Dim;
using rec::RecTensorType;
using K = CompilerValue::Kind;

namespace {

/// A negative axis counts from the end; out-of-range axes are left for the
/// op's shape rule to report.
int64_t normalizeAxis(int64_t axis, int64_t rank) {
  return axis < 0 && axis + rank >= 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// `exp(x)` on a tensor builds the op; on a number it is computed now.
template <typename OpT>
CompilerValue unaryMath(BuiltinCall &call, double (*fold)(double)) {
  const CompilerValue &x = call.get("x");
  if (x.isNumber() && fold) {
    double result = fold(x.asDouble());
    if (!std::isfinite(result)) {
      call.errorAt("x") << "the result is not a finite number";
      return poison();
    }
    return CompilerValue::floating(result);
  }
  FailureOr<Value> value = call.tensor("x");
  if (failed(value))
    return poison();
  return call.compiler().emit<OpT>(call.loc(), *value);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double rsqrt(double x) { return 1.0 / std::sqrt(x); }
double relu(double x) { return x > 0 ? x : 0; }
double silu(double x) { return x * sigmoid(x); }
double gelu(double x) {
  return 0.5 * x *
         (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/// The two operands of a binary builtin as tensors of one element type; a
/// compile-time number adopts the tensor's element type.
FailureOr<std::pair<Value, Value>>
tensorPair(BuiltinCall &call, llvm::StringRef a, llvm::StringRef b) {
  const CompilerValue &x = call.get(a), &y = call.get(b);
  ModelCompiler &c = call.compiler();
  if (!x.isTensor() && !y.isTensor()) {
    call.error() << "needs at least one tensor argument";
    return failure();
  }
  RecTensorType like = x.isTensor() ? x.getTensorType() : y.getTensorType();
  CompilerValue l = c.asTensorLike(call.argLoc(a), x, like);
  CompilerValue r = c.asTensorLike(call.argLoc(b), y, like);
  if (l.isPoison() || r.isPoison())
    return failure();
  return std::make_pair(l.getTensor(), r.getTensor());
}

template <typename OpT>
CompilerValue binaryMath(BuiltinCall &call, double (*fold)(double, double)) {
  const CompilerValue &x = call.get("a"), &y = call.get("b");
  if (x.isNumber() && y.isNumber())
    return CompilerValue::floating(fold(x.asDouble(), y.asDouble()));
  FailureOr<std::pair<Value, Value>> operands = tensorPair(call, "a", "b");
  if (failed(operands))
    return poison();
  return call.compiler().emit<OpT>(call.loc(), operands->first,
                                   operands->second);
}

CompilerValue where(BuiltinCall &call) {
  FailureOr<Value> cond = call.tensor("cond");
  if (failed(cond))
    return poison();
  const CompilerValue &a = call.get("a"), &b = call.get("b");
  ModelCompiler &c = call.compiler();
  // Two numbers select between floats.
  RecTensorType like = a.isTensor()   ? a.getTensorType()
                       : b.isTensor() ? b.getTensorType()
                                      : RecTensorType::getScalar(c.f32());
  CompilerValue l = c.asTensorLike(call.argLoc("a"), a, like);
  CompilerValue r = c.asTensorLike(call.argLoc("b"), b, like);
  if (l.isPoison() || r.isPoison())
    return poison();
  return c.emit<rec::SelectOp>(call.loc(), *cond, l.getTensor(), r.getTensor());
}

CompilerValue castTo(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<Type> dtype = call.dtype("dtype");
  if (failed(x) || failed(dtype))
    return poison();
  RecTensorType from = typeOf(*x);
  RecTensorType to = from.withElementType(*dtype);
  if (from.isFloat() && !to.isFloat()) {
    call.errorAt("dtype") << "cannot cast " << rec::formatTensorType(from)
                          << " to " << rec::formatTensorType(to)
                          << " (float to integer casts lose values; use "
                             "argmax or topk for indices)";
    return poison();
  }
  if (isa<rec::IdType>(from.getElementType()) && to.isFloat()) {
    call.errorAt("x") << "ids are not numbers; embed them instead of casting "
                      << rec::formatTensorType(from) << " to a float";
    return poison();
  }
  return call.compiler().emitTyped<rec::CastOp>(call.loc(), to, *x);
}

CompilerValue asId(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> vocab = call.integer("vocab", 1);
  if (failed(x) || failed(vocab))
    return poison();
  RecTensorType from = typeOf(*x);
  if (!from.isIndexLike()) {
    call.errorAt("x") << "only integers and semantic ids become ids, got "
                      << rec::formatTensorType(from);
    return poison();
  }
  return call.compiler().emitTyped<rec::CastOp>(
      call.loc(),
      from.withElementType(
          rec::IdType::get(call.compiler().getContext(), *vocab)),
      *x);
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

enum class Reduce { Sum, Mean, Max, Min };

double foldList(Reduce kind, ArrayRef<double> values) {
  double acc = kind == Reduce::Max   ? -INFINITY
               : kind == Reduce::Min ? INFINITY
                                     : 0.0;
  for (double v : values) {
    switch (kind) {
    case Reduce::Sum:
    case Reduce::Mean:
      acc += v;
      break;
    case Reduce::Max:
      acc = std::max(acc, v);
      break;
    case Reduce::Min:
      acc = std::min(acc, v);
      break;
    }
  }
  return kind == Reduce::Mean ? acc / values.size() : acc;
}

template <typename OpT> CompilerValue reduce(BuiltinCall &call, Reduce kind) {
  const CompilerValue &x = call.get("x");
  // Compile-time forms: max(a, b) and sum([1, 2, 3]).
  if (x.isNumber() && (kind == Reduce::Max || kind == Reduce::Min) &&
      call.get("axis").isNumber()) {
    double a = x.asDouble(), b = call.get("axis").asDouble();
    double r = kind == Reduce::Max ? std::max(a, b) : std::min(a, b);
    if (x.is(K::Int) && call.get("axis").is(K::Int))
      return CompilerValue::integer(static_cast<int64_t>(r));
    return CompilerValue::floating(r);
  }
  if (x.is(K::List)) {
    SmallVector<double> values;
    bool ints = true;
    for (const CompilerValue &e : x.getElements()) {
      if (!e.isNumber()) {
        call.errorAt("x") << "a compile-time list must hold numbers, found "
                          << e.describe();
        return poison();
      }
      ints &= e.is(K::Int);
      values.push_back(e.asDouble());
    }
    if (values.empty()) {
      call.errorAt("x") << "the list is empty";
      return poison();
    }
    double r = foldList(kind, values);
    if (ints && kind != Reduce::Mean)
      return CompilerValue::integer(static_cast<int64_t>(r));
    return CompilerValue::floating(r);
  }
  FailureOr<Value> value = call.tensor("x");
  FailureOr<bool> keepdim = call.flag("keepdim");
  if (failed(value) || failed(keepdim))
    return poison();
  SmallVector<int64_t> axes;
  if (call.has("axis")) {
    FailureOr<SmallVector<int64_t>> given = call.integers("axis");
    if (failed(given))
      return poison();
    for (int64_t axis : *given)
      axes.push_back(normalizeAxis(axis, typeOf(*value).getRank()));
  }
  return call.compiler().emit<OpT>(call.loc(), *value, axes, *keepdim);
}

double expOf(double x) { return std::exp(x); }
double logOf(double x) { return std::log(x); }
double sqrtOf(double x) { return std::sqrt(x); }
double tanhOf(double x) { return std::tanh(x); }
double absOf(double x) { return std::fabs(x); }
double powOf(double a, double b) { return std::pow(a, b); }
double maxOf(double a, double b) { return std::max(a, b); }
double minOf(double a, double b) { return std::min(a, b); }

/// Table entries of the elementwise and reduction families.
template <typename OpT, double (*Fold)(double)>
Builtin unaryBuiltin(const char *name, const char *summary) {
  return {name,
          {required("x")},
          [](BuiltinCall &call) { return unaryMath<OpT>(call, Fold); },
          summary};
}
template <typename OpT, double (*Fold)(double, double)>
Builtin binaryBuiltin(const char *name, const char *summary) {
  return {name,
          {required("a"), required("b")},
          [](BuiltinCall &call) { return binaryMath<OpT>(call, Fold); },
          summary};
}
template <typename OpT, Reduce Kind>
Builtin reduceBuiltin(const char *name, const char *summary) {
  return {name,
          {required("x"), optional("axis"),
           withDefault("keepdim", CompilerValue::boolean(false))},
          [](BuiltinCall &call) { return reduce<OpT>(call, Kind); },
          summary};
}

template <typename OpT> CompilerValue softmaxLike(BuiltinCall &call) {
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(axis))
    return poison();
  return call.compiler().emit<OpT>(
      call.loc(), *x,
      static_cast<uint64_t>(normalizeAxis(*axis, typeOf(*x).getRank())));
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

CompilerValue matmul(BuiltinCall &call) {
  FailureOr<Value> a = call.tensor("a"), b = call.tensor("b");
  FailureOr<bool> tb = call.flag("transpose_b");
  if (failed(a) || failed(b) || failed(tb))
    return poison();
  return call.compiler().emit<rec::MatmulOp>(call.loc(), *a, *b, false, *tb);
}

CompilerValue transpose(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  if (failed(x))
    return poison();
  int64_t rank = typeOf(*x).getRank();
  SmallVector<int64_t> perm;
  if (call.has("perm")) {
    FailureOr<SmallVector<int64_t>> given = call.integers("perm");
    if (failed(given))
      return poison();
    for (int64_t axis : *given)
      perm.push_back(normalizeAxis(axis, rank));
  } else {
    if (rank < 2) {
      call.errorAt("x") << "swapping the last two axes needs at least two, got "
                        << rec::formatTensorType(typeOf(*x));
      return poison();
    }
    for (int64_t i = 0; i < rank; ++i)
      perm.push_back(i);
    std::swap(perm[rank - 1], perm[rank - 2]);
  }
  return call.compiler().emit<rec::TransposeOp>(call.loc(), *x, perm);
}

CompilerValue reshape(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  if (failed(x))
    return poison();
  const CompilerValue &shape = call.get("shape");
  if (!shape.is(K::List)) {
    call.errorAt("shape") << "expected a shape such as [B, 8, -1], got "
                          << shape.describe();
    return poison();
  }
  RecTensorType from = typeOf(*x);
  int64_t staticProduct = 1;
  for (const Dim &d : from.getDims())
    if (d.isStatic())
      staticProduct *= d.size;
  SmallVector<Dim> dims;
  std::optional<size_t> inferred;
  int64_t known = 1;
  for (const CompilerValue &e : shape.getElements()) {
    if (e.is(K::Int) && e.getInt() == -1 && !inferred) {
      inferred = dims.size();
      dims.push_back(Dim::fixed(1));
    } else if (e.is(K::Int) && e.getInt() >= 1) {
      dims.push_back(Dim::fixed(e.getInt()));
      known *= e.getInt();
    } else if (e.is(K::Dim)) {
      dims.push_back(Dim::symbolic(
          StringAttr::get(call.compiler().getContext(), e.getString())));
    } else {
      call.errorAt("shape") << "a shape lists positive integers, symbolic "
                               "dimensions and at most one -1, found "
                            << e.describe();
      return poison();
    }
  }
  if (inferred) {
    if (staticProduct % known != 0) {
      call.errorAt("shape") << "cannot infer -1: " << staticProduct
                            << " static elements do not divide by " << known;
      return poison();
    }
    dims[*inferred] = Dim::fixed(staticProduct / known);
  }
  return call.compiler().reshape(call.loc(), *x, dims);
}

CompilerValue unsqueeze(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(axis))
    return poison();
  RecTensorType type = typeOf(*x);
  int64_t rank = type.getRank();
  int64_t at = *axis < 0 ? *axis + rank + 1 : *axis;
  if (at < 0 || at > rank) {
    call.errorAt("axis") << "axis " << *axis << " is out of range for "
                         << rec::formatTensorType(type);
    return poison();
  }
  SmallVector<Dim> dims(type.getDims());
  dims.insert(dims.begin() + at, Dim::fixed(1));
  return call.compiler().reshape(call.loc(), *x, dims);
}

CompilerValue squeeze(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(axis))
    return poison();
  RecTensorType type = typeOf(*x);
  int64_t at = normalizeAxis(*axis, type.getRank());
  if (at < 0 || at >= type.getRank() || !type.getDim(at).isOne()) {
    call.errorAt("axis") << "axis " << *axis << " of "
                         << rec::formatTensorType(type) << " is not of size 1";
    return poison();
  }
  SmallVector<Dim> dims(type.getDims());
  dims.erase(dims.begin() + at);
  return call.compiler().reshape(call.loc(), *x, dims);
}

CompilerValue broadcast(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<SmallVector<Dim>> shape = call.shape("shape");
  if (failed(x) || failed(shape))
    return poison();
  RecTensorType from = typeOf(*x);
  if (!rec::isBroadcastableTo(from.getDims(), *shape)) {
    call.error() << "cannot broadcast " << rec::formatTensorType(from) << " to "
                 << rec::formatDims(*shape);
    return poison();
  }
  return call.compiler().emitTyped<rec::BroadcastOp>(call.loc(),
                                                     from.withDims(*shape), *x);
}

CompilerValue concat(BuiltinCall &call) {
  const CompilerValue &xs = call.get("xs");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(axis))
    return poison();
  if (!xs.is(K::List) || xs.getElements().empty()) {
    call.errorAt("xs") << "expected a list of tensors such as [a, b], got "
                       << xs.describe();
    return poison();
  }
  SmallVector<Value> inputs;
  for (const CompilerValue &e : xs.getElements()) {
    if (!e.isTensor()) {
      call.errorAt("xs") << "expected tensors in the list, found "
                         << e.describe();
      return poison();
    }
    inputs.push_back(e.getTensor());
  }
  return call.compiler().emit<rec::ConcatOp>(
      call.loc(), ValueRange(inputs),
      static_cast<uint64_t>(normalizeAxis(*axis, typeOf(inputs[0]).getRank())));
}

CompilerValue slice(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN),
                     start = call.integer("start", INT64_MIN),
                     end = call.integer("end", INT64_MIN);
  if (failed(x) || failed(axis) || failed(start) || failed(end))
    return poison();
  return call.compiler().emit<rec::SliceOp>(
      call.loc(), *x,
      static_cast<uint64_t>(normalizeAxis(*axis, typeOf(*x).getRank())), *start,
      *end);
}

CompilerValue split(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> parts = call.integer("parts", 1);
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(parts) || failed(axis))
    return poison();
  RecTensorType type = typeOf(*x);
  int64_t at = normalizeAxis(*axis, type.getRank());
  if (at < 0 || at >= type.getRank() || type.getDim(at).isSymbolic() ||
      type.getDim(at).size % *parts != 0) {
    call.error() << "cannot split " << rec::formatTensorType(type) << " into "
                 << *parts << " equal parts along axis " << *axis;
    return poison();
  }
  int64_t size = type.getDim(at).size / *parts;
  std::vector<CompilerValue> pieces;
  for (int64_t i = 0; i < *parts; ++i) {
    CompilerValue piece = call.compiler().emit<rec::SliceOp>(
        call.loc(), *x, static_cast<uint64_t>(at), i * size, (i + 1) * size);
    if (piece.isPoison())
      return piece;
    pieces.push_back(piece);
  }
  return CompilerValue::tuple(std::move(pieces));
}

CompilerValue gather(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x"), indices = call.tensor("indices");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(indices) || failed(axis))
    return poison();
  return call.compiler().emit<rec::GatherOp>(
      call.loc(), *x, *indices,
      static_cast<uint64_t>(normalizeAxis(*axis, typeOf(*x).getRank())));
}

CompilerValue scatterAdd(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x"), indices = call.tensor("indices"),
                   src = call.tensor("src");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(indices) || failed(src) || failed(axis))
    return poison();
  return call.compiler().emit<rec::ScatterAddOp>(
      call.loc(), *x, *indices, *src,
      static_cast<uint64_t>(normalizeAxis(*axis, typeOf(*x).getRank())));
}

CompilerValue topk(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> k = call.integer("k", 1);
  if (failed(x) || failed(k))
    return poison();
  return call.compiler().emit2<rec::TopKOp>(call.loc(), *x,
                                            static_cast<uint64_t>(*k));
}

CompilerValue argmax(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(axis))
    return poison();
  return call.compiler().emit<rec::ArgMaxOp>(
      call.loc(), *x,
      static_cast<uint64_t>(normalizeAxis(*axis, typeOf(*x).getRank())));
}

CompilerValue hash(BuiltinCall &call) {
  FailureOr<Value> ids = call.tensor("ids");
  FailureOr<int64_t> buckets = call.integer("buckets", 1);
  FailureOr<int64_t> salt = call.integer("salt", 0);
  if (failed(ids) || failed(buckets) || failed(salt))
    return poison();
  return call.compiler().emit<rec::HashOp>(call.loc(), *ids,
                                           static_cast<uint64_t>(*buckets),
                                           static_cast<uint64_t>(*salt));
}

CompilerValue dropout(BuiltinCall &call) {
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<double> p = call.number("p");
  if (failed(x) || failed(p))
    return poison();
  ModelCompiler &c = call.compiler();
  int64_t stream = c.streamFor(c.instance().next("dropout"));
  return c.emit<rec::DropoutOp>(call.loc(), *x, llvm::APFloat(*p),
                                static_cast<uint64_t>(stream));
}

CompilerValue arange(BuiltinCall &call) {
  FailureOr<int64_t> n = call.integer("n", 1, CompileLimits::kMaxDim);
  FailureOr<Type> dtype = call.dtype("dtype");
  if (failed(n) || failed(dtype))
    return poison();
  auto type = RecTensorType::getStatic({*n}, *dtype);
  if (!type.isIndexLike()) {
    call.errorAt("dtype") << "positions are integers (i32 or i64)";
    return poison();
  }
  return call.compiler().emitTyped<rec::IotaOp>(call.loc(), type, uint64_t(0));
}

CompilerValue fill(BuiltinCall &call, std::optional<double> value) {
  FailureOr<SmallVector<Dim>> shape = call.shape("shape");
  FailureOr<Type> dtype = call.dtype("dtype");
  if (failed(shape) || failed(dtype))
    return poison();
  ModelCompiler &c = call.compiler();
  CompilerValue v = value ? CompilerValue::floating(*value) : call.get("value");
  if (!isa<FloatType>(*dtype) && v.is(K::Float) &&
      v.getFloat() == std::floor(v.getFloat()))
    v = (*dtype).isInteger(1) ? CompilerValue::boolean(v.getFloat() != 0)
                              : CompilerValue::integer(v.getFloat());
  CompilerValue scalar = c.constant(call.loc(), v, *dtype);
  if (scalar.isPoison())
    return scalar;
  RecTensorType type = RecTensorType::get(*shape, *dtype);
  if (type.getRank() == 0)
    return scalar;
  return c.emitTyped<rec::BroadcastOp>(call.loc(), type, scalar.getTensor());
}

/// range(n) = [0, 1, ..., n-1]; range(a, b) = [a, ..., b-1].
CompilerValue range(BuiltinCall &call) {
  FailureOr<int64_t> first = call.integer("a", INT64_MIN);
  if (failed(first))
    return poison();
  int64_t start = 0, end = *first;
  if (call.has("b")) {
    FailureOr<int64_t> second = call.integer("b", INT64_MIN);
    if (failed(second))
      return poison();
    start = *first;
    end = *second;
  }
  // (end - start) can overflow int64; measure it unsigned.
  if (end > start && static_cast<uint64_t>(end) - static_cast<uint64_t>(start) >
                         static_cast<uint64_t>(CompileLimits::kMaxRepeat)) {
    call.error() << "ranges longer than " << CompileLimits::kMaxRepeat
                 << " are not supported";
    return poison();
  }
  std::vector<CompilerValue> values;
  for (int64_t i = start; i < end; ++i)
    values.push_back(CompilerValue::integer(i));
  return CompilerValue::list(std::move(values));
}

CompilerValue sizeOf(BuiltinCall &call) {
  FailureOr<Value> x = call.tensor("x");
  FailureOr<int64_t> axis = call.integer("axis", INT64_MIN);
  if (failed(x) || failed(axis))
    return poison();
  RecTensorType type = typeOf(*x);
  int64_t at = normalizeAxis(*axis, type.getRank());
  if (at < 0 || at >= type.getRank()) {
    call.errorAt("axis") << "axis " << *axis << " is out of range for "
                         << rec::formatTensorType(type);
    return poison();
  }
  Dim dim = type.getDim(at);
  if (dim.isSymbolic())
    return CompilerValue::dim(dim.symbol.getValue().str());
  return CompilerValue::integer(dim.size);
}

//===----------------------------------------------------------------------===//
// Attention without projections
//===----------------------------------------------------------------------===//

CompilerValue attention(BuiltinCall &call) {
  FailureOr<Value> q = call.floatTensor("q"), k = call.floatTensor("k"),
                   v = call.floatTensor("v");
  FailureOr<int64_t> heads = call.integer("heads", 1);
  FailureOr<MaskArgument> mask = maskArgument(call, "mask", "padding");
  FailureOr<Value> bias = call.optionalTensor("bias");
  FailureOr<std::string> norm = call.choice("norm", {"softmax", "silu"});
  if (failed(q) || failed(k) || failed(v) || failed(heads) || failed(mask) ||
      failed(bias) || failed(norm))
    return poison();
  int64_t kvHeads = *heads;
  if (call.has("kv_heads")) {
    FailureOr<int64_t> given = call.integer("kv_heads", 1);
    if (failed(given))
      return poison();
    kvHeads = *given;
  }
  Dim width = typeOf(*q).getRank() ? typeOf(*q).getDims().back() : Dim();
  double scale;
  if (call.has("scale")) {
    FailureOr<double> given = call.number("scale");
    if (failed(given))
      return poison();
    scale = *given;
  } else {
    if (!width.isStatic() || width.size % *heads != 0) {
      call.error() << "query width must be static and divisible by " << *heads
                   << " heads";
      return poison();
    }
    scale = 1.0 / std::sqrt(static_cast<double>(width.size / *heads));
  }
  rec::ScoreNorm scoreNorm =
      *norm == "silu" ? rec::ScoreNorm::silu : rec::ScoreNorm::softmax;
  return call.compiler().emit<rec::AttentionOp>(
      call.loc(), *q, *k, *v, mask->mask, *bias, static_cast<uint64_t>(*heads),
      static_cast<uint64_t>(kvHeads), mask->causal, llvm::APFloat(scale),
      scoreNorm);
}

} // namespace

//===----------------------------------------------------------------------===//
// Shared with layers
//===----------------------------------------------------------------------===//

FailureOr<MaskArgument>
onerec::frontend::maskArgument(BuiltinCall &call, llvm::StringRef maskName,
                               llvm::StringRef paddingName) {
  MaskArgument result;
  ModelCompiler &c = call.compiler();
  const CompilerValue &mask =
      maskName.empty() ? CompilerValue::none() : call.get(maskName);
  if (mask.is(K::Word) && mask.getString() == "causal") {
    result.causal = true;
  } else if (mask.isTensor()) {
    if (!mask.getTensorType().isBool()) {
      call.errorAt(maskName)
          << "a mask holds booleans (true = may attend), got "
          << rec::formatTensorType(mask.getTensorType());
      return failure();
    }
    result.mask = mask.getTensor();
  } else if (!mask.isNone()) {
    call.errorAt(maskName) << "mask is 'causal', none, or a bool tensor, got "
                           << mask.describe();
    return failure();
  }
  if (paddingName.empty() || !call.has(paddingName))
    return result;
  // A key-padding mask [B, Lk] applies to every query: [B, 1, Lk].
  FailureOr<Value> padding = call.tensor(paddingName);
  if (failed(padding))
    return failure();
  RecTensorType type = typeOf(*padding);
  if (!type.isBool() || type.getRank() < 1) {
    call.errorAt(paddingName) << "padding marks real keys with true: a bool "
                                 "[B, keys] tensor, got "
                              << rec::formatTensorType(type);
    return failure();
  }
  SmallVector<Dim> dims(type.getDims().drop_back());
  dims.push_back(Dim::fixed(1));
  dims.push_back(type.getDims().back());
  CompilerValue expanded = c.reshape(call.argLoc(paddingName), *padding, dims);
  if (expanded.isPoison())
    return failure();
  if (!result.mask) {
    result.mask = expanded.getTensor();
    return result;
  }
  CompilerValue both =
      c.emit<rec::AndOp>(call.loc(), result.mask, expanded.getTensor());
  if (both.isPoison())
    return failure();
  result.mask = both.getTensor();
  return result;
}

std::vector<Builtin> onerec::frontend::primitiveBuiltins() {
  auto axisLast = withDefault("axis", CompilerValue::integer(-1));
  std::vector<Builtin> b = {
      unaryBuiltin<rec::ExpOp, expOf>("exp", "e^x, elementwise"),
      unaryBuiltin<rec::LogOp, logOf>("log", "natural logarithm"),
      unaryBuiltin<rec::SqrtOp, sqrtOf>("sqrt", "square root"),
      unaryBuiltin<rec::RsqrtOp, rsqrt>("rsqrt", "1 / sqrt(x)"),
      unaryBuiltin<rec::TanhOp, tanhOf>("tanh", "tanh"),
      unaryBuiltin<rec::SigmoidOp, sigmoid>("sigmoid", "1 / (1 + e^-x)"),
      unaryBuiltin<rec::SiluOp, silu>("silu", "x * sigmoid(x)"),
      unaryBuiltin<rec::GeluOp, gelu>("gelu", "GELU (tanh approximation)"),
      unaryBuiltin<rec::ReluOp, relu>("relu", "max(x, 0)"),
      unaryBuiltin<rec::AbsOp, absOf>("abs", "absolute value"),
      binaryBuiltin<rec::PowOp, powOf>("pow", "a ** b, elementwise"),
      binaryBuiltin<rec::MaximumOp, maxOf>("maximum", "elementwise maximum"),
      binaryBuiltin<rec::MinimumOp, minOf>("minimum", "elementwise minimum"),
      reduceBuiltin<rec::ReduceSumOp, Reduce::Sum>(
          "sum", "sum over axes (all when none)"),
      reduceBuiltin<rec::ReduceMeanOp, Reduce::Mean>(
          "mean", "mean over axes (all when none)"),
      reduceBuiltin<rec::ReduceMaxOp, Reduce::Max>(
          "max", "maximum over axes; max(a, b) of two numbers"),
      reduceBuiltin<rec::ReduceMinOp, Reduce::Min>(
          "min", "minimum over axes; min(a, b) of two numbers"),
  };
  b.push_back({"where",
               {required("cond"), required("a"), required("b")},
               where,
               "cond ? a : b, elementwise"});
  b.push_back({"cast",
               {required("x"), required("dtype")},
               castTo,
               "converts the element type: cast(mask, f32)"});
  b.push_back({"as_id",
               {required("x"), required("vocab")},
               asId,
               "integers as ids of a vocabulary: as_id(x, items)"});
  b.push_back({"softmax",
               {required("x"), axisLast},
               softmaxLike<rec::SoftmaxOp>,
               "softmax along an axis"});
  b.push_back({"log_softmax",
               {required("x"), axisLast},
               softmaxLike<rec::LogSoftmaxOp>,
               "log-softmax along an axis"});

  b.push_back({"matmul",
               {required("a"), required("b"),
                withDefault("transpose_b", CompilerValue::boolean(false))},
               matmul,
               "batched matrix product with broadcasting"});
  b.push_back({"transpose",
               {required("x"), optional("perm")},
               transpose,
               "permutes axes (default: swaps the last two)"});
  b.push_back({"reshape",
               {required("x"), required("shape")},
               reshape,
               "reshape(x, [B, 8, -1])"});
  b.push_back({"unsqueeze",
               {required("x"), required("axis")},
               unsqueeze,
               "inserts an axis of size 1"});
  b.push_back({"squeeze",
               {required("x"), required("axis")},
               squeeze,
               "removes an axis of size 1"});
  b.push_back({"broadcast",
               {required("x"), required("shape")},
               broadcast,
               "expands to a shape by broadcasting"});
  b.push_back({"concat",
               {required("xs"), axisLast},
               concat,
               "joins a list of tensors along an axis"});
  b.push_back(
      {"slice",
       {required("x"), required("axis"), required("start"), required("end")},
       slice,
       "elements start <= i < end along a static axis"});
  b.push_back({"split",
               {required("x"), required("parts"), axisLast},
               split,
               "equal parts along an axis: a, b = split(x, 2)"});
  b.push_back({"gather",
               {required("x"), required("indices"),
                withDefault("axis", CompilerValue::integer(0))},
               gather,
               "selects slices by index along an axis"});
  b.push_back({"scatter_add",
               {required("x"), required("indices"), required("src"),
                withDefault("axis", CompilerValue::integer(0))},
               scatterAdd,
               "adds slices into x at indices"});
  b.push_back({"topk",
               {required("x"), required("k")},
               topk,
               "values, indices = topk(x, k) over the last axis"});
  b.push_back({"argmax",
               {required("x"), axisLast},
               argmax,
               "position of the largest value"});
  b.push_back({"hash",
               {required("ids"), required("buckets"),
                withDefault("salt", CompilerValue::integer(0))},
               hash,
               "raw ids into id<buckets>"});
  b.push_back({"dropout",
               {required("x"), required("p")},
               dropout,
               "zeroes elements with probability p when training"});
  b.push_back(
      {"arange",
       {required("n"), withDefault("dtype", CompilerValue::word("i64"))},
       arange,
       "positions 0 .. n-1"});
  b.push_back(
      {"ones",
       {required("shape"), withDefault("dtype", CompilerValue::word("f32"))},
       +[](BuiltinCall &c) { return fill(c, 1.0); },
       "a tensor of ones"});
  b.push_back(
      {"zeros",
       {required("shape"), withDefault("dtype", CompilerValue::word("f32"))},
       +[](BuiltinCall &c) { return fill(c, 0.0); },
       "a tensor of zeros"});
  b.push_back({"full",
               {required("shape"), required("value"),
                withDefault("dtype", CompilerValue::word("f32"))},
               +[](BuiltinCall &c) { return fill(c, std::nullopt); },
               "a tensor filled with value"});
  b.push_back({"range",
               {required("a"), optional("b")},
               range,
               "the integers [0, a) or [a, b), for 'for' loops"});
  b.push_back({"size",
               {required("x"), required("axis")},
               sizeOf,
               "the size of an axis (a number, or the symbolic dimension)"});
  b.push_back({"attention",
               {required("q"), required("k"), required("v"), required("heads"),
                optional("kv_heads"), optional("mask"), optional("padding"),
                optional("bias"), optional("scale"),
                withDefault("norm", CompilerValue::word("softmax"))},
               attention,
               "multi-head attention of projected q, k, v (norm = softmax or "
               "silu for HSTU)"});

  return b;
}
