//===- Cleanup.cpp - the rec-cleanup pass ---------------------------------===//
//
// Canonicalization, common-subexpression elimination and dead-code
// elimination over rec IR, repeated until nothing changes. Autodiff writes
// IR with `x * 1`, zeros added to gradients, the same transpose built twice
// and forward values nobody reads; fusion then works on what is left.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

namespace onerec {
#define GEN_PASS_DEF_RECCLEANUP
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;

namespace {
struct RecCleanupPass : public onerec::impl::RecCleanupBase<RecCleanupPass> {
  using RecCleanupBase::RecCleanupBase;

  LogicalResult initialize(MLIRContext *context) override {
    RewritePatternSet owning(context);
    for (Dialect *dialect : context->getLoadedDialects())
      dialect->getCanonicalizationPatterns(owning);
    for (RegisteredOperationName op : context->getRegisteredOperations())
      op.getCanonicalizationPatterns(owning, context);
    patterns = FrozenRewritePatternSet(std::move(owning));
    return success();
  }

  void runOnOperation() override {
    Operation *module = getOperation();
    GreedyRewriteConfig config;
    config.enableRegionSimplification = GreedySimplifyRegionLevel::Disabled;
    for (unsigned round = 0; round < maxRounds; ++round) {
      bool changed = false;
      // Folds and algebraic identities; the driver also erases ops whose
      // results died.
      if (failed(applyPatternsAndFoldGreedily(module, patterns, config,
                                              &changed))) {
        module->emitError("rec-cleanup: canonicalization did not converge");
        return signalPassFailure();
      }
      // Identical pure ops over identical operands compute one value.
      bool merged = false;
      IRRewriter rewriter(module->getContext());
      DominanceInfo dominance(module);
      eliminateCommonSubExpressions(rewriter, dominance, module, &merged);
      // What CSE made dead (and dead ops the pattern driver never visited).
      bool erased = false;
      module->walk([&](func::FuncOp func) {
        if (!func.isExternal() &&
            succeeded(runRegionDCE(rewriter, func.getBody())))
          erased = true;
      });
      if (!changed && !merged && !erased)
        return;
    }
  }

private:
  FrozenRewritePatternSet patterns;
};
} // namespace
