//===- SelectKernels.cpp - the rec-select-kernels pass --------------------===//

#include "KernelTable.h"
#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseSet.h"

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
      // Symbolic dims are bound at run time from the inputs' shapes: an entry
      // that uses a dim none of its inputs has cannot be run.
      llvm::DenseSet<StringAttr> bound;
      for (Type type : func.getArgumentTypes())
        for (rec::Dim dim : cast<rec::RecTensorType>(type).getDims())
          if (dim.isSymbolic())
            bound.insert(dim.symbol);
      for (Operation &op : func.getBody().front()) {
        for (Type type : op.getResultTypes()) {
          auto tensor = dyn_cast<rec::RecTensorType>(type);
          if (!tensor || func->hasAttr("rec.unsupported"))
            continue;
          for (rec::Dim dim : tensor.getDims())
            if (dim.isSymbolic() && !bound.contains(dim.symbol)) {
              std::string reason = ("dimension '" + dim.symbol.getValue() +
                                    "' is used but no input of the entry has "
                                    "it, so no call can bind it")
                                       .str();
              op.emitWarning() << "entry '" << func.getSymName()
                               << "' is left out of the plan: " << reason;
              func->setAttr("rec.unsupported", b.getStringAttr(reason));
              break;
            }
        }
      }
      // Gradient and training-step entries train: dropout draws masks.
      auto kind = func->getAttrOfType<rec::EntryKindAttr>("rec.entry");
      bool training = kind && (kind.getValue() == rec::EntryKind::grad ||
                               kind.getValue() == rec::EntryKind::train_step);
      for (Operation &op : func.getBody().front()) {
        if (isa<func::ReturnOp>(op))
          continue;
        KernelChoice choice = chooseKernel(&op, training);
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
