//===- Executor.cpp - runs one entry of a plan on the CPU -----------------===//

#include "onerec/Runtime/Executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

namespace onerec::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr uint32_t kAbsent = 0xFFFFFFFFu;

template <typename T> uint32_t sizeOf(const flatbuffers::Vector<T> *v) {
  return v ? v->size() : 0;
}

/// "[0, 3]" for element `linear` of `shape`.
std::string formatPosition(const Shape &shape, int64_t linear) {
  int64_t index[Shape::kMaxRank] = {};
  for (int d = shape.rank - 1; d >= 0; --d) {
    index[d] = linear % shape.dims[d];
    linear /= shape.dims[d];
  }
  return fmt::format("[{}]", fmt::join(index, index + shape.rank, ", "));
}

template <typename Index>
int64_t firstOutside(const TensorView &view, int64_t bound) {
  const Index *ids = view.as<Index>();
  for (int64_t i = 0, n = view.numel(); i < n; ++i)
    if (ids[i] < 0 || static_cast<int64_t>(ids[i]) >= bound)
      return i;
  return -1;
}

} // namespace

struct Executor::PreparedKernel {
  KernelFn fn = nullptr;
  KernelAttrs attrs;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  /// Scratch for the call's views, rebuilt every run.
  std::vector<TensorView> inputViews;
  std::vector<TensorView> outputViews;
};

Executor::Executor(const PlanFile &plan, const plan::Entry &entry,
                   ParameterStore &params, const ExecutorOptions &options)
    : plan_(plan), entry_(entry), params_(params), options_(options) {}

Executor::~Executor() = default;

std::string Executor::kernelWhere(uint32_t index) const {
  const plan::Kernel &kernel = *entry_.kernels()->Get(index);
  std::string where = fmt::format("{}: entry '{}' kernel {} ({}", plan_.name(),
                                  entry_.name()->str(), index,
                                  plan::EnumNameOpCode(kernel.op()));
  if (kernel.location() && kernel.location()->size())
    where += " at " + kernel.location()->str();
  return where + ")";
}

