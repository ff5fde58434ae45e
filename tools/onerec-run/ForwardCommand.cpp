//===- ForwardCommand.cpp - onerec-run forward and weights ----------------===//
//
// `forward` runs one entry of a plan on the CPU: inputs from a .safetensors
// or .json file, outputs to one (or as JSON on stdout), weights from the
// plan or a checkpoint. `weights` writes the plan's parameters as a
// safetensors file, after loading (and so checking) a checkpoint if given.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "onerec/Kernels/CpuKernels.h"
#include "onerec/Runtime/Executor.h"
#include "onerec/Runtime/PlanFile.h"
#include "onerec/Runtime/TensorIO.h"
#include "onerec/Runtime/Weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <chrono>
#include <cstdio>

using namespace onerec::runtime;

namespace onerec::run {

namespace {

constexpr std::string_view kForwardUsage =
    "forward PLAN --input IN.{safetensors,json} [--output "
    "OUT.{safetensors,json}]\n"
    "                 [--entry NAME] [--weights W.safetensors] [--threads N]\n"
    "                 [--kernels optimized|reference] [--seed S] [--profile]\n"
    "                 [--repeat N] [--timing-json TIMES.json]\n"
    "                 [--save-weights OUT.safetensors]   (after a train_step "
    "entry: the updated parameters and optimizer state)";
constexpr std::string_view kWeightsUsage =
    "weights PLAN [--weights CKPT.safetensors] -o OUT.safetensors";

template <typename T> std::optional<T> parseNumber(std::string_view text) {
  T value{};
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

/// A count in [1, max], or nothing.
std::optional<unsigned> parseCount(std::string_view text, unsigned max) {
  std::optional<unsigned> n = parseNumber<unsigned>(text);
  if (!n || *n == 0 || *n > max)
    return std::nullopt;
  return n;
}

/// The plan, with the checkpoint `weights` loaded into a store when given.
struct LoadedPlan {
  std::unique_ptr<PlanFile> file;
  std::unique_ptr<ParameterStore> params;
};

StatusOr<LoadedPlan> loadPlan(const std::string &path,
                              const std::optional<std::string> &weights) {
  StatusOr<std::unique_ptr<PlanFile>> file = PlanFile::open(path);
  if (!file)
    return file.status();
  LoadedPlan loaded{std::move(file.value()), nullptr};
  loaded.params = std::make_unique<ParameterStore>(*loaded.file);
  if (weights)
    if (Status s = loaded.params->loadSafetensors(*weights); !s)
      return s;
  return loaded;
}

void printProfile(const Executor &executor) {
  std::vector<OpProfile> profile = executor.profile();
  double total = 0;
  for (const OpProfile &p : profile)
    total += p.seconds;
  fmt::print(stderr, "{:<16} {:>7} {:>11} {:>7}\n", "op", "calls", "ms",
             "share");
  for (const OpProfile &p : profile)
    fmt::print(stderr, "{:<16} {:>7} {:>11.3f} {:>6.1f}%\n",
               plan::EnumNameOpCode(p.op), p.calls, p.seconds * 1e3,
               total > 0 ? 100 * p.seconds / total : 0.0);
  // Entry.flops counts the work at the dims' maxima: a rate only when the
  // run was at the maxima.
  double flops = executor.entry().flops();
  double seconds = executor.lastRunSeconds();
  std::string rate = executor.lastRunAtMaxima() && seconds > 0 && flops > 0
                         ? fmt::format(", {}/s", formatFlops(flops / seconds))
                         : std::string();
  fmt::print(stderr, "{:<16} {:>7} {:>11.3f}  ({} at the dims' maxima{})\n",
             "total", "", seconds * 1e3, formatFlops(flops), rate);
}

} // namespace

int runForward(const Args &args) {
  CommandLine cl(args, kForwardUsage);
  std::optional<std::string> input = cl.option("--input", "-i");
  std::optional<std::string> output = cl.option("--output", "-o");
  std::string entryName = cl.option("--entry").value_or("forward");
  std::optional<std::string> weights = cl.option("--weights");
  std::optional<std::string> threadsText = cl.option("--threads");
  std::optional<std::string> kernelsText = cl.option("--kernels");
  std::optional<std::string> seedText = cl.option("--seed");
  bool profile = cl.flag("--profile");
  std::optional<std::string> repeatText = cl.option("--repeat");
  std::optional<std::string> timingJson = cl.option("--timing-json");
  std::optional<std::string> saveWeights = cl.option("--save-weights");
  if (std::optional<int> usage = cl.finish(1))
    return *usage;
  if (!input)
    return usageError("forward needs --input", kForwardUsage);

  // --repeat runs the entry N times in one process (a steady-state timing:
  // the plan is loaded and the arena allocated once); --timing-json writes
  // each call's wall time.
  unsigned repeat = 1;
  if (repeatText) {
    std::optional<unsigned> n = parseCount(*repeatText, 1000000);
    if (!n)
      return usageError(
          fmt::format("--repeat '{}' is not a count (1 to 1000000)",
                      *repeatText),
          kForwardUsage);
    repeat = *n;
  }

  ExecutorOptions options;
  options.profile = profile;
  if (threadsText) {
    std::optional<unsigned> threads = parseCount(*threadsText, 4096);
    if (!threads)
      return usageError(
          fmt::format("--threads '{}' is not a thread count (1 to 4096)",
                      *threadsText),
          kForwardUsage);
    options.threads = *threads;
  }
  if (kernelsText) {
    if (*kernelsText == "reference")
      options.variant = KernelVariant::Reference;
    else if (*kernelsText == "optimized")
      options.variant = KernelVariant::Optimized;
    else
      return usageError(
          fmt::format("--kernels '{}': expected optimized or reference",
                      *kernelsText),
          kForwardUsage);
  }
  if (seedText) {
    options.seed = parseNumber<uint64_t>(*seedText);
    if (!options.seed)
      return usageError(
          fmt::format("--seed '{}' is not an unsigned integer", *seedText),
          kForwardUsage);
  }

  StatusOr<LoadedPlan> loaded = loadPlan(cl.positionals()[0], weights);
  if (!loaded)
    return reportError(loaded.status());
  const PlanFile &plan = *loaded->file;
  uint64_t unsupported =
      static_cast<uint64_t>(plan.plan().requirements()) &
      static_cast<uint64_t>(plan::Requirement::Cuda | plan::Requirement::Nccl);
  if (unsupported)
    return reportError(Status::error(
        Status::Code::Unsupported,
        fmt::format(
            "{}: the plan requires {}; onerec-run forward executes on the CPU",
            plan.name(), formatRequirements(unsupported))));

  // A training step updates the parameters in place: they leave the
  // (read-only) mapping of the plan first.
  int entryIndex = plan.findEntry(entryName);
  if (entryIndex >= 0 &&
      plan.entry(entryIndex).kind() == plan::EntryKind::TrainStep)
    if (Status s = loaded->params->makeWritable(); !s)
      return reportError(s);
  StatusOr<std::unique_ptr<Executor>> executor = Executor::create(
      plan, entryName, *loaded->params, defaultKernelRegistry(), options);
  if (!executor)
    return reportError(executor.status());
  StatusOr<std::vector<NamedTensor>> inputs =
      readTensorFile(*input, (*executor)->inputDTypes());
  if (!inputs)
    return reportError(inputs.status());
  std::vector<NamedTensorView> views;
  for (const NamedTensor &t : *inputs)
    views.push_back({t.name, t.tensor.view()});
  std::vector<double> millis;
  StatusOr<std::vector<NamedTensor>> outputs =
      Status::error(Status::Code::Internal, "the entry did not run");
  for (unsigned i = 0; i < repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    outputs = (*executor)->run(views);
    if (!outputs)
      return reportError(outputs.status());
    millis.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  }
  if (timingJson) {
    std::FILE *f = std::fopen(timingJson->c_str(), "w");
    if (!f)
      return reportError(Status::error(
          Status::Code::IoError,
          fmt::format("{}: cannot write the timings", *timingJson)));
    fmt::print(f, "{{\"entry\": \"{}\", \"times_ms\": [{:.4f}]}}\n", entryName,
               fmt::join(millis, ", "));
    std::fclose(f);
  }
  if (profile)
    printProfile(**executor);
  if (saveWeights)
    if (Status s = loaded->params->saveSafetensors(*saveWeights); !s)
      return reportError(s);
  if (!output) {
    fmt::print("{}", formatJsonTensors(*outputs));
    return 0;
  }
  if (Status s = writeTensorFile(*output, *outputs); !s)
    return reportError(s);
  return 0;
}

int runWeights(const Args &args) {
  CommandLine cl(args, kWeightsUsage);
  std::optional<std::string> weights = cl.option("--weights");
  std::optional<std::string> output = cl.option("--output", "-o");
  if (std::optional<int> usage = cl.finish(1))
    return *usage;
  if (!output)
    return usageError("weights needs -o OUT.safetensors", kWeightsUsage);
  StatusOr<LoadedPlan> loaded = loadPlan(cl.positionals()[0], weights);
  if (!loaded)
    return reportError(loaded.status());
  const plan::Plan &plan = loaded->file->plan();
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (plan.model())
    metadata["onerec.model"] = plan.model()->str();
  if (plan.source_hash())
    metadata["onerec.source_hash"] = plan.source_hash()->str();
  if (Status s = loaded->params->saveSafetensors(*output, metadata); !s)
    return reportError(s);
  return 0;
}

} // namespace onerec::run
