//===- RecShapeInference.cpp - shape rules of rec ops ---------------------===//
//
// Every op of ShapeInferenceOpInterface computes its result types here. The
// messages are written for the person who wrote the `.rdsl` program: the
// frontend builds ops through these rules, so an error here is reported at the
// source line, in terms of the user's shapes (`f32[B, 200, 64]`).
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace onerec::rec;

namespace {

/// Checks operands of one op and reports problems prefixed with its name.
class ShapeRule {
public:
  explicit ShapeRule(Operation *op) : op(op) {}

  InFlightDiagnostic error() {
    return op->emitError() << op->getName().stripDialect() << ": ";
  }

  FailureOr<RecTensorType> tensor(Value value, StringRef what) {
    auto type = dyn_cast<RecTensorType>(value.getType());
    if (!type) {
      error() << what << " must be a rec tensor, got " << value.getType();
      return failure();
    }
    return type;
  }

  FailureOr<RecTensorType> floatTensor(Value value, StringRef what) {
    FailureOr<RecTensorType> type = tensor(value, what);
    if (succeeded(type) && !type->isFloat()) {
      error() << what << " must be a float tensor, got "
              << formatTensorType(*type);
      return failure();
    }
    return type;
  }

  FailureOr<RecTensorType> boolTensor(Value value, StringRef what) {
    FailureOr<RecTensorType> type = tensor(value, what);
    if (succeeded(type) && !type->isBool()) {
      error() << what << " must be a bool tensor, got "
              << formatTensorType(*type);
      return failure();
    }
    return type;
  }

  FailureOr<RecTensorType> indexTensor(Value value, StringRef what) {
    FailureOr<RecTensorType> type = tensor(value, what);
    if (succeeded(type) && !type->isIndexLike()) {
      error() << what << " must hold integers, ids or semantic ids, got "
              << formatTensorType(*type);
      return failure();
    }
    return type;
  }

  /// Normalizes a possibly negative axis of a tensor of `rank`.
  FailureOr<int64_t> axis(int64_t axis, int64_t rank, RecTensorType of) {
    int64_t normalized = axis < 0 ? axis + rank : axis;
    if (normalized < 0 || normalized >= rank) {
      error() << "axis " << axis << " is out of range for "
              << formatTensorType(of);
      return failure();
    }
    return normalized;
  }

  /// The extent of a dimension that must be static.
  FailureOr<int64_t> staticDim(RecTensorType type, int64_t axis,
                               StringRef what) {
    Dim dim = type.getDim(axis);
    if (dim.isSymbolic()) {
      error() << what << " must be static, got symbolic dimension '"
              << dim.symbol.getValue() << "' in " << formatTensorType(type);
      return failure();
    }
    return dim.size;
  }

  LogicalResult sameElementType(RecTensorType a, RecTensorType b) {
    if (a.getElementType() == b.getElementType())
      return success();
    return error() << "element types differ: " << formatTensorType(a) << " and "
                   << formatTensorType(b);
  }

  LogicalResult sameDims(RecTensorType a, RecTensorType b, StringRef aName,
                         StringRef bName) {
    if (a.getDims() == b.getDims())
      return success();
    return error() << aName << " " << formatTensorType(a) << " and " << bName
                   << " " << formatTensorType(b) << " must have the same shape";
  }

  FailureOr<SmallVector<Dim>> broadcast(ArrayRef<Dim> a, ArrayRef<Dim> b) {
    if (auto dims = broadcastDims(a, b))
      return *dims;
    error() << "shapes " << formatDims(a) << " and " << formatDims(b)
            << " do not broadcast";
    return failure();
  }

  MLIRContext *ctx() { return op->getContext(); }

private:
  Operation *op;
};

bool isNumeric(RecTensorType type) {
  Type elt = type.getElementType();
  return isa<FloatType>(elt) || (isa<IntegerType>(elt) && !elt.isInteger(1));
}

RecTensorType i64Tensor(MLIRContext *ctx, ArrayRef<Dim> dims) {
  return RecTensorType::get(dims, IntegerType::get(ctx, 64));
}

RecTensorType boolTensorOf(MLIRContext *ctx, ArrayRef<Dim> dims) {
  return RecTensorType::get(dims, IntegerType::get(ctx, 1));
}

SmallVector<Dim> dropLast(ArrayRef<Dim> dims, size_t n = 1) {
  return SmallVector<Dim>(dims.drop_back(n));
}

} // namespace

//===----------------------------------------------------------------------===//
// Interface verification
//===----------------------------------------------------------------------===//

