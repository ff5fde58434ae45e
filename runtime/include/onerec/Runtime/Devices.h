//===- Devices.h - what this machine can run on -------------------*- C++
//-*-===//
//
// Discovery of the CPU (cores, vector extensions) and of CUDA devices, plus a
// health check that runs a kernel on a device and verifies its result. CUDA
// support is compiled in when the toolkit is found at configure time; without
// it, or without a driver, the CUDA queries say why no GPU can be used.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_DEVICES_H
#define ONEREC_RUNTIME_DEVICES_H

#include "onerec/Runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace onerec::runtime {

struct CpuInfo {
  std::string model;
  unsigned logicalCores = 0;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bf16 = false;
};

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int computeMajor = 0;
  int computeMinor = 0;
  int multiprocessors = 0;
  uint64_t totalMemoryBytes = 0;
};

/// The CPU this process runs on.
CpuInfo queryCpu();

/// True when this build has the CUDA backend.
bool isCudaBuilt();
/// True when this build links NCCL.
bool isNcclBuilt();

/// The CUDA devices a driver exposes. Unsupported when built without CUDA;
/// Unavailable when no usable driver is installed.
StatusOr<std::vector<CudaDeviceInfo>> queryCudaDevices();

/// Runs a small kernel on device `index` and checks every element it wrote.
Status checkCudaDevice(int index);

/// Loads a CUDA code image (a cubin, or PTX the driver compiles) on device
/// `index` and looks up its `extern "C"` kernel `name`: how the CUDA backend
/// loads a plan's fused-group kernels (Plan.cuda_kernels, format 1.2).
Status loadCudaKernel(int index, const void *image, const std::string &name);

/// "CUDA runtime 13.0, driver 12.8" or why there is none.
std::string describeCudaVersions();
/// "NCCL 2.27.3" or why there is none.
std::string describeNccl();

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_DEVICES_H
