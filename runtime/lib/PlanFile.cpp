//===- PlanFile.cpp - a loaded, validated plan ----------------------------===//
//
// Steps 1 and 2 of the loader (size prefix, identifier, FlatBuffers
// verifier); step 3 is PlanValidator.cpp.
//
//===----------------------------------------------------------------------===//

#include "onerec/Runtime/PlanFile.h"

#include <fmt/format.h>

#include <cstring>

namespace onerec::runtime {

namespace {

Status corrupt(const std::string &file, const std::string &message) {
  return Status::error(Status::Code::Corrupt, file + ": " + message);
}

uint32_t readLittleEndian32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}

} // namespace

StatusOr<std::unique_ptr<PlanFile>> PlanFile::open(const std::string &path) {
  StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::open(path);
  if (!file)
    return file.status();
  return load(std::move(file.value()));
}

StatusOr<std::unique_ptr<PlanFile>>
PlanFile::fromBytes(const void *data, size_t size, std::string name) {
  return load(MappedFile::copyOf(data, size, std::move(name)));
}

StatusOr<std::unique_ptr<PlanFile>>
PlanFile::load(std::unique_ptr<MappedFile> file) {
  const std::string &name = file->name();
  const uint8_t *bytes = file->data();
  const size_t size = file->size();

  // Step 1: size prefix and identifier. The smallest FlatBuffer with an
  // identifier is a root offset and the identifier: 8 bytes after the prefix.
  constexpr size_t kPrefixBytes = 4, kMinTableBytes = 8;
  if (size < kPrefixBytes + 4)
    return corrupt(name,
                   fmt::format("truncated: {} bytes, a plan has at least {}",
                               size, kPrefixBytes + 4));
  uint64_t tableBytes = uint64_t(readLittleEndian32(bytes)) + kPrefixBytes;
  if (tableBytes > size)
    return corrupt(
        name,
        fmt::format("truncated: the FlatBuffer needs {} bytes, the file has {}",
                    tableBytes, size));
  if (tableBytes < kPrefixBytes + kMinTableBytes)
    return corrupt(
        name, fmt::format("the size prefix says {} bytes, too small for a plan",
                          tableBytes - kPrefixBytes));
  if (tableBytes >= FLATBUFFERS_MAX_BUFFER_SIZE)
    return corrupt(name, "the FlatBuffer is larger than 2 GiB");
  if (!flatbuffers::BufferHasIdentifier(bytes, plan::PlanIdentifier(),
                                        /*size_prefixed=*/true)) {
    char found[5] = {};
    std::memcpy(found, bytes + 8, 4);
    for (char &c : found)
      if (c && (c < 0x20 || c > 0x7e))
        c = '?';
    return corrupt(
        name,
        fmt::format("not a onerec plan: file identifier '{}', expected '{}'",
                    found, plan::PlanIdentifier()));
  }

  // Step 2: structure.
  flatbuffers::Verifier::Options options;
  options.max_depth = 64;
  options.max_tables = 10'000'000;
  options.check_alignment = true;
  options.check_nested_flatbuffers = true;
  flatbuffers::Verifier verifier(bytes, static_cast<size_t>(tableBytes),
                                 options);
  if (!verifier.VerifySizePrefixedBuffer<plan::Plan>(plan::PlanIdentifier()))
    return corrupt(
        name,
        "the FlatBuffer is malformed (the FlatBuffers verifier rejects it: "
        "an offset, vector or string lies outside the buffer, or a required "
        "field is missing)");

  std::unique_ptr<PlanFile> planFile(new PlanFile());
  planFile->plan_ = flatbuffers::GetSizePrefixedRoot<plan::Plan>(bytes);
  planFile->tableBytes_ = static_cast<size_t>(tableBytes);

  // Step 3: meaning.
  PlanFileLayout layout{name, tableBytes, size};
  StatusOr<PlanFacts> facts = validatePlan(*planFile->plan_, layout);
  if (!facts)
    return facts.status();
  planFile->facts_ = std::move(facts.value());
  planFile->file_ = std::move(file);
  return planFile;
}

