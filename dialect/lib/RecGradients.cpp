//===- RecGradients.cpp - reverse-mode gradient rules of rec ops ----------===//
//
// DifferentiableOpInterface implementations: for each op, the gradients of
// its operands given the gradients of its results. Elementwise rules are
// written with other rec ops (so fusion sees through them); composite ops
// (norms, attention, mixture of experts, embeddings, losses) have backward
// kernels of their own. Rules return null for operands that carry no
// gradient: ids, masks, integers, and labels.
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace onerec::rec;

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

namespace {

RecTensorType typeOf(Value value) {
  return cast<RecTensorType>(value.getType());
}

bool isFloatValue(Value value) { return value && typeOf(value).isFloat(); }

/// Builds op `OpT` and gives its results the types its shape rule infers.
template <typename OpT, typename... Args>
Operation *createInferred(OpBuilder &b, Location loc, unsigned numResults,
                          Args &&...args) {
  SmallVector<Type> none(numResults, b.getNoneType());
  auto op = b.create<OpT>(loc, TypeRange(none), std::forward<Args>(args)...);
  SmallVector<Type> types;
  if (failed(cast<ShapeInferenceOpInterface>(op.getOperation())
                 .inferResultTypes(types))) {
    op->erase();
    return nullptr;
  }
  for (auto [result, type] : llvm::zip(op->getResults(), types))
    result.setType(type);
  return op.getOperation();
}

/// False for a null Value, or a range of Values holding one.
template <typename T> bool present(const T &arg) {
  if constexpr (std::is_convertible_v<const T &, Value>)
    return static_cast<bool>(Value(arg));
  else if constexpr (std::is_convertible_v<const T &, ValueRange>)
    return llvm::all_of(ValueRange(arg), [](Value v) { return bool(v); });
  else
    return true;
}

/// The gradient builder of one rule: a location and shorthands for the ops
/// rules are written with. When a shape rule rejects an op's operands (the
/// op reports why), the helper returns null, and every helper given a null
/// operand returns null too, so the failure reaches the rule's check in
/// finish() instead of crashing a later builder.
class GradBuilder {
public:
  GradBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  template <typename OpT, typename... Args> Value make(Args &&...args) {
    if (!(present(args) && ...))
      return Value();
    Operation *op = createInferred<OpT>(b, loc, 1, std::forward<Args>(args)...);
    return op ? op->getResult(0) : Value();
  }

  Value constant(RecTensorType type, double value) {
    return b.create<ConstantOp>(loc, type, b.getF64FloatAttr(value));
  }
  Value scalar(double value, Type elementType) {
    return constant(RecTensorType::get({}, elementType), value);
  }
  Value zerosLike(Value like) {
    return like ? constant(typeOf(like), 0.0) : Value();
  }

  Value add(Value x, Value y) { return make<AddOp>(x, y); }
  Value sub(Value x, Value y) { return make<SubOp>(x, y); }
  Value mul(Value x, Value y) { return make<MulOp>(x, y); }
  Value div(Value x, Value y) { return make<DivOp>(x, y); }
  Value neg(Value x) { return make<NegOp>(x); }
  Value scale(Value x, double factor) {
    return x ? mul(x, scalar(factor, typeOf(x).getElementType())) : Value();
  }
  Value cmp(CmpPredicate predicate, Value x, Value y) {
    return make<CmpOp>(predicate, x, y);
  }
  Value select(Value cond, Value x, Value y) {
    return make<SelectOp>(cond, x, y);
  }
  Value reshape(Value x, RecTensorType type) {
    if (!x || typeOf(x) == type)
      return x;
    return b.create<ReshapeOp>(loc, type, x);
  }
  Value broadcastTo(Value x, RecTensorType type) {
    if (!x || typeOf(x) == type)
      return x;
    return b.create<BroadcastOp>(loc, type, x);
  }
  Value sum(Value x, ArrayRef<int64_t> axes, bool keepdim) {
    return make<ReduceSumOp>(x, b.getDenseI64ArrayAttr(axes),
                             keepdim ? b.getUnitAttr() : UnitAttr());
  }

