//===- PlanValidator.h - meaning checks of the plan loader ------*- C++ -*-===//
//
// Step 3 of loading a plan (docs/plan-format.md, "What the loader checks"):
// after the FlatBuffers verifier has shown every table and vector to be
// inside the buffer, the validator checks what the bytes mean: versions,
// enums, dims, segments, parameters, tensors, bindings and, for every
// kernel, the operand count, dtypes, attributes and symbolic shapes its op
// requires. The guarantee: for every binding of the symbolic dims in
// [minimum, max], no kernel of a validated plan reads or writes outside its
// tensors (data-dependent indices are checked at run time, see Executor.h).
//
// Every error is one message naming the file and the place:
//   plan.fb: entry 'forward' kernel 12 (Matmul at sasrec.rdsl:36:18):
//   operand 1 has inner dimension 50, expected 64
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_PLANVALIDATOR_H
#define ONEREC_RUNTIME_PLANVALIDATOR_H

#include "onerec/Runtime/Status.h"
#include "plan_generated.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace onerec::runtime {

/// Bounds the validator enforces beyond the format itself, so that sizes
/// computed from a plan stay far from integer overflow everywhere after it.
struct PlanLimits {
  /// Largest element count of one tensor (2^40).
  static constexpr int64_t kMaxElements = int64_t(1) << 40;
  /// Largest byte count of one tensor, an arena or a segment (2^46).
  static constexpr uint64_t kMaxBytes = uint64_t(1) << 46;
  /// Most operands of one kernel (Concat is variadic).
  static constexpr uint32_t kMaxOperands = 4096;
  /// Alignment of every parameter's bytes in the file.
  static constexpr uint64_t kParameterAlignment = 64;
};

/// What validation derived about one entry that binding needs at run time.
struct EntryFacts {
  /// Per plan dim: the smallest value the entry's kernels accept (at least
  /// 1; larger where, say, TopK takes k elements of a symbolic axis).
  std::vector<int64_t> dimMinimum;
};

struct PlanFacts {
  std::vector<EntryFacts> entries;
};

/// Where the FlatBuffer ends and how large the whole file is; segments must
/// lie in between.
struct PlanFileLayout {
  std::string fileName;
  /// Bytes of the size prefix plus the FlatBuffer.
  uint64_t tableBytes = 0;
  uint64_t fileBytes = 0;
};

/// Checks the meaning of a plan that passed the FlatBuffers verifier.
/// Returns the first problem as a Corrupt status (Unsupported for a newer
/// format version).
StatusOr<PlanFacts> validatePlan(const plan::Plan &plan,
                                 const PlanFileLayout &layout);

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_PLANVALIDATOR_H
