//===- InspectCommand.cpp - onerec-run inspect ----------------------------===//
//
// Loads a plan through every loader check and describes it: header,
// requirements, dims, parameters and, per entry, its inputs and outputs with
// their shapes, tensor and kernel counts, arena size and FLOPs. `--json`
// prints the same as one JSON object.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "onerec/Runtime/PlanFile.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>

using namespace onerec::runtime;
using Json = nlohmann::ordered_json;

namespace onerec::run {

namespace {

constexpr std::string_view kInspectUsage = "inspect PLAN [--json]";

template <typename T> uint32_t sizeOf(const flatbuffers::Vector<T> *v) {
  return v ? v->size() : 0;
}

/// A string of the plan as it can be shown (a name may hold any bytes).
std::string str(const flatbuffers::String *s) {
  return s ? printableText(s->string_view()) : std::string();
}

/// "i64[B, 50] (id < 12102)", and an input's role when it is not Input
/// ("[Target]").
std::string describeBinding(const plan::Plan &plan, const plan::Entry &entry,
                            const plan::Binding &binding, bool isInput) {
  const plan::Tensor &tensor = *entry.tensors()->Get(binding.tensor());
  std::string text = formatTensorType(plan, tensor);
  if (tensor.index_bound() > 0)
    text += fmt::format(" (id < {})", tensor.index_bound());
  if (isInput && binding.role() != plan::ArgRole::Input)
    text += fmt::format(" [{}]", plan::EnumNameArgRole(binding.role()));
  return text;
}

struct ParameterTotals {
  uint64_t elements = 0;
  uint64_t bytes = 0;
  uint32_t stateTensors = 0;
};

ParameterTotals parameterTotals(const PlanFile &file) {
  ParameterTotals totals;
  for (uint32_t i = 0; i < sizeOf(file.plan().params()); ++i) {
    // Optimizer state is not stored in the plan; it is counted apart.
    if (file.plan().params()->Get(i)->role() ==
        plan::ParameterRole::OptimizerState) {
      ++totals.stateTensors;
      continue;
    }
    int64_t numel = file.parameterShape(static_cast<int>(i)).numel();
    totals.elements += static_cast<uint64_t>(numel);
    totals.bytes += static_cast<uint64_t>(numel) *
                    dtypeSize(file.parameterDType(static_cast<int>(i)));
  }
  return totals;
}

/// The train section in one line: `adamw lr 0.0002 (beta1 0.9 ...)`.
std::string describeTrain(const plan::TrainConfig &train) {
  std::string text = fmt::format(
      "{} lr {} (beta1 {}, beta2 {}, eps {}, weight_decay {}, momentum {}), "
      "schedule {}",
      plan::EnumNameOptimizerKind(train.optimizer()), train.lr(), train.beta1(),
      train.beta2(), train.eps(), train.weight_decay(), train.momentum(),
      plan::EnumNameScheduleKind(train.schedule()));
  if (train.schedule() != plan::ScheduleKind::Constant)
    text += fmt::format(" (warmup {}, total {}, min_lr {})", train.warmup(),
                        train.total(), train.min_lr());
  text += fmt::format(", grad_clip {}, accumulate {}, batch {}",
                      train.grad_clip(), train.accumulate(), train.batch());
  return text;
}

Json trainToJson(const plan::TrainConfig &train) {
  Json stages = Json::array();
  for (uint32_t i = 0; i < sizeOf(train.stages()); ++i) {
    const plan::Stage &stage = *train.stages()->Get(i);
    stages.push_back({{"name", str(stage.name())},
                      {"entry", str(stage.entry())},
                      {"epochs", stage.epochs()},
                      {"steps", stage.steps()}});
  }
  return {{"optimizer", plan::EnumNameOptimizerKind(train.optimizer())},
          {"lr", train.lr()},
          {"beta1", train.beta1()},
          {"beta2", train.beta2()},
          {"eps", train.eps()},
          {"weight_decay", train.weight_decay()},
          {"momentum", train.momentum()},
          {"nesterov", train.nesterov()},
          {"schedule", plan::EnumNameScheduleKind(train.schedule())},
          {"warmup", train.warmup()},
          {"total", train.total()},
          {"min_lr", train.min_lr()},
          {"grad_clip", train.grad_clip()},
          {"accumulate", train.accumulate()},
          {"batch", train.batch()},
          {"stages", stages}};
}

/// 1.3: a generate section and its decoding entries.
Json generateToJson(const plan::Generate &gen) {
  return {{"name", str(gen.name())},
          {"width", gen.width()},
          {"items", gen.items()},
          {"levels", gen.levels()},
          {"codebook", gen.codebook()},
          {"length", gen.length()},
          {"bos", gen.bos()},
          {"encoder", str(gen.encoder())},
          {"init", str(gen.init())},
          {"step", str(gen.step())},
          {"constrain_catalog", gen.constrain_catalog()}};
}

/// Kernel counts per op, the most frequent first.
std::vector<std::pair<std::string, int>> opCounts(const plan::Entry &entry) {
  std::map<std::string, int> counts;
  for (uint32_t k = 0; k < sizeOf(entry.kernels()); ++k)
    ++counts[plan::EnumNameOpCode(entry.kernels()->Get(k)->op())];
  std::vector<std::pair<std::string, int>> sorted(counts.begin(), counts.end());
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const auto &a, const auto &b) { return a.second > b.second; });
  return sorted;
}

