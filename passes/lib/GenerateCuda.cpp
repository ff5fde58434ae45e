//===- GenerateCuda.cpp - CUDA kernels for fused groups, via NVRTC --------===//
//
// rec-generate-cuda: for each `rec.fused` op, generates its CUDA kernel
// (CudaCodegen.cpp), compiles it with NVRTC for the target architecture and
// attaches source, launch shape, cubin and PTX to the op; the plan emitter
// stores them. Identical groups (the same source) are compiled once.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/CudaCodegen.h"
#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

namespace onerec {
#define GEN_PASS_DEF_RECGENERATECUDA
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;

namespace {

/// `sm_90`, `sm_100a`: what NVRTC accepts as a real architecture.
bool isRealArch(StringRef arch) {
  if (!arch.consume_front("sm_") || arch.empty())
    return false;
  StringRef digits = arch.take_while([](char c) { return llvm::isDigit(c); });
  StringRef suffix = arch.drop_front(digits.size());
  return !digits.empty() && (suffix.empty() || suffix == "a" || suffix == "f");
}

struct RecGenerateCuda
    : public onerec::impl::RecGenerateCudaBase<RecGenerateCuda> {
  using RecGenerateCudaBase::RecGenerateCudaBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!isRealArch(arch)) {
      module.emitError("rec-generate-cuda: arch '")
          << arch << "' is not a GPU architecture such as sm_90";
      return signalPassFailure();
    }
    if (compile && !isNvrtcAvailable()) {
      module.emitError("rec-generate-cuda: cannot compile for ")
          << arch << ": " << describeNvrtc();
      return signalPassFailure();
    }
    Builder builder(module.getContext());
    llvm::StringMap<CudaBinary> compiled;
    bool failedAny = false;
    module.walk([&](rec::FusedOp fusedOp) {
      Operation *op = fusedOp.getOperation();
      // Entries left out of the plan (rec-select-kernels) get no code.
      auto func = op->getParentOfType<func::FuncOp>();
      if (func && func->hasAttr(rec::RecDialect::kUnsupportedAttrName))
        return;
      FailureOr<CudaKernelSource> kernel = generateCudaKernel(op);
      if (failed(kernel)) {
        failedAny = true;
        return;
      }
      op->setAttr(cuda_attrs::kKernel, builder.getStringAttr(kernel->name));
      op->setAttr(cuda_attrs::kSource, builder.getStringAttr(kernel->source));
      op->setAttr(cuda_attrs::kDomain, TypeAttr::get(kernel->domain));
      op->setAttr(cuda_attrs::kLaunch,
                  builder.getDenseI64ArrayAttr(
                      {kernel->threadsPerRow, kernel->rowsPerBlock}));
      bool first = !compiled.count(kernel->name);
      if (printSource && first)
        llvm::outs() << kernel->source << "// -----\n";
      if (!compile)
        return;
      if (first) {
        CudaBinary binary;
        std::string log;
        if (!compileWithNvrtc(kernel->source, kernel->name + ".cu", arch,
                              binary, log)) {
          op->emitError("rec-generate-cuda: NVRTC failed to compile this "
                        "group's kernel ")
              << kernel->name << " for " << arch << ":\n"
              << log;
          failedAny = true;
          return;
        }
        compiled[kernel->name] = std::move(binary);
      }
      const CudaBinary &binary = compiled[kernel->name];
      op->setAttr(cuda_attrs::kCubin, builder.getStringAttr(binary.cubin));
      op->setAttr(cuda_attrs::kPtx, builder.getStringAttr(binary.ptx));
    });
    if (failedAny)
      return signalPassFailure();
    module->setAttr(cuda_attrs::kArch, builder.getStringAttr(arch));
  }
};

} // namespace
