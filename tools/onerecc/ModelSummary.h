//===- ModelSummary.h - a readable overview of a compiled model ---*- C++
//-*-===//
#ifndef ONEREC_TOOLS_ONERECC_MODELSUMMARY_H
#define ONEREC_TOOLS_ONERECC_MODELSUMMARY_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace onerec {

/// Prints what a compiled model holds: its dimensions, parameter counts,
/// entries with their arguments and results, and its generation and
/// training configuration (`onerecc --emit=summary`).
void printModelSummary(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace onerec

#endif // ONEREC_TOOLS_ONERECC_MODELSUMMARY_H
