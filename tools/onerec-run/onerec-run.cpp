//===- onerec-run.cpp - the onerec runtime driver -------------------------===//
//
// onerec-run <command> [options]
//
// The runtime's command line. It links no LLVM or MLIR: a machine that runs
// models needs this binary and a plan, nothing else. This file holds the
// command table, the shared option parsing and `devices`; the plan commands
// are in InspectCommand.cpp and ForwardCommand.cpp.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "onerec/Runtime/Devices.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

using namespace onerec::runtime;

namespace onerec::run {

int reportError(const Status &status) {
  // Messages may quote names from damaged files: never raw bytes.
  spdlog::error("{}", printableText(status.message()));
  return 1;
}

int usageError(const std::string &message, std::string_view usage) {
  spdlog::error("{}", message);
  fmt::print(stderr, "usage: onerec-run {}\n", usage);
  return 2;
}

bool CommandLine::flag(std::string_view name) {
  bool found = false;
  for (size_t i = 0; i < args_.size(); ++i)
    if (!consumed_[i] && args_[i] == name)
      consumed_[i] = found = true;
  return found;
}

std::optional<std::string> CommandLine::option(std::string_view name,
                                               std::string_view alias) {
  std::optional<std::string> value;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (consumed_[i])
      continue;
    std::string_view arg = args_[i];
    if (arg == name || (!alias.empty() && arg == alias)) {
      consumed_[i] = true;
      if (i + 1 == args_.size()) {
        missingValue_ = std::string(arg);
        return std::nullopt;
      }
      consumed_[++i] = true;
      value = std::string(args_[i]);
    } else if (arg.size() > name.size() && arg.substr(0, name.size()) == name &&
               arg[name.size()] == '=') {
      consumed_[i] = true;
      value = std::string(arg.substr(name.size() + 1));
    }
  }
  return value;
}

std::vector<std::string> CommandLine::positionals() const {
  std::vector<std::string> result;
  for (size_t i = 0; i < args_.size(); ++i)
    if (!consumed_[i] &&
        (args_[i].empty() || args_[i][0] != '-' || args_[i] == "-"))
      result.emplace_back(args_[i]);
  return result;
}

std::optional<int> CommandLine::finish(size_t expectedPositionals) {
  if (flag("--help") || flag("-h")) {
    fmt::print("usage: onerec-run {}\n", usage_);
    return 0;
  }
  if (!missingValue_.empty())
    return usageError(fmt::format("option '{}' needs a value", missingValue_),
                      usage_);
  size_t positional = 0;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (consumed_[i])
      continue;
    std::string_view arg = args_[i];
    if (!arg.empty() && arg[0] == '-' && arg != "-")
      return usageError(fmt::format("unknown option '{}'", arg), usage_);
    if (++positional > expectedPositionals)
      return usageError(fmt::format("unexpected argument '{}'", arg), usage_);
  }
  if (positional < expectedPositionals)
    return usageError("missing argument", usage_);
  return std::nullopt;
}

std::string formatBytes(double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes)
                   : fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string formatFlops(double flops) {
  const char *units[] = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"};
  int unit = 0;
  while (flops >= 1000 && unit < 5) {
    flops /= 1000;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} FLOP", flops)
                   : fmt::format("{:.2f} {}", flops, units[unit]);
}

namespace {

constexpr std::string_view kDevicesUsage = "devices [--check] [--json]";

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

} // namespace

/// `onerec-run devices [--check] [--json]`
int runDevices(const Args &args) {
  CommandLine cl(args, kDevicesUsage);
  bool check = cl.flag("--check"), json = cl.flag("--json");
  if (std::optional<int> usage = cl.finish(0))
    return *usage;
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

} // namespace onerec::run

namespace {

struct Command {
  const char *name;
  const char *usage;
  const char *summary;
  int (*run)(const onerec::run::Args &args);
};

const Command kCommands[] = {
    {"devices", "devices [--check] [--json]",
     "list the CPU and CUDA devices; --check runs a kernel on each GPU",
     onerec::run::runDevices},
    {"inspect", "inspect PLAN [--json]",
     "validate a plan and describe it: dims, parameters, entries, kernels",
     onerec::run::runInspect},
    {"forward",
     "forward PLAN --input IN [--output OUT] [--entry NAME] [--weights W]\n"
     "          [--threads N] [--kernels optimized|reference] [--seed S] "
     "[--profile]\n"
     "          [--repeat N] [--timing-json TIMES.json]",
     "run one entry on the CPU; IN and OUT are .safetensors or .json files",
     onerec::run::runForward},
    {"weights", "weights PLAN [--weights CKPT] -o OUT.safetensors",
     "write the plan's initial weights (or a checked checkpoint) as "
     "safetensors",
     onerec::run::runWeights},
    {"train",
     "train PLAN --data DIR [--epochs N | --steps N] [--batch N]\n"
     "          [--ckpt-dir DIR] [--ckpt-every N] [--keep N] [--resume] "
     "[--seed S]\n"
     "          [--metrics metrics.jsonl] [--lr X] [--schedule S] ... "
     "(train --help)",
     "train a plan's train_step on a dataset: evaluation, checkpoints, "
     "resume, metrics",
     onerec::run::runTrain},
    {"eval",
     "eval PLAN --data DIR [--weights CKPT] [--split valid|test] [--k K]\n"
     "          [--protocol full|sampled] [--json]",
     "HR@K and NDCG@K of a plan's forward entry on a dataset split; with\n"
     "      --catalog, Recall@K and NDCG@K of a generative plan's beam search",
     onerec::run::runEval},
    {"generate",
     "generate PLAN --catalog C --requests IN.jsonl --out OUT.jsonl [--ckpt "
     "W]\n"
     "          [--beam W] [--items N] [--top K] [--max-rows N] [--threads N]",
     "answer JSON-lines requests with catalog-constrained beam search",
     onerec::run::runGenerate},
};

void printUsage() {
  fmt::print("onerec runtime: runs compiled onerec plans\n\n"
             "usage: onerec-run <command> [options]\n\ncommands:\n");
  for (const Command &command : kCommands)
    fmt::print("  {}\n      {}\n", command.usage, command.summary);
  fmt::print("\n  --help, --version\n\nErrors print 'onerec-run: error: ...' "
             "and exit 1; "
             "usage errors exit 2.\n");
}

} // namespace

int main(int argc, char **argv) {
  // Diagnostics go to stderr, so stdout carries only results (JSON, tables).
  spdlog::set_default_logger(spdlog::stderr_color_st("onerec-run"));
  spdlog::set_pattern("onerec-run: %l: %v");
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    printUsage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    fmt::print("onerec-run (onerec) {}\n", ONEREC_VERSION);
    return 0;
  }
  std::string_view name = argv[1];
  onerec::run::Args args(argv + 2, argv + argc);
  for (const Command &command : kCommands) {
    if (name != command.name)
      continue;
    // The runtime reports errors as Status values; this only catches what the
    // standard library may still throw (std::bad_alloc), so that no input
    // ends in an uncaught exception.
    try {
      return command.run(args);
    } catch (const std::exception &e) {
      spdlog::error("{}: {}", command.name, e.what());
      return 1;
    }
  }
  spdlog::error("unknown command '{}'; run 'onerec-run --help' for the list",
                name);
  return 2;
}
