//===- DevicesTest.cpp - CPU and CUDA device discovery --------------------===//

#include "onerec/Runtime/Devices.h"

#include <gtest/gtest.h>

using namespace onerec::runtime;

TEST(DevicesTest, CpuHasCoresAndAModel) {
  CpuInfo cpu = queryCpu();
  EXPECT_GE(cpu.logicalCores, 1u);
  EXPECT_FALSE(cpu.model.empty());
  // AVX-512 implies AVX2 on every CPU that has it.
  if (cpu.avx512f)
    EXPECT_TRUE(cpu.avx2);
}

TEST(DevicesTest, CudaQueryExplainsItself) {
  StatusOr<std::vector<CudaDeviceInfo>> gpus = queryCudaDevices();
  if (!isCudaBuilt()) {
    ASSERT_FALSE(gpus.isOk());
    EXPECT_EQ(gpus.status().code(), Status::Code::Unsupported);
    return;
  }
  if (!gpus.isOk()) {
    // No driver: the reason is reported, never a crash.
    EXPECT_FALSE(gpus.status().message().empty());
    return;
  }
  for (const CudaDeviceInfo &gpu : *gpus) {
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_GE(gpu.computeMajor, 7);
    EXPECT_GT(gpu.totalMemoryBytes, 0u);
  }
}

TEST(DevicesTest, KernelRunsOnEveryGpu) {
  StatusOr<std::vector<CudaDeviceInfo>> gpus = queryCudaDevices();
  if (!gpus.isOk())
    GTEST_SKIP() << "no CUDA device: " << gpus.status().message();
  if (gpus->empty())
    GTEST_SKIP() << "no CUDA device: the driver reports none";
  for (const CudaDeviceInfo &gpu : *gpus) {
    Status check = checkCudaDevice(gpu.index);
    EXPECT_TRUE(check.isOk()) << check.toString();
  }
}

// How the CUDA backend loads fused-group kernels (Plan.cuda_kernels): an
// image in, a kernel looked up by name. PTX of an empty kernel stands in for
// onerecc's cubins, which need no GPU to produce (cli/onerecc/cuda-plan).
TEST(DevicesTest, KernelImageLoadsOnEveryGpu) {
  StatusOr<std::vector<CudaDeviceInfo>> gpus = queryCudaDevices();
  if (!gpus.isOk())
    GTEST_SKIP() << "no CUDA device: " << gpus.status().message();
  if (gpus->empty())
    GTEST_SKIP() << "no CUDA device: the driver reports none";
  const char *ptx = ".version 7.0\n"
                    ".target sm_70\n"
                    ".address_size 64\n"
                    ".visible .entry onerec_probe()\n"
                    "{\n"
                    "  ret;\n"
                    "}\n";
  for (const CudaDeviceInfo &gpu : *gpus) {
    Status loaded = loadCudaKernel(gpu.index, ptx, "onerec_probe");
    EXPECT_TRUE(loaded.isOk()) << loaded.toString();
    Status missing = loadCudaKernel(gpu.index, ptx, "onerec_missing");
    EXPECT_FALSE(missing.isOk());
  }
}
