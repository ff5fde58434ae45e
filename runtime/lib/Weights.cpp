//===- Weights.cpp - the parameters an executor reads ---------------------===//

#include "onerec/Runtime/Weights.h"

#include "onerec/Runtime/Safetensors.h"

#include <fmt/format.h>

#include <cstring>
#include <set>

namespace onerec::runtime {

ParameterStore::ParameterStore(const PlanFile &plan) : plan_(plan) {
  const auto *params = plan.plan().params();
  size_t count = params ? params->size() : 0;
  owned_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    int index = static_cast<int>(i);
    names_.push_back(params->Get(static_cast<uint32_t>(i))->name()->str());
    TensorView view;
    view.dtype = plan.parameterDType(index);
    view.shape = plan.parameterShape(index);
    view.data = const_cast<std::byte *>(plan.parameterData(index));
    views_.push_back(view);
  }
}

bool ParameterStore::isWritable() const {
  for (size_t i = 0; i < views_.size(); ++i)
    if (owned_[i].data() != views_[i].data)
      return false;
  return true;
}

Status ParameterStore::makeWritable() {
  for (size_t i = 0; i < views_.size(); ++i) {
    if (owned_[i].data() == views_[i].data)
      continue;
    HostTensor copy(views_[i].dtype, views_[i].shape);
    std::memcpy(copy.data(), views_[i].data, copy.bytes());
    owned_[i] = std::move(copy);
    views_[i] = owned_[i].view();
  }
  return Status::ok();
}

Status ParameterStore::loadSafetensors(const std::string &path) {
  StatusOr<std::unique_ptr<SafetensorsFile>> opened =
      SafetensorsFile::open(path);
  if (!opened)
    return opened.status();
  const SafetensorsFile &file = **opened;

  // Check everything first, so that a bad checkpoint changes nothing.
  std::vector<std::string> problems;
  std::set<std::string_view> planNames(names_.begin(), names_.end());
  for (size_t i = 0; i < views_.size(); ++i) {
    const SafetensorsEntry *entry = file.find(names_[i]);
    std::string expected = formatTensorType(views_[i].dtype, views_[i].shape);
    if (!entry)
      problems.push_back(
          fmt::format("parameter '{}' {} is missing", names_[i], expected));
    else if (entry->dtype != views_[i].dtype || entry->shape != views_[i].shape)
      problems.push_back(fmt::format(
          "parameter '{}' is {} in the file, but the plan needs {}", names_[i],
          formatTensorType(entry->dtype, entry->shape), expected));
  }
  std::vector<std::string> unknown;
  for (const SafetensorsEntry &entry : file.entries())
    if (!planNames.count(entry.name))
      unknown.push_back("'" + entry.name + "'");
  if (!unknown.empty())
    problems.push_back(
        fmt::format("{} tensor{} the plan does not have: {}", unknown.size(),
                    unknown.size() == 1 ? "" : "s", fmt::join(unknown, ", ")));
  if (!problems.empty())
    return Status::error(
        Status::Code::InvalidArgument,
        fmt::format("{}: does not match the plan's parameters: {}", path,
                    fmt::join(problems, "; ")));

  std::vector<HostTensor> loaded;
  for (size_t i = 0; i < views_.size(); ++i) {
    const SafetensorsEntry &entry = *file.find(names_[i]);
    HostTensor tensor(entry.dtype, entry.shape);
    std::memcpy(tensor.data(), file.data(entry), tensor.bytes());
    loaded.push_back(std::move(tensor));
  }
  for (size_t i = 0; i < views_.size(); ++i) {
    owned_[i] = std::move(loaded[i]);
    views_[i] = owned_[i].view();
  }
  return Status::ok();
}

Status ParameterStore::saveSafetensors(
    const std::string &path,
    const std::map<std::string, std::string> &metadata) const {
  std::vector<NamedTensorView> tensors;
  for (size_t i = 0; i < views_.size(); ++i)
    tensors.push_back({names_[i], views_[i]});
  return writeSafetensors(path, tensors, metadata);
}

} // namespace onerec::runtime
