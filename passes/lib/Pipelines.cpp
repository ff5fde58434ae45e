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
  buildFusionPipeline(pm, options);
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
  // Cleanup: folds, algebraic identities, shared subexpressions, dead ops.
  pm.addPass(createRecCleanup());
  // -O0: composites spelled with primitives (below), so that autodiff
  // differentiates primitives and every operator is one kernel. Otherwise
  // attention spelled with primitives becomes the fused op (its backward one
  // kernel too).
  if (options.optLevel != 0)
    pm.addPass(createRecFuseAttention());
  // Generation: the decoder's token-by-token entries, from its attention ops
  // (before -O0 spells them with primitives).
  pm.addPass(createRecDeriveDecodeStep());
  if (options.optLevel == 0)
    pm.addPass(createRecDecompose());
  // Training entries: reverse-mode gradients and optimizer steps, then the
  // cleanup again over what autodiff wrote (x * 1, shared zeros).
  pm.addPass(createRecAutodiff());
  // -O0: the global norm and optimizer updates autodiff created, too.
  if (options.optLevel == 0)
    pm.addPass(createRecDecompose());
  pm.addPass(createRecCleanup());
}

void onerec::buildFusionPipeline(OpPassManager &pm,
                                 const LoweringOptions &options) {
  if (options.optLevel == 0)
    return;
  // Embedding fusion: concatenated lookups and their gradients, one kernel
  // each, before GEMM fusion looks at what consumes them.
  pm.addPass(createRecFuseEmbedding());
  // GEMM fusion: epilogues, shared operands, accumulated data gradients and
  // grouped weight gradients, before elementwise fusion takes what is left.
  pm.addPass(createRecFuseGemm());
  // Elementwise and reduction chains become rec.fused groups.
  pm.addPass(createRecFuseElementwise());
  // The optimizer: one multi-tensor update (and the global norm) per step.
  pm.addPass(createRecFuseOptimizer());
}

void onerec::buildRealizationPipeline(OpPassManager &pm) {
  // A kernel (or a view) per op, then the arena of each entry.
  pm.addPass(createRecSelectKernels());
  pm.addPass(createRecPlanMemory());
}

void onerec::buildCudaCodegenPipeline(OpPassManager &pm,
                                      const std::string &arch, bool compile) {
  // After kernel selection: each fused group gets its generated kernel,
  // compiled by NVRTC now so that nothing is compiled at run time.
  RecGenerateCudaOptions cuda;
  cuda.arch = arch;
  cuda.compile = compile;
  pm.addPass(createRecGenerateCuda(cuda));
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
