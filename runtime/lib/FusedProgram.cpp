//===- FusedProgram.cpp - structural rules of fused-group programs --------===//

#include "onerec/Runtime/FusedProgram.h"

#include <fmt/format.h>

#include <vector>

namespace onerec::runtime {

using plan::FusedKind;
using plan::FusedOpKind;

int fusedArity(FusedOpKind op) {
  switch (op) {
  case FusedOpKind::Load:
  case FusedOpKind::Const:
    return 0;
  case FusedOpKind::Add:
  case FusedOpKind::Sub:
  case FusedOpKind::Mul:
  case FusedOpKind::Div:
  case FusedOpKind::Pow:
  case FusedOpKind::Maximum:
  case FusedOpKind::Minimum:
  case FusedOpKind::And:
  case FusedOpKind::Or:
  case FusedOpKind::Cmp:
    return 2;
  case FusedOpKind::Select:
    return 3;
  default:
    return 1;
  }
}

FusedKind combineFusedKinds(FusedKind a, FusedKind b) {
  if (a == b || b == FusedKind::Scalar)
    return a;
  if (a == FusedKind::Scalar)
    return b;
  // Different non-scalar kinds: full with anything, or a row with a column.
  return FusedKind::Full;
}

static bool isReduction(FusedOpKind op) {
  return op == FusedOpKind::ReduceSum || op == FusedOpKind::ReduceMean ||
         op == FusedOpKind::ReduceMax || op == FusedOpKind::ReduceMin;
}

std::string checkFusedProgram(const plan::FusedProgram *program,
                              uint32_t numInputs, uint32_t numOutputs) {
  if (!program)
    return "has no program";
  auto size = [](const auto *v) { return v ? v->size() : 0u; };
  if (size(program->input_kinds()) != numInputs)
    return fmt::format("the program names {} operand kinds for {} operands",
                       size(program->input_kinds()), numInputs);
  if (size(program->outputs()) != numOutputs ||
      size(program->output_kinds()) != numOutputs)
    return fmt::format("the program stores {} results ({} kinds) for {} "
                       "results",
                       size(program->outputs()), size(program->output_kinds()),
                       numOutputs);
  uint32_t registers = program->registers();
  if (registers == 0 || registers > kMaxFusedRegisters)
    return fmt::format("the program uses {} registers (1 to {} allowed)",
                       registers, kMaxFusedRegisters);
  for (uint32_t i = 0; i < numInputs; ++i)
    if (program->input_kinds()->Get(i) > FusedKind::MAX)
      return fmt::format("operand {} has unknown kind {}", i,
                         int(program->input_kinds()->Get(i)));
  if (size(program->instructions()) == 0)
    return "the program has no instructions";

  // The kind each register holds, -1 before it is written.
  std::vector<int> kinds(registers, -1);
  for (uint32_t n = 0; n < program->instructions()->size(); ++n) {
    const plan::FusedInstr &ins = *program->instructions()->Get(n);
    std::string where = fmt::format("instruction {}", n);
    if (ins.op() > FusedOpKind::MAX)
      return fmt::format("{} has unknown op {}", where, int(ins.op()));
    where += fmt::format(" ({})", plan::EnumNameFusedOpKind(ins.op()));
    if (ins.kind() > FusedKind::MAX)
      return fmt::format("{} has unknown kind {}", where, int(ins.kind()));
    if (ins.dst() >= registers)
      return fmt::format("{} writes register {}, but the program has {}", where,
                         ins.dst(), registers);
    uint16_t operands[3] = {ins.a(), ins.b(), ins.c()};
    FusedKind operandKinds[3] = {};
    int arity = fusedArity(ins.op());
    for (int k = 0; k < arity; ++k) {
      if (operands[k] >= registers || kinds[operands[k]] < 0)
        return fmt::format("{} reads register {} before it is written", where,
                           operands[k]);
      operandKinds[k] = static_cast<FusedKind>(kinds[operands[k]]);
    }
    FusedKind expected = FusedKind::Scalar;
    switch (ins.op()) {
    case FusedOpKind::Load:
      if (ins.a() >= numInputs)
        return fmt::format("{} loads operand {}, but the kernel has {}", where,
                           ins.a(), numInputs);
      expected = program->input_kinds()->Get(ins.a());
      break;
    case FusedOpKind::Const:
      expected = FusedKind::Scalar;
      break;
    case FusedOpKind::Cmp:
      if (ins.predicate() > 5)
        return fmt::format("{} has unknown predicate {}", where,
                           int(ins.predicate()));
      expected = combineFusedKinds(operandKinds[0], operandKinds[1]);
      break;
    case FusedOpKind::Select:
      expected = combineFusedKinds(
          combineFusedKinds(operandKinds[0], operandKinds[1]), operandKinds[2]);
      break;
    default:
      if (isReduction(ins.op())) {
        if (operandKinds[0] != FusedKind::Full)
          return fmt::format("{} reduces a {} register; reductions read a "
                             "Full one",
                             where, plan::EnumNameFusedKind(operandKinds[0]));
        expected = FusedKind::Row;
      } else if (arity == 2) {
        expected = combineFusedKinds(operandKinds[0], operandKinds[1]);
      } else {
        expected = operandKinds[0];
      }
    }
    if (ins.kind() != expected)
      return fmt::format("{} gives a {} value but is marked {}", where,
                         plan::EnumNameFusedKind(expected),
                         plan::EnumNameFusedKind(ins.kind()));
    kinds[ins.dst()] = static_cast<int>(expected);
  }
  for (uint32_t i = 0; i < numOutputs; ++i) {
    uint16_t reg = program->outputs()->Get(i);
    FusedKind kind = program->output_kinds()->Get(i);
    if (kind != FusedKind::Full && kind != FusedKind::Row)
      return fmt::format("result {} must be Full or Row, not {}", i, int(kind));
    if (reg >= registers || kinds[reg] < 0)
      return fmt::format("result {} is stored from register {}, which is "
                         "never written",
                         i, reg);
    if (kinds[reg] != static_cast<int>(kind))
      return fmt::format(
          "result {} is {} but register {} holds a {} value", i,
          plan::EnumNameFusedKind(kind), reg,
          plan::EnumNameFusedKind(static_cast<FusedKind>(kinds[reg])));
  }
  return {};
}

} // namespace onerec::runtime