LogicalResult onerec::rec::detail::verifyInferredResultTypes(Operation *op) {
  SmallVector<Type> inferred;
  if (failed(cast<ShapeInferenceOpInterface>(op).inferResultTypes(inferred)))
    return failure();
  if (inferred.size() != op->getNumResults())
    return op->emitOpError("infers ")
           << inferred.size() << " results but has " << op->getNumResults();
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(inferred, op->getResultTypes()))) {
    auto [want, have] = pair;
    if (want != have)
      return op->emitOpError("result #")
             << i << " has type " << formatTensorType(have)
             << " but its operands give " << formatTensorType(want);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult onerec::rec::inferUnaryTypes(Operation *op,
                                           SmallVectorImpl<Type> &results) {
  ShapeRule rule(op);
  FailureOr<RecTensorType> x = rule.tensor(op->getOperand(0), "operand");
  if (failed(x))
    return failure();
  if (isa<NotOp>(op)) {
    if (!x->isBool())
      return rule.error() << "expects a bool tensor, got "
                          << formatTensorType(*x);
  } else if (isa<NegOp, AbsOp>(op)) {
    if (!isNumeric(*x))
      return rule.error() << "expects a numeric tensor, got "
                          << formatTensorType(*x);
  } else if (!x->isFloat()) {
    return rule.error() << "expects a float tensor, got "
                        << formatTensorType(*x);
  }
  results.push_back(*x);
  return success();
}

LogicalResult
onerec::rec::inferArithmeticTypes(Operation *op,
                                  SmallVectorImpl<Type> &results) {
  ShapeRule rule(op);
  FailureOr<RecTensorType> lhs = rule.tensor(op->getOperand(0), "left operand");
  FailureOr<RecTensorType> rhs =
      rule.tensor(op->getOperand(1), "right operand");
  if (failed(lhs) || failed(rhs) || failed(rule.sameElementType(*lhs, *rhs)))
    return failure();
  bool logical = isa<AndOp, OrOp>(op);
  if (logical && !lhs->isBool())
    return rule.error() << "expects bool tensors, got "
                        << formatTensorType(*lhs);
  if (!logical && !isNumeric(*lhs)) {
    if (isa<IdType, SidType>(lhs->getElementType()))
      return rule.error() << "ids and semantic ids support no arithmetic ("
                          << formatTensorType(*lhs)
                          << "); embed them, or cast to an integer type";
    return rule.error() << "expects numeric tensors, got "
                        << formatTensorType(*lhs);
  }
  if (isa<PowOp>(op) && !lhs->isFloat())
    return rule.error() << "expects float tensors, got "
                        << formatTensorType(*lhs);
  FailureOr<SmallVector<Dim>> dims =
      rule.broadcast(lhs->getDims(), rhs->getDims());
  if (failed(dims))
    return failure();
  results.push_back(RecTensorType::get(*dims, lhs->getElementType()));
  return success();
}

LogicalResult CmpOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> lhs = rule.tensor(getLhs(), "left operand");
  FailureOr<RecTensorType> rhs = rule.tensor(getRhs(), "right operand");
  if (failed(lhs) || failed(rhs) || failed(rule.sameElementType(*lhs, *rhs)))
    return failure();
  bool equality =
      getPredicate() == CmpPredicate::eq || getPredicate() == CmpPredicate::ne;
  if (!equality && !isNumeric(*lhs))
    return rule.error() << formatTensorType(*lhs)
                        << " values compare only for equality";
  FailureOr<SmallVector<Dim>> dims =
      rule.broadcast(lhs->getDims(), rhs->getDims());
  if (failed(dims))
    return failure();
  results.push_back(boolTensorOf(getContext(), *dims));
  return success();
}

LogicalResult SelectOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> cond = rule.boolTensor(getCond(), "condition");
  FailureOr<RecTensorType> a = rule.tensor(getA(), "true value");
  FailureOr<RecTensorType> b = rule.tensor(getB(), "false value");
  if (failed(cond) || failed(a) || failed(b) ||
      failed(rule.sameElementType(*a, *b)))
    return failure();
  FailureOr<SmallVector<Dim>> ab = rule.broadcast(a->getDims(), b->getDims());
  if (failed(ab))
    return failure();
  FailureOr<SmallVector<Dim>> dims = rule.broadcast(cond->getDims(), *ab);
  if (failed(dims))
    return failure();
  results.push_back(RecTensorType::get(*dims, a->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

LogicalResult onerec::rec::inferReductionTypes(Operation *op,
                                               ArrayRef<int64_t> axes,
                                               bool keepdim,
                                               SmallVectorImpl<Type> &results) {
  ShapeRule rule(op);
  FailureOr<RecTensorType> x = rule.tensor(op->getOperand(0), "operand");
  if (failed(x))
    return failure();
  if (!isNumeric(*x))
    return rule.error() << "expects a numeric tensor, got "
                        << formatTensorType(*x)
                        << (x->isBool() ? "; cast booleans to f32 first" : "");
  if (isa<ReduceMeanOp>(op) && !x->isFloat())
    return rule.error() << "expects a float tensor, got "
                        << formatTensorType(*x);
  int64_t rank = x->getRank();
  llvm::SmallBitVector reduced(rank, axes.empty());
  for (int64_t axis : axes) {
    FailureOr<int64_t> normalized = rule.axis(axis, rank, *x);
    if (failed(normalized))
      return failure();
    if (reduced[*normalized])
      return rule.error() << "axis " << axis << " is listed twice";
    reduced.set(*normalized);
  }
  SmallVector<Dim> dims;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      dims.push_back(x->getDim(i));
    else if (keepdim)
      dims.push_back(Dim::fixed(1));
  }
  results.push_back(x->withDims(dims));
  return success();
}

static LogicalResult inferSoftmaxLike(Operation *op, int64_t axis,
                                      SmallVectorImpl<Type> &results) {
  ShapeRule rule(op);
  FailureOr<RecTensorType> x = rule.floatTensor(op->getOperand(0), "operand");
  if (failed(x) || failed(rule.axis(axis, x->getRank(), *x)))
    return failure();
  results.push_back(*x);
  return success();
}

LogicalResult SoftmaxOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  return inferSoftmaxLike(*this, getAxisAttr().getInt(), results);
}

