//===- CpuOnlyDevices.cpp - device queries of a build without CUDA --------===//
//
// The CUDA toolkit was not found when this runtime was configured: CUDA
// queries answer that, so callers (and GPU tests) can say why no GPU is used.

#include "onerec/Runtime/Devices.h"

using namespace onerec::runtime;

static Status notBuilt() {
  return Status::error(Status::Code::Unsupported,
                       "this onerec runtime was built without CUDA (no CUDA "
                       "toolkit at configure time)");
}

bool onerec::runtime::isCudaBuilt() { return false; }
bool onerec::runtime::isNcclBuilt() { return false; }

StatusOr<std::vector<CudaDeviceInfo>> onerec::runtime::queryCudaDevices() {
  return notBuilt();
}

Status onerec::runtime::checkCudaDevice(int) { return notBuilt(); }

Status onerec::runtime::loadCudaKernel(int, const void *, const std::string &) {
  return notBuilt();
}

std::string onerec::runtime::describeCudaVersions() {
  return "built without CUDA";
}

std::string onerec::runtime::describeNccl() { return "built without NCCL"; }
