//===- PlanFile.h - a loaded, validated plan --------------------*- C++ -*-===//
//
// A PlanFile is a plan that passed all three loader steps of
// docs/plan-format.md: size and header, the FlatBuffers verifier, and the
// semantic validator (PlanValidator.h). Everything reachable from it is
// therefore in range: indices, enums, offsets, byte counts and the shapes
// each kernel relies on. The bytes stay memory-mapped read-only; parameter
// data is used in place.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_PLANFILE_H
#define ONEREC_RUNTIME_PLANFILE_H

#include "onerec/Runtime/Kernel.h"
#include "onerec/Runtime/MappedFile.h"
#include "onerec/Runtime/PlanValidator.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Tensor.h"
#include "plan_generated.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace onerec::runtime {

/// The format version this reader understands.
constexpr uint16_t kPlanFormatMajor = 1;
constexpr uint16_t kPlanFormatMinor = 3;

class PlanFile {
public:
  /// Maps `path` and runs every loader check; the error names the file.
  static StatusOr<std::unique_ptr<PlanFile>> open(const std::string &path);
  /// The same checks over bytes in memory (copied); `name` stands in for the
  /// file name in messages.
  static StatusOr<std::unique_ptr<PlanFile>>
  fromBytes(const void *data, size_t size, std::string name);

  const plan::Plan &plan() const { return *plan_; }
  /// The file name used in messages.
  const std::string &name() const { return file_->name(); }
  size_t fileSize() const { return file_->size(); }
  /// Bytes of the size prefix and the FlatBuffer (the segments follow).
  size_t tableBytes() const { return tableBytes_; }

  /// The index of the entry called `name`, or -1.
  int findEntry(std::string_view name) const;
  const plan::Entry &entry(int index) const;
  /// What validation derived about entry `index` (dim minima).
  const EntryFacts &entryFacts(int index) const {
    return facts_.entries[index];
  }

  /// The initial values of parameter `index`, inside the mapped file; null
  /// for optimizer state (role OptimizerState), which is not stored.
  const std::byte *parameterData(int index) const;
  DType parameterDType(int index) const;
  Shape parameterShape(int index) const;

private:
  PlanFile() = default;
  static StatusOr<std::unique_ptr<PlanFile>>
  load(std::unique_ptr<MappedFile> file);

  std::unique_ptr<MappedFile> file_;
  const plan::Plan *plan_ = nullptr;
  size_t tableBytes_ = 0;
  PlanFacts facts_;
};

/// The attributes of a (validated) kernel, decoded for the kernel call.
KernelAttrs decodeKernelAttrs(const plan::Kernel &kernel);

/// "B" for a symbolic extent, "50" for a static one.
std::string formatExtent(const plan::Plan &plan, const plan::Extent &extent);
/// "i64[B, 50]" for a tensor of a validated plan.
std::string formatTensorType(const plan::Plan &plan,
                             const plan::Tensor &tensor);
/// "f32[128, 64]" for a parameter of a validated plan.
std::string formatParameterType(const plan::Parameter &param);
/// The plan's requirement bits as "Cpu|Bf16" ("none" when empty).
std::string formatRequirements(uint64_t requirements);

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_PLANFILE_H
