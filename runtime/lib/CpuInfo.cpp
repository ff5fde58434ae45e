//===- CpuInfo.cpp - the CPU this process runs on -------------------------===//

#include "onerec/Runtime/Devices.h"

#include <fstream>
#include <thread>

using namespace onerec::runtime;

CpuInfo onerec::runtime::queryCpu() {
  CpuInfo info;
  info.logicalCores = std::max(1u, std::thread::hardware_concurrency());
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  info.avx2 = __builtin_cpu_supports("avx2");
  info.fma = __builtin_cpu_supports("fma");
  info.avx512f = __builtin_cpu_supports("avx512f");
  info.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos)
        info.model = line.substr(line.find_first_not_of(" \t", colon + 1));
      break;
    }
  }
  if (info.model.empty())
    info.model = "unknown CPU";
  return info;
}
