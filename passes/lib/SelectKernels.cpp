//===- SelectKernels.cpp - the rec-select-kernels pass --------------------===//

#include "KernelTable.h"
#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace onerec {
#define GEN_PASS_DEF_RECSELECTKERNELS
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;

namespace {
struct RecSelectKernelsPass
    : public onerec::impl::RecSelectKernelsBase<RecSelectKernelsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func->hasAttr("rec.entry") || func.isExternal())
        continue;
      Builder b(func.getContext());
      for (Operation &op : func.getBody().front()) {
        if (isa<func::ReturnOp>(op))
          continue;
        KernelChoice choice = chooseKernel(&op, /*training=*/false);
        switch (choice.kind) {
        case KernelKind::Kernel:
          op.setAttr("rec.kernel", b.getStringAttr(choice.opcode));
          break;
        case KernelKind::View:
          op.setAttr("rec.kernel", b.getStringAttr("view"));
          break;
        case KernelKind::Parameter:
          op.setAttr("rec.kernel", b.getStringAttr("param"));
          break;
        case KernelKind::Unsupported:
          if (!func->hasAttr("rec.unsupported")) {
            op.emitWarning() << "entry '" << func.getSymName()
                             << "' is left out of the plan: " << choice.reason;
            func->setAttr("rec.unsupported", b.getStringAttr(choice.reason));
          }
          break;
        }
      }
    }
  }
};
} // namespace
