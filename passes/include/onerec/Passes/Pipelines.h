//===- Pipelines.h - the onerec pass pipelines --------------------*- C++
//-*-===//
//
// One function per compilation stage, each readable top to bottom: onerecc
// calls them; onerec-opt runs any pass alone.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_PIPELINES_H
#define ONEREC_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace onerec {

/// Checks the IR the frontend produced: every rec op's types are the ones its
/// shape rule infers (the stage behind `onerecc --emit=mlir`).
void buildFrontendPipeline(mlir::OpPassManager &pm);

/// Registers the pipelines above with names for `onerec-opt`.
void registerPipelines();

} // namespace onerec

#endif // ONEREC_PASSES_PIPELINES_H
