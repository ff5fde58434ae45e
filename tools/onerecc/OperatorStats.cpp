//===- OperatorStats.cpp - operator counts per entry and phase ------------===//
//
// The numbers behind "a training step's operators, as written, after
// autodiff, and as kernels": what fusion (and its statistics) starts from.
//
//===----------------------------------------------------------------------===//

#include "OperatorStats.h"

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "onerec/Passes/EntryCost.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace onerec;

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
    // The entry's own ops: a fused group counts once, not its body.
    int64_t n = 0;
    for (Operation &op : func.getBody().getOps())
      if (op.getDialect() && op.getDialect()->getNamespace() == "rec" &&
          !isa<rec::ParamRefOp>(op))
        ++n;
    counts[func.getSymName()] = n;
  }
  return counts;
}

namespace {

/// "1.23 GFLOP" / "45.6 MB": three significant digits and a unit.
std::string human(double value, StringRef unit) {
  const char *prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (value >= 1000 && i < 5) {
    value /= 1000;
    ++i;
  }
  return llvm::formatv("{0:f2} {1}{2}", value, prefixes[i], unit).str();
}

/// One row of the table.
struct EntryStats {
  std::string name, kind, asWritten;
  int64_t written = -1; // as written; -1: built by autodiff (see loss)
  int64_t loss = -1;    // a training entry: its stage's loss terms
  int64_t afterAutodiff = 0;
  int64_t afterFusion = 0;
  bool leftOut = false;
  EntryCost cost;
};

std::vector<EntryStats> collect(ModuleOp lowered,
                                const OperatorCounts &counts) {
  const llvm::StringMap<int64_t> &written = counts.asWritten;
  std::vector<EntryStats> rows;
  for (auto func : lowered.getOps<func::FuncOp>()) {
    if (!isEntry(func))
      continue;
    EntryStats row;
    row.name = func.getSymName().str();
    auto kind = func->getAttrOfType<rec::EntryKindAttr>(
        rec::RecDialect::kEntryAttrName);
    row.kind = kind ? rec::stringifyEntryKind(kind.getValue()).str() : "def";
    if (auto it = written.find(row.name); it != written.end()) {
      row.written = it->second;
    } else if (std::optional<StringRef> prefix = trainingPrefix(row.name)) {
      // A training entry: the operators of the loss terms it differentiates.
      row.loss = 0;
      for (StringRef term : stageTerms(lowered, *prefix))
        row.loss += written.lookup(term);
    }
    row.afterAutodiff = counts.afterAutodiff.lookup(row.name);
    row.afterFusion = counts.afterFusion.lookup(row.name);
    row.leftOut = func->hasAttr(rec::RecDialect::kUnsupportedAttrName);
    if (!row.leftOut)
      row.cost = estimateEntryCost(func);
    rows.push_back(std::move(row));
  }
  return rows;
}

/// Operators after autodiff per kernel launched: the fusion factor.
double fusionRatio(const EntryStats &r) {
  return r.cost.kernels > 0
             ? static_cast<double>(r.afterAutodiff) / r.cost.kernels
             : 0.0;
}

} // namespace

void onerec::printOperatorStats(ModuleOp lowered, const OperatorCounts &counts,
                                StatsFormat format, llvm::raw_ostream &os) {
  std::vector<EntryStats> rows = collect(lowered, counts);
  if (format == StatsFormat::Json) {
    llvm::json::Array entries;
    for (const EntryStats &r : rows) {
      llvm::json::Object o{{"entry", r.name},
                           {"kind", r.kind},
                           {"ops_after_autodiff", r.afterAutodiff},
                           {"ops_after_fusion", r.afterFusion},
                           {"left_out", r.leftOut}};
      if (r.written >= 0)
        o["ops_as_written"] = r.written;
      if (r.loss >= 0)
        o["loss_ops_as_written"] = r.loss;
      if (!r.leftOut) {
        o["kernels"] = r.cost.kernels;
        o["fusion_ratio"] = fusionRatio(r);
        o["flops"] = r.cost.flops;
        o["bytes"] = r.cost.bytes;
      }
      entries.push_back(std::move(o));
    }
    auto model =
        lowered->getAttrOfType<StringAttr>(rec::RecDialect::kModelAttrName);
    llvm::json::Object root{{"model", model ? model.str() : ""},
                            {"at", "every symbolic dim at its maximum"},
                            {"entries", std::move(entries)}};
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
    return;
  }
  const char *row =
      "{0,-28} {1,-11} {2,11} {3,15} {4,13} {5,8} {6,7} {7,14} {8,12}\n";
  os << llvm::formatv(row, "entry", "kind", "as written", "after autodiff",
                      "after fusion", "kernels", "ratio", "flops", "bytes");
  for (const EntryStats &r : rows) {
    std::string asWritten = r.written >= 0 ? std::to_string(r.written)
                            : r.loss >= 0  ? std::to_string(r.loss) + " (loss)"
                                           : "-";
    os << llvm::formatv(
        row, r.name, r.kind, asWritten, r.afterAutodiff, r.afterFusion,
        r.leftOut ? "left out" : std::to_string(r.cost.kernels),
        r.leftOut ? "-" : llvm::formatv("{0:f1}x", fusionRatio(r)).str(),
        r.leftOut ? "-" : human(r.cost.flops, "FLOP"),
        r.leftOut ? "-" : human(r.cost.bytes, "B"));
  }
  os << "(after autodiff: primitive operators, as -O0 builds them; ratio: "
        "after autodiff / kernels; flops and bytes per call with every "
        "symbolic dim at its maximum)\n";
}