  /// Sums a gradient of a broadcast result back to the shape of the operand
  /// that was broadcast: over leading axes the operand lacks and over axes
  /// where it has extent 1.
  Value reduceTo(Value grad, RecTensorType target) {
    if (!grad)
      return grad;
    RecTensorType type = typeOf(grad);
    if (type == target)
      return grad;
    int64_t lead = type.getRank() - target.getRank();
    SmallVector<int64_t> axes;
    for (int64_t i = 0; i < type.getRank(); ++i) {
      if (i < lead) {
        axes.push_back(i);
        continue;
      }
      Dim want = target.getDim(i - lead);
      if (!want.isSymbolic() && want.size == 1 && type.getDim(i) != want)
        axes.push_back(i);
    }
    Value reduced = axes.empty() ? grad : sum(grad, axes, /*keepdim=*/false);
    return reduced ? reshape(reduced, target) : Value();
  }

  OpBuilder &b;
  Location loc;
};

/// Checks that every gradient a rule produced exists where it should.
LogicalResult finish(Operation *op, ArrayRef<Value> grads,
                     SmallVectorImpl<Value> &operandGrads,
                     ArrayRef<bool> wanted) {
  for (auto [i, grad] : llvm::enumerate(grads)) {
    if (wanted[i] && !grad)
      return op->emitOpError("could not build the gradient of operand ") << i;
    operandGrads.push_back(wanted[i] ? grad : Value());
  }
  return success();
}

/// Which operands of `op` can have a gradient: the float ones.
SmallVector<bool> floatOperands(Operation *op) {
  SmallVector<bool> wanted;
  for (Value operand : op->getOperands())
    wanted.push_back(isFloatValue(operand));
  return wanted;
}

/// The shared shape of elementwise unary rules: dx = g * f'(x, y).
template <typename Fn>
LogicalResult unaryRule(Operation *op, OpBuilder &b,
                        ArrayRef<Value> resultGrads,
                        SmallVectorImpl<Value> &operandGrads, Fn derivative) {
  Value grad = resultGrads[0];
  if (!isFloatValue(op->getOperand(0))) {
    operandGrads.push_back(Value());
    return success();
  }
  GradBuilder g(b, op->getLoc());
  Value dx = derivative(g, op->getOperand(0), op->getResult(0), grad);
  return finish(op, {dx}, operandGrads, {true});
}

/// Binary rules: each operand's gradient reduced back to its shape.
template <typename Fn>
LogicalResult binaryRule(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads,
                         SmallVectorImpl<Value> &operandGrads, Fn partials) {
  Value grad = resultGrads[0];
  SmallVector<bool> wanted = floatOperands(op);
  GradBuilder g(b, op->getLoc());
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  auto [dl, dr] = partials(g, lhs, rhs, op->getResult(0), grad);
  if (wanted[0])
    dl = g.reduceTo(dl, typeOf(lhs));
  if (wanted[1])
    dr = g.reduceTo(dr, typeOf(rhs));
  return finish(op, {dl, dr}, operandGrads, wanted);
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

#define REC_UNARY_GRADIENT(OP, ...)                                            \
  LogicalResult OP::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,  \
                                   SmallVectorImpl<Value> &operandGrads) {     \
    return unaryRule(*this, b, resultGrads, operandGrads,                      \
                     [](GradBuilder &g, Value x, Value y, Value dy) -> Value { \
                       (void)x;                                                \
                       (void)y;                                                \
                       __VA_ARGS__                                             \
                     });                                                       \
  }

REC_UNARY_GRADIENT(NegOp, return g.neg(dy);)
REC_UNARY_GRADIENT(AbsOp, {
  Value negative = g.cmp(CmpPredicate::lt, x, g.zerosLike(x));
  return g.select(negative, g.neg(dy), dy);
})
REC_UNARY_GRADIENT(ExpOp, return g.mul(dy, y);)
REC_UNARY_GRADIENT(LogOp, return g.div(dy, x);)
REC_UNARY_GRADIENT(SqrtOp, return g.div(g.scale(dy, 0.5), y);)
REC_UNARY_GRADIENT(RsqrtOp, {
  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3.
  return g.mul(g.scale(dy, -0.5), g.mul(y, g.mul(y, y)));
})
REC_UNARY_GRADIENT(TanhOp, {
  Value one = g.scalar(1.0, typeOf(y).getElementType());
  return g.mul(dy, g.sub(one, g.mul(y, y)));
})
REC_UNARY_GRADIENT(SigmoidOp, {
  Value one = g.scalar(1.0, typeOf(y).getElementType());
  return g.mul(dy, g.mul(y, g.sub(one, y)));
})
REC_UNARY_GRADIENT(SiluOp, {
  // silu' = s (1 + x (1 - s)), s = sigmoid(x).
  Value one = g.scalar(1.0, typeOf(x).getElementType());
  Value s = g.make<SigmoidOp>(x);
  return g.mul(dy, g.mul(s, g.add(one, g.mul(x, g.sub(one, s)))));
})
REC_UNARY_GRADIENT(GeluOp, {
  // y = x/2 (1 + t), t = tanh(u), u = c (x + a x^3):
  // y' = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3a x^2).
  constexpr double c = 0.7978845608028654, a = 0.044715;
  Type f = typeOf(x).getElementType();
  Value one = g.scalar(1.0, f);
  Value x2 = g.mul(x, x);
  Value u = g.scale(g.add(x, g.scale(g.mul(x2, x), a)), c);
  Value t = g.make<TanhOp>(u);
  Value left = g.scale(g.add(one, t), 0.5);
  Value du = g.scale(g.add(one, g.scale(x2, 3 * a)), c);
  Value right = g.mul(g.scale(x, 0.5), g.mul(g.sub(one, g.mul(t, t)), du));
  return g.mul(dy, g.add(left, right));
})
REC_UNARY_GRADIENT(ReluOp, {
  Value positive = g.cmp(CmpPredicate::gt, x, g.zerosLike(x));
  return g.select(positive, dy, g.zerosLike(dy));
})
REC_UNARY_GRADIENT(NotOp, return Value();)

#undef REC_UNARY_GRADIENT

#define REC_BINARY_GRADIENT(OP, ...)                                           \
  LogicalResult OP::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,  \
                                   SmallVectorImpl<Value> &operandGrads) {     \
    return binaryRule(*this, b, resultGrads, operandGrads,                     \
                      [](GradBuilder &g, Value l, Value r, Value y,            \
                         Value dy) -> std::pair<Value, Value> {                \
                        (void)l;                                               \
                        (void)r;                                               \
                        (void)y;                                               \
                        __VA_ARGS__                                            \
                      });                                                      \
  }

