//===- CudaCodegen.h - CUDA kernels for fused groups --------------*- C++
//-*-===//
//
// Generates one CUDA C++ kernel per `rec.fused` group and compiles it with
// NVRTC at compile time (docs/fusion.md, "CUDA code generation"). The
// runtime loads the cubin (or JITs the PTX); no compiler runs at run time.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_PASSES_CUDACODEGEN_H
#define ONEREC_PASSES_CUDACODEGEN_H

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace onerec {

/// The attributes rec-generate-cuda puts on each fused op and the module.
namespace cuda_attrs {
/// The kernel's `extern "C" __global__` function name (StringAttr).
constexpr llvm::StringLiteral kKernel = "rec.cuda_kernel";
/// The generated CUDA C++ source (StringAttr).
constexpr llvm::StringLiteral kSource = "rec.cuda_source";
/// The iteration domain: a rec tensor type whose dims are the extents passed
/// to the kernel after its pointers (TypeAttr).
constexpr llvm::StringLiteral kDomain = "rec.cuda_domain";
/// Launch shape: threads per row and rows per block (DenseI64ArrayAttr).
constexpr llvm::StringLiteral kLaunch = "rec.cuda_launch";
/// NVRTC's output: the cubin (bytes) and the PTX (text) (StringAttr).
constexpr llvm::StringLiteral kCubin = "rec.cuda_cubin";
constexpr llvm::StringLiteral kPtx = "rec.cuda_ptx";
/// On the module: the architecture the cubins are for (`sm_90`).
constexpr llvm::StringLiteral kArch = "rec.cuda_arch";
} // namespace cuda_attrs

/// One generated kernel. Its parameters are, in order: a pointer per operand
/// of the fused op, a pointer per result, then `long long` extents of the
/// iteration domain (its rank). It runs on a grid of
/// ceil(rows / rowsPerBlock) blocks (any smaller grid also works: blocks
/// stride over row tiles) of (threadsPerRow, rowsPerBlock) threads, where
/// rows is the product of all domain extents but the last (cols).
struct CudaKernelSource {
  std::string name;
  std::string source;
  /// The domain: the shape every value of the group broadcasts into.
  rec::RecTensorType domain;
  unsigned threadsPerRow = 0;
  unsigned rowsPerBlock = 0;
};

/// Generates the kernel of a fused group. Fails with an error at the op (or
/// at the body op it cannot generate code for).
mlir::FailureOr<CudaKernelSource> generateCudaKernel(mlir::Operation *fused);

/// What NVRTC produced for one kernel.
struct CudaBinary {
  std::string cubin;
  std::string ptx;
  /// Wall time of the NVRTC compilation.
  double seconds = 0;
};

/// Whether this compiler was built with NVRTC (the CUDA toolkit was found at
/// configure time).
bool isNvrtcAvailable();

/// `NVRTC 13.0`, or why there is none.
std::string describeNvrtc();

/// Compiles `source` for `arch` (`sm_90`) into a cubin and PTX. On failure
/// returns false with NVRTC's log (or the reason) in `log`.
bool compileWithNvrtc(llvm::StringRef source, llvm::StringRef fileName,
                      llvm::StringRef arch, CudaBinary &binary,
                      std::string &log);

} // namespace onerec

#endif // ONEREC_PASSES_CUDACODEGEN_H
