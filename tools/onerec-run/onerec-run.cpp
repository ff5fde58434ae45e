//===- onerec-run.cpp - the onerec runtime driver
//--------------------------===//
//
// onerec-run <command> [options]
//
// The runtime's command line. It links no LLVM or MLIR: a machine that runs
// models needs this binary and a plan, nothing else.
//
//===----------------------------------------------------------------------===//

#include "onerec/Runtime/Devices.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace onerec::runtime;

namespace {

struct Command {
  const char *name;
  const char *usage;
  const char *summary;
  int (*run)(const std::vector<std::string_view> &args);
};

std::string jsonEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
        out += fmt::format("\\u{:04x}", c);
      else
        out += c;
    }
  }
  return out;
}

/// `onerec-run devices [--check] [--json]`
int runDevices(const std::vector<std::string_view> &args) {
  bool check = false, json = false;
  for (std::string_view arg : args) {
    if (arg == "--check") {
      check = true;
    } else if (arg == "--json") {
      json = true;
    } else {
      spdlog::error("devices: unknown option '{}' (options: --check, --json)",
                    arg);
      return 1;
    }
  }
  CpuInfo cpu = queryCpu();
  StatusOr<std::vector<CudaDeviceInfo>> gpus = queryCudaDevices();
  std::vector<Status> checks;
  bool healthy = true;
  if (check && gpus.isOk()) {
    for (const CudaDeviceInfo &gpu : *gpus) {
      checks.push_back(checkCudaDevice(gpu.index));
      healthy &= checks.back().isOk();
    }
  }

  if (json) {
    fmt::print("{{\"cpu\": {{\"model\": \"{}\", \"logical_cores\": {}, "
               "\"avx2\": {}, \"fma\": {}, \"avx512f\": {}, "
               "\"avx512bf16\": {}}},\n",
               jsonEscape(cpu.model), cpu.logicalCores, cpu.avx2, cpu.fma,
               cpu.avx512f, cpu.avx512bf16);
    fmt::print(" \"cuda\": {{\"built\": {}, \"versions\": \"{}\", ",
               isCudaBuilt(), jsonEscape(describeCudaVersions()));
    if (!gpus.isOk()) {
      fmt::print("\"error\": \"{}\", \"devices\": []}},\n",
                 jsonEscape(gpus.status().message()));
    } else {
      fmt::print("\"devices\": [");
      for (size_t i = 0; i < gpus->size(); ++i) {
        const CudaDeviceInfo &gpu = (*gpus)[i];
        fmt::print("{}{{\"index\": {}, \"name\": \"{}\", \"sm\": \"{}.{}\", "
                   "\"multiprocessors\": {}, \"memory_bytes\": {}",
                   i ? ", " : "", gpu.index, jsonEscape(gpu.name),
                   gpu.computeMajor, gpu.computeMinor, gpu.multiprocessors,
                   gpu.totalMemoryBytes);
        if (i < checks.size())
          fmt::print(", \"check\": \"{}\"",
                     jsonEscape(checks[i].isOk() ? "ok" : checks[i].message()));
        fmt::print("}}");
      }
      fmt::print("]}},\n");
    }
    fmt::print(" \"nccl\": {{\"built\": {}, \"version\": \"{}\"}}}}\n",
               isNcclBuilt(), jsonEscape(describeNccl()));
    return healthy ? 0 : 1;
  }

  std::vector<std::string> features;
  if (cpu.avx2)
    features.push_back("AVX2");
  if (cpu.fma)
    features.push_back("FMA");
  if (cpu.avx512f)
    features.push_back("AVX-512F");
  if (cpu.avx512bf16)
    features.push_back("AVX-512 BF16");
  fmt::print("CPU   {} ({} logical cores{}{})\n", cpu.model, cpu.logicalCores,
             features.empty() ? "" : ", ", fmt::join(features, " "));
  fmt::print("CUDA  {}\n", describeCudaVersions());
  if (!gpus.isOk()) {
    fmt::print("      no GPU: {}\n", gpus.status().message());
  } else if (gpus->empty()) {
    fmt::print("      no CUDA device\n");
  } else {
    for (size_t i = 0; i < gpus->size(); ++i) {
      const CudaDeviceInfo &gpu = (*gpus)[i];
      fmt::print("  [{}] {} (sm_{}{}, {} SMs, {:.1f} GiB){}\n", gpu.index,
                 gpu.name, gpu.computeMajor, gpu.computeMinor,
                 gpu.multiprocessors, gpu.totalMemoryBytes / double(1 << 30),
                 i < checks.size()
                     ? (checks[i].isOk()
                            ? "  check: ok"
                            : "  check FAILED: " + checks[i].message())
                     : std::string());
    }
  }
  fmt::print("NCCL  {}\n", describeNccl());
  if (check && gpus.isOk() && gpus->empty())
    fmt::print("no CUDA device to check\n");
  return healthy ? 0 : 1;
}

const Command kCommands[] = {
    {"devices", "devices [--check] [--json]",
     "list the CPU and CUDA devices; --check runs a kernel on each GPU",
     runDevices},
};

void printUsage() {
  fmt::print("onerec runtime: runs compiled onerec plans\n\n"
             "usage: onerec-run <command> [options]\n\ncommands:\n");
  for (const Command &command : kCommands)
    fmt::print("  {:<32} {}\n", command.usage, command.summary);
  fmt::print("\n  --help, --version\n");
}

} // namespace

int main(int argc, char **argv) {
  spdlog::set_pattern("onerec-run: %l: %v");
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    printUsage();
    return argc < 2 ? 1 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    fmt::print("onerec-run (onerec) {}\n", ONEREC_VERSION);
    return 0;
  }
  std::string_view name = argv[1];
  std::vector<std::string_view> args(argv + 2, argv + argc);
  for (const Command &command : kCommands)
    if (name == command.name)
      return command.run(args);
  spdlog::error("unknown command '{}'; run 'onerec-run --help' for the list",
                name);
  return 1;
}
