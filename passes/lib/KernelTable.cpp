//===- KernelTable.cpp - which runtime kernel realizes each rec op --------===//

#include "KernelTable.h"
#include "onerec/Passes/EntryCost.h"

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "plan_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>

using namespace mlir;
using namespace onerec;
using rec::RecTensorType;

namespace {

/// `reduce_sum` -> `ReduceSum`; the two ops whose mnemonic is one word.
std::string opcodeNameFor(StringRef mnemonic) {
  if (mnemonic == "topk")
    return "TopK";
  if (mnemonic == "argmax")
    return "ArgMax";
  if (mnemonic == "adamw_update")
    return "AdamWUpdate";
  if (mnemonic == "multi_adamw_update")
    return "MultiAdamWUpdate";
  std::string name;
  bool upper = true;
  for (char c : mnemonic) {
    if (c == '_') {
      upper = true;
      continue;
    }
    name += upper ? llvm::toUpper(c) : c;
    upper = false;
  }
  return name;
}

bool isPlanOpcode(StringRef name) {
  for (plan::OpCode op : plan::EnumValuesOpCode())
    if (name == plan::EnumNameOpCode(op))
      return true;
  return false;
}

RecTensorType tensorType(Value v) { return cast<RecTensorType>(v.getType()); }

int64_t normalizeAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

int64_t dimAtMax(rec::Dim dim, const llvm::StringMap<int64_t> &maxima) {
  if (dim.isStatic())
    return dim.size;
  auto it = maxima.find(dim.symbol.getValue());
  return it == maxima.end() ? 1 : it->second;
}

} // namespace

int64_t onerec::numElementsAtMax(Type type,
                                 const llvm::StringMap<int64_t> &maxima) {
  int64_t n = 1;
  for (rec::Dim dim : cast<RecTensorType>(type).getDims())
    n *= dimAtMax(dim, maxima);
  return n;
}

KernelChoice onerec::chooseKernel(Operation *op, bool training) {
  KernelChoice choice;
  if (isa<rec::ParamRefOp>(op)) {
    choice.kind = KernelKind::Parameter;
    return choice;
  }
  if (isa<rec::ReshapeOp>(op) || (isa<rec::DropoutOp>(op) && !training)) {
    choice.kind = KernelKind::View;
    return choice;
  }
  if (isa<rec::InCatalogOp, rec::ItemFlagOp>(op)) {
    choice.reason = (op->getName().getStringRef() +
                     " queries the item catalog, which the runtime receives "
                     "with generation")
                        .str();
    return choice;
  }
  if (op->getDialect() && op->getDialect()->getNamespace() == "rec") {
    std::string name = opcodeNameFor(op->getName().stripDialect());
    if (isPlanOpcode(name)) {
      choice.kind = KernelKind::Kernel;
      choice.opcode = name;
      return choice;
    }
  }
  choice.reason =
      ("no runtime kernel realizes " + op->getName().getStringRef()).str();
  return choice;
}