LogicalResult LogSoftmaxOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  return inferSoftmaxLike(*this, getAxisAttr().getInt(), results);
}

/// Checks that `param` is a vector matching the last dimension of `x`.
static LogicalResult checkFeatureVector(ShapeRule &rule, RecTensorType x,
                                        Value param, StringRef what) {
  FailureOr<RecTensorType> p = rule.floatTensor(param, what);
  if (failed(p) || failed(rule.sameElementType(x, *p)))
    return failure();
  if (x.getRank() < 1)
    return rule.error() << "expects at least one dimension, got "
                        << formatTensorType(x);
  if (p->getRank() != 1 || p->getDim(0) != x.getDims().back())
    return rule.error() << what << " " << formatTensorType(*p)
                        << " must match the last dimension of "
                        << formatTensorType(x);
  return success();
}

LogicalResult RmsNormOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.floatTensor(getX(), "input");
  if (failed(x) || failed(checkFeatureVector(rule, *x, getGain(), "gain")))
    return failure();
  if (!(getEps().convertToDouble() > 0))
    return rule.error() << "eps must be positive";
  results.push_back(*x);
  return success();
}

LogicalResult LayerNormOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.floatTensor(getX(), "input");
  if (failed(x) || failed(checkFeatureVector(rule, *x, getGain(), "gain")) ||
      failed(checkFeatureVector(rule, *x, getBias(), "bias")))
    return failure();
  if (!(getEps().convertToDouble() > 0))
    return rule.error() << "eps must be positive";
  results.push_back(*x);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.tensor(getX(), "operand");
  if (failed(x))
    return failure();
  ArrayRef<int64_t> perm = getPermutation();
  int64_t rank = x->getRank();
  llvm::SmallBitVector seen(rank);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t axis : perm) {
    if (!valid || axis < 0 || axis >= rank || seen[axis]) {
      valid = false;
      break;
    }
    seen.set(axis);
  }
  if (!valid) {
    auto diag = rule.error() << "[";
    llvm::interleaveComma(perm, diag);
    return diag << "] is not a permutation of the " << rank << " dimensions of "
                << formatTensorType(*x);
  }
  SmallVector<Dim> dims;
  for (int64_t axis : perm)
    dims.push_back(x->getDim(axis));
  results.push_back(x->withDims(dims));
  return success();
}

LogicalResult ConcatOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  if (getInputs().empty())
    return rule.error() << "needs at least one operand";
  FailureOr<RecTensorType> first = rule.tensor(getInputs()[0], "operand");
  if (failed(first))
    return failure();
  FailureOr<int64_t> axis =
      rule.axis(getAxisAttr().getInt(), first->getRank(), *first);
  if (failed(axis))
    return failure();
  SmallVector<Dim> dims(first->getDims());
  int64_t total = 0;
  for (Value input : getInputs()) {
    FailureOr<RecTensorType> type = rule.tensor(input, "operand");
    if (failed(type) || failed(rule.sameElementType(*first, *type)))
      return failure();
    if (type->getRank() != first->getRank())
      return rule.error() << "operands have different ranks: "
                          << formatTensorType(*first) << " and "
                          << formatTensorType(*type);
    for (int64_t i = 0; i < type->getRank(); ++i)
      if (i != *axis && type->getDim(i) != dims[i])
        return rule.error() << "operands differ outside axis " << *axis << ": "
                            << formatTensorType(*first) << " and "
                            << formatTensorType(*type);
    FailureOr<int64_t> extent =
        rule.staticDim(*type, *axis, "the concatenated dimension");
    if (failed(extent))
      return failure();
    total += *extent;
  }
  dims[*axis] = Dim::fixed(total);
  results.push_back(first->withDims(dims));
  return success();
}

LogicalResult SliceOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.tensor(getX(), "operand");
  if (failed(x))
    return failure();
  FailureOr<int64_t> axis = rule.axis(getAxisAttr().getInt(), x->getRank(), *x);
  if (failed(axis))
    return failure();
  FailureOr<int64_t> size = rule.staticDim(*x, *axis, "a sliced dimension");
  if (failed(size))
    return failure();
  int64_t start = getStartAttr().getInt() < 0 ? getStartAttr().getInt() + *size
                                              : getStartAttr().getInt();
  int64_t end = getEndAttr().getInt() < 0 ? getEndAttr().getInt() + *size
                                          : getEndAttr().getInt();
  if (start < 0 || end > *size || start >= end)
    return rule.error() << "range [" << getStartAttr().getInt() << ", "
                        << getEndAttr().getInt()
                        << ") is empty or outside dimension " << *axis << " of "
                        << formatTensorType(*x);
  SmallVector<Dim> dims(x->getDims());
  dims[*axis] = Dim::fixed(end - start);
  results.push_back(x->withDims(dims));
  return success();
}

