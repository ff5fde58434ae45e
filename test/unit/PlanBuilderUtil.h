//===- PlanBuilderUtil.h - small plans for tests, in code -------*- C++ -*-===//
//
// Tests describe a plan as plain structs (dims, parameters with values,
// entries with tensors, bindings and kernels), change whatever field a test
// is about, and call build() for the bytes of a complete plan file: size
// prefix, FlatBuffer, padding and the parameter segment. Arena offsets are
// assigned (64-byte aligned, no sharing) unless a test sets them.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_TEST_UNIT_PLANBUILDERUTIL_H
#define ONEREC_TEST_UNIT_PLANBUILDERUTIL_H

#include "onerec/Runtime/Tensor.h"
#include "plan_generated.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace onerec::test {

using plan::OpCode;
using plan::Storage;
using runtime::DType;

/// A static extent (`4`) or a symbolic one (`sym(0)`).
struct Ext {
  Ext(int64_t size) : size(size) {}
  static Ext sym(int32_t dim) {
    Ext e(0);
    e.symbol = dim;
    return e;
  }
  int64_t size;
  int32_t symbol = -1;
};

struct AttrSpec {
  std::string name;
  std::variant<int64_t, double, std::vector<int64_t>> value;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::f32;
  std::vector<Ext> shape;
  Storage storage = Storage::Arena;
  /// Arena offset; assigned by build() when unset.
  std::optional<uint64_t> offset;
  uint32_t index = 0;
  int64_t indexBound = 0;
};

/// 1.2: the program of a Fused kernel.
struct FusedProgramSpec {
  std::vector<plan::FusedKind> inputKinds;
  uint16_t registers = 0;
  std::vector<plan::FusedInstr> code;
  std::vector<uint16_t> outputs;
  std::vector<plan::FusedKind> outputKinds;
};

struct KernelSpec {
  OpCode op;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::vector<AttrSpec> attrs;
  std::string location = "test.rdsl:1:1";
  std::optional<FusedProgramSpec> program;
};

struct BindingSpec {
  std::string name;
  uint32_t tensor;
  plan::ArgRole role = plan::ArgRole::Input;
};

struct EntrySpec {
  std::string name;
  plan::EntryKind kind = plan::EntryKind::Def;
  std::vector<TensorSpec> tensors;
  std::vector<BindingSpec> inputs;
  std::vector<BindingSpec> outputs;
  std::vector<KernelSpec> kernels;
  /// Computed by build() (sum of the assigned arena ranges) when unset.
  std::optional<uint64_t> arenaBytes;
  double flops = 0;