SmallVector<Value> onerec::kernelOperands(Operation *op) {
  return llvm::TypeSwitch<Operation *, SmallVector<Value>>(op)
      .Case<rec::AttentionOp>([](rec::AttentionOp a) {
        return SmallVector<Value>{a.getQ(), a.getK(), a.getV(), a.getMask(),
                                  a.getBias()};
      })
      .Case<rec::DecodeAttentionOp>([](rec::DecodeAttentionOp a) {
        return SmallVector<Value>{a.getQ(),    a.getK(),    a.getV(),
                                  a.getKNew(), a.getVNew(), a.getLengths(),
                                  a.getRows()};
      })
      .Case<rec::MoeOp>([](rec::MoeOp m) {
        return SmallVector<Value>{m.getX(),  m.getGate(),     m.getGateBias(),
                                  m.getUp(), m.getGateProj(), m.getDown()};
      })
      .Case<rec::CrossEntropyOp, rec::BceWithLogitsOp>([](auto l) {
        return SmallVector<Value>{l.getLogits(), l.getLabels(), l.getMask()};
      })
      .Case<rec::AttentionGradOp>([](rec::AttentionGradOp a) {
        return SmallVector<Value>{a.getQ(),    a.getK(),    a.getV(),
                                  a.getMask(), a.getBias(), a.getDy()};
      })
      .Case<rec::MoeGradOp>([](rec::MoeGradOp m) {
        return SmallVector<Value>{m.getX(),  m.getGate(),     m.getGateBias(),
                                  m.getUp(), m.getGateProj(), m.getDown(),
                                  m.getDy()};
      })
      .Case<rec::CrossEntropyGradOp, rec::BceWithLogitsGradOp>([](auto l) {
        return SmallVector<Value>{l.getLogits(), l.getLabels(), l.getMask(),
                                  l.getDloss()};
      })
      .Case<rec::SampledSoftmaxGradOp>([](rec::SampledSoftmaxGradOp s) {
        return SmallVector<Value>{s.getH(),   s.getTable(), s.getPos(),
                                  s.getNeg(), s.getMask(),  s.getDloss()};
      })
      .Case<rec::SampledSoftmaxOp>([](rec::SampledSoftmaxOp s) {
        return SmallVector<Value>{s.getH(), s.getTable(), s.getPos(),
                                  s.getNeg(), s.getMask()};
      })
      .Case<rec::EcpoLossOp>([](rec::EcpoLossOp e) {
        return SmallVector<Value>{e.getLogp(), e.getOldLogp(), e.getAdvantage(),
                                  e.getMask()};
      })
      .Case<rec::GemmOp>([](rec::GemmOp g) {
        // Plan order: the first product's a and b (operand 0 keys the
        // kernel's dtype), bias?, residual?, then the further products'
        // (a, b) pairs, or their b alone when the left operand is shared.
        SmallVector<Value> operands = {g.getLhs()[0], g.getRhs()[0],
                                       g.getBias(), g.getResidual()};
        for (size_t p = 1; p < g.getRhs().size(); ++p) {
          if (!g.isSharedLhs())
            operands.push_back(g.getLhs()[p]);
          operands.push_back(g.getRhs()[p]);
        }
        return operands;
      })
      .Default([](Operation *o) {
        return SmallVector<Value>(o->getOperands().begin(),
                                  o->getOperands().end());
      });
}

SmallVector<Value> onerec::kernelResults(Operation *op) {
  if (auto m = dyn_cast<rec::MoeGradOp>(op))
    return {m.getDx(), m.getDgate(), m.getDup(), m.getDgateProj(),
            m.getDdown()};
  if (auto a = dyn_cast<rec::AttentionGradOp>(op)) {
    // dbias only with a bias (a trailing result, so no absent marker).
    SmallVector<Value> results = {a.getDq(), a.getDk(), a.getDv()};
    if (a.getDbias())
      results.push_back(a.getDbias());
    return results;
  }
  return SmallVector<Value>(op->getResults().begin(), op->getResults().end());
}

bool onerec::mayComputeInPlace(Operation *op) {
  return isa<rec::NegOp, rec::AbsOp, rec::ExpOp, rec::LogOp, rec::SqrtOp,
             rec::RsqrtOp, rec::TanhOp, rec::SigmoidOp, rec::SiluOp,
             rec::GeluOp, rec::ReluOp, rec::NotOp, rec::AddOp, rec::SubOp,
             rec::MulOp, rec::DivOp, rec::PowOp, rec::MaximumOp, rec::MinimumOp,
             rec::AndOp, rec::OrOp>(op);
}