/// Ids of a vocabulary larger than the indexed axis would read out of bounds.
static LogicalResult checkIndexRange(ShapeRule &rule, RecTensorType indices,
                                     Dim axisDim, StringRef what) {
  int64_t vocab = 0;
  if (auto id = dyn_cast<IdType>(indices.getElementType()))
    vocab = id.getVocab();
  if (auto sid = dyn_cast<SidType>(indices.getElementType()))
    vocab = sid.getCodebook();
  if (auto id = dyn_cast<IdType>(indices.getElementType());
      id && id.getVocab() == 0)
    return rule.error() << "raw ids (id with no vocabulary) cannot index "
                        << what << "; hash them into buckets first";
  if (vocab > 0 && axisDim.isStatic() && vocab > axisDim.size)
    return rule.error() << "indices " << formatTensorType(indices)
                        << " can reach " << vocab - 1 << " but " << what
                        << " has " << axisDim.size << " entries";
  return success();
}

LogicalResult GatherOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.tensor(getX(), "source");
  FailureOr<RecTensorType> indices = rule.indexTensor(getIndices(), "indices");
  if (failed(x) || failed(indices))
    return failure();
  FailureOr<int64_t> axis = rule.axis(getAxisAttr().getInt(), x->getRank(), *x);
  if (failed(axis) || failed(checkIndexRange(rule, *indices, x->getDim(*axis),
                                             "the gathered axis")))
    return failure();
  SmallVector<Dim> dims(x->getDims().take_front(*axis));
  llvm::append_range(dims, indices->getDims());
  llvm::append_range(dims, x->getDims().drop_front(*axis + 1));
  results.push_back(x->withDims(dims));
  return success();
}

LogicalResult ScatterAddOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.tensor(getX(), "destination");
  FailureOr<RecTensorType> indices = rule.indexTensor(getIndices(), "indices");
  FailureOr<RecTensorType> src = rule.tensor(getSrc(), "source");
  if (failed(x) || failed(indices) || failed(src) ||
      failed(rule.sameElementType(*x, *src)))
    return failure();
  if (!isNumeric(*x))
    return rule.error() << "expects numeric tensors, got "
                        << formatTensorType(*x);
  FailureOr<int64_t> axis = rule.axis(getAxisAttr().getInt(), x->getRank(), *x);
  if (failed(axis) || failed(checkIndexRange(rule, *indices, x->getDim(*axis),
                                             "the scattered axis")))
    return failure();
  SmallVector<Dim> expected(x->getDims().take_front(*axis));
  llvm::append_range(expected, indices->getDims());
  llvm::append_range(expected, x->getDims().drop_front(*axis + 1));
  if (ArrayRef<Dim>(expected) != src->getDims())
    return rule.error() << "source " << formatTensorType(*src)
                        << " must have shape " << formatDims(expected);
  results.push_back(*x);
  return success();
}

LogicalResult EmbeddingOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> table = rule.floatTensor(getTable(), "table");
  FailureOr<RecTensorType> ids = rule.indexTensor(getIds(), "ids");
  if (failed(table) || failed(ids))
    return failure();
  if (table->getRank() != 2 || !table->hasStaticShape())
    return rule.error() << "the table must be a static [rows, dim] matrix, got "
                        << formatTensorType(*table);
  int64_t rows = table->getDim(0).size;
  Dim width = table->getDim(1);
  auto sid = dyn_cast<SidType>(ids->getElementType());
  if (!sid) {
    if (failed(checkIndexRange(rule, *ids, table->getDim(0), "the table")))
      return failure();
    SmallVector<Dim> dims(ids->getDims());
    dims.push_back(width);
    results.push_back(table->withDims(dims));
    return success();
  }
  // Semantic ids: the innermost dimension is the level.
  if (ids->getRank() < 1)
    return rule.error() << "semantic ids need a level dimension, got "
                        << formatTensorType(*ids);
  FailureOr<int64_t> levels =
      rule.staticDim(*ids, ids->getRank() - 1, "the level dimension");
  if (failed(levels))
    return failure();
  int64_t needed;
  if (llvm::MulOverflow(*levels, sid.getCodebook(), needed))
    return rule.error() << formatTensorType(*ids)
                        << " has more levels * codes than a table can hold";
  if (rows != needed)
    return rule.error() << formatTensorType(*ids) << " has " << *levels
                        << " levels of " << sid.getCodebook()
                        << " codes, so the table needs " << needed
                        << " rows, not " << rows;
  SmallVector<Dim> dims = dropLast(ids->getDims());
  dims.push_back(getCombine() == EmbeddingCombine::concat
                     ? Dim::fixed(*levels * width.size)
                     : width);
  results.push_back(table->withDims(dims));
  return success();
}