/// 1.2: kernels of the entry that have a CUDA kernel (fused groups).
uint32_t cudaKernelCount(const plan::Entry &entry) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < sizeOf(entry.kernels()); ++k)
    n += entry.kernels()->Get(k)->cuda_kernel() != 0xFFFFFFFFu;
  return n;
}

/// 1.2: the CUDA kernels of fused groups, without their code.
Json cudaKernelsToJson(const plan::Plan &plan) {
  Json kernels = Json::array();
  for (uint32_t i = 0; i < sizeOf(plan.cuda_kernels()); ++i) {
    const plan::CudaKernel &k = *plan.cuda_kernels()->Get(i);
    kernels.push_back({{"name", str(k.name())},
                       {"arch", str(k.arch())},
                       {"cubin_bytes", sizeOf(k.cubin())},
                       {"ptx_bytes", k.ptx() ? k.ptx()->size() : 0},
                       {"domain_rank", sizeOf(k.domain())},
                       {"threads_per_row", k.threads_per_row()},
                       {"rows_per_block", k.rows_per_block()}});
  }
  return kernels;
}

std::array<int, 3> storageCounts(const plan::Entry &entry) {
  std::array<int, 3> counts = {};
  for (uint32_t t = 0; t < sizeOf(entry.tensors()); ++t)
    ++counts[static_cast<size_t>(entry.tensors()->Get(t)->storage())];
  return counts;
}

Json toJson(const PlanFile &file) {
  const plan::Plan &plan = file.plan();
  Json root;
  root["file"] = file.name();
  root["file_bytes"] = file.fileSize();
  root["format"] =
      fmt::format("{}.{}", plan.format_major(), plan.format_minor());
  root["producer"] = str(plan.producer());
  root["source_hash"] = str(plan.source_hash());
  root["model"] = str(plan.model());
  root["seed"] = plan.seed();
  root["requirements"] =
      formatRequirements(static_cast<uint64_t>(plan.requirements()));
  Json dims = Json::object();
  for (uint32_t i = 0; i < sizeOf(plan.dims()); ++i)
    dims[str(plan.dims()->Get(i)->name())] = plan.dims()->Get(i)->max();
  root["dims"] = dims;
  ParameterTotals totals = parameterTotals(file);
  root["params"] = {{"count", sizeOf(plan.params()) - totals.stateTensors},
                    {"elements", totals.elements},
                    {"bytes", totals.bytes},
                    {"optimizer_state_tensors", totals.stateTensors}};
  if (plan.train())
    root["train"] = trainToJson(*plan.train());
  for (uint32_t i = 0; i < sizeOf(plan.generate()); ++i)
    root["generate"].push_back(generateToJson(*plan.generate()->Get(i)));
  Json entries = Json::array();
  for (uint32_t e = 0; e < sizeOf(plan.entries()); ++e) {
    const plan::Entry &entry = *plan.entries()->Get(e);
    Json j;
    j["name"] = str(entry.name());
    j["kind"] = plan::EnumNameEntryKind(entry.kind());
    for (bool isInput : {true, false}) {
      Json bindings = Json::array();
      const auto *list = isInput ? entry.inputs() : entry.outputs();
      for (uint32_t i = 0; i < sizeOf(list); ++i) {
        const plan::Binding &binding = *list->Get(i);
        const plan::Tensor &tensor = *entry.tensors()->Get(binding.tensor());
        Json b = {{"name", str(binding.name())},
                  {"type", formatTensorType(plan, tensor)},
                  {"role", plan::EnumNameArgRole(binding.role())}};
        if (tensor.index_bound() > 0)
          b["index_bound"] = tensor.index_bound();
        bindings.push_back(b);
      }
      j[isInput ? "inputs" : "outputs"] = bindings;
    }
    std::array<int, 3> storage = storageCounts(entry);
    j["tensors"] = {{"arena", storage[0]},
                    {"parameter", storage[1]},
                    {"input", storage[2]}};
    Json ops = Json::object();
    for (const auto &[op, count] : opCounts(entry))
      ops[op] = count;
    j["kernels"] = {{"count", sizeOf(entry.kernels())}, {"by_op", ops}};
    if (uint32_t cuda = cudaKernelCount(entry))
      j["kernels"]["with_cuda"] = cuda;
    j["arena_bytes"] = entry.arena_bytes();
    j["flops"] = entry.flops();
    entries.push_back(j);
  }
  root["entries"] = entries;
  if (sizeOf(plan.cuda_kernels()))
    root["cuda_kernels"] = cudaKernelsToJson(plan);
  return root;
}

