//===- PrimitiveBuilder.h - building primitive rec ops with inferred types ===//
//
// Shorthands for the passes that spell ops with primitive rec ops
// (rec-decompose) or match such spellings (rec-fuse-attention). Every op is
// built with the result types its shape rule infers; when a rule rejects its
// operands (the op reports why) the helper returns null, and every helper
// given a null operand returns null too, so one check at the end of a
// rewrite catches any failure.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_LIB_PRIMITIVEBUILDER_H
#define ONEREC_PASSES_LIB_PRIMITIVEBUILDER_H

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Builders.h"

#include <type_traits>

namespace onerec {

inline rec::RecTensorType typeOf(mlir::Value value) {
  return llvm::cast<rec::RecTensorType>(value.getType());
}

class PrimitiveBuilder {
public:
  PrimitiveBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  /// Op `OpT` with its inferred result types; null when an operand is null
  /// or the shape rule rejects the operands.
  template <typename OpT, typename... Args> mlir::Value make(Args &&...args) {
    if (!(present(args) && ...))
      return mlir::Value();
    llvm::SmallVector<mlir::Type> none(1, b.getNoneType());
    auto op =
        b.create<OpT>(loc, mlir::TypeRange(none), std::forward<Args>(args)...);
    llvm::SmallVector<mlir::Type> types;
    if (mlir::failed(
            llvm::cast<rec::ShapeInferenceOpInterface>(op.getOperation())
                .inferResultTypes(types))) {
      op->erase();
      return mlir::Value();
    }
    op->getResult(0).setType(types[0]);
    return op->getResult(0);
  }

  mlir::Value constant(rec::RecTensorType type, double value) {
    if (type.isFloat())
      return b.create<rec::ConstantOp>(loc, type, b.getF64FloatAttr(value));
    return b.create<rec::ConstantOp>(
        loc, type, b.getI64IntegerAttr(static_cast<int64_t>(value)));
  }
  /// A rank-0 constant of `elementType`.
  mlir::Value scalar(double value, mlir::Type elementType) {
    return constant(rec::RecTensorType::get({}, elementType), value);
  }
  mlir::Value scalarLike(double value, mlir::Value like) {
    return like ? scalar(value, typeOf(like).getElementType()) : mlir::Value();
  }

  mlir::Value add(mlir::Value x, mlir::Value y) {
    return make<rec::AddOp>(x, y);
  }
  mlir::Value sub(mlir::Value x, mlir::Value y) {
    return make<rec::SubOp>(x, y);
  }
  mlir::Value mul(mlir::Value x, mlir::Value y) {
    return make<rec::MulOp>(x, y);
  }
  mlir::Value div(mlir::Value x, mlir::Value y) {
    return make<rec::DivOp>(x, y);
  }
  mlir::Value neg(mlir::Value x) { return make<rec::NegOp>(x); }
  /// x * factor, the factor a scalar of x's element type.
  mlir::Value scale(mlir::Value x, double factor) {
    return mul(x, scalarLike(factor, x));
  }
  mlir::Value cmp(rec::CmpPredicate predicate, mlir::Value x, mlir::Value y) {
    return make<rec::CmpOp>(predicate, x, y);
  }
  mlir::Value select(mlir::Value cond, mlir::Value x, mlir::Value y) {
    return make<rec::SelectOp>(cond, x, y);
  }
  mlir::Value sum(mlir::Value x, llvm::ArrayRef<int64_t> axes, bool keepdim) {
    return make<rec::ReduceSumOp>(x, b.getDenseI64ArrayAttr(axes),
                                  keepdim ? b.getUnitAttr() : mlir::UnitAttr());
  }
  mlir::Value mean(mlir::Value x, llvm::ArrayRef<int64_t> axes, bool keepdim) {
    return make<rec::ReduceMeanOp>(x, b.getDenseI64ArrayAttr(axes),
                                   keepdim ? b.getUnitAttr()
                                           : mlir::UnitAttr());
  }
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> permutation) {
    return make<rec::TransposeOp>(x, b.getDenseI64ArrayAttr(permutation));
  }
  mlir::Value matmul(mlir::Value x, mlir::Value y, bool transposeB = false) {
    return make<rec::MatmulOp>(x, y, mlir::UnitAttr(),
                               transposeB ? b.getUnitAttr() : mlir::UnitAttr());
  }
  mlir::Value slice(mlir::Value x, int64_t axis, int64_t start, int64_t end) {
    return make<rec::SliceOp>(x, b.getI64IntegerAttr(axis),
                              b.getI64IntegerAttr(start),
                              b.getI64IntegerAttr(end));
  }
  mlir::Value reshape(mlir::Value x, rec::RecTensorType type) {
    if (!x || typeOf(x) == type)
      return x;
    return b.create<rec::ReshapeOp>(loc, type, x);
  }
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<rec::Dim> dims) {
    return x ? reshape(x, typeOf(x).withDims(dims)) : x;
  }
  mlir::Value cast(mlir::Value x, mlir::Type elementType) {
    if (!x || typeOf(x).getElementType() == elementType)
      return x;
    return b.create<rec::CastOp>(loc, typeOf(x).withElementType(elementType),
                                 x);
  }
  mlir::Value iota(llvm::ArrayRef<rec::Dim> dims, mlir::Type elementType,
                   int64_t axis) {
    return b.create<rec::IotaOp>(loc,
                                 rec::RecTensorType::get(dims, elementType),
                                 b.getI64IntegerAttr(axis));
  }

  mlir::OpBuilder &b;
  mlir::Location loc;

private:
  template <typename T> static bool present(const T &arg) {
    if constexpr (std::is_convertible_v<const T &, mlir::Value>)
      return static_cast<bool>(mlir::Value(arg));
    else
      return true;
  }
};

} // namespace onerec

#endif // ONEREC_PASSES_LIB_PRIMITIVEBUILDER_H