StatusOr<std::unique_ptr<Executor>>
Executor::create(const PlanFile &plan, std::string_view entryName,
                 ParameterStore &params, const KernelRegistry &registry,
                 const ExecutorOptions &options) {
  int index = plan.findEntry(entryName);
  if (index < 0) {
    std::vector<std::string> names;
    for (uint32_t i = 0; i < sizeOf(plan.plan().entries()); ++i)
      names.push_back("'" + plan.plan().entries()->Get(i)->name()->str() + "'");
    return Status::error(
        Status::Code::NotFound,
        fmt::format("{}: no entry '{}' (the plan has {})", plan.name(),
                    entryName,
                    names.empty() ? "none"
                                  : fmt::format("{}", fmt::join(names, ", "))));
  }
  const plan::Entry &entry = plan.entry(index);
  std::unique_ptr<Executor> executor(
      new Executor(plan, entry, params, options));
  executor->entryIndex_ = index;

  // Resolve every kernel; report all missing (op, dtype) pairs at once.
  std::set<std::string> missing;
  for (uint32_t k = 0; k < sizeOf(entry.kernels()); ++k) {
    const plan::Kernel &kernel = *entry.kernels()->Get(k);
    PreparedKernel prepared;
    if (kernel.inputs())
      prepared.inputs.assign(kernel.inputs()->begin(), kernel.inputs()->end());
    if (kernel.outputs())
      prepared.outputs.assign(kernel.outputs()->begin(),
                              kernel.outputs()->end());
    uint32_t keyTensor =
        prepared.inputs.empty() ? prepared.outputs[0] : prepared.inputs[0];
    DType keyDType =
        static_cast<DType>(entry.tensors()->Get(keyTensor)->dtype());
    prepared.fn = options.variant
                      ? registry.find(kernel.op(), keyDType, Device::Cpu,
                                      *options.variant)
                      : registry.findBest(kernel.op(), keyDType, Device::Cpu);
    if (!prepared.fn)
      missing.insert(fmt::format("{} on {}", plan::EnumNameOpCode(kernel.op()),
                                 dtypeName(keyDType)));
    prepared.attrs = decodeKernelAttrs(kernel);
    prepared.inputViews.resize(prepared.inputs.size());
    prepared.outputViews.resize(prepared.outputs.size());
    executor->kernels_.push_back(std::move(prepared));
  }
  if (!missing.empty())
    return Status::error(
        Status::Code::Unsupported,
        fmt::format(
            "{}: entry '{}' needs CPU kernels this build does not have{}: {}",
            plan.name(), entry.name()->str(),
            options.variant
                ? fmt::format(" ({} variant)", variantName(*options.variant))
                : std::string(),
            fmt::join(missing, ", ")));
  // Only TrainStep entries write parameters (the validator sees to it).
  if (Status s = executor->checkWritable(); !s)
    return s;
  // Optimizer state is allocated lazily: the entries that reference it (in
  // practice TrainSteps) get it now; serving entries never do.
  for (uint32_t t = 0; t < sizeOf(entry.tensors()); ++t) {
    const plan::Tensor &tensor = *entry.tensors()->Get(t);
    if (tensor.storage() == plan::Storage::Parameter)
      params.allocateOptimizerState(tensor.index());
  }
  bool trainingEntry = entry.kind() == plan::EntryKind::Grad ||
                       entry.kind() == plan::EntryKind::TrainStep;
  executor->training_ = options.training.value_or(trainingEntry);

  // Sized for the dims' maxima. A training entry keeps every activation for
  // its backward, so its arena at the maxima can exceed the machine's
  // memory: it is reserved address space, of which a batch touches only
  // its part (checked against the available memory when a run binds its
  // dims). Other entries get committed memory, or a clean error now.
  std::string what =
      fmt::format("the arena of entry '{}'", entry.name()->str());
  executor->arenaReserved_ = trainingEntry;
  StatusOr<AlignedBuffer> arena =
      trainingEntry ? AlignedBuffer::reserve(entry.arena_bytes(), what)
                    : AlignedBuffer::allocate(entry.arena_bytes(), what);
  if (!arena)
    return arena.status();
  executor->arena_ = std::move(arena.value());
  executor->pool_ = std::make_unique<ThreadPool>(options.threads);

  size_t numDims = sizeOf(plan.plan().dims());
  executor->dimUsed_.assign(numDims, false);
  executor->dims_.assign(numDims, 0);
  for (uint32_t t = 0; t < sizeOf(entry.tensors()); ++t)
    if (const auto *shape = entry.tensors()->Get(t)->shape())
      for (const plan::Extent *e : *shape)
        if (e->symbol() >= 0)
          executor->dimUsed_[static_cast<size_t>(e->symbol())] = true;
  executor->views_.resize(sizeOf(entry.tensors()));
  return executor;
}

Status Executor::checkWritable() const {
  if (entry_.kind() != plan::EntryKind::TrainStep || params_.isWritable())
    return Status::ok();
  return Status::error(
      Status::Code::InvalidArgument,
      fmt::format("{}: entry '{}' is a training step that updates the "
                  "parameters in place, but the parameter store is read-only "
                  "(call ParameterStore::makeWritable() first)",
                  plan_.name(), entry_.name()->str()));
}

DTypeByName Executor::inputDTypes() const {
  DTypeByName dtypes;
  for (uint32_t i = 0; i < sizeOf(entry_.inputs()); ++i) {
    const plan::Binding &binding = *entry_.inputs()->Get(i);
    dtypes[binding.name()->str()] =
        static_cast<DType>(entry_.tensors()->Get(binding.tensor())->dtype());
  }
  return dtypes;
}