LogicalResult HashOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> ids = rule.indexTensor(getIds(), "ids");
  if (failed(ids))
    return failure();
  results.push_back(
      ids->withElementType(IdType::get(getContext(), getBuckets())));
  return success();
}

LogicalResult TopKOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.tensor(getX(), "operand");
  if (failed(x))
    return failure();
  if (!isNumeric(*x) || x->getRank() < 1)
    return rule.error() << "expects a numeric tensor with at least one "
                           "dimension, got "
                        << formatTensorType(*x);
  Dim last = x->getDims().back();
  if (last.isStatic() && static_cast<int64_t>(getK()) > last.size)
    return rule.error() << "k = " << getK() << " exceeds the last dimension of "
                        << formatTensorType(*x);
  SmallVector<Dim> dims = dropLast(x->getDims());
  dims.push_back(Dim::fixed(getK()));
  results.push_back(x->withDims(dims));
  results.push_back(i64Tensor(getContext(), dims));
  return success();
}

LogicalResult ArgMaxOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.tensor(getX(), "operand");
  if (failed(x))
    return failure();
  if (!isNumeric(*x))
    return rule.error() << "expects a numeric tensor, got "
                        << formatTensorType(*x);
  FailureOr<int64_t> axis = rule.axis(getAxisAttr().getInt(), x->getRank(), *x);
  if (failed(axis))
    return failure();
  SmallVector<Dim> dims(x->getDims());
  dims.erase(dims.begin() + *axis);
  results.push_back(i64Tensor(getContext(), dims));
  return success();
}

//===----------------------------------------------------------------------===//
// Contractions and composite kernels
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> a = rule.floatTensor(getA(), "left operand");
  FailureOr<RecTensorType> b = rule.floatTensor(getB(), "right operand");
  if (failed(a) || failed(b) || failed(rule.sameElementType(*a, *b)))
    return failure();
  if (a->getRank() < 2 || b->getRank() < 2)
    return rule.error() << "operands need at least two dimensions, got "
                        << formatTensorType(*a) << " and "
                        << formatTensorType(*b);
  ArrayRef<Dim> ad = a->getDims(), bd = b->getDims();
  Dim m = ad[ad.size() - 2], ak = ad.back();
  if (getTransposeA())
    std::swap(m, ak);
  Dim bk = bd[bd.size() - 2], n = bd.back();
  if (getTransposeB())
    std::swap(bk, n);
  if (ak != bk) {
    std::string aName = formatTensorType(*a), bName = formatTensorType(*b);
    return rule.error() << "inner dimensions differ: " << aName << " x "
                        << bName << " contracts " << formatDim(ak) << " with "
                        << formatDim(bk);
  }
  FailureOr<SmallVector<Dim>> batch =
      rule.broadcast(ad.drop_back(2), bd.drop_back(2));
  if (failed(batch))
    return failure();
  batch->push_back(m);
  batch->push_back(n);
  results.push_back(a->withDims(*batch));
  return success();
}

/// Checks an attention mask or bias: rank <= batch + 2 means shared by all
/// heads, rank == batch + 3 means one per head.
static LogicalResult checkScoreOperand(ShapeRule &rule, RecTensorType operand,
                                       ArrayRef<Dim> batch, Dim lq, Dim lk,
                                       int64_t heads, StringRef what) {
  SmallVector<Dim> target(batch);
  if (operand.getRank() == static_cast<int64_t>(batch.size()) + 3)
    target.push_back(Dim::fixed(heads));
  target.push_back(lq);
  target.push_back(lk);
  if (!isBroadcastableTo(operand.getDims(), target))
    return rule.error() << what << " " << formatTensorType(operand)
                        << " does not broadcast to the scores "
                        << formatDims(target);
  return success();
}

/// The packed-head widths of attention operands q [..., H * dk], k [...,
/// Hkv * dk], v [..., Hkv * dv]: the head counts must split them into heads
/// of one key width. Returns dv (the width of a value head).
static FailureOr<int64_t> valueHeadWidth(ShapeRule &rule, RecTensorType q,
                                         RecTensorType k, RecTensorType v,
                                         int64_t heads, int64_t kvHeads) {
  if (heads % kvHeads != 0)
    return rule.error() << heads << " query heads cannot share " << kvHeads
                        << " key/value heads evenly";
  FailureOr<int64_t> dq = rule.staticDim(q, q.getRank() - 1, "query width");
  FailureOr<int64_t> dk = rule.staticDim(k, k.getRank() - 1, "key width");
  FailureOr<int64_t> dv = rule.staticDim(v, v.getRank() - 1, "value width");
  if (failed(dq) || failed(dk) || failed(dv))
    return failure();
  if (*dq % heads != 0)
    return rule.error() << "query width " << *dq << " is not divisible by "
                        << heads << " heads";
  if (*dk % kvHeads != 0 || *dv % kvHeads != 0)
    return rule.error() << "key/value widths " << *dk << ", " << *dv
                        << " are not divisible by " << kvHeads
                        << " key/value heads";
  if (*dq / heads != *dk / kvHeads)
    return rule.error() << "query head width " << *dq / heads
                        << " differs from key head width " << *dk / kvHeads;
  return *dv / kvHeads;
}

