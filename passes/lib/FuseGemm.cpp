//===- FuseGemm.cpp - the rec-fuse-gemm pass ------------------------------===//
//
// Turns rec.matmul and what surrounds it into rec.gemm, and rec.weight_grad
// ops of one activation into rec.grouped_weight_grad, after autodiff. Per
// block, in this order:
//
//   1. SwiGLU: mul(silu(x·Wg), x·Wu), every intermediate used only there,
//      -> one gemm with a swiglu epilogue (the product alone is written).
//   2. Shared left operands: matmuls of one x with the same transposes
//      -> one gemm with a result per matmul, placed at the first of them.
//   3. Sums of products: an add tree whose leaves are matmuls (and at most
//      one other tensor of the result's type) -> one gemm that accumulates
//      every product into its output (the data gradient of a value used by
//      several linear layers: dX = dY1·W1ᵀ + dY2·W2ᵀ + ...).
//   4. Epilogues: matmul, then add of a bias vector, then an activation,
//      then add of a same-shape residual -> one gemm.
//   5. Weight gradients: weight_grads of one x -> one grouped_weight_grad,
//      placed at the last of them.
//
// The cost model is that of memory traffic: an intermediate is folded into
// a GEMM only when the fused op is its only user, so it is never needed in
// memory (fusing it anyway would compute it twice or write it all the
// same). No op that writes memory (the in-place optimizer updates) may lie
// between the first and the last op a fusion replaces: the fused op reads
// its operands at one point.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"