Status Executor::bindInputs(const std::vector<NamedTensorView> &inputs,
                            std::vector<const TensorView *> &byInput) {
  const std::string where = fmt::format("entry '{}'", entry_.name()->str());
  auto invalid = [&](const std::string &message) {
    return Status::error(Status::Code::InvalidArgument, where + ": " + message);
  };
  uint32_t numInputs = sizeOf(entry_.inputs());
  byInput.assign(numInputs, nullptr);
  for (const NamedTensorView &given : inputs) {
    uint32_t i = 0;
    while (i < numInputs &&
           entry_.inputs()->Get(i)->name()->string_view() != given.name)
      ++i;
    if (i == numInputs) {
      std::vector<std::string> names;
      for (uint32_t j = 0; j < numInputs; ++j)
        names.push_back("'" + entry_.inputs()->Get(j)->name()->str() + "'");
      return invalid(fmt::format(
          "unknown input '{}' (the entry takes {})", given.name,
          names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    if (byInput[i])
      return invalid(fmt::format("input '{}' is given twice", given.name));
    byInput[i] = &given.view;
  }

  const plan::Plan &plan = plan_.plan();
  const EntryFacts &facts = plan_.entryFacts(entryIndex_);
  std::fill(dims_.begin(), dims_.end(), 0);
  std::vector<std::string> boundBy(dims_.size());
  for (uint32_t i = 0; i < numInputs; ++i) {
    const plan::Binding &binding = *entry_.inputs()->Get(i);
    const plan::Tensor &tensor = *entry_.tensors()->Get(binding.tensor());
    std::string name = binding.name()->str();
    std::string expected = formatTensorType(plan, tensor);
    if (!byInput[i])
      return invalid(fmt::format("input '{}' {} is missing", name, expected));
    const TensorView &view = *byInput[i];
    uint32_t rank = sizeOf(tensor.shape());
    if (view.dtype != static_cast<DType>(tensor.dtype()) ||
        view.shape.rank != static_cast<int>(rank))
      return invalid(fmt::format("input '{}' is {}, the plan needs {}", name,
                                 formatTensorType(view.dtype, view.shape),
                                 expected));
    if (view.numel() > 0 && !view.data)
      return invalid(fmt::format("input '{}' has no data", name));
    for (uint32_t d = 0; d < rank; ++d) {
      const plan::Extent &extent = *tensor.shape()->Get(d);
      int64_t given = view.shape.dims[d];
      if (extent.symbol() < 0) {
        if (given != extent.static_size())
          return invalid(fmt::format(
              "input '{}' dimension {} is {}, the plan needs {} ({})", name, d,
              given, extent.static_size(), expected));
        continue;
      }
      size_t symbol = static_cast<size_t>(extent.symbol());
      const plan::Dim &dim = *plan.dims()->Get(static_cast<uint32_t>(symbol));
      std::string dimName = dim.name()->str();
      if (given < facts.dimMinimum[symbol] || given > dim.max())
        return invalid(fmt::format(
            "input '{}' dimension {} ({}) is {}, outside [{}, {}], the "
            "range the plan allows",
            name, d, dimName, given, facts.dimMinimum[symbol], dim.max()));
      if (dims_[symbol] && dims_[symbol] != given)
        return invalid(fmt::format(
            "input '{}' dimension {} binds {} to {}, but {} bound it to {}",
            name, d, dimName, given, boundBy[symbol], dims_[symbol]));
      if (!dims_[symbol]) {
        dims_[symbol] = given;
        boundBy[symbol] = fmt::format("input '{}' dimension {}", name, d);
      }
    }
    if (Status s = checkIds(binding, view); !s)
      return s;
  }
  for (size_t d = 0; d < dims_.size(); ++d)
    if (dimUsed_[d] && !dims_[d])
      return invalid(fmt::format(
          "dim '{}' is not bound: no input has it",
          plan.dims()->Get(static_cast<uint32_t>(d))->name()->str()));
  return Status::ok();
}

Status Executor::checkIds(const plan::Binding &binding,
                          const TensorView &view) const {
  if (view.dtype == DType::bool8) {
    // Kernels rely on booleans being 0 or 1 (a safetensors BOOL is a byte).
    const uint8_t *b = view.as<uint8_t>();
    for (int64_t i = 0, n = view.numel(); i < n; ++i)
      if (b[i] > 1)
        return Status::error(
            Status::Code::InvalidArgument,
            fmt::format("entry '{}': input '{}' element {} is {}, not a "
                        "boolean (0 or 1)",
                        entry_.name()->str(), binding.name()->str(),
                        formatPosition(view.shape, i), int(b[i])));
    return Status::ok();
  }
  int64_t bound = entry_.tensors()->Get(binding.tensor())->index_bound();
  if (bound <= 0)
    return Status::ok();
  int64_t bad = view.dtype == DType::i64 ? firstOutside<int64_t>(view, bound)
                                         : firstOutside<int32_t>(view, bound);
  if (bad < 0)
    return Status::ok();
  int64_t value = view.dtype == DType::i64 ? view.as<int64_t>()[bad]
                                           : view.as<int32_t>()[bad];
  return Status::error(
      Status::Code::InvalidArgument,
      fmt::format("entry '{}': input '{}' element {} is {}, outside the ids "
                  "[0, {})",
                  entry_.name()->str(), binding.name()->str(),
                  formatPosition(view.shape, bad), value, bound));
}

/// MemAvailable from /proc/meminfo, in bytes, or nothing where unknown.
static std::optional<uint64_t> availableMemory() {
  std::FILE *f = std::fopen("/proc/meminfo", "r");
  if (!f)
    return std::nullopt;
  char line[256];
  std::optional<uint64_t> bytes;
  while (std::fgets(line, sizeof(line), f)) {
    unsigned long long kib = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
      bytes = uint64_t(kib) * 1024;
      break;
    }
  }
  std::fclose(f);
  return bytes;
}

Status Executor::checkArenaFits() {
  if (!arenaReserved_)
    return Status::ok();
  // At most the pages this binding touches: each buffer's bytes at the
  // bound dims (a buffer and its views share an offset), page-rounded.
  // Buffers sit at their offsets for the maxima, so the span is far larger.
  constexpr uint64_t kPage = 4096;
  std::map<uint64_t, uint64_t> buffers; // offset -> bytes
  for (uint32_t t = 0; t < views_.size(); ++t) {
    const plan::Tensor &tensor = *entry_.tensors()->Get(t);
    if (tensor.storage() != plan::Storage::Arena)
      continue;
    uint64_t bytes =
        uint64_t(views_[t].shape.numel()) * dtypeSize(views_[t].dtype);
    uint64_t &b = buffers[tensor.offset()];
    b = std::max(b, bytes);
  }
  uint64_t touched = 0;
  for (const auto &[offset, bytes] : buffers)
    touched += (bytes + 2 * kPage - 1) / kPage * kPage;
  if (touched <= arenaTouched_)
    return Status::ok();
  std::optional<uint64_t> available = availableMemory();
  if (available && touched - arenaTouched_ > *available)
    return Status::error(
        Status::Code::Unavailable,
        fmt::format("entry '{}' needs {} MiB of arena for this batch, and "
                    "{} MiB of memory are available: use a smaller batch",
                    entry_.name()->str(), touched >> 20, *available >> 20));
  arenaTouched_ = touched;
  return Status::ok();
}

void Executor::buildViews(const std::vector<const TensorView *> &byInput) {
  for (uint32_t t = 0; t < views_.size(); ++t) {
    const plan::Tensor &tensor = *entry_.tensors()->Get(t);
    TensorView &view = views_[t];
    view.dtype = static_cast<DType>(tensor.dtype());
    view.shape = Shape();
    if (const auto *shape = tensor.shape())
      for (const plan::Extent *e : *shape)
        view.shape.dims[view.shape.rank++] =
            e->symbol() < 0 ? e->static_size()
                            : dims_[static_cast<size_t>(e->symbol())];
    switch (tensor.storage()) {
    case plan::Storage::Arena:
      view.data = arena_.data() + tensor.offset();
      break;
    case plan::Storage::Parameter:
      view.data = params_.view(tensor.index()).data;
      break;
    case plan::Storage::Input:
      view.data = byInput[tensor.index()]->data;
      break;
    }
  }
}

StatusOr<std::vector<NamedTensor>>
Executor::run(const std::vector<NamedTensorView> &inputs) {
  Clock::time_point runStart = Clock::now();
  if (Status s = checkWritable(); !s)
    return s;
  std::vector<const TensorView *> byInput;
  if (Status s = bindInputs(inputs, byInput); !s)
    return s;
  buildViews(byInput);
  if (Status s = checkArenaFits(); !s)
    return s;

  KernelContext context;
  context.pool = pool_.get();
  context.training = training_;
  context.seed = options_.seed.value_or(plan_.plan().seed());
  context.step = step_++;
  hasRun_ = true;
  if (options_.profile && profile_.empty())
    for (int op = 0; op <= static_cast<int>(plan::OpCode::MAX); ++op)
      profile_.push_back({static_cast<plan::OpCode>(op), 0, 0});

  for (uint32_t k = 0; k < kernels_.size(); ++k) {
    PreparedKernel &kernel = kernels_[k];
    for (size_t i = 0; i < kernel.inputs.size(); ++i)
      kernel.inputViews[i] =
          kernel.inputs[i] == kAbsent ? TensorView() : views_[kernel.inputs[i]];
    for (size_t i = 0; i < kernel.outputs.size(); ++i)
      kernel.outputViews[i] = kernel.outputs[i] == kAbsent
                                  ? TensorView()
                                  : views_[kernel.outputs[i]];
    KernelCall call;
    call.inputs = kernel.inputViews.data();
    call.numInputs = static_cast<int>(kernel.inputViews.size());
    call.outputs = kernel.outputViews.data();
    call.numOutputs = static_cast<int>(kernel.outputViews.size());
    call.attrs = &kernel.attrs;
    call.context = &context;
    call.program = entry_.kernels()->Get(k)->program();
    Clock::time_point start =
        options_.profile ? Clock::now() : Clock::time_point();
    Status status = kernel.fn(call);
    if (options_.profile) {
      OpProfile &p =
          profile_[static_cast<size_t>(entry_.kernels()->Get(k)->op())];
      ++p.calls;
      p.seconds += secondsSince(start);
    }
    if (!status)
      return status.withContext(kernelWhere(k));
  }

  std::vector<NamedTensor> outputs;
  for (uint32_t i = 0; i < sizeOf(entry_.outputs()); ++i) {
    const plan::Binding &binding = *entry_.outputs()->Get(i);
    const TensorView &view = views_[binding.tensor()];
    HostTensor tensor(view.dtype, view.shape);
    std::memcpy(tensor.data(), view.data, tensor.bytes());
    outputs.push_back({binding.name()->str(), std::move(tensor)});
  }
  lastRunSeconds_ = secondsSince(runStart);
  return outputs;
}

bool Executor::lastRunAtMaxima() const {
  for (size_t d = 0; d < dims_.size(); ++d)
    if (dimUsed_[d] &&
        dims_[d] != plan_.plan().dims()->Get(static_cast<uint32_t>(d))->max())
      return false;
  return hasRun_;
}

std::vector<OpProfile> Executor::profile() const {
  std::vector<OpProfile> used;
  for (const OpProfile &p : profile_)
    if (p.calls)
      used.push_back(p);
  std::sort(used.begin(), used.end(),
            [](const OpProfile &a, const OpProfile &b) {
              return a.seconds > b.seconds;
            });
  return used;
}

} // namespace onerec::runtime