LogicalResult
DecodeAttentionOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> q = rule.floatTensor(getQ(), "queries");
  FailureOr<RecTensorType> k = rule.floatTensor(getK(), "keys");
  FailureOr<RecTensorType> v = rule.floatTensor(getV(), "values");
  if (failed(q) || failed(k) || failed(v) ||
      failed(rule.sameElementType(*q, *k)) ||
      failed(rule.sameElementType(*q, *v)))
    return failure();
  for (RecTensorType t : {*q, *k, *v})
    if (t.getRank() != 3)
      return rule.error() << "queries, keys and values are [rows, length, "
                             "features], got "
                          << formatTensorType(t);
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  FailureOr<int64_t> headWidth =
      valueHeadWidth(rule, *q, *k, *v, heads, kvHeads);
  if (failed(headWidth))
    return failure();
  Dim rows = q->getDim(0), s = q->getDim(1);
  if (k->getDim(0) != v->getDim(0) || k->getDim(1) != v->getDim(1))
    return rule.error() << "keys " << formatTensorType(*k) << " and values "
                        << formatTensorType(*v) << " differ in rows or length";
  if (!getRows() && k->getDim(0) != rows)
    return rule.error() << "without rows, keys must have the rows of the "
                           "queries "
                        << formatTensorType(*q) << ", got "
                        << formatTensorType(*k);
  if (static_cast<bool>(getKNew()) != static_cast<bool>(getVNew()))
    return rule.error() << "k_new and v_new come together";
  if (Value kNew = getKNew()) {
    FailureOr<RecTensorType> kn = rule.floatTensor(kNew, "new keys");
    FailureOr<RecTensorType> vn = rule.floatTensor(getVNew(), "new values");
    if (failed(kn) || failed(vn) || failed(rule.sameElementType(*q, *kn)) ||
        failed(rule.sameElementType(*q, *vn)))
      return failure();
    if (kn->getDims() != ArrayRef<Dim>({rows, s, k->getDim(2)}) ||
        vn->getDims() != ArrayRef<Dim>({rows, s, v->getDim(2)}))
      return rule.error() << "new keys " << formatTensorType(*kn)
                          << " and values " << formatTensorType(*vn)
                          << " must be [rows, new tokens, width] like the "
                             "queries "
                          << formatTensorType(*q);
  }
  for (Value index : {getLengths(), getRows()}) {
    if (!index)
      continue;
    auto t = cast<RecTensorType>(index.getType());
    if (t.getRank() != 1 || t.getDim(0) != rows)
      return rule.error() << (index == getLengths() ? "lengths" : "rows")
                          << " must have one element per row of the queries "
                          << formatTensorType(*q) << ", got "
                          << formatTensorType(t);
  }
  if (!(getScale().convertToDouble() > 0))
    return rule.error() << "scale must be positive";
  results.push_back(q->withDims({rows, s, Dim::fixed(heads * *headWidth)}));
  return success();
}

LogicalResult AttentionOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> q = rule.floatTensor(getQ(), "queries");
  FailureOr<RecTensorType> k = rule.floatTensor(getK(), "keys");
  FailureOr<RecTensorType> v = rule.floatTensor(getV(), "values");
  if (failed(q) || failed(k) || failed(v) ||
      failed(rule.sameElementType(*q, *k)) ||
      failed(rule.sameElementType(*q, *v)))
    return failure();
  for (RecTensorType t : {*q, *k, *v})
    if (t.getRank() < 2)
      return rule.error() << "queries, keys and values are [..., length, "
                             "features], got "
                          << formatTensorType(t);
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  FailureOr<int64_t> headWidth =
      valueHeadWidth(rule, *q, *k, *v, heads, kvHeads);
  if (failed(headWidth))
    return failure();
  Dim lq = q->getDims().drop_back().back();
  Dim lk = k->getDims().drop_back().back();
  if (v->getDims().drop_back().back() != lk)
    return rule.error() << "keys " << formatTensorType(*k) << " and values "
                        << formatTensorType(*v) << " have different lengths";
  FailureOr<SmallVector<Dim>> qk =
      rule.broadcast(q->getDims().drop_back(2), k->getDims().drop_back(2));
  if (failed(qk))
    return failure();
  FailureOr<SmallVector<Dim>> batch =
      rule.broadcast(*qk, v->getDims().drop_back(2));
  if (failed(batch))
    return failure();
  if (Value mask = getMask()) {
    FailureOr<RecTensorType> m = rule.boolTensor(mask, "mask");
    if (failed(m) ||
        failed(checkScoreOperand(rule, *m, *batch, lq, lk, heads, "mask")))
      return failure();
  }
  if (Value bias = getBias()) {
    FailureOr<RecTensorType> b = rule.floatTensor(bias, "bias");
    if (failed(b) ||
        failed(checkScoreOperand(rule, *b, *batch, lq, lk, heads, "bias")))
      return failure();
  }
  if (!(getScale().convertToDouble() > 0))
    return rule.error() << "scale must be positive";
  SmallVector<Dim> dims(*batch);
  dims.push_back(lq);
  dims.push_back(Dim::fixed(heads * *headWidth));
  results.push_back(q->withDims(dims));
  return success();
}

