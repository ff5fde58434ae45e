//===- FusedProgram.h - structural rules of fused-group programs ----------===//
//
// A Fused kernel (plan format 1.2) carries a FusedProgram: instructions over
// registers that each hold one value of the group's rows x cols domain (a
// full tile, one element per row, per column, or a scalar). These rules are
// shared by the plan validator and the CPU interpreter: every register is
// defined before it is read, every kind follows from the operands' kinds,
// operand and result indices are in range.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_FUSEDPROGRAM_H
#define ONEREC_RUNTIME_FUSEDPROGRAM_H

#include "plan_generated.h"

#include <cstdint>
#include <string>

namespace onerec::runtime {

/// The most registers a program may use.
constexpr uint32_t kMaxFusedRegisters = 1024;

/// How many register operands (a, b, c) an instruction reads.
int fusedArity(plan::FusedOpKind op);

/// The kind of an elementwise result of operands of kinds `a` and `b`.
plan::FusedKind combineFusedKinds(plan::FusedKind a, plan::FusedKind b);

/// Checks `program` for a kernel of `numInputs` operands and `numOutputs`
/// results; returns an empty string when it is well formed, else what is
/// wrong ("instruction 3 reads register 7 before it is written").
std::string checkFusedProgram(const plan::FusedProgram *program,
                              uint32_t numInputs, uint32_t numOutputs);

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_FUSEDPROGRAM_H
