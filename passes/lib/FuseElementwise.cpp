//===- FuseElementwise.cpp - the rec-fuse-elementwise pass ----------------===//
//
// Groups chains of elementwise ops and last-axis reductions into rec.fused
// ops (one kernel each). The cost model (docs/fusion.md): a group forms only
// along producer -> consumer edges, so every merge removes a materialized
// intermediate or at least one read of it; nothing but scalar constants is
// ever duplicated; no op moves past a memory write; a group reads at most
// max-inputs tensors; and a group of one op stays that op.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/Passes.h"

#include "onerec/Dialect/Rec/IR/Rec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/ADT/SetVector.h"

namespace onerec {
#define GEN_PASS_DEF_RECFUSEELEMENTWISE
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

/// The kind of an elementwise result from its operands' kinds (numpy
/// broadcasting over rows x cols): a row and a column make a full value.
FusedValueKind combineKinds(FusedValueKind a, FusedValueKind b) {
  if (a == b || b == FusedValueKind::scalar)
    return a;
  if (a == FusedValueKind::scalar)
    return b;
  return FusedValueKind::full;
}

RecTensorType typeOf(Value v) { return cast<RecTensorType>(v.getType()); }

bool isReduction(Operation *op) {
  return isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp>(op);
}

/// True for a reduction over exactly the last axis.
bool reducesLastAxis(Operation *op) {
  auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef();
  int64_t rank = typeOf(op->getOperand(0)).getRank();
  return rank >= 1 && axes.size() == 1 &&
         (axes[0] == -1 || axes[0] == rank - 1);
}

/// The type of a reduction's result with `keepdim` (what the body computes).
RecTensorType keptType(Operation *op) {
  RecTensorType x = typeOf(op->getOperand(0));
  SmallVector<Dim> dims(x.getDims());
  dims.back() = Dim::fixed(1);
  return RecTensorType::get(dims, x.getElementType());
}

/// The type `value` has inside a body.
Type bodyType(Value value) {
  Operation *def = value.getDefiningOp();
  if (def && isReduction(def) && !def->hasAttr("keepdim"))
    return keptType(def);
  return value.getType();
}

/// A constant of one element: copied into every body that reads it.
bool isScalarConstant(Value v) {
  return isa_and_nonnull<ConstantOp>(v.getDefiningOp()) &&
         typeOf(v).getStaticNumElements() == std::optional<int64_t>(1);
}

bool isFusableType(Type type) {
  auto t = cast<RecTensorType>(type);
  return t.isFloat() || t.isBool();
}

/// Ops that may join a group (their shapes are checked when they do).
bool isFusable(Operation *op) {
  if (!FusedOp::isAllowedInBody(op) || isa<YieldOp>(op) ||
      op->getNumResults() != 1)
    return false;
  if (isReduction(op) && !reducesLastAxis(op))
    return false;
  for (Type t : op->getOperandTypes())
    if (!isFusableType(t))
      return false;
  return isFusableType(op->getResult(0).getType());
}

/// Builds op `OpT` with the result types its shape rule infers.
template <typename OpT, typename... Args>
Value createInferred(OpBuilder &b, Location loc, Args &&...args) {
  auto op = b.create<OpT>(loc, TypeRange(b.getNoneType()),
                          std::forward<Args>(args)...);
  SmallVector<Type> types;
  if (failed(cast<ShapeInferenceOpInterface>(op.getOperation())
                 .inferResultTypes(types))) {
    op->erase();
    return Value();
  }
  op->getResult(0).setType(types[0]);
  return op->getResult(0);
}

/// Expands a last-axis softmax, rms_norm or layer_norm into primitives (the
/// formulas of their kernels), returning the value that replaces it.
Value expandComposite(OpBuilder &b, Operation *op) {
  Location loc = op->getLoc();
  Value x = op->getOperand(0);
  RecTensorType type = typeOf(x);
  auto last = b.getDenseI64ArrayAttr({-1});
  auto keep = b.getUnitAttr();
  auto scalar = [&](double v) {
    return b.create<ConstantOp>(loc,
                                RecTensorType::get({}, type.getElementType()),
                                b.getF64FloatAttr(v));
  };
  if (isa<SoftmaxOp>(op)) {
    Value m = createInferred<ReduceMaxOp>(b, loc, x, last, keep);
    Value e =
        createInferred<ExpOp>(b, loc, createInferred<SubOp>(b, loc, x, m));
    Value s = createInferred<ReduceSumOp>(b, loc, e, last, keep);
    return createInferred<DivOp>(b, loc, e, s);
  }
  if (auto rms = dyn_cast<RmsNormOp>(op)) {
    Value sq = createInferred<MulOp>(b, loc, x, x);
    Value ms = createInferred<ReduceMeanOp>(b, loc, sq, last, keep);
    Value inv = createInferred<RsqrtOp>(
        b, loc,
        createInferred<AddOp>(b, loc, ms,
                              scalar(rms.getEps().convertToDouble())));
    return createInferred<MulOp>(b, loc, createInferred<MulOp>(b, loc, x, inv),
                                 rms.getGain());
  }
  auto ln = cast<LayerNormOp>(op);
  Value mean = createInferred<ReduceMeanOp>(b, loc, x, last, keep);
  Value xc = createInferred<SubOp>(b, loc, x, mean);
  Value var = createInferred<ReduceMeanOp>(
      b, loc, createInferred<MulOp>(b, loc, xc, xc), last, keep);
  Value inv = createInferred<RsqrtOp>(
      b, loc,
      createInferred<AddOp>(b, loc, var,
                            scalar(ln.getEps().convertToDouble())));
  Value y = createInferred<MulOp>(
      b, loc, createInferred<MulOp>(b, loc, xc, inv), ln.getGain());
  return createInferred<AddOp>(b, loc, y, ln.getBias());
}

/// True when `op` is a composite worth expanding: a last-axis softmax or a
/// norm whose operand a fusable op computes.
bool shouldExpand(Operation *op) {
  if (auto s = dyn_cast<SoftmaxOp>(op)) {
    int64_t rank = typeOf(s.getX()).getRank();
    int64_t axis = static_cast<int64_t>(s.getAxis());
    if (!(axis == -1 || axis == rank - 1))
      return false;
  } else if (!isa<RmsNormOp, LayerNormOp>(op)) {
    return false;
  }
  if (!typeOf(op->getOperand(0)).isFloat() ||
      !typeOf(op->getResult(0)).isFloat())
    return false;
  Operation *producer = op->getOperand(0).getDefiningOp();
  return producer && isFusable(producer) && !isReduction(producer);
}

/// A group under construction: its members in program order.
struct Group {
  SmallVector<Operation *> members;
};

class Fuser {
public:
  Fuser(func::FuncOp func, unsigned maxInputs)
      : func(func), maxInputs(maxInputs) {}

