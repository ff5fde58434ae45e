//===- Nvrtc.cpp - compiles generated CUDA source with NVRTC --------------===//
//
// Built with ONEREC_HAVE_NVRTC when cmake found the CUDA toolkit; without it
// every call reports that this compiler has no NVRTC.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/CudaCodegen.h"

#include <chrono>
#include <string>
#include <vector>

#if ONEREC_HAVE_NVRTC
#include <nvrtc.h>
#endif

using namespace onerec;

#if ONEREC_HAVE_NVRTC

bool onerec::isNvrtcAvailable() { return true; }

std::string onerec::describeNvrtc() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "NVRTC (version unknown)";
  return "NVRTC " + std::to_string(major) + "." + std::to_string(minor);
}

bool onerec::compileWithNvrtc(llvm::StringRef source, llvm::StringRef fileName,
                              llvm::StringRef arch, CudaBinary &binary,
                              std::string &log) {
  auto start = std::chrono::steady_clock::now();
  std::string text = source.str(), name = fileName.str();
  nvrtcProgram program;
  nvrtcResult result = nvrtcCreateProgram(&program, text.c_str(), name.c_str(),
                                          0, nullptr, nullptr);
  if (result != NVRTC_SUCCESS) {
    log = std::string("nvrtcCreateProgram: ") + nvrtcGetErrorString(result);
    return false;
  }
  // A real architecture gives both the cubin (loaded as is on that GPU) and
  // the PTX (JIT-compiled by the driver on a newer one).
  std::string archOption = "--gpu-architecture=" + arch.str();
  const char *options[] = {archOption.c_str(), "--std=c++17",
                           "--device-as-default-execution-space"};
  result = nvrtcCompileProgram(program, 3, options);
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  std::vector<char> logText(logSize + 1, '\0');
  if (logSize)
    nvrtcGetProgramLog(program, logText.data());
  log = logText.data();
  bool ok = result == NVRTC_SUCCESS;
  if (!ok && log.empty())
    log = nvrtcGetErrorString(result);
  size_t cubinSize = 0, ptxSize = 0;
  if (ok && (nvrtcGetCUBINSize(program, &cubinSize) != NVRTC_SUCCESS ||
             nvrtcGetPTXSize(program, &ptxSize) != NVRTC_SUCCESS ||
             cubinSize == 0 || ptxSize == 0)) {
    log = "NVRTC produced no cubin or no PTX for " + arch.str() +
          " (a real architecture, sm_XX, is needed)";
    ok = false;
  }
  if (ok) {
    binary.cubin.assign(cubinSize, '\0');
    std::vector<char> ptx(ptxSize + 1, '\0');
    ok = nvrtcGetCUBIN(program, binary.cubin.data()) == NVRTC_SUCCESS &&
         nvrtcGetPTX(program, ptx.data()) == NVRTC_SUCCESS;
    binary.ptx = ptx.data(); // up to the terminating NUL
    if (!ok)
      log = "NVRTC failed to return the cubin or the PTX";
  }
  nvrtcDestroyProgram(&program);
  binary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return ok;
}

#else

bool onerec::isNvrtcAvailable() { return false; }

std::string onerec::describeNvrtc() {
  return "no NVRTC: the CUDA toolkit was not found when this onerecc was "
         "configured";
}

bool onerec::compileWithNvrtc(llvm::StringRef, llvm::StringRef, llvm::StringRef,
                              CudaBinary &, std::string &log) {
  log = "this onerecc was built without NVRTC (no CUDA toolkit under "
        "/usr/local/cuda at configure time); rebuild with the toolkit to "
        "compile CUDA kernels";
  return false;
}

#endif