REC_BINARY_GRADIENT(AddOp, return {dy, dy};)
REC_BINARY_GRADIENT(SubOp, return {dy, g.neg(dy)};)
REC_BINARY_GRADIENT(MulOp, return {g.mul(dy, r), g.mul(dy, l)};)
REC_BINARY_GRADIENT(DivOp, {
  // d(l/r)/dr = -l/r^2 = -y/r.
  return {g.div(dy, r), g.neg(g.div(g.mul(dy, y), r))};
})
REC_BINARY_GRADIENT(PowOp, {
  // d(l^r)/dl = r l^(r-1), taken as 0 where r = 0 (l^-1 is infinite at 0);
  // d/dr = y log(l), taken as 0 where l <= 0 (undefined or infinite there).
  // Both as PyTorch does.
  Type f = typeOf(l).getElementType();
  Value zero = g.scalar(0.0, f), one = g.scalar(1.0, f);
  Value dl = g.mul(dy, g.mul(r, g.make<PowOp>(l, g.sub(r, one))));
  dl = g.select(g.cmp(CmpPredicate::eq, r, zero), g.zerosLike(dl), dl);
  Value positive = g.cmp(CmpPredicate::gt, l, zero);
  Value safeLog =
      g.make<LogOp>(g.select(positive, l, g.constant(typeOf(l), 1.0)));
  Value dr = g.select(positive, g.mul(dy, g.mul(y, safeLog)), g.zerosLike(y));
  return {dl, dr};
})
REC_BINARY_GRADIENT(MaximumOp, {
  // Ties go to the left operand.
  Value left = g.cmp(CmpPredicate::ge, l, r);
  Value zero = g.zerosLike(dy);
  return {g.select(left, dy, zero), g.select(left, zero, dy)};
})
REC_BINARY_GRADIENT(MinimumOp, {
  Value left = g.cmp(CmpPredicate::le, l, r);
  Value zero = g.zerosLike(dy);
  return {g.select(left, dy, zero), g.select(left, zero, dy)};
})
REC_BINARY_GRADIENT(AndOp, return {Value(), Value()};)
REC_BINARY_GRADIENT(OrOp, return {Value(), Value()};)

