//===- OperatorStats.cpp - operator counts per entry and phase ------------===//
//
// The numbers behind "a training step's operators, as written, after
// autodiff, and as kernels": what fusion (and its statistics) starts from.
//
//===----------------------------------------------------------------------===//

#include "OperatorStats.h"

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace {

bool isEntry(func::FuncOp func) {
  return func->hasAttr(onerec::rec::RecDialect::kEntryAttrName) &&
         !func.isExternal();
}

/// The loss entries of the stage whose training entries carry `prefix`
/// (`""` or `<stage>.`), from the stage's minimize terms.
llvm::SmallVector<StringRef> stageTerms(ModuleOp module, StringRef prefix) {
  llvm::SmallVector<StringRef> terms;
  module.walk([&](onerec::rec::StageOp stage) {
    auto entry = stage->getAttrOfType<StringAttr>(
        onerec::rec::RecDialect::kTrainEntryAttrName);
    if (!entry || entry.getValue() != (prefix + "train_step").str())
      return;
    stage.walk([&](onerec::rec::MinimizeOp minimize) {
      for (Attribute attr : minimize.getTerms())
        terms.push_back(
            cast<onerec::rec::TermAttr>(attr).getEntry().getValue());
    });
  });
  return terms;
}

/// `train_step` -> "" and `align.train_grad` -> "align.": the stage prefix
/// of an entry rec-autodiff built, or nothing.
std::optional<StringRef> trainingPrefix(StringRef name) {
  for (StringRef suffix : {"train_step", "train_grad", "train_accumulate"})
    if (name.ends_with(suffix))
      return name.drop_back(suffix.size());
  return std::nullopt;
}

} // namespace

llvm::StringMap<int64_t> onerec::countOperators(ModuleOp module) {
  llvm::StringMap<int64_t> counts;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!isEntry(func))
      continue;
    int64_t n = 0;
    func.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "rec" &&
          !isa<rec::ParamRefOp>(op))
        ++n;
    });
    counts[func.getSymName()] = n;
  }
  return counts;
}

void onerec::printOperatorStats(ModuleOp lowered,
                                const llvm::StringMap<int64_t> &written,
                                const llvm::StringMap<int64_t> &afterAutodiff,
                                llvm::raw_ostream &os) {
  const char *row = "{0,-28} {1,-11} {2,11} {3,15} {4,8}\n";
  os << llvm::formatv(row, "entry", "kind", "as written", "after autodiff",
                      "kernels");
  for (auto func : lowered.getOps<func::FuncOp>()) {
    if (!isEntry(func))
      continue;
    StringRef name = func.getSymName();
    auto kind = func->getAttrOfType<rec::EntryKindAttr>(
        rec::RecDialect::kEntryAttrName);
    std::string asWritten = "-";
    if (auto it = written.find(name); it != written.end()) {
      asWritten = std::to_string(it->second);
    } else if (std::optional<StringRef> prefix = trainingPrefix(name)) {
      // A training entry: the operators of the loss terms it differentiates.
      int64_t n = 0;
      for (StringRef term : stageTerms(lowered, *prefix))
        n += written.lookup(term);
      asWritten = std::to_string(n) + " (loss)";
    }
    std::string kernels = "left out";
    if (!func->hasAttr(rec::RecDialect::kUnsupportedAttrName)) {
      int64_t n = 0;
      func.walk([&](Operation *op) {
        auto kernel =
            op->getAttrOfType<StringAttr>(rec::RecDialect::kKernelAttrName);
        if (kernel && kernel.getValue() != "view" &&
            kernel.getValue() != "param")
          ++n;
      });
      kernels = std::to_string(n);
    }
    os << llvm::formatv(row, name,
                        kind ? rec::stringifyEntryKind(kind.getValue())
                             : StringRef("def"),
                        asWritten, afterAutodiff.lookup(name), kernels);
  }
}