LogicalResult MoeOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.floatTensor(getX(), "input");
  FailureOr<RecTensorType> gate = rule.floatTensor(getGate(), "gate");
  FailureOr<RecTensorType> bias = rule.floatTensor(getGateBias(), "gate bias");
  FailureOr<RecTensorType> up = rule.floatTensor(getUp(), "up projection");
  FailureOr<RecTensorType> down =
      rule.floatTensor(getDown(), "down projection");
  if (failed(x) || failed(gate) || failed(bias) || failed(up) || failed(down))
    return failure();
  if (x->getRank() < 1)
    return rule.error() << "input needs a feature dimension";
  FailureOr<int64_t> d = rule.staticDim(*x, x->getRank() - 1, "model width");
  if (failed(d))
    return failure();
  if (gate->getRank() != 2 || !gate->hasStaticShape() ||
      gate->getDim(0).size != *d)
    return rule.error() << "gate " << formatTensorType(*gate) << " must be ["
                        << *d << ", experts]";
  int64_t experts = gate->getDim(1).size;
  if (static_cast<int64_t>(getTopK()) > experts)
    return rule.error() << "top_k = " << getTopK() << " exceeds " << experts
                        << " experts";
  if (bias->getDims() != ArrayRef<Dim>{Dim::fixed(experts)})
    return rule.error() << "gate bias " << formatTensorType(*bias)
                        << " must be [" << experts << "]";
  if (up->getRank() != 3 || !up->hasStaticShape() ||
      up->getDim(0).size != experts || up->getDim(1).size != *d)
    return rule.error() << "up projection " << formatTensorType(*up)
                        << " must be [" << experts << ", " << *d << ", hidden]";
  int64_t hidden = up->getDim(2).size;
  bool gated = getActivation() == Activation::swiglu;
  if (gated != static_cast<bool>(getGateProj()))
    return rule.error() << (gated ? "swiglu experts need a gate projection"
                                  : "only swiglu experts take a gate "
                                    "projection");
  if (Value gateProj = getGateProj()) {
    FailureOr<RecTensorType> g = rule.floatTensor(gateProj, "gate projection");
    if (failed(g))
      return failure();
    if (g->getDims() != up->getDims())
      return rule.error() << "gate projection " << formatTensorType(*g)
                          << " must match the up projection "
                          << formatTensorType(*up);
  }
  SmallVector<Dim> downDims = {Dim::fixed(experts), Dim::fixed(hidden),
                               Dim::fixed(*d)};
  if (down->getDims() != ArrayRef<Dim>(downDims))
    return rule.error() << "down projection " << formatTensorType(*down)
                        << " must be " << formatDims(downDims);
  for (RecTensorType t : {*gate, *bias, *up, *down})
    if (failed(rule.sameElementType(*x, t)))
      return failure();
  results.push_back(*x);
  results.push_back(RecTensorType::getStatic({experts}, x->getElementType()));
  return success();
}

LogicalResult DropoutOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> x = rule.floatTensor(getX(), "input");
  if (failed(x))
    return failure();
  double rate = getRate().convertToDouble();
  if (!(rate >= 0 && rate < 1))
    return rule.error() << "rate must be in [0, 1), got " << formatNumber(rate);
  results.push_back(*x);
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

static RecTensorType lossResult(RecTensorType like, ArrayRef<Dim> elementDims,
                                Reduction reduction) {
  if (reduction == Reduction::none)
    return like.withDims(elementDims);
  return RecTensorType::getScalar(like.getElementType());
}

static LogicalResult checkLossMask(ShapeRule &rule, Value mask,
                                   ArrayRef<Dim> dims) {
  if (!mask)
    return success();
  FailureOr<RecTensorType> m = rule.boolTensor(mask, "mask");
  if (failed(m))
    return failure();
  if (m->getDims() != dims)
    return rule.error() << "mask " << formatTensorType(*m)
                        << " must have shape " << formatDims(dims);
  return success();
}

LogicalResult CrossEntropyOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> logits = rule.floatTensor(getLogits(), "logits");
  FailureOr<RecTensorType> labels = rule.indexTensor(getLabels(), "labels");
  if (failed(logits) || failed(labels))
    return failure();
  if (logits->getRank() < 1)
    return rule.error() << "logits need a class dimension";
  ArrayRef<Dim> elementDims = logits->getDims().drop_back();
  if (labels->getDims() != elementDims)
    return rule.error() << "labels " << formatTensorType(*labels)
                        << " must have the shape of the logits without their "
                           "class dimension, "
                        << formatDims(elementDims);
  if (failed(checkIndexRange(rule, *labels, logits->getDims().back(),
                             "the class dimension")) ||
      failed(checkLossMask(rule, getMask(), elementDims)))
    return failure();
  double smoothing = getLabelSmoothing().convertToDouble();
  if (!(smoothing >= 0 && smoothing < 1))
    return rule.error() << "label_smoothing must be in [0, 1)";
  results.push_back(lossResult(*logits, elementDims, getReduction()));
  return success();
}