  /// Adds an entry input (a tensor stored as input) and returns its tensor.
  uint32_t input(const std::string &name, DType dtype, std::vector<Ext> shape,
                 int64_t indexBound = 0) {
    TensorSpec t{
        name,           dtype,        std::move(shape),
        Storage::Input, std::nullopt, static_cast<uint32_t>(inputs.size()),
        indexBound};
    tensors.push_back(t);
    inputs.push_back({name, static_cast<uint32_t>(tensors.size() - 1)});
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  /// An arena tensor.
  uint32_t tensor(const std::string &name, DType dtype,
                  std::vector<Ext> shape) {
    TensorSpec t;
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    tensors.push_back(std::move(t));
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  /// A tensor viewing parameter `param` (with its shape).
  uint32_t param(uint32_t param, DType dtype, std::vector<Ext> shape) {
    tensors.push_back({"p" + std::to_string(param), dtype, std::move(shape),
                       Storage::Parameter, std::nullopt, param});
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  void output(const std::string &name, uint32_t tensor) {
    outputs.push_back({name, tensor});
  }
  KernelSpec &kernel(OpCode op, std::vector<uint32_t> in,
                     std::vector<uint32_t> out,
                     std::vector<AttrSpec> attrs = {}) {
    kernels.push_back({op, std::move(in), std::move(out), std::move(attrs)});
    return kernels.back();
  }
};

struct ParamSpec {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  /// Raw bytes; zero-filled to the shape's size when shorter.
  std::vector<uint8_t> data;
  /// Offset in the segment; assigned (64-byte aligned) when unset.
  std::optional<uint64_t> offset;
  uint32_t segment = 0;
  /// 1.1: optimizer state has no bytes in the segment.
  plan::ParameterRole role = plan::ParameterRole::Weight;
  std::string stateOf;
  plan::InitKind init = plan::InitKind::Zeros;
  double initA = 0;
};

/// 1.1: a stage of the train section (an empty entry is left out).
struct StageSpec {
  std::string name, entry;
  int64_t epochs = 1, steps = 0;
};

/// 1.1: the train section.
struct TrainSpec {
  plan::OptimizerKind optimizer = plan::OptimizerKind::AdamW;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weightDecay = 0, momentum = 0;
  bool nesterov = false;
  plan::ScheduleKind schedule = plan::ScheduleKind::Constant;
  int64_t warmup = 0, total = 0;
  double minLr = 0, gradClip = 0;
  int64_t accumulate = 1, batch = 0;
  std::vector<StageSpec> stages;
};

/// Sizes of the dtypes a test may set to anything (unknown dtypes count 1).
inline size_t elementSize(DType t) {
  size_t size = runtime::dtypeSize(t);
  return size ? size : 1;
}

inline plan::DType toPlan(DType t) { return static_cast<plan::DType>(t); }

template <typename T>
std::vector<uint8_t> bytesOf(const std::vector<T> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty())
    std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

struct PlanSpec {
  uint16_t formatMajor = 1, formatMinor = 0;
  uint64_t requirements = 1; // Cpu
  std::string model = "test";
  uint64_t seed = 7;
  std::vector<std::pair<std::string, int64_t>> dims;
  std::vector<ParamSpec> params;
  std::vector<EntrySpec> entries;
  uint32_t segmentAlignment = 64;
  /// Segments as written; derived from the parameters when unset.
  std::optional<std::vector<std::pair<uint64_t, uint64_t>>> segments;
  /// Extra zero bytes after the last segment.
  size_t trailingBytes = 0;
  /// 1.1: the train section.
  std::optional<TrainSpec> train;

  /// Adds a dim and returns it as a symbolic extent.
  Ext dim(const std::string &name, int64_t max) {
    dims.push_back({name, max});
    return Ext::sym(static_cast<int32_t>(dims.size() - 1));
  }
  uint32_t param(const std::string &name, DType dtype,
                 std::vector<int64_t> shape, std::vector<uint8_t> data = {}) {
    ParamSpec p;
    p.name = name;
    p.dtype = dtype;
    p.shape = std::move(shape);
    p.data = std::move(data);
    params.push_back(std::move(p));
    return static_cast<uint32_t>(params.size() - 1);
  }
  /// 1.1: optimizer state `name` of parameter `of` (f32, its shape, zeros).
  uint32_t state(const std::string &name, uint32_t of) {
    ParamSpec p;
    p.name = name;
    p.dtype = DType::f32;
    p.shape = params[of].shape;
    p.role = plan::ParameterRole::OptimizerState;
    p.stateOf = params[of].name;
    params.push_back(std::move(p));
    return static_cast<uint32_t>(params.size() - 1);
  }
  EntrySpec &entry(const std::string &name) {
    EntrySpec e;
    e.name = name;
    entries.push_back(std::move(e));
    return entries.back();
  }

  /// The bytes of the plan file.
  std::vector<uint8_t> build() const {
    // Lay out parameters in segment 0.
    std::vector<uint64_t> paramOffsets;
    uint64_t segmentBytes = 0;
    for (const ParamSpec &p : params) {
      if (p.role == plan::ParameterRole::OptimizerState) {
        paramOffsets.push_back(p.offset.value_or(0));
        continue;
      }
      uint64_t numel = 1;
      for (int64_t d : p.shape)
        numel *= static_cast<uint64_t>(d > 0 ? d : 0);
      uint64_t offset = p.offset.value_or((segmentBytes + 63) / 64 * 64);
      paramOffsets.push_back(offset);
      segmentBytes =
          std::max(segmentBytes, offset + numel * elementSize(p.dtype));
    }
    // The FlatBuffer's size does not depend on the segment offset (defaults
    // are forced), so build once to learn it and once with the real offset.
    std::vector<uint8_t> table =
        buildTable(paramOffsets, 1u << 30, segmentBytes);
    uint64_t segmentOffset = (table.size() + segmentAlignment - 1) /
                             segmentAlignment * segmentAlignment;
    table = buildTable(paramOffsets, segmentOffset, segmentBytes);
    std::vector<uint8_t> file = table;
    file.resize(segmentOffset + segmentBytes, 0);
    for (size_t i = 0; i < params.size(); ++i) {
      const ParamSpec &p = params[i];
      if (p.role == plan::ParameterRole::OptimizerState)
        continue;
      uint64_t at = segmentOffset + paramOffsets[i];
      for (size_t b = 0; b < p.data.size() && at + b < file.size(); ++b)
        file[at + b] = p.data[b];
    }
    file.resize(file.size() + trailingBytes, 0);
    return file;
  }

private:
  std::vector<uint8_t> buildTable(const std::vector<uint64_t> &paramOffsets,
                                  uint64_t segmentOffset,
                                  uint64_t segmentBytes) const {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.ForceDefaults(true);
    std::vector<flatbuffers::Offset<plan::Dim>> dimOffsets;
    for (const auto &[name, max] : dims)
      dimOffsets.push_back(plan::CreateDimDirect(fbb, name.c_str(), max));
    std::vector<flatbuffers::Offset<plan::Parameter>> paramTables;
    for (size_t i = 0; i < params.size(); ++i) {
      const ParamSpec &p = params[i];
      auto init = plan::CreateInit(fbb, p.init, p.initA, 0, 0);
      paramTables.push_back(plan::CreateParameterDirect(
          fbb, p.name.c_str(), toPlan(p.dtype), &p.shape, init, false, false,
          p.segment, paramOffsets[i], p.role, p.stateOf.c_str()));
    }
    std::vector<flatbuffers::Offset<plan::Entry>> entryTables;
    for (const EntrySpec &e : entries)
      entryTables.push_back(buildEntry(fbb, e));
    std::vector<flatbuffers::Offset<plan::Segment>> segmentTables;
    if (segments) {
      for (const auto &[offset, size] : *segments)
        segmentTables.push_back(plan::CreateSegment(fbb, offset, size));
    } else if (!params.empty()) {
      segmentTables.push_back(
          plan::CreateSegment(fbb, segmentOffset, segmentBytes));
    }
    flatbuffers::Offset<plan::TrainConfig> trainTable = 0;
    if (train) {
      std::vector<flatbuffers::Offset<plan::Stage>> stages;
      for (const StageSpec &st : train->stages)
        stages.push_back(plan::CreateStageDirect(
            fbb, st.name.c_str(), st.entry.empty() ? nullptr : st.entry.c_str(),
            st.epochs, st.steps));
      trainTable = plan::CreateTrainConfigDirect(
          fbb, train->optimizer, train->lr, train->beta1, train->beta2,
          train->eps, train->weightDecay, train->momentum, train->nesterov,
          train->schedule, train->warmup, train->total, train->minLr,
          train->gradClip, train->accumulate, train->batch, &stages);
    }
    auto root = plan::CreatePlanDirect(
        fbb, formatMajor, formatMinor,
        static_cast<plan::Requirement>(requirements), "onerecc test",
        "0123456789abcdef", model.c_str(), seed, &dimOffsets, &paramTables,
        &entryTables, &segmentTables, segmentAlignment, trainTable);
    plan::FinishSizePrefixedPlanBuffer(fbb, root);
    return std::vector<uint8_t>(fbb.GetBufferPointer(),
                                fbb.GetBufferPointer() + fbb.GetSize());
  }

  flatbuffers::Offset<plan::Entry>
  buildEntry(flatbuffers::FlatBufferBuilder &fbb, const EntrySpec &e) const {
    std::vector<flatbuffers::Offset<plan::Tensor>> tensors;
    uint64_t arena = 0;
    for (const TensorSpec &t : e.tensors) {
      std::vector<plan::Extent> shape;
      uint64_t numel = 1;
      for (const Ext &x : t.shape) {
        shape.emplace_back(x.size, x.symbol);
        bool declared =
            x.symbol >= 0 && static_cast<size_t>(x.symbol) < dims.size();
        int64_t extent = declared ? dims[x.symbol].second : x.size;
        numel *= static_cast<uint64_t>(extent > 0 ? extent : 1);
      }
      uint64_t offset = 0;
      if (t.storage == Storage::Arena) {
        offset = t.offset.value_or(arena);
        arena = std::max(arena, (offset + numel * elementSize(t.dtype) + 63) /
                                    64 * 64);
      }
      tensors.push_back(plan::CreateTensor(
          fbb, fbb.CreateString(t.name), toPlan(t.dtype), t.indexBound,
          fbb.CreateVectorOfStructs(shape), t.storage, offset, t.index));
    }
    auto bindings = [&](const std::vector<BindingSpec> &list) {
      std::vector<flatbuffers::Offset<plan::Binding>> out;
      for (const BindingSpec &b : list)
        out.push_back(
            plan::CreateBindingDirect(fbb, b.name.c_str(), b.tensor, b.role));
      return out;
    };
    auto inputs = bindings(e.inputs), outputs = bindings(e.outputs);
    std::vector<flatbuffers::Offset<plan::Kernel>> kernels;
    for (const KernelSpec &k : e.kernels) {
      std::vector<flatbuffers::Offset<plan::Attr>> attrs;
      for (const AttrSpec &a : k.attrs) {
        flatbuffers::Offset<void> value;
        plan::AttrValue type;
        if (auto *i = std::get_if<int64_t>(&a.value)) {
          value = plan::CreateIntAttr(fbb, *i).Union();
          type = plan::AttrValue::IntAttr;
        } else if (auto *f = std::get_if<double>(&a.value)) {
          value = plan::CreateFloatAttr(fbb, *f).Union();
          type = plan::AttrValue::FloatAttr;
        } else {
          value = plan::CreateIntsAttrDirect(
                      fbb, &std::get<std::vector<int64_t>>(a.value))
                      .Union();
          type = plan::AttrValue::IntsAttr;
        }
        attrs.push_back(
            plan::CreateAttr(fbb, fbb.CreateString(a.name), type, value));
      }
      flatbuffers::Offset<plan::FusedProgram> program = 0;
      if (k.program)
        program = plan::CreateFusedProgramDirect(
            fbb, &k.program->inputKinds, k.program->registers, &k.program->code,
            &k.program->outputs, &k.program->outputKinds);
      kernels.push_back(plan::CreateKernelDirect(fbb, k.op, &k.inputs,
                                                 &k.outputs, &attrs,
                                                 k.location.c_str(), program));
    }
    return plan::CreateEntryDirect(fbb, e.name.c_str(), e.kind, &inputs,
                                   &outputs, &tensors, &kernels,
                                   e.arenaBytes.value_or(arena), e.flops);
  }
};

} // namespace onerec::test

#endif // ONEREC_TEST_UNIT_PLANBUILDERUTIL_H
