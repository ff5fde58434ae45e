//===- OperatorStats.h - operator counts per entry and phase ------*- C++
//-*-===//
#ifndef ONEREC_TOOLS_ONERECC_OPERATORSTATS_H
#define ONEREC_TOOLS_ONERECC_OPERATORSTATS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

namespace onerec {

/// The rec operators of each entry function, by entry name: every rec op
/// but parameter reads (which move no data).
llvm::StringMap<int64_t> countOperators(mlir::ModuleOp module);

enum class StatsFormat { Text, Json };

/// The operators of each entry at the phases of compilation.
struct OperatorCounts {
  /// The frontend's IR (a training entry reports its stage's loss terms).
  llvm::StringMap<int64_t> asWritten;
  /// After rec-autodiff and cleanup at -O0: primitive operators, composites
  /// decomposed, one kernel each.
  llvm::StringMap<int64_t> afterAutodiff;
  /// After the fusion passes of the chosen level.
  llvm::StringMap<int64_t> afterFusion;
};

/// Prints, per entry of the lowered module, its operators at each phase of
/// `counts`, the kernels the runtime launches per call, their ratio to the
/// operators after autodiff, and the kernels' FLOPs and bytes moved per call
/// at the dims' maxima (`onerecc --stats[=json]`).
void printOperatorStats(mlir::ModuleOp lowered, const OperatorCounts &counts,
                        StatsFormat format, llvm::raw_ostream &os);

} // namespace onerec

#endif // ONEREC_TOOLS_ONERECC_OPERATORSTATS_H