#undef REC_BINARY_GRADIENT

LogicalResult SelectOp::buildGradients(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  SmallVector<bool> wanted = floatOperands(*this);
  wanted[0] = false;
  Value dy = resultGrads[0];
  GradBuilder g(b, getLoc());
  Value zero = g.zerosLike(dy);
  Value da = wanted[1]
                 ? g.reduceTo(g.select(getCond(), dy, zero), typeOf(getA()))
                 : Value();
  Value db = wanted[2]
                 ? g.reduceTo(g.select(getCond(), zero, dy), typeOf(getB()))
                 : Value();
  return finish(*this, {Value(), da, db}, operandGrads, wanted);
}

LogicalResult CastOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  // Only float-to-float casts carry a gradient; from booleans or integers
  // (masks turned into weights) there is none.
  Value dy = resultGrads[0];
  if (!isFloatValue(getX()) || !typeOf(getResult()).isFloat()) {
    operandGrads.push_back(Value());
    return success();
  }
  Value dx = dy;
  if (typeOf(getX()) != typeOf(dy))
    dx = b.create<CastOp>(getLoc(), getX().getType(), dy);
  operandGrads.push_back(dx);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::buildGradients(OpBuilder &b,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.push_back(Value());
    return success();
  }
  GradBuilder g(b, getLoc());
  operandGrads.push_back(g.reshape(dy, typeOf(getX())));
  return success();
}

LogicalResult
BroadcastOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.push_back(Value());
    return success();
  }
  GradBuilder g(b, getLoc());
  return finish(*this, {g.reduceTo(dy, typeOf(getX()))}, operandGrads, {true});
}

LogicalResult
TransposeOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.push_back(Value());
    return success();
  }
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = static_cast<int64_t>(i);
  GradBuilder g(b, getLoc());
  Value dx = g.make<TransposeOp>(dy, b.getDenseI64ArrayAttr(inverse));
  return finish(*this, {dx}, operandGrads, {true});
}

LogicalResult ConcatOp::buildGradients(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  SmallVector<bool> wanted = floatOperands(*this);
  int64_t rank = typeOf(dy).getRank();
  int64_t axis = getAxisAttr().getInt();
  axis = axis < 0 ? axis + rank : axis;
  GradBuilder g(b, getLoc());
  SmallVector<Value> grads;
  int64_t start = 0;
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    Dim extent = typeOf(input).getDim(axis);
    if (extent.isSymbolic()) {
      if (!wanted[i] && i + 1 == getInputs().size()) {
        grads.push_back(Value());
        continue;
      }
      return emitOpError("cannot differentiate a concatenation along the "
                         "symbolic dimension ")
             << formatDim(extent);
    }
    grads.push_back(wanted[i]
                        ? g.make<SliceOp>(dy, axis, start, start + extent.size)
                        : Value());
    start += extent.size;
  }
  return finish(*this, grads, operandGrads, wanted);
}

