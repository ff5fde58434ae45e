//===- Pipelines.cpp - the onerec pass pipelines --------------------------===//

#include "onerec/Passes/Pipelines.h"
#include "onerec/Passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void onerec::buildFrontendPipeline(OpPassManager &pm) {
  pm.addPass(createRecInferShapes());
}

void onerec::registerPipelines() {
  PassPipelineRegistration<>(
      "onerec-frontend-pipeline",
      "Checks frontend IR: recomputes every rec op's result types",
      [](OpPassManager &pm) { buildFrontendPipeline(pm); });
}