  void run() {
    Block &body = func.getBody().front();
    for (Operation &op : body) {
      if (!isFusable(&op) || isa<ConstantOp>(op))
        continue;
      // The groups producing this op's operands.
      SmallVector<unsigned> producers;
      for (Value operand : op.getOperands()) {
        Operation *def = operand.getDefiningOp();
        auto it = def ? groupOf.find(def) : groupOf.end();
        if (it != groupOf.end() && !llvm::is_contained(producers, it->second))
          producers.push_back(it->second);
      }
      // Greedily join producer groups, the one last touched first.
      unsigned mine = newGroup(&op);
      for (unsigned g : producers)
        if (canMerge(g, mine))
          mine = merge(g, mine);
      // Then siblings: earlier groups that read an operand this op reads
      // from outside (SwiGLU's backward reads dy twice), so the operand is
      // read once and both run as one kernel.
      for (Value operand : op.getOperands()) {
        if (isScalarConstant(operand))
          continue;
        for (Operation *user : operand.getUsers()) {
          auto it = groupOf.find(user);
          if (it == groupOf.end() || it->second == mine ||
              !user->isBeforeInBlock(&op))
            continue;
          Operation *def = operand.getDefiningOp();
          if (def && groupOf.count(def) && groupOf[def] == it->second)
            continue; // a producer group, already considered
          if (canMerge(it->second, mine))
            mine = merge(it->second, mine);
        }
      }
    }
    for (Group &g : groups)
      if (g.members.size() >= 2)
        materialize(g);
  }

private:
  unsigned newGroup(Operation *op) {
    groups.push_back(Group{{op}});
    groupOf[op] = groups.size() - 1;
    return groups.size() - 1;
  }