LogicalResult
BceWithLogitsOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> logits = rule.floatTensor(getLogits(), "logits");
  FailureOr<RecTensorType> labels = rule.floatTensor(getLabels(), "labels");
  if (failed(logits) || failed(labels) ||
      failed(rule.sameDims(*logits, *labels, "logits", "labels")) ||
      failed(rule.sameElementType(*logits, *labels)) ||
      failed(checkLossMask(rule, getMask(), logits->getDims())))
    return failure();
  results.push_back(lossResult(*logits, logits->getDims(), getReduction()));
  return success();
}

LogicalResult
SampledSoftmaxOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> h = rule.floatTensor(getH(), "hidden states");
  FailureOr<RecTensorType> table = rule.floatTensor(getTable(), "table");
  FailureOr<RecTensorType> pos = rule.indexTensor(getPos(), "positives");
  FailureOr<RecTensorType> neg = rule.indexTensor(getNeg(), "negatives");
  if (failed(h) || failed(table) || failed(pos) || failed(neg) ||
      failed(rule.sameElementType(*h, *table)))
    return failure();
  if (h->getRank() < 1 || table->getRank() != 2 ||
      table->getDim(1) != h->getDims().back())
    return rule.error() << "table " << formatTensorType(*table)
                        << " must be [items, d] for hidden states "
                        << formatTensorType(*h);
  ArrayRef<Dim> elementDims = h->getDims().drop_back();
  if (pos->getDims() != elementDims)
    return rule.error() << "positives " << formatTensorType(*pos)
                        << " must have shape " << formatDims(elementDims);
  bool shared = neg->getRank() == 1;
  bool perPosition = neg->getRank() == pos->getRank() + 1 &&
                     neg->getDims().drop_back() == elementDims;
  if (!shared && !perPosition)
    return rule.error() << "negatives " << formatTensorType(*neg)
                        << " must be [N] or " << formatDims(elementDims)
                        << " + [N]";
  if (failed(checkIndexRange(rule, *pos, table->getDim(0), "the table")) ||
      failed(checkIndexRange(rule, *neg, table->getDim(0), "the table")) ||
      failed(checkLossMask(rule, getMask(), elementDims)))
    return failure();
  results.push_back(lossResult(*h, elementDims, getReduction()));
  return success();
}

LogicalResult DpoLossOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> first =
      rule.floatTensor(getPolicyChosen(), "policy log-probabilities");
  if (failed(first))
    return failure();
  if (first->getRank() != 1)
    return rule.error() << "sequence log-probabilities are [B], got "
                        << formatTensorType(*first);
  for (Value v : getOperands()) {
    FailureOr<RecTensorType> t = rule.floatTensor(v, "log-probabilities");
    if (failed(t) || failed(rule.sameElementType(*first, *t)) ||
        failed(rule.sameDims(*first, *t, "log-probabilities",
                             "log-probabilities")))
      return failure();
  }
  if (!(getBeta().convertToDouble() > 0))
    return rule.error() << "beta must be positive";
  results.push_back(RecTensorType::getScalar(first->getElementType()));
  return success();
}

LogicalResult EcpoLossOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  ShapeRule rule(*this);
  FailureOr<RecTensorType> logp = rule.floatTensor(getLogp(), "logp");
  FailureOr<RecTensorType> old = rule.floatTensor(getOldLogp(), "old logp");
  FailureOr<RecTensorType> adv = rule.floatTensor(getAdvantage(), "advantage");
  if (failed(logp) || failed(old) || failed(adv) ||
      failed(rule.sameDims(*logp, *old, "logp", "old logp")) ||
      failed(rule.sameDims(*logp, *adv, "logp", "advantage")) ||
      failed(checkLossMask(rule, getMask(), logp->getDims())))
    return failure();
  if (!(getEpsilon().convertToDouble() > 0) ||
      !(getDelta().convertToDouble() >= 0))
    return rule.error() << "epsilon must be positive and delta >= 0";
  results.push_back(RecTensorType::getScalar(logp->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Catalog queries
//===----------------------------------------------------------------------===//

static LogicalResult inferPerItem(Operation *op, Value sessions,
                                  SmallVectorImpl<Type> &results) {
  ShapeRule rule(op);
  FailureOr<RecTensorType> s = rule.tensor(sessions, "sessions");
  if (failed(s))
    return failure();
  if (!isa<SidType>(s->getElementType()) || s->getRank() < 2)
    return rule.error() << "expects semantic-id sessions sid<K>[..., items, "
                           "levels], got "
                        << formatTensorType(*s);
  results.push_back(boolTensorOf(op->getContext(), dropLast(s->getDims())));
  return success();
}

LogicalResult InCatalogOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  return inferPerItem(*this, getSessions(), results);
}

LogicalResult ItemFlagOp::inferResultTypes(SmallVectorImpl<Type> &results) {
  if (getFlag().empty())
    return emitError("item_flag: needs a flag name");
  return inferPerItem(*this, getSessions(), results);
}
