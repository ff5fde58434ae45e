//===- Weights.cpp - the parameters an executor reads ---------------------===//

#include "onerec/Runtime/Weights.h"

#include "onerec/Runtime/Safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace onerec::runtime {

namespace {

/// True when `name` is `<weight>.<optimizer-state suffix>` for a weight in
/// `weights` (the names rec-autodiff gives optimizer state).
bool isStateName(std::string_view name,
                 const std::set<std::string_view> &weights) {
  for (std::string_view suffix :
       {".adam_m", ".adam_v", ".momentum", ".grad_acc"})
    if (name.size() > suffix.size() &&
        name.substr(name.size() - suffix.size()) == suffix &&
        weights.count(name.substr(0, name.size() - suffix.size())))
      return true;
  return false;
}

} // namespace

ParameterStore::ParameterStore(const PlanFile &plan) : plan_(plan) {
  const auto *params = plan.plan().params();
  size_t count = params ? params->size() : 0;
  owned_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    int index = static_cast<int>(i);
    const plan::Parameter &param = *params->Get(static_cast<uint32_t>(i));
    names_.push_back(param.name()->str());
    isState_.push_back(param.role() == plan::ParameterRole::OptimizerState);
    TensorView view;
    view.dtype = plan.parameterDType(index);
    view.shape = plan.parameterShape(index);
    // Optimizer state has no bytes in the plan: it stays unallocated (a
    // null view) until training needs it, so serving a training plan costs
    // no state memory.
    view.data = isState_[i]
                    ? nullptr
                    : const_cast<std::byte *>(plan.parameterData(index));
    views_.push_back(view);
  }
  flatOf_.assign(count, -1);
  findFlatBuffers();
}

void ParameterStore::findFlatBuffers() {
  const auto *entries = plan_.plan().entries();
  if (!entries)
    return;
  for (const plan::Entry *entry : *entries) {
    if (entry->kind() != plan::EntryKind::TrainStep || !entry->kernels())
      continue;
    for (const plan::Kernel *kernel : *entry->kernels()) {
      int streams = kernel->op() == plan::OpCode::MultiAdamWUpdate ? 4
                    : kernel->op() == plan::OpCode::MultiSgdUpdate ? 3
                                                                   : 0;
      uint32_t count = kernel->inputs() ? kernel->inputs()->size() : 0;
      if (!streams || count < 2)
        continue;
      uint32_t n = (count - 2) / uint32_t(streams);
      // Weights, then each kind of state; gradients (stream 1) live in the
      // arena. A parameter already in a buffer (another stage's update)
      // stays there: that update then runs on two layouts, which gives the
      // same results.
      for (int stream = 0; stream < streams; ++stream) {
        if (stream == 1)
          continue;
        FlatBuffer buffer;
        for (uint32_t i = 0; i < n; ++i) {
          const plan::Tensor &t = *entry->tensors()->Get(
              kernel->inputs()->Get(uint32_t(stream) * n + i));
          size_t param = t.index();
          if (t.storage() == plan::Storage::Parameter && flatOf_[param] < 0 &&
              views_[param].dtype == DType::f32) {
            flatOf_[param] = int(flat_.size());
            buffer.members.push_back(param);
          }
        }
        if (!buffer.members.empty())
          flat_.push_back(std::move(buffer));
      }
    }
  }
}

bool ParameterStore::hasOwnedBytes(size_t index) const {
  return owned_[index].data() ||
         (flatOf_[index] >= 0 && isFlatBufferAllocated(flatOf_[index]));
}

