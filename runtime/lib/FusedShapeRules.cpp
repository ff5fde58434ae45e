//===- FusedShapeRules.cpp - checks of Fused kernels (format 1.2) ---------===//
//
// A Fused kernel is checked in two steps: its program's structure
// (FusedProgram.h: registers, kinds, operand and result indices), then its
// tensors against the kinds the program gives them, for every binding of
// the symbolic dims: the iteration shape S is that of the first Full
// result (else operand); comparing shapes without leading 1s, a Full tensor
// has shape S, a Row tensor S with its last extent 1, a Column tensor
// [last extent of S], a Scalar tensor only 1s.
//
//===----------------------------------------------------------------------===//

#include "PlanChecks.h"

#include "onerec/Runtime/FusedProgram.h"

#include <fmt/format.h>

namespace onerec::runtime::detail {
namespace {

using plan::FusedKind;

SymShape dropLeadingOnes(const SymShape &s) {
  int first = 0;
  while (first < s.rank && s[first].isOne())
    ++first;
  SymShape out;
  for (int i = first; i < s.rank; ++i)
    out.push(s[i]);
  return out;
}

bool hasKind(const SymShape &shape, FusedKind kind, const SymShape &full) {
  SymShape t = dropLeadingOnes(shape), s = dropLeadingOnes(full);
  bool scalar = true;
  for (int i = 0; i < t.rank; ++i)
    scalar = scalar && t[i].isOne();
  switch (kind) {
  case FusedKind::Full:
    return t == s || (scalar && s.rank == 0);
  case FusedKind::Scalar:
    return scalar;
  case FusedKind::Row:
    if (s.rank == 0 || (s.rank == 1 && scalar))
      return scalar; // one row
    return t.rank == s.rank && t.back().isOne() &&
           t.prefix(t.rank - 1) == s.prefix(s.rank - 1);
  case FusedKind::Column:
    if (s.rank == 0)
      return scalar;
    return (t.rank == 1 && t[0] == s.back()) || (scalar && s.back().isOne());
  }
  return false;
}

} // namespace

Status checkFusedKernel(KernelChecker &k) {
  const plan::FusedProgram *program = k.kernel().program();
  std::string error =
      checkFusedProgram(program, static_cast<uint32_t>(k.numInputs()),
                        static_cast<uint32_t>(k.numOutputs()));
  if (!error.empty())
    return k.fail(error);
  for (int i = 0; i < k.numInputs(); ++i)
    if (!k.present(i))
      return k.fail(fmt::format("operand {} is absent; a fused group reads "
                                "all its operands",
                                i));
  for (int i = 0; i < k.numOutputs(); ++i)
    if (!k.resultPresent(i))
      return k.fail(fmt::format("result {} is absent", i));
  auto dtypeOk = [](DType t) { return t == DType::f32 || t == DType::bool8; };
  for (int i = 0; i < k.numInputs(); ++i)
    if (!dtypeOk(k.inDType(i)))
      return k.fail(fmt::format("{}: a fused group computes with f32 and "
                                "bool",
                                k.operand(i)));
  for (int i = 0; i < k.numOutputs(); ++i)
    if (!dtypeOk(k.outDType(i)))
      return k.fail(fmt::format("{}: a fused group computes with f32 and "
                                "bool",
                                k.result(i)));

  // The iteration shape: the first Full result, else the first Full operand.
  SymShape full;
  bool found = false;
  for (int i = 0; i < k.numOutputs() && !found; ++i)
    if (program->output_kinds()->Get(i) == FusedKind::Full) {
      full = k.outShape(i);
      found = true;
    }
  for (int i = 0; i < k.numInputs() && !found; ++i)
    if (program->input_kinds()->Get(i) == FusedKind::Full) {
      full = k.inShape(i);
      found = true;
    }
  if (!found)
    return k.fail("no operand or result of the group is Full, so nothing "
                  "gives its iteration shape");
  for (int i = 0; i < k.numInputs(); ++i) {
    FusedKind kind = program->input_kinds()->Get(i);
    if (!hasKind(k.inShape(i), kind, full))
      return k.fail(fmt::format("{} is not a {} value of iteration shape {}",
                                k.operand(i), plan::EnumNameFusedKind(kind),
                                k.format(full)));
  }
  for (int i = 0; i < k.numOutputs(); ++i) {
    FusedKind kind = program->output_kinds()->Get(i);
    if (!hasKind(k.outShape(i), kind, full))
      return k.fail(fmt::format("{} is not a {} value of iteration shape {}",
                                k.result(i), plan::EnumNameFusedKind(kind),
                                k.format(full)));
  }
  return Status::ok();
}

} // namespace onerec::runtime::detail
