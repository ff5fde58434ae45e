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

/// Prints, per entry of the lowered module, its operators as written (for
/// the training entries rec-autodiff built: those of the stage's loss
/// terms), after rec-autodiff and cleanup (`afterAutodiff`), and the
/// kernels the runtime launches with their FLOPs and bytes moved per call
/// at the dims' maxima (`onerecc --stats[=json]`).
void printOperatorStats(mlir::ModuleOp lowered,
                        const llvm::StringMap<int64_t> &written,
                        const llvm::StringMap<int64_t> &afterAutodiff,
                        StatsFormat format, llvm::raw_ostream &os);

} // namespace onerec

#endif // ONEREC_TOOLS_ONERECC_OPERATORSTATS_H
