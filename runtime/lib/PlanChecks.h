//===- PlanChecks.h - shared pieces of the plan validator -------*- C++ -*-===//
//
// Internal to the runtime library. PlanValidator.cpp checks the plan's
// structure and hands each kernel to the per-op rules: OpSignatures.cpp
// (operand counts, optional operands, attribute names, kinds and ranges) and
// OpShapeRules.cpp (dtypes and symbolic shapes), through a KernelChecker
// that knows how to describe the kernel's tensors in messages.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_LIB_PLANCHECKS_H
#define ONEREC_RUNTIME_LIB_PLANCHECKS_H

#include "onerec/Runtime/Kernel.h"
#include "onerec/Runtime/Status.h"
#include "onerec/Runtime/Tensor.h"
#include "plan_generated.h"

#include <cstdint>
#include <string>
#include <vector>

namespace onerec::runtime::detail {

/// The absent-operand marker of Kernel.inputs.
constexpr uint32_t kAbsentOperand = 0xFFFFFFFFu;

/// One extent of a tensor: static `size`, or plan dim `symbol` (>= 0).
struct SymDim {
  int64_t size = 1;
  int32_t symbol = -1;

  static SymDim fixed(int64_t size) { return {size, -1}; }
  bool isStatic() const { return symbol < 0; }
  bool isOne() const { return isStatic() && size == 1; }
  /// Equal for every binding: the same symbol, or both static and equal.
  bool operator==(const SymDim &o) const {
    return isStatic() ? o.isStatic() && size == o.size : symbol == o.symbol;
  }
  bool operator!=(const SymDim &o) const { return !(*this == o); }
};

/// A symbolic shape of at most Shape::kMaxRank extents.
struct SymShape {
  int rank = 0;
  SymDim dims[Shape::kMaxRank];

  const SymDim &operator[](int i) const { return dims[i]; }
  SymDim &operator[](int i) { return dims[i]; }
  const SymDim &back() const { return dims[rank - 1]; }
  /// Appends `d`; false when the rank would exceed the maximum.
  bool push(SymDim d) {
    if (rank == Shape::kMaxRank)
      return false;
    dims[rank++] = d;
    return true;
  }
  /// The first `n` extents.
  SymShape prefix(int n) const {
    SymShape s;
    for (int i = 0; i < n && i < rank; ++i)
      s.dims[s.rank++] = dims[i];
    return s;
  }
  bool operator==(const SymShape &o) const {
    if (rank != o.rank)
      return false;
    for (int i = 0; i < rank; ++i)
      if (dims[i] != o.dims[i])
        return false;
    return true;
  }
  bool operator!=(const SymShape &o) const { return !(*this == o); }
};

/// The symbolic shape of a tensor whose extents were already validated.
SymShape symbolicShape(const plan::Tensor &tensor);

/// Numpy broadcasting of two symbolic shapes (right-aligned; a static 1
/// stretches). False when they do not broadcast for every binding.
bool broadcastShapes(const SymShape &a, const SymShape &b, SymShape &result);
/// True when `from` broadcasts to exactly `to`.
bool broadcastsTo(const SymShape &from, const SymShape &to);

bool isFloat(DType t);
bool isInteger(DType t);
bool isNumeric(DType t);

/// One kernel under validation: its operands and results (already checked
/// to be in range), its decoded attributes, and how to report a problem.
class KernelChecker {
public:
  KernelChecker(const plan::Plan &plan, const plan::Entry &entry,
                const plan::Kernel &kernel, std::string where,
                std::vector<int64_t> &dimMinimum);

  plan::OpCode op() const { return kernel_.op(); }
  const KernelAttrs &attrs() const { return attrs_; }
  int numInputs() const { return static_cast<int>(inputs_.size()); }
  int numOutputs() const { return static_cast<int>(outputs_.size()); }
  /// False for an absent optional operand (0xFFFFFFFF) or one past the end.
  bool present(int operand) const {
    return operand < numInputs() && inputs_[operand] != nullptr;
  }
  /// False for an absent optional result (a gradient nobody needs).
  bool resultPresent(int result) const {
    return result < numOutputs() && outputs_[result] != nullptr;
  }
  /// The tensor of operand `i` (present).
  const plan::Tensor &inTensor(int i) const { return *inputs_[i]; }
  const plan::Entry &entry() const { return entry_; }
  const plan::Kernel &kernel() const { return kernel_; }

  DType inDType(int i) const { return static_cast<DType>(inputs_[i]->dtype()); }
  SymShape inShape(int i) const { return symbolicShape(*inputs_[i]); }
  int64_t inIndexBound(int i) const { return inputs_[i]->index_bound(); }
  DType outDType(int i) const {
    return static_cast<DType>(outputs_[i]->dtype());
  }
  SymShape outShape(int i) const { return symbolicShape(*outputs_[i]); }

  /// "operand 1 (tensor 7 'h', f32[B, 50])"
  std::string operand(int i) const;
  /// "result 0 (tensor 9 'y', f32[B, 64])"
  std::string result(int i) const;
  /// "[B, 50]"
  std::string format(const SymShape &shape) const;
  std::string format(const SymDim &dim) const;

  /// A Corrupt status: "<file>: entry 'e' kernel 3 (Op at loc): <message>".
  Status fail(const std::string &message) const;
  /// Records that every binding must give `dim` at least `minimum` (a no-op
  /// for static extents, which the caller compares itself).
  void requireAtLeast(const SymDim &dim, int64_t minimum);

  /// Checks that result `i` has dtype `dtype` and shape `shape` (an absent
  /// optional result passes).
  Status expectResult(int i, DType dtype, const SymShape &shape) const;

private:
  const plan::Plan &plan_;
  const plan::Entry &entry_;
  const plan::Kernel &kernel_;
  std::string where_;
  std::vector<int64_t> &dimMinimum_;
  KernelAttrs attrs_;
  /// Tensor of each operand (null when absent) and result.
  std::vector<const plan::Tensor *> inputs_;
  std::vector<const plan::Tensor *> outputs_;
  std::vector<uint32_t> inputIndices_;
  std::vector<uint32_t> outputIndices_;
};

/// Operand count, absent operands, and attribute names, kinds and integer
/// ranges of the kernel's op (OpSignatures.cpp).
Status checkSignature(const KernelChecker &kernel);
/// Dtypes, symbolic shapes and float attribute ranges (OpShapeRules.cpp).
Status checkShapeRules(KernelChecker &kernel);
/// 1.2: a Fused kernel's program (FusedProgram.h) and its tensors' dtypes
/// and shapes against the kinds it gives them (FusedShapeRules.cpp).
Status checkFusedKernel(KernelChecker &kernel);
/// Bit i set: the op writes operand i in place (the optimizer ops of format
/// 1.1, which have no results; docs/training.md).
uint32_t inPlaceOperands(plan::OpCode op);
/// True when the op writes operand `i` of its `numInputs` in place: the bits
/// of inPlaceOperands, and (1.2) the parameter and state segments of the
/// multi-tensor updates, whose operand counts vary.
bool writesInPlace(plan::OpCode op, int i, int numInputs);
/// (1.2) For MultiAdamWUpdate (4 segments) and MultiSgdUpdate (3): the
/// number of operand segments before step and hparams; 0 for other ops.
int multiUpdateSegments(plan::OpCode op);
/// True for ops whose result element i depends only on operand elements at
/// the same (broadcast) position, so a result may reuse an operand's bytes.
bool isElementwise(plan::OpCode op);

} // namespace onerec::runtime::detail

#endif // ONEREC_RUNTIME_LIB_PLANCHECKS_H