int PlanFile::findEntry(std::string_view name) const {
  if (!plan_->entries())
    return -1;
  for (uint32_t i = 0; i < plan_->entries()->size(); ++i)
    if (plan_->entries()->Get(i)->name()->string_view() == name)
      return static_cast<int>(i);
  return -1;
}

const plan::Entry &PlanFile::entry(int index) const {
  return *plan_->entries()->Get(static_cast<uint32_t>(index));
}

const std::byte *PlanFile::parameterData(int index) const {
  const plan::Parameter *param =
      plan_->params()->Get(static_cast<uint32_t>(index));
  if (param->role() == plan::ParameterRole::OptimizerState)
    return nullptr; // not stored: it starts from its initializer
  const plan::Segment *segment = plan_->segments()->Get(param->segment());
  return reinterpret_cast<const std::byte *>(file_->data() + segment->offset() +
                                             param->offset());
}

DType PlanFile::parameterDType(int index) const {
  return static_cast<DType>(
      plan_->params()->Get(static_cast<uint32_t>(index))->dtype());
}

Shape PlanFile::parameterShape(int index) const {
  Shape shape;
  if (const auto *dims =
          plan_->params()->Get(static_cast<uint32_t>(index))->shape())
    for (int64_t d : *dims)
      shape.dims[shape.rank++] = d;
  return shape;
}

KernelAttrs decodeKernelAttrs(const plan::Kernel &kernel) {
  KernelAttrs attrs;
  if (!kernel.attrs())
    return attrs;
  for (const plan::Attr *attr : *kernel.attrs()) {
    std::string name = attr->name()->str();
    switch (attr->value_type()) {
    case plan::AttrValue::IntAttr:
      attrs.set(std::move(name), attr->value_as_IntAttr()->value());
      break;
    case plan::AttrValue::FloatAttr:
      attrs.set(std::move(name), attr->value_as_FloatAttr()->value());
      break;
    case plan::AttrValue::IntsAttr: {
      std::vector<int64_t> values;
      if (const auto *v = attr->value_as_IntsAttr()->values())
        values.assign(v->begin(), v->end());
      attrs.set(std::move(name), std::move(values));
      break;
    }
    case plan::AttrValue::NONE:
      break; // rejected by the validator
    }
  }
  return attrs;
}

std::string formatExtent(const plan::Plan &plan, const plan::Extent &extent) {
  if (extent.symbol() < 0)
    return std::to_string(extent.static_size());
  const auto *dims = plan.dims();
  if (dims && static_cast<uint32_t>(extent.symbol()) < dims->size())
    return dims->Get(static_cast<uint32_t>(extent.symbol()))->name()->str();
  return fmt::format("<dim {}>", extent.symbol());
}

std::string formatTensorType(const plan::Plan &plan,
                             const plan::Tensor &tensor) {
  std::string text = dtypeName(static_cast<DType>(tensor.dtype()));
  text += '[';
  if (const auto *shape = tensor.shape())
    for (uint32_t i = 0; i < shape->size(); ++i)
      text += (i ? ", " : "") + formatExtent(plan, *shape->Get(i));
  return text + ']';
}

std::string formatParameterType(const plan::Parameter &param) {
  std::string text = dtypeName(static_cast<DType>(param.dtype()));
  text += '[';
  if (const auto *shape = param.shape())
    for (uint32_t i = 0; i < shape->size(); ++i)
      text += (i ? ", " : "") + std::to_string(shape->Get(i));
  return text + ']';
}

std::string formatRequirements(uint64_t requirements) {
  std::string text;
  for (plan::Requirement bit : plan::EnumValuesRequirement())
    if (requirements & static_cast<uint64_t>(bit))
      text += (text.empty() ? "" : "|") +
              std::string(plan::EnumNameRequirement(bit));
  return text.empty() ? "none" : text;
}

} // namespace onerec::runtime