LogicalResult SliceOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  // The gradient is dy padded with zeros back to x's extent.
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.push_back(Value());
    return success();
  }
  RecTensorType xType = typeOf(getX()), yType = typeOf(dy);
  int64_t rank = xType.getRank();
  int64_t axis = getAxisAttr().getInt();
  axis = axis < 0 ? axis + rank : axis;
  Dim full = xType.getDim(axis);
  if (full.isSymbolic())
    return emitOpError("cannot differentiate a slice along the symbolic "
                       "dimension ")
           << formatDim(full);
  int64_t start = getStartAttr().getInt();
  start = start < 0 ? start + full.size : start;
  int64_t length = yType.getDim(axis).size;
  GradBuilder g(b, getLoc());
  SmallVector<Value> pieces;
  auto zeros = [&](int64_t extent) {
    SmallVector<Dim> dims(yType.getDims());
    dims[axis] = Dim::fixed(extent);
    return g.constant(RecTensorType::get(dims, yType.getElementType()), 0.0);
  };
  if (start > 0)
    pieces.push_back(zeros(start));
  pieces.push_back(dy);
  if (start + length < full.size)
    pieces.push_back(zeros(full.size - start - length));
  Value dx = pieces.size() == 1 ? dy : g.make<ConcatOp>(pieces, axis);
  return finish(*this, {dx}, operandGrads, {true});
}

LogicalResult GatherOp::buildGradients(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.append(2, Value());
    return success();
  }
  GradBuilder g(b, getLoc());
  Value dx =
      g.make<ScatterAddOp>(g.zerosLike(getX()), getIndices(), dy, getAxis());
  return finish(*this, {dx, Value()}, operandGrads, {true, false});
}

LogicalResult
ScatterAddOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                             SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  SmallVector<bool> wanted = floatOperands(*this);
  wanted[1] = false;
  GradBuilder g(b, getLoc());
  Value dsrc =
      wanted[2] ? g.make<GatherOp>(dy, getIndices(), getAxis()) : Value();
  return finish(*this, {dy, Value(), dsrc}, operandGrads, wanted);
}

LogicalResult
EmbeddingOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  Value dtable = b.create<EmbeddingGradOp>(getLoc(), getTable().getType(),
                                           getIds(), dy, getCombine());
  operandGrads.push_back(dtable);
  operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

namespace {

/// The reduced axes of a reduction over `rank` dims, normalized and sorted.
SmallVector<int64_t> reducedAxes(ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<int64_t> result;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i)
      result.push_back(i);
    return result;
  }
  for (int64_t axis : axes)
    result.push_back(axis < 0 ? axis + rank : axis);
  llvm::sort(result);
  return result;
}

/// dy of a reduction, with the reduced axes as size 1, broadcast back to x.
Value expandReduced(GradBuilder &g, Value dy, RecTensorType xType,
                    ArrayRef<int64_t> axes) {
  SmallVector<Dim> kept(xType.getDims());
  for (int64_t axis : axes)
    kept[axis] = Dim::fixed(1);
  Value keep =
      g.reshape(dy, RecTensorType::get(kept, typeOf(dy).getElementType()));
  return g.broadcastTo(keep, xType);
}

} // namespace

LogicalResult
ReduceSumOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.push_back(Value());
    return success();
  }
  GradBuilder g(b, getLoc());
  RecTensorType xType = typeOf(getX());
  Value dx =
      expandReduced(g, dy, xType, reducedAxes(getAxes(), xType.getRank()));
  return finish(*this, {dx}, operandGrads, {true});
}

LogicalResult
ReduceMeanOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                             SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(getX())) {
    operandGrads.push_back(Value());
    return success();
  }
  GradBuilder g(b, getLoc());
  RecTensorType xType = typeOf(getX());
  SmallVector<int64_t> axes = reducedAxes(getAxes(), xType.getRank());
  int64_t count = 1;
  bool symbolic = false;
  for (int64_t axis : axes) {
    Dim dim = xType.getDim(axis);
    symbolic |= dim.isSymbolic();
    count *= dim.isSymbolic() ? 1 : dim.size;
  }
  Value scaled;
  if (!symbolic) {
    scaled = g.scale(dy, 1.0 / static_cast<double>(count));
  } else {
    // The count is only known at run time: the sum of ones over the axes.
    Value ones = g.constant(xType, 1.0);
    scaled = g.div(dy, g.sum(ones, axes, getKeepdim()));
  }
  return finish(*this, {expandReduced(g, scaled, xType, axes)}, operandGrads,
                {true});
}

