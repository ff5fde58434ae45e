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

#include <string>
#include <vector>

namespace onerec {

/// Checks the IR the frontend produced: every rec op's types are the ones its
/// shape rule infers (the stage behind `onerecc --emit=mlir`).
void buildFrontendPipeline(mlir::OpPassManager &pm);

struct LoweringOptions {
  /// Symbolic dims to specialize to a static size ("B=32"); the rest keep
  /// their declared maxima.
  std::vector<std::string> bindDims;
  /// 0: composite ops spelled with primitives before and after autodiff, no
  /// fusion (every primitive one kernel); 2 (default): composites kept and
  /// the fusion passes run (docs/fusion.md).
  unsigned optLevel = 2;
};

/// Lowers checked frontend IR to what the plan emitter serializes: the three
/// stages below in order (behind `onerecc --emit=mlir-lowered` and
/// `-o plan.fb`).
void buildLoweringPipeline(mlir::OpPassManager &pm,
                           const LoweringOptions &options);

/// The first lowering stage: shape specialization, cleanup, and the
/// training entries (rec-autodiff), cleaned up again.
void buildTrainingEntriesPipeline(mlir::OpPassManager &pm,
                                  const LoweringOptions &options);

/// The second lowering stage: the fusion passes (none at -O0).
void buildFusionPipeline(mlir::OpPassManager &pm,
                         const LoweringOptions &options);

/// The third lowering stage: kernel selection and memory planning.
void buildRealizationPipeline(mlir::OpPassManager &pm);

/// CUDA code generation for fused groups (`onerecc --target=cuda:<arch>`):
/// rec-generate-cuda for `arch` (`sm_90`); with `compile` false the kernels'
/// source only (`--emit=cuda`), without NVRTC.
void buildCudaCodegenPipeline(mlir::OpPassManager &pm, const std::string &arch,
                              bool compile);

/// Registers the pipelines above with names for `onerec-opt`.
void registerPipelines();

} // namespace onerec

#endif // ONEREC_PASSES_PIPELINES_H