PlanAttrs onerec::kernelAttrs(Operation *op) {
  PlanAttrs attrs;
  auto set = [&](StringRef name, PlanAttrValue value) {
    for (auto &[key, old] : attrs)
      if (key == name) {
        old = std::move(value);
        return;
      }
    attrs.emplace_back(name.str(), std::move(value));
  };

  // Inherent attributes, generically: integers (and integer enums), floats,
  // integer arrays, unit flags, and the dialect's enum attributes.
  for (NamedAttribute named : op->getAttrs()) {
    StringRef name = named.getName().getValue();
    if (name.contains('.') || name == "operandSegmentSizes")
      continue;
    Attribute attr = named.getValue();
    if (auto i = dyn_cast<IntegerAttr>(attr))
      set(name, i.getType().isInteger(1)
                    ? static_cast<int64_t>(i.getValue().getZExtValue())
                    : i.getValue().getSExtValue());
    else if (auto f = dyn_cast<FloatAttr>(attr))
      set(name, f.getValueAsDouble());
    else if (auto array = dyn_cast<DenseI64ArrayAttr>(attr))
      set(name, std::vector<int64_t>(array.asArrayRef().begin(),
                                     array.asArrayRef().end()));
    else if (isa<UnitAttr>(attr))
      set(name, int64_t(1));
    else if (auto e = dyn_cast<rec::ActivationAttr>(attr))
      set(name, static_cast<int64_t>(e.getValue()));
    else if (auto e = dyn_cast<rec::MoeBalanceAttr>(attr))
      set(name, static_cast<int64_t>(e.getValue()));
    else if (auto e = dyn_cast<rec::ScoreNormAttr>(attr))
      set(name, static_cast<int64_t>(e.getValue()));
    else if (auto e = dyn_cast<rec::EmbeddingCombineAttr>(attr))
      set(name, static_cast<int64_t>(e.getValue()));
    else if (auto e = dyn_cast<rec::ReductionAttr>(attr))
      set(name, static_cast<int64_t>(e.getValue()));
    else if (auto e = dyn_cast<rec::GemmEpilogueAttr>(attr))
      set(name, static_cast<int64_t>(e.getValue()));
  }

  // Op-specific: defaults of absent flags, normalized axes, derived values.
  llvm::TypeSwitch<Operation *>(op)
      .Case<rec::MatmulOp>([&](auto m) {
        set("transpose_a", int64_t(m.getTransposeA()));
        set("transpose_b", int64_t(m.getTransposeB()));
      })
      .Case<rec::GemmOp>([&](rec::GemmOp g) {
        set("transpose_a", int64_t(g.getTransposeA()));
        set("transpose_b", int64_t(g.getTransposeB()));
        set("epilogue", static_cast<int64_t>(g.getEpilogue()));
        set("shared_lhs", int64_t(g.isSharedLhs()));
      })
      .Case<rec::AttentionOp, rec::AttentionGradOp>([&](auto a) {
        set("causal", int64_t(a.getCausal()));
        set("score_norm", static_cast<int64_t>(a.getScoreNorm()));
      })
      .Case<rec::EmbeddingOp, rec::EmbeddingGradOp>([&](auto e) {
        int64_t codebook = 0;
        if (auto sid =
                dyn_cast<rec::SidType>(tensorType(e.getIds()).getElementType()))
          codebook = sid.getCodebook();
        set("codebook", codebook);
        set("combine", static_cast<int64_t>(e.getCombine()));
      })
      .Case<rec::AdamWUpdateOp>([&](rec::AdamWUpdateOp u) {
        set("decay", int64_t(u.getDecay()));
        set("decoupled", int64_t(u.getDecoupled()));
      })
      .Case<rec::SgdUpdateOp>(
          [&](rec::SgdUpdateOp u) { set("decay", int64_t(u.getDecay())); })
      .Case<rec::MultiAdamWUpdateOp>([&](rec::MultiAdamWUpdateOp u) {
        set("decoupled", int64_t(u.getDecoupled()));
      })
      .Case<rec::IotaOp>([&](rec::IotaOp i) {
        set("axis", normalizeAxis(i.getAxisAttr().getInt(),
                                  tensorType(i.getResult()).getRank()));
      })
      .Case<rec::ConcatOp, rec::GatherOp, rec::ScatterAddOp, rec::ArgMaxOp,
            rec::SoftmaxOp, rec::LogSoftmaxOp>([&](auto o) {
        set("axis", normalizeAxis(o.getAxisAttr().getInt(),
                                  tensorType(op->getOperand(0)).getRank()));
      })
      .Case<rec::SliceOp>([&](rec::SliceOp s) {
        RecTensorType x = tensorType(s.getX());
        int64_t axis = normalizeAxis(s.getAxisAttr().getInt(), x.getRank());
        // The verifier has checked the bounds against the static axis.
        int64_t size = x.getDim(axis).size;
        auto bound = [&](int64_t v) { return v < 0 ? v + size : v; };
        set("axis", axis);
        set("start", bound(s.getStartAttr().getInt()));
        set("end", bound(s.getEndAttr().getInt()));
      })
      .Case<rec::ReduceSumOp, rec::ReduceMeanOp, rec::ReduceMaxOp,
            rec::ReduceMinOp>([&](auto r) {
        int64_t rank = tensorType(r.getX()).getRank();
        std::vector<int64_t> axes;
        for (int64_t axis : r.getAxes())
          axes.push_back(normalizeAxis(axis, rank));
        if (axes.empty())
          for (int64_t i = 0; i < rank; ++i)
            axes.push_back(i);
        llvm::sort(axes);
        axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
        set("axes", axes);
        set("keepdim", int64_t(r.getKeepdim()));
      })
      .Case<rec::ConstantOp>([&](rec::ConstantOp c) {
        // Integers exactly (a double holds only 53 bits), floats as doubles.
        if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
          set("value", i.getInt());
        else
          set("value", c.getValueAsDouble());
      })
      .Case<rec::CmpOp>([&](rec::CmpOp c) {
        set("predicate", static_cast<int64_t>(c.getPredicate()));
      })
      .Default([](Operation *) {});
  return attrs;
}

