//===- Pipelines.cpp - the onerec pass pipelines --------------------------===//

#include "onerec/Passes/Pipelines.h"
#include "onerec/Passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void onerec::buildFrontendPipeline(OpPassManager &pm) {
  pm.addPass(createRecInferShapes());
}

void onerec::buildLoweringPipeline(OpPassManager &pm,
                                   const LoweringOptions &options) {
  buildTrainingEntriesPipeline(pm, options);
  buildRealizationPipeline(pm);
}

void onerec::buildTrainingEntriesPipeline(OpPassManager &pm,
                                          const LoweringOptions &options) {
  // Shape specialization: constants are already bound by the frontend; bind
  // the dims the user fixed, keep the others symbolic with their maxima.
  if (!options.bindDims.empty()) {
    RecBindDimsOptions bind;
    bind.dims = options.bindDims;
    pm.addPass(createRecBindDims(bind));
    pm.addPass(createRecInferShapes());
  }
  // Cleanup: folds, algebraic identities, shared subexpressions.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Training entries: reverse-mode gradients and optimizer steps, then the
  // cleanup again over what autodiff wrote (x * 1, shared zeros).
  pm.addPass(createRecAutodiff());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void onerec::buildRealizationPipeline(OpPassManager &pm) {
  // Fusion of the optimizer: one multi-tensor update per training step.
  pm.addPass(createRecFuseOptimizer());
  // A kernel (or a view) per op, then the arena of each entry.
  pm.addPass(createRecSelectKernels());
  pm.addPass(createRecPlanMemory());
}

void onerec::registerPipelines() {
  PassPipelineRegistration<>(
      "onerec-lowering-pipeline",
      "Lowers frontend IR for plan emission: cleanup, training entries, "
      "kernel selection, memory planning",
      [](OpPassManager &pm) { buildLoweringPipeline(pm, LoweringOptions()); });
  PassPipelineRegistration<>(
      "onerec-frontend-pipeline",
      "Checks frontend IR: recomputes every rec op's result types",
      [](OpPassManager &pm) { buildFrontendPipeline(pm); });
}