void ParameterStore::allocateFlatBuffer(int bufferIndex) {
  FlatBuffer &buffer = flat_[size_t(bufferIndex)];
  if (buffer.storage.data())
    return;
  int64_t total = 0;
  for (size_t m : buffer.members)
    total += views_[m].numel();
  buffer.storage = HostTensor(DType::f32, Shape({total}));
  float *at = buffer.storage.as<float>();
  for (size_t m : buffer.members) {
    int64_t n = views_[m].numel();
    if (views_[m].data)
      std::memcpy(at, views_[m].data, size_t(n) * sizeof(float));
    else // state never allocated
      std::fill(at, at + n, stateInitialValue(m));
    owned_[m] = HostTensor();
    views_[m].data = at;
    at += n;
  }
}

float ParameterStore::stateInitialValue(size_t index) const {
  // The validator allows f32 state starting from Zeros, Ones or Constant.
  const plan::Parameter &param =
      *plan_.plan().params()->Get(static_cast<uint32_t>(index));
  plan::InitKind kind =
      param.init() ? param.init()->kind() : plan::InitKind::Zeros;
  return kind == plan::InitKind::Ones       ? 1.0f
         : kind == plan::InitKind::Constant ? float(param.init()->a())
                                            : 0.0f;
}

void ParameterStore::initializeState(size_t index) {
  if (flatOf_[index] >= 0) {
    allocateFlatBuffer(flatOf_[index]);
    float *data = views_[index].as<float>();
    std::fill(data, data + views_[index].numel(), stateInitialValue(index));
    return;
  }
  if (!owned_[index].data()) {
    owned_[index] = HostTensor(views_[index].dtype, views_[index].shape);
    views_[index] = owned_[index].view();
  }
  float *data = owned_[index].as<float>();
  std::fill(data, data + owned_[index].numel(), stateInitialValue(index));
}

void ParameterStore::allocateOptimizerState(size_t index) {
  if (!isState_[index])
    return;
  // A flat buffer takes over state loaded before it had memory.
  if (flatOf_[index] >= 0)
    allocateFlatBuffer(flatOf_[index]);
  else if (!owned_[index].data())
    initializeState(index);
}

bool ParameterStore::isStateAllocated(size_t index) const {
  return isState_[index] && hasOwnedBytes(index);
}

size_t ParameterStore::optimizerStateBytes() const {
  size_t bytes = 0;
  for (size_t i = 0; i < views_.size(); ++i)
    if (isState_[i] && hasOwnedBytes(i))
      bytes += views_[i].bytes();
  return bytes;
}

void ParameterStore::resetOptimizerState() {
  // Unallocated state is at its initial value already.
  for (size_t i = 0; i < views_.size(); ++i)
    if (isState_[i] && hasOwnedBytes(i))
      initializeState(i);
}

bool ParameterStore::isWritable() const {
  // Unallocated state counts as writable: it gets owned memory when an
  // executor first references it.
  for (size_t i = 0; i < views_.size(); ++i) {
    if (flatOf_[i] >= 0) {
      if (!isState_[i] && !isFlatBufferAllocated(flatOf_[i]))
        return false;
      continue;
    }
    if (owned_[i].data() != views_[i].data)
      return false;
  }
  return true;
}

Status ParameterStore::makeWritable() {
  for (size_t i = 0; i < views_.size(); ++i) {
    if (isState_[i]) {
      allocateOptimizerState(i);
      continue;
    }
    if (flatOf_[i] >= 0) {
      allocateFlatBuffer(flatOf_[i]);
      continue;
    }
    if (owned_[i].data() == views_[i].data)
      continue;
    HostTensor copy(views_[i].dtype, views_[i].shape);
    std::memcpy(copy.data(), views_[i].data, copy.bytes());
    owned_[i] = std::move(copy);
    views_[i] = owned_[i].view();
  }
  return Status::ok();
}

