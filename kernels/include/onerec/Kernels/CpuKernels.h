//===- CpuKernels.h - registration of the CPU kernels ---------------------===//
//
// Every plan op has two CPU kernels: a plain reference (loops a reader can
// check against docs/plan-format.md, double accumulation) and an optimized
// one (threaded over the runtime's pool, vectorizable inner loops, BLAS for
// GEMMs, fused attention and mixture of experts). Both are registered, keyed
// by the dtype of operand 0 (of result 0 for Constant and Iota); the executor
// takes the optimized one, tests hold it to the reference. See docs/kernels.md.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_KERNELS_CPUKERNELS_H
#define ONEREC_KERNELS_CPUKERNELS_H

#include "onerec/Runtime/Kernel.h"

namespace onerec::kernels {

/// Adds the reference and optimized CPU kernels of every op to `registry`.
void registerCpuKernels(runtime::KernelRegistry &registry);

} // namespace onerec::kernels

#endif // ONEREC_KERNELS_CPUKERNELS_H
