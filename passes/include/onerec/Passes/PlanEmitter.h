//===- PlanEmitter.h - writes a compiled module as a plan --------*- C++
//-*-===//
//
// Serializes a module that went through the lowering pipeline (kernels
// selected, memory planned) into the FlatBuffers plan format of
// runtime/schema/plan.fbs (docs/plan-format.md), with the parameters'
// initial values in an aligned segment after the table.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_PLANEMITTER_H
#define ONEREC_PASSES_PLANEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace onerec {

struct PlanEmitterOptions {
  /// "onerecc 0.1.0".
  std::string producer;
  /// Hash of the model's sources, hex.
  std::string sourceHash;
};

/// Writes `module` as a plan to `os`. Fails, with a diagnostic at the
/// offending op, on IR the plan cannot express.
mlir::LogicalResult emitPlan(mlir::ModuleOp module,
                             const PlanEmitterOptions &options,
                             llvm::raw_ostream &os);

/// The plan format version this compiler writes.
constexpr unsigned kPlanFormatMajor = 1;
constexpr unsigned kPlanFormatMinor = 3;

} // namespace onerec

#endif // ONEREC_PASSES_PLANEMITTER_H
