//===- CudaDevices.cu - CUDA device discovery and health check ------------===//
//
// Compiled only when the CUDA toolkit is found (see cmake/OnerecCuda.cmake).

#include "onerec/Runtime/Devices.h"

#include <cuda_runtime.h>
#if ONEREC_HAVE_NCCL
#include <nccl.h>
#endif

#include <string>
#include <vector>

using namespace onerec::runtime;

namespace {

Status cudaStatus(cudaError_t error, const std::string &what) {
  if (error == cudaSuccess)
    return Status::ok();
  Status::Code code =
      error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver
          ? Status::Code::Unavailable
          : Status::Code::Internal;
  return Status::error(code, what + ": " + cudaGetErrorString(error));
}

/// Writes 3 * i + 1 to element i: a result the host can check exactly.
__global__ void affineFill(int *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = 3 * i + 1;
}

} // namespace

bool onerec::runtime::isCudaBuilt() { return true; }

bool onerec::runtime::isNcclBuilt() { return ONEREC_HAVE_NCCL; }

StatusOr<std::vector<CudaDeviceInfo>> onerec::runtime::queryCudaDevices() {
  int count = 0;
  if (Status s = cudaStatus(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
      !s.isOk())
    return s;
  std::vector<CudaDeviceInfo> devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (Status s =
            cudaStatus(cudaGetDeviceProperties(&prop, i),
                       "cudaGetDeviceProperties(" + std::to_string(i) + ")");
        !s.isOk())
      return s;
    CudaDeviceInfo info;
    info.index = i;
    info.name = prop.name;
    info.computeMajor = prop.major;
    info.computeMinor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    info.totalMemoryBytes = prop.totalGlobalMem;
    devices.push_back(info);
  }
  return devices;
}

Status onerec::runtime::checkCudaDevice(int index) {
  const std::string where = "CUDA device " + std::to_string(index);
  if (Status s = cudaStatus(cudaSetDevice(index), where); !s.isOk())
    return s;
  constexpr int n = 1 << 16;
  int *device = nullptr;
  if (Status s = cudaStatus(cudaMalloc(&device, n * sizeof(int)), where);
      !s.isOk())
    return s;
  affineFill<<<(n + 255) / 256, 256>>>(device, n);
  std::vector<int> host(n);
  Status launched = cudaStatus(cudaGetLastError(), where + ": kernel launch");
  Status result =
      launched.isOk()
          ? cudaStatus(cudaMemcpy(host.data(), device, n * sizeof(int),
                                  cudaMemcpyDeviceToHost),
                       where + ": copy back")
          : launched;
  (void)cudaFree(device); // the check result is what matters
  if (!result.isOk())
    return result;
  for (int i = 0; i < n; ++i)
    if (host[i] != 3 * i + 1)
      return Status::error(Status::Code::Internal,
                           where + ": element " + std::to_string(i) + " is " +
                               std::to_string(host[i]) + ", expected " +
                               std::to_string(3 * i + 1));
  return Status::ok();
}

Status onerec::runtime::loadCudaKernel(int index, const void *image,
                                      const std::string &name) {
  const std::string where =
      "CUDA device " + std::to_string(index) + ": kernel '" + name + "'";
  if (Status s = cudaStatus(cudaSetDevice(index), where); !s.isOk())
    return s;
  // The runtime API's library loader: no libcuda link dependency (cudart
  // finds the driver at run time), and PTX is JIT-compiled when the cubin's
  // architecture does not match.
  cudaLibrary_t library = nullptr;
  if (Status s = cudaStatus(cudaLibraryLoadData(&library, image, nullptr,
                                                nullptr, 0, nullptr, nullptr,
                                                0),
                            where + ": loading its image");
      !s.isOk())
    return s;
  cudaKernel_t kernel = nullptr;
  Status found = cudaStatus(cudaLibraryGetKernel(&kernel, library, name.c_str()),
                            where + ": looking it up");
  (void)cudaLibraryUnload(library); // the lookup result is what matters
  return found;
}

static std::string version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string onerec::runtime::describeCudaVersions() {
  int runtimeVersion = 0, driverVersion = 0;
  (void)cudaRuntimeGetVersion(&runtimeVersion);
  (void)cudaDriverGetVersion(&driverVersion); // 0 when no driver
  std::string text = "CUDA runtime " + version(runtimeVersion);
  text += driverVersion ? ", driver " + version(driverVersion)
                        : std::string(", no CUDA driver installed");
  return text;
}

std::string onerec::runtime::describeNccl() {
#if ONEREC_HAVE_NCCL
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess)
    return "NCCL (version unknown)";
  return "NCCL " + std::to_string(v / 10000) + "." +
         std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
#else
  return "NCCL not found at build time";
#endif
}