namespace onerec {
#define GEN_PASS_DEF_RECFUSEGEMM
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

RecTensorType typeOf(Value v) { return cast<RecTensorType>(v.getType()); }

/// The matmul defining `v`, if `v` is its only use's operand.
MatmulOp singleUseMatmul(Value v) {
  auto mm = v.getDefiningOp<MatmulOp>();
  return mm && v.hasOneUse() ? mm : MatmulOp();
}

/// True when an op between `first` and `last` (same block, first before
/// last, both excluded) may write memory.
bool writesBetween(Operation *first, Operation *last) {
  for (Operation *op = first->getNextNode(); op && op != last;
       op = op->getNextNode())
    if (!isMemoryEffectFree(op))
      return true;
  return false;
}

/// The first and the last of `ops` in block order.
std::pair<Operation *, Operation *> span(ArrayRef<Operation *> ops) {
  Operation *first = ops.front(), *last = ops.front();
  for (Operation *op : ops) {
    if (op->isBeforeInBlock(first))
      first = op;
    if (last->isBeforeInBlock(op))
      last = op;
  }
  return {first, last};
}

std::optional<GemmEpilogue> activationOf(Operation *op) {
  if (isa<ReluOp>(op))
    return GemmEpilogue::relu;
  if (isa<GeluOp>(op))
    return GemmEpilogue::gelu;
  if (isa<SiluOp>(op))
    return GemmEpilogue::silu;
  if (isa<SigmoidOp>(op))
    return GemmEpilogue::sigmoid;
  if (isa<TanhOp>(op))
    return GemmEpilogue::tanh;
  return std::nullopt;
}

GemmOp buildGemm(OpBuilder &b, Location loc, TypeRange results, ValueRange lhs,
                 ValueRange rhs, Value bias, Value residual, bool ta, bool tb,
                 GemmEpilogue epilogue) {
  auto gemm = b.create<GemmOp>(loc, results, lhs, rhs, bias, residual,
                               ta ? b.getUnitAttr() : UnitAttr(),
                               tb ? b.getUnitAttr() : UnitAttr(),
                               GemmEpilogueAttr::get(b.getContext(), epilogue));
  return gemm;
}

struct RecFuseGemmPass : public onerec::impl::RecFuseGemmBase<RecFuseGemmPass> {
  using RecFuseGemmBase::RecFuseGemmBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      for (Block &block : func.getBody()) {
        if (sharedLhs)
          fuseSwiglu(block);
        if (sharedLhs)
          fuseSharedLhs(block);
        if (sums)
          fuseSums(block);
        if (epilogues)
          fuseEpilogues(block);
        if (weightGrads)
          fuseWeightGrads(block);
      }
    }
  }

  /// mul(silu(x·Wg), x·Wu) -> gemm (x) x (Wg, Wu) {swiglu}.
  void fuseSwiglu(Block &block) {
    for (MulOp mul : llvm::make_early_inc_range(block.getOps<MulOp>())) {
      for (int gateSide = 0; gateSide < 2; ++gateSide) {
        Value gateValue = mul->getOperand(gateSide),
              upValue = mul->getOperand(1 - gateSide);
        auto silu = gateValue.getDefiningOp<SiluOp>();
        if (!silu || !gateValue.hasOneUse())
          continue;
        MatmulOp gate = singleUseMatmul(silu.getX()),
                 up = singleUseMatmul(upValue);
        if (!gate || !up || gate.getA() != up.getA() ||
            gate.getTransposeA() != up.getTransposeA() ||
            gate.getTransposeB() != up.getTransposeB() ||
            gate.getType() != up.getType() || mul.getType() != up.getType())
          continue;
        Operation *members[] = {gate, up, silu, mul};
        if (writesBetween(span(members).first, mul))
          continue;
        OpBuilder b(mul);
        GemmOp gemm = buildGemm(b, mul.getLoc(), {mul.getType()}, {up.getA()},
                                {gate.getB(), up.getB()}, Value(), Value(),
                                up.getTransposeA(), up.getTransposeB(),
                                GemmEpilogue::swiglu);
        mul.getResult().replaceAllUsesWith(gemm.getResult(0));
        mul.erase();
        silu.erase();
        gate.erase();
        up.erase();
        break;
      }
    }
  }

  /// True when two matmul results have the same dims but the last two.
  static bool sameBatchDims(Type a, Type b) {
    ArrayRef<Dim> x = cast<RecTensorType>(a).getDims(),
                  y = cast<RecTensorType>(b).getDims();
    return x.size() == y.size() && x.size() >= 2 &&
           x.drop_back(2) == y.drop_back(2);
  }

  /// Matmuls of one left operand -> one gemm with a result each.
  void fuseSharedLhs(Block &block) {
    using Key = std::tuple<Value, unsigned, unsigned>;
    llvm::MapVector<Key, SmallVector<MatmulOp>> groups;
    for (MatmulOp mm : block.getOps<MatmulOp>())
      groups[{mm.getA(), unsigned(mm.getTransposeA()),
              unsigned(mm.getTransposeB())}]
          .push_back(mm);
    for (auto &[key, members] : groups) {
      if (members.size() < 2)
        continue;
      // Placed at the first matmul: a right operand defined later must be a
      // parameter read (moved up) or the matmul stays out of the group.
      MatmulOp first = members.front();
      SmallVector<MatmulOp> group = {first};
      for (MatmulOp mm : ArrayRef(members).drop_front()) {
        Operation *def = mm.getB().getDefiningOp();
        if (def && def->getBlock() == &block && first->isBeforeInBlock(def) &&
            !isa<ParamRefOp>(def))
          continue;
        // One launch covers one batch: the results share their leading dims.
        if (!sameBatchDims(mm.getType(), first.getType()))
          continue;
        group.push_back(mm);
      }
      // Stop the group at the first op that writes memory.
      for (size_t i = 1; i < group.size(); ++i)
        if (writesBetween(first, group[i])) {
          group.resize(i);
          break;
        }
      if (group.size() < 2)
        continue;
      SmallVector<Value> rhs;
      SmallVector<Type> types;
      for (MatmulOp mm : group) {
        Operation *def = mm.getB().getDefiningOp();
        if (def && def->getBlock() == &block && first->isBeforeInBlock(def))
          def->moveBefore(first);
        rhs.push_back(mm.getB());
        types.push_back(mm.getType());
      }
      OpBuilder b(first);
      GemmOp gemm = buildGemm(b, first.getLoc(), types, {first.getA()}, rhs,
                              Value(), Value(), std::get<1>(key),
                              std::get<2>(key), GemmEpilogue::none);
      for (auto [i, mm] : llvm::enumerate(group)) {
        mm.getResult().replaceAllUsesWith(gemm.getResult(i));
        mm.erase();
      }
    }
  }

  /// add trees over matmuls -> one gemm accumulating into its output.
  void fuseSums(Block &block) {
    SmallVector<AddOp> adds(block.getOps<AddOp>());
    llvm::DenseSet<Operation *> erased;
    for (AddOp root : llvm::reverse(adds)) {
      if (erased.contains(root))
        continue;
      Type type = root.getType();
      if (!typeOf(root.getResult()).getElementType().isF32())
        continue;
      std::optional<std::pair<bool, bool>> flags;
      auto fusible = [&](Value v) -> MatmulOp {
        MatmulOp mm = singleUseMatmul(v);
        if (!mm || mm.getType() != type)
          return {};
        if (flags && *flags != std::make_pair(bool(mm.getTransposeA()),
                                              bool(mm.getTransposeB())))
          return {};
        return mm;
      };
      auto take = [&](MatmulOp mm, SmallVector<MatmulOp> &products) {
        flags = {mm.getTransposeA(), mm.getTransposeB()};
        products.push_back(mm);
      };
      auto sameTypes = [&](AddOp add) {
        return add.getLhs().getType() == type && add.getRhs().getType() == type;
      };
      if (!sameTypes(root))
        continue;
      // Walk down the chain: take a matmul from each add, continue into
      // the other operand while it is an add (used only here) with a
      // matmul of its own; what remains is the residual.
      SmallVector<MatmulOp> products;
      SmallVector<Operation *> chain = {root};
      Value residual;
      AddOp cur = root;
      while (true) {
        Value rest;
        if (MatmulOp mm = fusible(cur.getRhs())) {
          take(mm, products);
          rest = cur.getLhs();
        } else if (MatmulOp mm = fusible(cur.getLhs())) {
          take(mm, products);
          rest = cur.getRhs();
        } else {
          break; // only the root can get here
        }
        if (MatmulOp mm = fusible(rest)) {
          take(mm, products);
          break;
        }
        auto inner = rest.getDefiningOp<AddOp>();
        if (inner && rest.hasOneUse() && inner.getType() == type &&
            sameTypes(inner) &&
            (fusible(inner.getLhs()) || fusible(inner.getRhs()))) {
          chain.push_back(inner);
          cur = inner;
          continue;
        }
        residual = rest;
        break;
      }
      if (products.empty())
        continue;
      SmallVector<Operation *> ops(chain);
      for (MatmulOp mm : products)
        ops.push_back(mm);
      if (writesBetween(span(ops).first, root))
        continue;
      // Products in program order (the first computed first).
      SmallVector<Value> lhs, rhs;
      for (MatmulOp mm : llvm::reverse(products)) {
        lhs.push_back(mm.getA());
        rhs.push_back(mm.getB());
      }
      OpBuilder b(root);
      GemmOp gemm =
          buildGemm(b, root.getLoc(), {type}, lhs, rhs, Value(), residual,
                    flags->first, flags->second, GemmEpilogue::none);
      root.getResult().replaceAllUsesWith(gemm.getResult(0));
      for (Operation *op : chain) {
        erased.insert(op);
        op->erase();
      }
      for (MatmulOp mm : products)
        mm.erase();
    }
  }

  /// matmul [+ bias] [activation] [+ residual] -> one gemm.
  void fuseEpilogues(Block &block) {
    for (MatmulOp mm : llvm::make_early_inc_range(block.getOps<MatmulOp>())) {
      if (!mm.getResult().hasOneUse())
        continue;
      RecTensorType type = typeOf(mm.getResult());
      if (!type.getElementType().isF32() || type.getRank() < 2)
        continue;
      Value cur = mm.getResult(), bias, residual;
      SmallVector<Operation *> absorbed;
      GemmEpilogue epilogue = GemmEpilogue::none;
      auto otherOperand = [&](AddOp add) {
        return add.getLhs() == cur ? add.getRhs() : add.getLhs();
      };
      Operation *user = *cur.getUsers().begin();
      if (auto add = dyn_cast<AddOp>(user); add && add.getType() == type) {
        Value other = otherOperand(add);
        RecTensorType t = typeOf(other);
        if (other != cur && t.getRank() == 1 &&
            t.getDim(0) == type.getDims().back() &&
            t.getElementType() == type.getElementType()) {
          bias = other;
          absorbed.push_back(add);
          cur = add.getResult();
        }
      }
      if (cur.hasOneUse()) {
        Operation *next = *cur.getUsers().begin();
        if (std::optional<GemmEpilogue> act = activationOf(next)) {
          epilogue = *act;
          absorbed.push_back(next);
          cur = next->getResult(0);
        }
      }
      if (cur.hasOneUse()) {
        auto add = dyn_cast<AddOp>(*cur.getUsers().begin());
        if (add && add.getType() == type && add.getLhs() != add.getRhs() &&
            otherOperand(add).getType() == type) {
          residual = otherOperand(add);
          absorbed.push_back(add);
          cur = add.getResult();
        }
      }
      if (absorbed.empty())
        continue;
      Operation *last = absorbed.back();
      if (writesBetween(mm, last))
        continue;
      OpBuilder b(last);
      GemmOp gemm =
          buildGemm(b, last->getLoc(), {type}, {mm.getA()}, {mm.getB()}, bias,
                    residual, mm.getTransposeA(), mm.getTransposeB(), epilogue);
      cur.replaceAllUsesWith(gemm.getResult(0));
      for (Operation *op : llvm::reverse(absorbed))
        op->erase();
      mm.erase();
    }
  }

  /// weight_grads of one x -> one grouped_weight_grad at the last of them.
  void fuseWeightGrads(Block &block) {
    llvm::MapVector<Value, SmallVector<WeightGradOp>> groups;
    for (WeightGradOp wg : block.getOps<WeightGradOp>())
      groups[wg.getX()].push_back(wg);
    for (auto &[x, members] : groups) {
      if (members.size() < 2)
        continue;
      // Placed at the last member: members whose result is used before it
      // stay out; then the last member may change, so repeat.
      SmallVector<WeightGradOp> group(members);
      while (group.size() >= 2) {
        WeightGradOp last = group.back();
        auto early = [&](WeightGradOp wg) {
          return llvm::any_of(wg->getUsers(), [&](Operation *user) {
            return user->getBlock() == &block && user->isBeforeInBlock(last);
          });
        };
        size_t before = group.size();
        llvm::erase_if(group, early);
        if (group.size() == before)
          break;
      }
      if (group.size() < 2 || writesBetween(group.front(), group.back()))
        continue;
      WeightGradOp last = group.back();
      SmallVector<Value> dys;
      SmallVector<Type> types;
      for (WeightGradOp wg : group) {
        dys.push_back(wg.getY());
        types.push_back(wg.getType());
      }
      OpBuilder b(last);
      auto fused = b.create<GroupedWeightGradOp>(last.getLoc(), types, x, dys);
      for (auto [i, wg] : llvm::enumerate(group)) {
        wg.getResult().replaceAllUsesWith(fused.getResult(i));
        wg.erase();
      }
    }
  }
};

} // namespace