  /// Merges group `from` into `into` (whose last member is the newest op).
  unsigned merge(unsigned from, unsigned into) {
    SmallVector<Operation *> all(groups[from].members);
    all.append(groups[into].members);
    llvm::sort(
        all, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    for (Operation *m : all)
      groupOf[m] = into;
    groups[into].members = std::move(all);
    groups[from].members.clear();
    return into;
  }

  /// The legality and cost checks of merging groups `a` and `b`.
  bool canMerge(unsigned a, unsigned b) {
    SmallVector<Operation *> all(groups[a].members);
    all.append(groups[b].members);
    llvm::sort(
        all, [](Operation *x, Operation *y) { return x->isBeforeInBlock(y); });
    llvm::SmallPtrSet<Operation *, 16> set(all.begin(), all.end());
    Operation *first = all.front(), *last = all.back();
    // Nothing between the first and last member writes memory: the group
    // runs at its last member's place.
    for (Operation *op = first->getNextNode(); op != last;
         op = op->getNextNode())
      if (!set.contains(op) && !isMemoryEffectFree(op))
        return false;
    // Values leaving the group are used after its last member; a reduction
    // without keepdim is used only outside (the body keeps the 1).
    llvm::SetVector<Value> inputs;
    SmallVector<Type> types;
    for (Operation *m : all) {
      for (Value operand : m->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (def && set.contains(def)) {
          if (isReduction(def) && !def->hasAttr("keepdim"))
            return false;
          continue;
        }
        if (isScalarConstant(operand))
          continue; // copied into the body
        inputs.insert(operand);
        types.push_back(operand.getType());
      }
      for (Value result : m->getResults()) {
        types.push_back(bodyType(result));
        for (Operation *user : result.getUsers())
          if (!set.contains(user) && !last->isBeforeInBlock(user))
            return false;
      }
    }
    if (inputs.size() > maxInputs)
      return false;
    // One iteration shape; every value a kind of it; reductions of full
    // values; results full or rows.
    SmallVector<Dim> shape;
    for (Type t : types) {
      auto b = broadcastDims(shape, cast<RecTensorType>(t).getDims());
      if (!b)
        return false;
      shape = std::move(*b);
    }
    for (Type t : types)
      if (!FusedOp::classify(t, shape))
        return false;
    // The kind each value is computed at, as the program builder assigns
    // registers: broadcasts and casts keep their operand's kind, a
    // reduction gives a row, the rest broadcast their operands' kinds. A
    // reduction must read a value computed full, and a value leaving the
    // group must be computed at its type's kind (exp(broadcast(row)) is a
    // row register, not the full tensor its type says).
    llvm::DenseMap<Value, FusedValueKind> computed;
    auto computedKind = [&](Value v) {
      auto it = computed.find(v);
      if (it != computed.end())
        return it->second;
      return *FusedOp::classify(v.getType(), shape);
    };
    bool hasFull = false;
    for (Operation *m : all) {
      Value result = m->getResult(0);
      FusedValueKind kind = FusedValueKind::scalar;
      if (isReduction(m)) {
        if (computedKind(m->getOperand(0)) != FusedValueKind::full)
          return false;
        kind = FusedValueKind::row;
      } else if (isa<BroadcastOp, CastOp>(m)) {
        kind = computedKind(m->getOperand(0));
      } else {
        for (Value operand : m->getOperands())
          kind = combineKinds(kind, computedKind(operand));
      }
      computed[result] = kind;
      bool leaves = llvm::any_of(
          result.getUsers(), [&](Operation *u) { return !set.contains(u); });
      auto typeKind = FusedOp::classify(bodyType(result), shape);
      if (leaves && (kind != typeKind || (kind != FusedValueKind::full &&
                                          kind != FusedValueKind::row)))
        return false;
      hasFull = hasFull || (leaves && kind == FusedValueKind::full);
    }
    for (Value v : inputs)
      hasFull = hasFull ||
                FusedOp::classify(v.getType(), shape) == FusedValueKind::full;
    // The runtime takes the domain from a full operand or result.
    return hasFull;
  }

  /// Replaces the members of `g` by one rec.fused op at its last member.
  void materialize(Group &g) {
    llvm::SmallPtrSet<Operation *, 16> set(g.members.begin(), g.members.end());
    Operation *last = g.members.back();
    llvm::SetVector<Value> inputs;
    SmallVector<Value> outputs;
    for (Operation *m : g.members) {
      for (Value operand : m->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if ((def && set.contains(def)) || isScalarConstant(operand))
          continue;
        inputs.insert(operand);
      }
      for (Value result : m->getResults())
        if (llvm::any_of(result.getUsers(),
                         [&](Operation *u) { return !set.contains(u); }))
          outputs.push_back(result);
    }
    OpBuilder b(last);
    SmallVector<Type> resultTypes;
    for (Value v : outputs)
      resultTypes.push_back(bodyType(v));
    SmallVector<Value> inputList(inputs.begin(), inputs.end());
    auto fused = b.create<FusedOp>(last->getLoc(), resultTypes, inputList);
    Block *block = new Block();
    fused.getBody().push_back(block);
    IRMapping map;
    for (Value v : inputList)
      map.map(v, block->addArgument(v.getType(), v.getLoc()));
    OpBuilder inner = OpBuilder::atBlockEnd(block);
    for (Operation *m : g.members) {
      for (Value operand : m->getOperands())
        if (!map.contains(operand))
          map.map(operand, inner.clone(*operand.getDefiningOp())->getResult(0));
      Operation *copy = inner.clone(*m, map);
      if (isReduction(copy) && !copy->hasAttr("keepdim")) {
        copy->setAttr("keepdim", inner.getUnitAttr());
        copy->getResult(0).setType(keptType(m));
      }
    }
    SmallVector<Value> yielded;
    for (Value v : outputs)
      yielded.push_back(map.lookup(v));
    inner.create<YieldOp>(last->getLoc(), yielded);
    // Outside users read the results (a reduction without keepdim through a
    // reshape view that drops the kept 1).
    b.setInsertionPointAfter(fused);
    for (auto [v, r] : llvm::zip(outputs, fused.getResults())) {
      Value replacement = r;
      if (r.getType() != v.getType())
        replacement = b.create<ReshapeOp>(v.getLoc(), v.getType(), r);
      v.replaceUsesWithIf(replacement, [&](OpOperand &use) {
        return !set.contains(use.getOwner());
      });
    }
    for (Operation *m : llvm::reverse(g.members))
      m->erase();
  }

  func::FuncOp func;
  unsigned maxInputs;
  std::vector<Group> groups;
  llvm::DenseMap<Operation *, unsigned> groupOf;
};

struct RecFuseElementwisePass
    : public onerec::impl::RecFuseElementwiseBase<RecFuseElementwisePass> {
  using RecFuseElementwiseBase::RecFuseElementwiseBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (expandComposites) {
        SmallVector<Operation *> composites;
        for (Operation &op : func.getBody().front())
          if (shouldExpand(&op))
            composites.push_back(&op);
        for (Operation *op : composites) {
          OpBuilder b(op);
          Value replacement = expandComposite(b, op);
          if (!replacement ||
              replacement.getType() != op->getResult(0).getType()) {
            op->emitError("rec-fuse-elementwise: could not expand");
            return signalPassFailure();
          }
          op->getResult(0).replaceAllUsesWith(replacement);
          op->erase();
        }
      }
      Fuser(func, maxInputs).run();
      // Constants only the groups read were copied into their bodies.
      SmallVector<Operation *> dead;
      for (Operation &op : func.getBody().front())
        if (isa<ConstantOp>(op) && op.use_empty())
          dead.push_back(&op);
      for (Operation *op : dead)
        op->erase();
    }
  }
};

} // namespace
