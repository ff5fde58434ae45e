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
    // One launch covers one batch: the products share their leading dims.
    auto y0 = cast<RecTensorType>(getResult(0).getType());
    if (shared && (y.getRank() != y0.getRank() || y.getRank() < 2 ||
                   y.getDims().drop_back(2) != y0.getDims().drop_back(2)))
      return emitOpError("product ")
             << p << " of a shared left operand is " << formatTensorType(y)
             << ", with other batch dims than product 0 ("
             << formatTensorType(y0) << ")";
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

//===----------------------------------------------------------------------===//
// Fusion: embedding lookups
//===----------------------------------------------------------------------===//

/// The static [rows, width] of a table, or failure with an error naming it.
static FailureOr<std::pair<int64_t, int64_t>>
tableDims(Operation *op, RecTensorType table, StringRef what, size_t i) {
  ArrayRef<Dim> d = table.getDims();
  if (d.size() != 2 || !d[0].isStatic() || !d[1].isStatic()) {
    op->emitOpError() << what << " " << i << " " << formatTensorType(table)
                      << " is not a static [rows, width] table";
    return failure();
  }
  return std::make_pair(d[0].size, d[1].size);
}

/// Plain ids (not semantic ids) with the leading shape `lead`.
static LogicalResult checkPlainIds(Operation *op, RecTensorType ids, size_t i,
                                   ArrayRef<Dim> lead) {
  if (isa<SidType>(ids.getElementType()))
    return op->emitOpError("ids ")
           << i << " are semantic ids; only plain ids fuse";
  if (ids.getDims() != lead)
    return op->emitOpError("ids ")
           << i << " " << formatTensorType(ids)
           << " do not have the leading shape of the others";
  return success();
}

LogicalResult MultiEmbeddingOp::verify() {
  if (getTables().empty() || getTables().size() != getIds().size())
    return emitOpError("takes one ids operand per table and at least one "
                       "table, got ")
           << getTables().size() << " tables and " << getIds().size() << " ids";
  auto result = cast<RecTensorType>(getResult().getType());
  ArrayRef<Dim> lead = cast<RecTensorType>(getIds()[0].getType()).getDims();
  int64_t width = 0;
  for (auto [i, pair] : llvm::enumerate(llvm::zip(getTables(), getIds()))) {
    auto table = cast<RecTensorType>(std::get<0>(pair).getType());
    FailureOr<std::pair<int64_t, int64_t>> dims =
        tableDims(*this, table, "table", i);
    if (failed(dims))
      return failure();
    if (table.getElementType() != result.getElementType())
      return emitOpError("table ") << i << " has another element type than "
                                   << "the result";
    if (failed(checkPlainIds(
            *this, cast<RecTensorType>(std::get<1>(pair).getType()), i, lead)))
      return failure();
    width += dims->second;
  }
  SmallVector<Dim> expected(lead.begin(), lead.end());
  expected.push_back(Dim::fixed(width));
  if (result.getDims() != ArrayRef<Dim>(expected))
    return emitOpError("result ")
           << formatTensorType(result)
           << " is not the ids' shape with the tables' total width " << width;
  return success();
}

LogicalResult MultiEmbeddingGradOp::verify() {
  size_t n = getIds().size();
  if (n == 0 || getDtables().size() != n || getOffsets().size() != n)
    return emitOpError("takes one ids operand, offset and result per table "
                       "and at least one table, got ")
           << n << " ids, " << getOffsets().size() << " offsets and "
           << getDtables().size() << " results";
  auto dy = cast<RecTensorType>(getDy().getType());
  ArrayRef<Dim> dyDims = dy.getDims();
  if (dyDims.empty() || !dyDims.back().isStatic())
    return emitOpError("dy needs a static last dimension");
  int64_t width = dyDims.back().size;
  for (size_t i = 0; i < n; ++i) {
    auto table = cast<RecTensorType>(getDtables()[i].getType());
    FailureOr<std::pair<int64_t, int64_t>> dims =
        tableDims(*this, table, "result", i);
    if (failed(dims))
      return failure();
    if (table.getElementType() != dy.getElementType())
      return emitOpError("result ") << i << " has another element type than "
                                    << "dy";
    if (failed(checkPlainIds(*this, cast<RecTensorType>(getIds()[i].getType()),
                             i, dyDims.drop_back())))
      return failure();
    int64_t offset = getOffsets()[i];
    if (offset < 0 || offset + dims->second > width)
      return emitOpError("columns ")
             << offset << ".." << offset + dims->second << " of table " << i
             << " lie outside dy's " << width;
  }
  return success();
}
