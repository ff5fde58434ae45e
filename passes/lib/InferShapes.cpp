//===- InferShapes.cpp - the rec-infer-shapes pass ------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace onerec {
#define GEN_PASS_DEF_RECINFERSHAPES
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;

namespace {
struct RecInferShapesPass
    : public onerec::impl::RecInferShapesBase<RecInferShapesPass> {
  void runOnOperation() override {
    bool failedAny = false;
    getOperation().walk([&](func::FuncOp func) {
      if (failed(inferFunction(func)))
        failedAny = true;
    });
    if (failedAny)
      signalPassFailure();
  }

  /// Ops are visited in program order (dominance order within the single
  /// block of an entry), so every operand's type is final when its user is
  /// inferred.
  static LogicalResult inferFunction(func::FuncOp func) {
    WalkResult walk = func.walk([&](rec::ShapeInferenceOpInterface op) {
      SmallVector<Type> types;
      if (failed(op.inferResultTypes(types)))
        return WalkResult::interrupt();
      for (auto [result, type] : llvm::zip(op->getResults(), types))
        result.setType(type);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (func.isExternal())
      return success();
    // The signature follows the entry block's arguments and the returns.
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    func.setFunctionType(FunctionType::get(
        func.getContext(), func.getBody().front().getArgumentTypes(),
        ret.getOperandTypes()));
    return success();
  }
};
} // namespace