Status ParameterStore::loadSafetensors(const std::string &path,
                                       CheckpointLoadReport *report) {
  StatusOr<std::unique_ptr<SafetensorsFile>> opened =
      SafetensorsFile::open(path);
  if (!opened)
    return opened.status();
  const SafetensorsFile &file = **opened;

  // Check everything first, so that a bad checkpoint changes nothing.
  std::vector<std::string> problems;
  std::set<std::string_view> planNames(names_.begin(), names_.end());
  std::set<std::string_view> planWeights;
  for (size_t i = 0; i < views_.size(); ++i)
    if (!isState_[i])
      planWeights.insert(names_[i]);
  for (size_t i = 0; i < views_.size(); ++i) {
    const SafetensorsEntry *entry = file.find(names_[i]);
    std::string expected = formatTensorType(views_[i].dtype, views_[i].shape);
    if (!entry && isState_[i])
      continue; // a weights-only checkpoint: the state restarts
    if (!entry)
      problems.push_back(
          fmt::format("parameter '{}' {} is missing", names_[i], expected));
    else if (entry->dtype != views_[i].dtype || entry->shape != views_[i].shape)
      problems.push_back(fmt::format(
          "parameter '{}' is {} in the file, but the plan needs {}", names_[i],
          formatTensorType(entry->dtype, entry->shape), expected));
  }
  std::vector<std::string> unknown, ignored;
  for (const SafetensorsEntry &entry : file.entries()) {
    if (planNames.count(entry.name))
      continue;
    if (isStateName(entry.name, planWeights))
      ignored.push_back(entry.name); // e.g. Adam moments, an SGD plan
    else
      unknown.push_back("'" + entry.name + "'");
  }
  if (!unknown.empty())
    problems.push_back(
        fmt::format("{} tensor{} the plan does not have: {}", unknown.size(),
                    unknown.size() == 1 ? "" : "s", fmt::join(unknown, ", ")));
  if (!problems.empty())
    return Status::error(
        Status::Code::InvalidArgument,
        fmt::format("{}: does not match the plan's parameters: {}", path,
                    fmt::join(problems, "; ")));

  std::vector<HostTensor> loaded(views_.size());
  for (size_t i = 0; i < views_.size(); ++i) {
    const SafetensorsEntry *entry = file.find(names_[i]);
    if (!entry)
      continue;
    HostTensor tensor(entry->dtype, entry->shape);
    std::memcpy(tensor.data(), file.data(*entry), tensor.bytes());
    loaded[i] = std::move(tensor);
  }
  if (report) {
    report->stateReset.clear();
    report->stateIgnored = ignored;
  }
  for (size_t i = 0; i < views_.size(); ++i) {
    if (!loaded[i].data()) {
      // Allocated state restarts from its initial value; unallocated state
      // is there already.
      if (hasOwnedBytes(i))
        initializeState(i);
      if (report)
        report->stateReset.push_back(names_[i]);
      continue;
    }
    if (flatOf_[i] >= 0 && isFlatBufferAllocated(flatOf_[i])) {
      std::memcpy(views_[i].data, loaded[i].data(), loaded[i].bytes());
      continue;
    }
    owned_[i] = std::move(loaded[i]);
    views_[i] = owned_[i].view();
  }
  return Status::ok();
}

Status ParameterStore::saveSafetensors(
    const std::string &path, const std::map<std::string, std::string> &metadata,
    bool withOptimizerState) const {
  std::vector<NamedTensorView> tensors;
  // State never allocated is written at its initial value (what a fresh
  // optimizer holds), so a checkpoint always carries every parameter.
  std::vector<HostTensor> initial;
  initial.reserve(views_.size());
  for (size_t i = 0; i < views_.size(); ++i) {
    if (isState_[i] && !withOptimizerState)
      continue;
    if (isState_[i] && !hasOwnedBytes(i)) {
      HostTensor &t = initial.emplace_back(views_[i].dtype, views_[i].shape);
      std::fill(t.as<float>(), t.as<float>() + t.numel(), stateInitialValue(i));
      tensors.push_back({names_[i], t.view()});
      continue;
    }
    tensors.push_back({names_[i], views_[i]});
  }
  return writeSafetensors(path, tensors, metadata);
}

} // namespace onerec::runtime