double onerec::estimateFlops(Operation *op,
                             const llvm::StringMap<int64_t> &maxima) {
  auto elems = [&](Value v) {
    return static_cast<double>(numElementsAtMax(v.getType(), maxima));
  };
  auto lastDim = [&](Value v) {
    RecTensorType t = tensorType(v);
    return t.getRank()
               ? static_cast<double>(dimAtMax(t.getDims().back(), maxima))
               : 1.0;
  };
  return llvm::TypeSwitch<Operation *, double>(op)
      .Case<rec::MatmulOp>([&](rec::MatmulOp m) {
        RecTensorType a = tensorType(m.getA());
        rec::Dim k = m.getTransposeA() ? a.getDims().drop_back().back()
                                       : a.getDims().back();
        return 2.0 * elems(m.getResult()) * dimAtMax(k, maxima);
      })
      .Case<rec::AttentionOp>([&](rec::AttentionOp a) {
        RecTensorType k = tensorType(a.getK());
        double lk = dimAtMax(k.getDims().drop_back().back(), maxima);
        double dqk = 2.0 * elems(a.getQ()) * lk;
        double pv = 2.0 * elems(a.getResult()) * lk;
        double softmax =
            5.0 * (elems(a.getQ()) / lastDim(a.getQ())) * a.getNumHeads() * lk;
        return dqk + pv + softmax;
      })
      .Case<rec::DecodeAttentionOp>([&](rec::DecodeAttentionOp a) {
        // Every row attends over all L keys at the maxima (+ the new ones).
        RecTensorType k = tensorType(a.getK());
        double lk =
            dimAtMax(k.getDims()[1], maxima) +
            (a.getKNew() ? dimAtMax(tensorType(a.getQ()).getDims()[1], maxima)
                         : 0.0);
        return 2.0 * (elems(a.getQ()) + elems(a.getResult())) * lk;
      })
      .Case<rec::MoeOp>([&](rec::MoeOp m) {
        RecTensorType up = tensorType(m.getUp());
        double d = up.getDim(1).size, h = up.getDim(2).size,
               e = up.getDim(0).size;
        double tokens = elems(m.getX()) / d;
        double perExpert =
            2.0 * d * h * (m.getGateProj() ? 2 : 1) + 2.0 * h * d;
        return tokens * (2.0 * d * e + m.getTopK() * perExpert);
      })
      .Case<rec::WeightGradOp>([&](rec::WeightGradOp w) {
        return 2.0 * elems(w.getX()) * lastDim(w.getY());
      })
      .Case<rec::GemmOp>([&](rec::GemmOp g) {
        // 2·m·n·k per product, then a few per output element for the adds
        // between products, the bias, the activation and the residual.
        bool shared = g.isSharedLhs();
        bool swiglu = g.getEpilogue() == rec::GemmEpilogue::swiglu;
        double flops = 0;
        for (auto [p, b] : llvm::enumerate(g.getRhs())) {
          RecTensorType a = tensorType(g.getLhs()[shared ? 0 : p]);
          rec::Dim k = g.getTransposeA() ? a.getDims().drop_back().back()
                                         : a.getDims().back();
          Value y = g.getResult(shared && !swiglu ? p : 0);
          flops += 2.0 * elems(y) * dimAtMax(k, maxima);
        }
        double outputs = elems(g.getResult(0));
        double extra = double(g.getRhs().size() - 1) * (shared ? 0 : 1) +
                       (g.getBias() ? 1 : 0) + (g.getResidual() ? 1 : 0);
        switch (g.getEpilogue()) {
        case rec::GemmEpilogue::none:
          break;
        case rec::GemmEpilogue::relu:
          extra += 1;
          break;
        default: // gelu, silu, sigmoid, tanh, swiglu: an exp or tanh and more
          extra += 4;
        }
        return flops + extra * outputs;
      })
      .Case<rec::GroupedWeightGradOp>([&](rec::GroupedWeightGradOp w) {
        double flops = 0;
        for (Value dy : w.getDys())
          flops += 2.0 * elems(w.getX()) * lastDim(dy);
        return flops;
      })
      .Case<rec::AttentionGradOp>([&](rec::AttentionGradOp a) {
        // Recomputed scores and probabilities, then dV, dP, dQ and dK.
        RecTensorType k = tensorType(a.getK());
        double lk = dimAtMax(k.getDims().drop_back().back(), maxima);
        double qk = 2.0 * elems(a.getQ()) * lk;
        double pv = 2.0 * elems(a.getDy()) * lk;
        return 3.0 * qk + 2.0 * pv;
      })
      .Case<rec::MoeGradOp>([&](rec::MoeGradOp m) {
        RecTensorType up = tensorType(m.getUp());
        double d = up.getDim(1).size, h = up.getDim(2).size,
               e = up.getDim(0).size;
        double tokens = elems(m.getX()) / d;
        double perExpert =
            2.0 * d * h * (m.getGateProj() ? 2 : 1) + 2.0 * h * d;
        return tokens * (4.0 * d * e + 3.0 * m.getTopK() * perExpert);
      })
      .Case<rec::RmsNormOp, rec::LayerNormOp>(
          [&](Operation *o) { return 8.0 * elems(o->getResult(0)); })
      .Case<rec::RmsNormGradOp, rec::LayerNormGradOp>(
          [&](Operation *o) { return 12.0 * elems(o->getResult(0)); })
      .Case<rec::CrossEntropyGradOp, rec::BceWithLogitsGradOp>(
          [&](Operation *o) { return 5.0 * elems(o->getOperand(0)); })
      .Case<rec::SampledSoftmaxGradOp>([&](rec::SampledSoftmaxGradOp s) {
        double positions = elems(s.getH()) / lastDim(s.getH());
        double candidates = 1.0 + lastDim(s.getNeg());
        return positions * candidates * (4.0 * lastDim(s.getH()) + 5.0);
      })
      .Case<rec::EmbeddingGradOp>(
          [&](rec::EmbeddingGradOp e) { return elems(e.getDy()); })
      // Each table adds its columns of dy.
      .Case<rec::MultiEmbeddingGradOp>([&](rec::MultiEmbeddingGradOp e) {
        double flops = 0;
        for (Value dtable : e.getDtables())
          flops += elems(e.getDy()) / lastDim(e.getDy()) * lastDim(dtable);
        return flops;
      })
      .Case<rec::GlobalNormOp>([&](rec::GlobalNormOp g) {
        double n = 0;
        for (Value v : g.getInputs())
          n += 2.0 * elems(v);
        return n;
      })
      .Case<rec::AdamWUpdateOp>(
          [&](rec::AdamWUpdateOp u) { return 12.0 * elems(u.getParam()); })
      .Case<rec::SgdUpdateOp>(
          [&](rec::SgdUpdateOp u) { return 5.0 * elems(u.getParam()); })
      // Fused updates: the norm's 2 per element, then the update's.
      .Case<rec::MultiAdamWUpdateOp, rec::MultiSgdUpdateOp>([&](auto u) {
        double perElement = isa<rec::MultiAdamWUpdateOp>(u) ? 14.0 : 7.0;
        double n = 0;
        for (Value p : u.getParams())
          n += perElement * elems(p);
        return n;
      })
      .Case<rec::SoftmaxOp, rec::LogSoftmaxOp>(
          [&](Operation *o) { return 5.0 * elems(o->getResult(0)); })
      .Case<rec::CrossEntropyOp, rec::BceWithLogitsOp>(
          [&](Operation *o) { return 5.0 * elems(o->getOperand(0)); })
      .Case<rec::SampledSoftmaxOp>([&](rec::SampledSoftmaxOp s) {
        double positions = elems(s.getH()) / lastDim(s.getH());
        double candidates = 1.0 + lastDim(s.getNeg());
        return positions * candidates * (2.0 * lastDim(s.getH()) + 5.0);
      })
      .Case<rec::EmbeddingOp>(
          [&](rec::EmbeddingOp e) { return elems(e.getResult()); })
      .Case<rec::MultiEmbeddingOp>(
          [&](rec::MultiEmbeddingOp e) { return elems(e.getResult()); })
      // 1.2: a fused group does the work of its body.
      .Case<rec::FusedOp>([&](rec::FusedOp f) {
        double n = 0;
        for (Operation &inner : f.getBody().front())
          n += isa<rec::ReduceSumOp, rec::ReduceMeanOp, rec::ReduceMaxOp,
                   rec::ReduceMinOp>(inner)
                   ? elems(inner.getOperand(0))
                   : estimateFlops(&inner, maxima);
        return n;
      })
      .Default([&](Operation *o) {
        if (o->getNumResults() != 1 || mayComputeInPlace(o) == false)
          return 0.0;
        return elems(o->getResult(0));
      });
}

EntryCost onerec::estimateEntryCost(func::FuncOp func) {
  llvm::StringMap<int64_t> maxima;
  if (auto module = func->getParentOfType<ModuleOp>())
    for (auto dim : module.getOps<rec::DimOp>())
      maxima[dim.getSymName()] = static_cast<int64_t>(dim.getMax());
  auto bytesOf = [&](Value v) {
    auto type = cast<RecTensorType>(v.getType());
    Type e = type.getElementType();
    int64_t width = isa<rec::IdType, rec::SidType>(e)
                        ? 8
                        : std::max<int64_t>(1, e.getIntOrFloatBitWidth() / 8);
    return static_cast<double>(numElementsAtMax(type, maxima) * width);
  };
  EntryCost cost;
  func.walk([&](Operation *op) {
    auto kernel = op->getAttrOfType<StringAttr>("rec.kernel");
    if (!kernel || kernel.getValue() == "view" || kernel.getValue() == "param")
      return;
    ++cost.kernels;
    cost.flops += estimateFlops(op, maxima);
    for (Value v : kernelOperands(op))
      if (v)
        cost.bytes += bytesOf(v);
    for (Value v : kernelResults(op))
      if (v)
        cost.bytes += bytesOf(v);
  });
  return cost;
}