namespace {
/// max/min: the gradient is shared evenly by the elements equal to the
/// extremum (as torch.amax does), so ties do not multiply it.
LogicalResult extremumRule(Operation *op, Value x, Value y,
                           ArrayRef<int64_t> axesAttr, OpBuilder &b,
                           ArrayRef<Value> resultGrads,
                           SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (!isFloatValue(x)) {
    operandGrads.push_back(Value());
    return success();
  }
  GradBuilder g(b, op->getLoc());
  RecTensorType xType = typeOf(x);
  SmallVector<int64_t> axes = reducedAxes(axesAttr, xType.getRank());
  Value hit = g.cmp(CmpPredicate::eq, x, expandReduced(g, y, xType, axes));
  Value ones = hit ? g.b.create<CastOp>(g.loc, xType, hit) : Value();
  bool keepdim = typeOf(y).getRank() == xType.getRank();
  Value ties = g.sum(ones, axes, keepdim); // y's shape, like dy

  Value share = g.div(dy, ties);
  Value dx =
      g.select(hit, expandReduced(g, share, xType, axes), g.zerosLike(x));
  return finish(op, {dx}, operandGrads, {true});
}
} // namespace

LogicalResult
ReduceMaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  return extremumRule(*this, getX(), getResult(), getAxes(), b, resultGrads,
                      operandGrads);
}

LogicalResult
ReduceMinOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  return extremumRule(*this, getX(), getResult(), getAxes(), b, resultGrads,
                      operandGrads);
}

LogicalResult SoftmaxOp::buildGradients(OpBuilder &b,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  // dx = y (dy - sum(dy y)).
  Value dy = resultGrads[0];
  GradBuilder g(b, getLoc());
  Value y = getResult();
  Value dot = g.sum(g.mul(dy, y), {getAxisAttr().getInt()}, /*keepdim=*/true);
  return finish(*this, {g.mul(y, g.sub(dy, dot))}, operandGrads, {true});
}

LogicalResult
LogSoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                             SmallVectorImpl<Value> &operandGrads) {
  // dx = dy - softmax(x) sum(dy).
  Value dy = resultGrads[0];
  GradBuilder g(b, getLoc());
  Value total = g.sum(dy, {getAxisAttr().getInt()}, /*keepdim=*/true);
  Value probs = g.make<ExpOp>(getResult());
  return finish(*this, {g.sub(dy, g.mul(probs, total))}, operandGrads, {true});
}

LogicalResult RmsNormOp::buildGradients(OpBuilder &b,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  auto grad = b.create<RmsNormGradOp>(
      getLoc(), TypeRange{getX().getType(), getGain().getType()}, getX(),
      getGain(), dy, getEpsAttr());
  operandGrads.push_back(grad.getDx());
  operandGrads.push_back(grad.getDgain());
  return success();
}

LogicalResult
LayerNormOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  auto grad = b.create<LayerNormGradOp>(
      getLoc(),
      TypeRange{getX().getType(), getGain().getType(), getBias().getType()},
      getX(), getGain(), dy, getEpsAttr());
  operandGrads.push_back(grad.getDx());
  operandGrads.push_back(grad.getDgain());
  operandGrads.push_back(grad.getDbias());
  return success();
}

//===----------------------------------------------------------------------===//
// Contractions and composites
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::buildGradients(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  GradBuilder g(b, getLoc());
  Value a = getA(), w = getB();
  bool ta = getTransposeA(), tb = getTransposeB();
  RecTensorType aType = typeOf(a), bType = typeOf(w);
  auto matmul = [&](Value x, Value y, bool tx, bool ty) {
    return g.make<MatmulOp>(x, y, tx ? b.getUnitAttr() : UnitAttr(),
                            ty ? b.getUnitAttr() : UnitAttr());
  };
  // y = op(a) op(b). d op(a) = dy op(b)^T, d op(b) = op(a)^T dy.
  Value da = ta ? matmul(w, dy, tb, true) : matmul(dy, w, false, !tb);
  Value db;
  if (bType.getRank() == 2 && aType.getRank() > 2 && !ta) {
    // A weight shared by every leading position: one GEMM contracting all
    // of them, not a batch of small ones and a reduction.
    db = tb ? b.create<WeightGradOp>(getLoc(), w.getType(), dy, a).getResult()
            : b.create<WeightGradOp>(getLoc(), w.getType(), a, dy).getResult();
  } else {
    db = tb ? matmul(dy, a, true, ta) : matmul(a, dy, !ta, false);
  }
  if (da)
    da = g.reduceTo(da, aType);
  if (db)
    db = g.reduceTo(db, bType);
  return finish(*this, {da, db}, operandGrads, {true, true});
}

