//===- RecFusionOps.cpp - verifiers of the fused GEMM ops -----------------===//
//
// rec.gemm and rec.grouped_weight_grad are built by rec-fuse-gemm after
// autodiff; their verifiers hold them to the shapes of the rec.matmul,
// rec.add and rec.weight_grad ops they replace.
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"

using namespace mlir;
using namespace onerec::rec;

/// The result dims of rec.matmul(a, b) with the given flags, or failure with
/// an error naming product `index`.
static FailureOr<SmallVector<Dim>> productDims(Operation *op, unsigned index,
                                               RecTensorType a, RecTensorType b,
                                               bool ta, bool tb) {
  if (a.getRank() < 2 || b.getRank() < 2) {
    op->emitOpError("product ")
        << index << " needs operands of at least two dimensions, got "
        << formatTensorType(a) << " and " << formatTensorType(b);
    return failure();
  }
  ArrayRef<Dim> ad = a.getDims(), bd = b.getDims();
  Dim m = ad[ad.size() - 2], ak = ad.back(), bk = bd[bd.size() - 2],
      n = bd.back();
  if (ta)
    std::swap(m, ak);
  if (tb)
    std::swap(bk, n);
  std::optional<SmallVector<Dim>> batch =
      broadcastDims(ad.drop_back(2), bd.drop_back(2));
  if (ak != bk || !batch || a.getElementType() != b.getElementType()) {
    op->emitOpError("product ")
        << index << " " << formatTensorType(a) << " x " << formatTensorType(b)
        << " is not a matrix product";
    return failure();
  }
  batch->push_back(m);
  batch->push_back(n);
  return *batch;
}

LogicalResult GemmOp::verify() {
  size_t numLhs = getLhs().size(), numRhs = getRhs().size();
  bool swiglu = getEpilogue() == GemmEpilogue::swiglu;
  if (numLhs == 0 || numRhs == 0)
    return emitOpError("needs at least one product");
  if (numLhs != numRhs && numLhs != 1)
    return emitOpError("takes as many left as right operands (a sum of "
                       "products) or one left operand (shared), got ")
           << numLhs << " and " << numRhs;
  bool shared = isSharedLhs();
  size_t expectedResults = shared && !swiglu ? numRhs : 1;
  if (getNumResults() != expectedResults)
    return emitOpError("has ")
           << getNumResults() << " results, expected " << expectedResults;
  if (swiglu && numRhs != 2)
    return emitOpError("a swiglu epilogue takes one left and two right "
                       "operands (gate, up)");
  if (shared && !swiglu && getEpilogue() != GemmEpilogue::none)
    return emitOpError("products with a shared left operand take no "
                       "epilogue but swiglu");
  if (shared && (getBias() || getResidual()))
    return emitOpError("products with a shared left operand take no bias or "
                       "residual");

  for (size_t p = 0; p < numRhs; ++p) {
    auto a = cast<RecTensorType>(getLhs()[shared ? 0 : p].getType());
    auto b = cast<RecTensorType>(getRhs()[p].getType());
    FailureOr<SmallVector<Dim>> dims =
        productDims(*this, p, a, b, getTransposeA(), getTransposeB());
    if (failed(dims))
      return failure();
    auto y =
        cast<RecTensorType>(getResult(shared && !swiglu ? p : 0).getType());
    if (llvm::ArrayRef<Dim>(*dims) != y.getDims() ||
        y.getElementType() != a.getElementType())
      return emitOpError("product ")
             << p << " is " << formatDims(*dims) << ", but its result is "
             << formatTensorType(y);
  }
  auto y = cast<RecTensorType>(getResult(0).getType());
  if (Value bias = getBias()) {
    auto t = cast<RecTensorType>(bias.getType());
    if (t.getRank() != 1 || y.getRank() == 0 ||
        t.getDim(0) != y.getDims().back() ||
        t.getElementType() != y.getElementType())
      return emitOpError("bias ")
             << formatTensorType(t) << " is not a vector over the last "
             << "dimension of " << formatTensorType(y);
  }
  if (Value residual = getResidual())
    if (residual.getType() != y)
      return emitOpError("residual ")
             << formatTensorType(residual.getType())
             << " does not have the result's type " << formatTensorType(y);
  return success();
}

LogicalResult GroupedWeightGradOp::verify() {
  auto x = cast<RecTensorType>(getX().getType());
  if (getDys().empty() || getDys().size() != getNumResults())
    return emitOpError("takes one result gradient per result, got ")
           << getDys().size() << " and " << getNumResults();
  if (x.getRank() < 2)
    return emitOpError("x needs at least two dimensions, got ")
           << formatTensorType(x);
  for (auto [i, dyValue] : llvm::enumerate(getDys())) {
    auto dy = cast<RecTensorType>(dyValue.getType());
    auto dw = cast<RecTensorType>(getResult(i).getType());
    if (dy.getRank() != x.getRank() ||
        dy.getDims().drop_back() != x.getDims().drop_back() ||
        dy.getElementType() != x.getElementType())
      return emitOpError("dy ") << i << " " << formatTensorType(dy)
                                << " does not have the leading dimensions of x "
                                << formatTensorType(x);
    if (dw.getRank() != 2 || dw.getDim(0) != x.getDims().back() ||
        dw.getDim(1) != dy.getDims().back() ||
        dw.getElementType() != x.getElementType())
      return emitOpError("result ")
             << i << " " << formatTensorType(dw) << " is not [k, n] of x "
             << formatTensorType(x) << " and dy " << formatTensorType(dy);
  }
  return success();
}
