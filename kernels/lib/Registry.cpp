//===- Registry.cpp - registration of every CPU kernel --------------------===//
//
// The registry is filled by explicit calls, one per op family: static
// initializers in a static library would be dropped by the linker.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

#include "onerec/Kernels/CpuKernels.h"

using namespace onerec;

void kernels::registerCpuKernels(runtime::KernelRegistry &registry) {
  registerElementwiseKernels(registry);
  registerDataMovementKernels(registry);
  registerReductionKernels(registry);
  registerNormalizationKernels(registry);
  registerMatmulKernels(registry);
  registerAttentionKernels(registry);
  registerDecodeAttentionKernels(registry);
  registerMoeKernels(registry);
  registerEmbeddingKernels(registry);
  registerLossKernels(registry);
  registerNormalizationGradKernels(registry);
  registerEmbeddingGradKernels(registry);
  registerLossGradKernels(registry);
  registerOptimizerKernels(registry);
  // 1.2: fusion.
  registerFusedKernels(registry);
  registerFusedGemmKernels(registry);
  registerMultiEmbeddingKernels(registry);
}

const runtime::KernelRegistry &runtime::defaultKernelRegistry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    kernels::registerCpuKernels(r);
    // registerCudaKernels(r) joins here when the CUDA backend lands.
    return r;
  }();
  return registry;
}