LogicalResult
AttentionOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  SmallVector<Type> types = {getQ().getType(), getK().getType(),
                             getV().getType()};
  if (getBias())
    types.push_back(getBias().getType());
  auto grad = b.create<AttentionGradOp>(
      getLoc(), types, getQ(), getK(), getV(), getMask(), getBias(), dy,
      getNumHeadsAttr(), getNumKvHeadsAttr(), getCausalAttr(), getScaleAttr(),
      getScoreNormAttr());
  operandGrads.push_back(grad.getDq());
  operandGrads.push_back(grad.getDk());
  operandGrads.push_back(grad.getDv());
  // Operands in order: the mask (no gradient), then the bias.
  if (getMask())
    operandGrads.push_back(Value());
  if (getBias())
    operandGrads.push_back(grad.getDbias());
  return success();
}

LogicalResult MoeOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  Value dy = resultGrads[0];
  if (resultGrads[1])
    return emitOpError("the expert load has no gradient (it is used by the "
                       "auxiliary-loss-free bias update, outside training)");
  SmallVector<Type> types = {getX().getType(), getGate().getType(),
                             getUp().getType()};
  if (getGateProj())
    types.push_back(getGateProj().getType());
  types.push_back(getDown().getType());
  auto grad = b.create<MoeGradOp>(
      getLoc(), types, getX(), getGate(), getGateBias(), getUp(), getGateProj(),
      getDown(), dy, getTopKAttr(), getBalanceAttr(), getActivationAttr());
  operandGrads.push_back(grad.getDx());
  operandGrads.push_back(grad.getDgate());
  operandGrads.push_back(Value()); // the routing bias: outside the gradient
  operandGrads.push_back(grad.getDup());
  if (getGateProj())
    operandGrads.push_back(grad.getDgateProj());
  operandGrads.push_back(grad.getDdown());
  return success();
}

LogicalResult DropoutOp::buildGradients(OpBuilder &b,
                                        ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  // The same stream at the same step draws the same mask: dx = dropout(dy).
  Value dy = resultGrads[0];
  operandGrads.push_back(b.create<DropoutOp>(getLoc(), dy.getType(), dy,
                                             getRateAttr(), getStreamAttr()));
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

LogicalResult
CrossEntropyOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  Value dloss = resultGrads[0];
  operandGrads.append(getNumOperands(), Value());
  operandGrads[0] = b.create<CrossEntropyGradOp>(
      getLoc(), getLogits().getType(), getLogits(), getLabels(), getMask(),
      dloss, getReductionAttr(), getLabelSmoothingAttr());
  return success();
}

LogicalResult
BceWithLogitsOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                SmallVectorImpl<Value> &operandGrads) {
  Value dloss = resultGrads[0];
  operandGrads.append(getNumOperands(), Value());
  operandGrads[0] = b.create<BceWithLogitsGradOp>(
      getLoc(), getLogits().getType(), getLogits(), getLabels(), getMask(),
      dloss, getReductionAttr());
  return success();
}

LogicalResult
SampledSoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  Value dloss = resultGrads[0];
  operandGrads.append(getNumOperands(), Value());
  auto grad = b.create<SampledSoftmaxGradOp>(
      getLoc(), TypeRange{getH().getType(), getTable().getType()}, getH(),
      getTable(), getPos(), getNeg(), getMask(), dloss, getReductionAttr(),
      getRemoveHitsAttr());
  operandGrads[0] = grad.getDh();
  operandGrads[1] = grad.getDtable();
  return success();
}
