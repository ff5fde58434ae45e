//===- FusedProgramBuilder.cpp - rec.fused bodies as plan programs --------===//

#include "FusedProgramBuilder.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <vector>

using namespace mlir;
using namespace onerec;
using plan::FusedKind;
using plan::FusedOpKind;

namespace {

FusedKind planKind(rec::FusedValueKind kind) {
  switch (kind) {
  case rec::FusedValueKind::full:
    return FusedKind::Full;
  case rec::FusedValueKind::row:
    return FusedKind::Row;
  case rec::FusedValueKind::column:
    return FusedKind::Column;
  case rec::FusedValueKind::scalar:
    return FusedKind::Scalar;
  }
  return FusedKind::Scalar;
}

FusedKind combine(FusedKind a, FusedKind b) {
  if (a == b || b == FusedKind::Scalar)
    return a;
  if (a == FusedKind::Scalar)
    return b;
  return FusedKind::Full;
}

/// The instruction computing `op`, if it is one (not a broadcast or cast).
std::optional<FusedOpKind> instructionOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<FusedOpKind>>(op)
      .Case([](rec::NegOp) { return FusedOpKind::Neg; })
      .Case([](rec::AbsOp) { return FusedOpKind::Abs; })
      .Case([](rec::ExpOp) { return FusedOpKind::Exp; })
      .Case([](rec::LogOp) { return FusedOpKind::Log; })
      .Case([](rec::SqrtOp) { return FusedOpKind::Sqrt; })
      .Case([](rec::RsqrtOp) { return FusedOpKind::Rsqrt; })
      .Case([](rec::TanhOp) { return FusedOpKind::Tanh; })
      .Case([](rec::SigmoidOp) { return FusedOpKind::Sigmoid; })
      .Case([](rec::SiluOp) { return FusedOpKind::Silu; })
      .Case([](rec::GeluOp) { return FusedOpKind::Gelu; })
      .Case([](rec::ReluOp) { return FusedOpKind::Relu; })
      .Case([](rec::NotOp) { return FusedOpKind::Not; })
      .Case([](rec::AddOp) { return FusedOpKind::Add; })
      .Case([](rec::SubOp) { return FusedOpKind::Sub; })
      .Case([](rec::MulOp) { return FusedOpKind::Mul; })
      .Case([](rec::DivOp) { return FusedOpKind::Div; })
      .Case([](rec::PowOp) { return FusedOpKind::Pow; })
      .Case([](rec::MaximumOp) { return FusedOpKind::Maximum; })
      .Case([](rec::MinimumOp) { return FusedOpKind::Minimum; })
      .Case([](rec::AndOp) { return FusedOpKind::And; })
      .Case([](rec::OrOp) { return FusedOpKind::Or; })
      .Case([](rec::CmpOp) { return FusedOpKind::Cmp; })
      .Case([](rec::SelectOp) { return FusedOpKind::Select; })
      .Case([](rec::ConstantOp) { return FusedOpKind::Const; })
      .Case([](rec::ReduceSumOp) { return FusedOpKind::ReduceSum; })
      .Case([](rec::ReduceMeanOp) { return FusedOpKind::ReduceMean; })
      .Case([](rec::ReduceMaxOp) { return FusedOpKind::ReduceMax; })
      .Case([](rec::ReduceMinOp) { return FusedOpKind::ReduceMin; })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace

FailureOr<flatbuffers::Offset<plan::FusedProgram>>
onerec::buildFusedProgram(flatbuffers::FlatBufferBuilder &fbb,
                          rec::FusedOp op) {
  std::optional<SmallVector<rec::Dim>> shape = op.getIterationShape();
  if (!shape)
    return op.emitOpError("plan: the group has no iteration shape");
  Block &body = op.getBody().front();

  // Broadcasts and casts compute nothing: their result is their operand's
  // register. `root` follows them.
  llvm::DenseMap<Value, Value> alias;
  auto root = [&](Value v) {
    while (alias.count(v))
      v = alias.lookup(v);
    return v;
  };
  for (Operation &inner : body)
    if (isa<rec::BroadcastOp, rec::CastOp>(inner))
      alias[inner.getResult(0)] = inner.getOperand(0);

  // The last instruction that reads each root (the yield counts as last).
  llvm::DenseMap<Value, unsigned> lastUse;
  unsigned position = 0;
  for (Operation &inner : body) {
    ++position;
    for (Value operand : inner.getOperands())
      lastUse[root(operand)] = isa<rec::YieldOp>(inner) ? ~0u : position;
  }

  std::vector<FusedKind> inputKinds;
  std::vector<plan::FusedInstr> code;
  llvm::DenseMap<Value, uint16_t> reg;
  llvm::DenseMap<Value, FusedKind> kindOf;
  std::vector<uint16_t> freeRegs;
  uint16_t registers = 0;
  auto allocate = [&]() -> uint16_t {
    if (!freeRegs.empty()) {
      uint16_t r = freeRegs.back();
      freeRegs.pop_back();
      return r;
    }
    return registers++;
  };
  auto release = [&](Value v, unsigned at) {
    auto it = lastUse.find(v);
    if (it != lastUse.end() && it->second == at && reg.count(v))
      freeRegs.push_back(reg[v]);
  };

  for (BlockArgument arg : body.getArguments()) {
    std::optional<rec::FusedValueKind> kind =
        rec::FusedOp::classify(arg.getType(), *shape);
    if (!kind)
      return op.emitOpError("plan: operand #")
             << arg.getArgNumber() << " has no kind";
    inputKinds.push_back(planKind(*kind));
    if (!lastUse.count(arg))
      continue; // unused: never loaded
    uint16_t r = allocate();
    reg[arg] = r;
    kindOf[arg] = planKind(*kind);
    code.emplace_back(FusedOpKind::Load, planKind(*kind), 0, r,
                      static_cast<uint16_t>(arg.getArgNumber()), 0, 0, 0.0);
  }

  position = 0;
  for (Operation &inner : body) {
    ++position;
    if (isa<rec::YieldOp, rec::BroadcastOp, rec::CastOp>(inner))
      continue;
    std::optional<FusedOpKind> opKind = instructionOf(&inner);
    if (!opKind)
      return inner.emitOpError("plan: no fused instruction for this op");
    SmallVector<uint16_t, 3> operands;
    SmallVector<FusedKind, 3> kinds;
    for (Value operand : inner.getOperands()) {
      Value r = root(operand);
      if (!reg.count(r))
        return inner.emitOpError("plan: operand has no register");
      operands.push_back(reg[r]);
      kinds.push_back(kindOf[r]);
    }
    FusedKind kind = FusedKind::Scalar;
    double value = 0;
    uint8_t predicate = 0;
    if (auto c = dyn_cast<rec::ConstantOp>(inner)) {
      value = c.getValueAsDouble();
    } else if (isa<rec::ReduceSumOp, rec::ReduceMeanOp, rec::ReduceMaxOp,
                   rec::ReduceMinOp>(inner)) {
      if (kinds[0] != FusedKind::Full)
        return inner.emitOpError("plan: a reduction in a fused group reads a "
                                 "value that is not computed full");
      kind = FusedKind::Row;
    } else {
      kind = kinds[0];
      for (FusedKind k : ArrayRef(kinds).drop_front())
        kind = combine(kind, k);
      if (auto cmp = dyn_cast<rec::CmpOp>(inner))
        predicate = static_cast<uint8_t>(cmp.getPredicate());
    }
    // Operands dead after this instruction free their registers first: the
    // interpreter lets an instruction overwrite a register it reads.
    llvm::SmallPtrSet<Value, 3> released;
    for (Value operand : inner.getOperands())
      if (released.insert(root(operand)).second)
        release(root(operand), position);
    Value result = inner.getResult(0);
    uint16_t dst = allocate();
    reg[result] = dst;
    kindOf[result] = kind;
    operands.resize(3, 0);
    code.emplace_back(*opKind, kind, predicate, dst, operands[0], operands[1],
                      operands[2], value);
    if (!lastUse.count(result))
      freeRegs.push_back(dst); // computed for nothing; the pass avoids it
  }

  std::vector<uint16_t> outputs;
  std::vector<FusedKind> outputKinds;
  for (Value value : op.getYield().getValues()) {
    Value r = root(value);
    std::optional<rec::FusedValueKind> want =
        rec::FusedOp::classify(value.getType(), *shape);
    if (!reg.count(r) || !want || kindOf[r] != planKind(*want))
      return op.emitOpError("plan: result of type ")
             << rec::formatTensorType(value.getType())
             << " is not computed at its own kind (a broadcast result)";
    outputs.push_back(reg[r]);
    outputKinds.push_back(kindOf[r]);
  }
  return plan::CreateFusedProgramDirect(fbb, &inputKinds,
                                        std::max<uint16_t>(registers, 1), &code,
                                        &outputs, &outputKinds);
}