void printText(const PlanFile &file) {
  const plan::Plan &plan = file.plan();
  fmt::print("plan      {} ({}, format {}.{})\n", file.name(),
             formatBytes(double(file.fileSize())), plan.format_major(),
             plan.format_minor());
  fmt::print("model     {} (seed {}), produced by {}, source {}\n",
             str(plan.model()), plan.seed(), str(plan.producer()),
             str(plan.source_hash()));
  fmt::print("requires  {}\n",
             formatRequirements(static_cast<uint64_t>(plan.requirements())));
  std::vector<std::string> dims;
  for (uint32_t i = 0; i < sizeOf(plan.dims()); ++i)
    dims.push_back(fmt::format("{} <= {}", str(plan.dims()->Get(i)->name()),
                               plan.dims()->Get(i)->max()));
  fmt::print("dims      {}\n",
             dims.empty() ? "none" : fmt::format("{}", fmt::join(dims, ", ")));
  ParameterTotals totals = parameterTotals(file);
  fmt::print("params    {} tensors, {} elements ({}) in {} segment(s)",
             sizeOf(plan.params()) - totals.stateTensors, totals.elements,
             formatBytes(double(totals.bytes)), sizeOf(plan.segments()));
  if (totals.stateTensors)
    fmt::print("; {} optimizer-state tensors (not stored)",
               totals.stateTensors);
  fmt::print("\n");
  if (uint32_t n = sizeOf(plan.cuda_kernels())) {
    uint64_t cubin = 0, ptx = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const plan::CudaKernel &k = *plan.cuda_kernels()->Get(i);
      cubin += sizeOf(k.cubin());
      ptx += k.ptx() ? k.ptx()->size() : 0;
    }
    fmt::print("cuda      {} fused-group kernels for {} (cubin {}, PTX {})\n",
               n, str(plan.cuda_kernels()->Get(0)->arch()),
               formatBytes(double(cubin)), formatBytes(double(ptx)));
  }
  if (const plan::TrainConfig *train = plan.train()) {
    fmt::print("train     {}\n", describeTrain(*train));
    for (uint32_t i = 0; i < sizeOf(train->stages()); ++i) {
      const plan::Stage &stage = *train->stages()->Get(i);
      fmt::print("  stage {} -> {} ({} epochs, {} steps)\n", str(stage.name()),
                 stage.entry() ? str(stage.entry()) : "no training entry",
                 stage.epochs(), stage.steps());
    }
  }
  for (uint32_t i = 0; i < sizeOf(plan.generate()); ++i) {
    const plan::Generate &gen = *plan.generate()->Get(i);
    fmt::print("generate  {}: width {}, {} item(s) of {} codes < {}{}; {} -> "
               "{} -> {}\n",
               str(gen.name()), gen.width(), gen.items(), gen.levels(),
               gen.codebook(),
               gen.constrain_catalog() ? ", catalog-constrained" : "",
               str(gen.encoder()), gen.init() ? str(gen.init()) : "(no init)",
               gen.step() ? str(gen.step()) : "(no step)");
  }
  for (uint32_t e = 0; e < sizeOf(plan.entries()); ++e) {
    const plan::Entry &entry = *plan.entries()->Get(e);
    fmt::print("\nentry '{}' ({})\n", str(entry.name()),
               plan::EnumNameEntryKind(entry.kind()));
    size_t width = 0;
    for (const auto *list : {entry.inputs(), entry.outputs()})
      for (uint32_t i = 0; i < sizeOf(list); ++i)
        width = std::max<size_t>(width, list->Get(i)->name()->size());
    for (bool isInput : {true, false}) {
      const auto *list = isInput ? entry.inputs() : entry.outputs();
      for (uint32_t i = 0; i < sizeOf(list); ++i)
        fmt::print("  {:<6} {:<{}}  {}\n", isInput ? "input" : "output",
                   str(list->Get(i)->name()), width,
                   describeBinding(plan, entry, *list->Get(i), isInput));
    }
    std::array<int, 3> storage = storageCounts(entry);
    fmt::print("  tensors {} ({} in the arena, {} parameters, {} inputs)\n",
               sizeOf(entry.tensors()), storage[0], storage[1], storage[2]);
    std::vector<std::string> ops;
    for (const auto &[op, count] : opCounts(entry))
      ops.push_back(fmt::format("{} {}", op, count));
    fmt::print("  kernels {}{}{}\n", sizeOf(entry.kernels()),
               ops.empty() ? "" : ": ", fmt::join(ops, ", "));
    fmt::print("  arena   {} at the dims' maxima\n",
               formatBytes(double(entry.arena_bytes())));
    fmt::print("  flops   {} per call at the dims' maxima\n",
               formatFlops(entry.flops()));
  }
}

} // namespace

int runInspect(const Args &args) {
  CommandLine cl(args, kInspectUsage);
  bool json = cl.flag("--json");
  if (std::optional<int> usage = cl.finish(1))
    return *usage;
  StatusOr<std::unique_ptr<PlanFile>> file =
      PlanFile::open(cl.positionals()[0]);
  if (!file)
    return reportError(file.status());
  if (json)
    fmt::print("{}\n", toJson(**file).dump(2, ' ', false,
                                           Json::error_handler_t::replace));
  else
    printText(**file);
  return 0;
}

} // namespace onerec::run
