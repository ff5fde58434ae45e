//===- Autodiff.cpp - the rec-autodiff pass -------------------------------===//
//
// Builds the training entries of each `minimize` stage of the `train`
// section:
//
//   train_grad        the objective (the stage's weighted loss entries) and
//                     the gradient of every trainable parameter it reaches;
//   train_step        the same, then the global gradient norm and one
//                     optimizer update per parameter, in place;
//   train_accumulate  with `accumulate = k > 1`: gradients added into
//                     accumulators, which train_step adds and clears.
//
// Reverse mode over one block: the ops on a path from a trainable parameter
// to the loss are visited backwards, each asked for its operands' gradients
// through DifferentiableOpInterface; gradients of a value used several times
// are summed.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

namespace onerec {
#define GEN_PASS_DEF_RECAUTODIFF
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

constexpr StringLiteral kStepInput = "optimizer.step";
constexpr StringLiteral kHparamsInput = "optimizer.hparams";
/// Per-update movement of an auxiliary-loss-free routing bias (DeepSeek-V3's
/// default), unless the train section sets `balance_rate`.
constexpr double kDefaultBalanceRate = 1e-3;

RecTensorType typeOf(Value value) {
  return cast<RecTensorType>(value.getType());
}

/// A parameter the objective reaches, with its gradient.
struct ParamGrad {
  ParamOp param;
  Value grad;
};

/// A stage objective built as one function, differentiated.
struct Objective {
  func::FuncOp func;
  Value loss;
  SmallVector<ParamGrad> grads;
};

class TrainingEntryBuilder {
public:
  TrainingEntryBuilder(ModuleOp module, TrainOp train)
      : module(module), train(train), symbols(module) {}

  LogicalResult build(StageOp stage, StringRef prefix);

private:
  FailureOr<Objective> buildObjective(MinimizeOp minimize, StringRef name);
  LogicalResult differentiate(Objective &objective);
  ParamOp lookupParam(ParamRefOp ref) {
    return SymbolTable::lookupNearestSymbolFrom<ParamOp>(ref, ref.getParam());
  }
  bool isTrainable(ParamOp param) {
    return param && !param.getBuffer() && !param.getStateOf() &&
           param.getTensorType().isFloat();
  }
  ParamOp stateOf(ParamOp param, StringRef suffix);
  void setResults(func::FuncOp func, Operation *oldReturn,
                  ArrayRef<Value> values, ArrayRef<std::string> names);
  func::FuncOp cloneAs(func::FuncOp func, StringRef name, EntryKind kind);
  void addControlInputs(func::FuncOp func, Value &step, Value &hparams);
  LogicalResult buildStep(const Objective &objective, StringRef name,
                          int64_t accumulate);
  void buildAccumulate(const Objective &objective, StringRef name);

  ModuleOp module;
  TrainOp train;
  SymbolTable symbols;
};

//===----------------------------------------------------------------------===//
// The objective
//===----------------------------------------------------------------------===//

FailureOr<Objective> TrainingEntryBuilder::buildObjective(MinimizeOp minimize,
                                                          StringRef name) {
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = minimize.getLoc();

  // The inputs of all terms, by name, in order of first appearance.
  SmallVector<func::FuncOp> terms;
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  llvm::StringMap<unsigned> argIndex;
  for (Attribute attr : minimize.getTerms()) {
    auto term = cast<TermAttr>(attr);
    auto func = symbols.lookup<func::FuncOp>(term.getEntry().getValue());
    if (!func)
      return minimize.emitOpError("no loss entry ") << term.getEntry();
    if (func.getNumResults() != 1)
      return minimize.emitOpError("loss entry ")
             << term.getEntry() << " must return one value";
    terms.push_back(func);
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      auto argName = func.getArgAttrOfType<StringAttr>(i, "rec.name");
      if (!argName)
        return func.emitOpError("argument ") << i << " has no rec.name";
      auto [it, inserted] =
          argIndex.try_emplace(argName.getValue(), argTypes.size());
      if (inserted) {
        argTypes.push_back(func.getArgument(i).getType());
        argAttrs.push_back(func.getArgAttrDict(i));
      } else if (argTypes[it->second] != func.getArgument(i).getType()) {
        return minimize.emitOpError("input '")
               << argName.getValue() << "' has type "
               << formatTensorType(argTypes[it->second]) << " in one term and "
               << formatTensorType(func.getArgument(i).getType())
               << " in another";
      }
    }
  }

  auto func =
      b.create<func::FuncOp>(loc, name, b.getFunctionType(argTypes, {}));
  func.setAllArgAttrs(argAttrs);
  func->setAttr(RecDialect::kEntryAttrName,
                EntryKindAttr::get(b.getContext(), EntryKind::grad));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);

  Value loss;
  for (auto [attr, term] : llvm::zip(minimize.getTerms(), terms)) {
    IRMapping mapping;
    for (unsigned i = 0; i < term.getNumArguments(); ++i) {
      auto argName = term.getArgAttrOfType<StringAttr>(i, "rec.name");
      mapping.map(term.getArgument(i),
                  body->getArgument(argIndex[argName.getValue()]));
    }
    Value termLoss;
    for (Operation &op : term.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        termLoss = mapping.lookup(ret.getOperand(0));
        break;
      }
      b.clone(op, mapping);
    }
    RecTensorType lossType = typeOf(termLoss);
    if (lossType.getRank() != 0 || !lossType.isFloat())
      return minimize.emitOpError("loss entry ")
             << term.getSymName() << " returns " << formatTensorType(lossType)
             << ", not a float scalar";
    double weight = cast<TermAttr>(attr).getWeight().convertToDouble();
    if (weight != 1.0) {
      Value w = b.create<ConstantOp>(loc, lossType, b.getF64FloatAttr(weight));
      termLoss = b.create<MulOp>(loc, lossType, termLoss, w);
    }
    loss = loss ? b.create<AddOp>(loc, lossType, loss, termLoss).getResult()
                : termLoss;
  }
  b.create<func::ReturnOp>(loc, ValueRange{loss});

  Objective objective{func, loss, {}};
  if (failed(differentiate(objective)))
    return failure();
  return objective;
}

//===----------------------------------------------------------------------===//
// Reverse mode
//===----------------------------------------------------------------------===//

LogicalResult TrainingEntryBuilder::differentiate(Objective &objective) {
  Block &body = objective.func.getBody().front();
  Operation *ret = body.getTerminator();
  SmallVector<Operation *> forward;
  for (Operation &op : body.without_terminator())
    forward.push_back(&op);

  // Active values: float values that depend on a trainable parameter and
  // that the loss depends on.
  llvm::DenseSet<Value> varied;
  for (Operation *op : forward) {
    bool depends = false;
    if (auto ref = dyn_cast<ParamRefOp>(op))
      depends = isTrainable(lookupParam(ref));
    else
      depends = llvm::any_of(op->getOperands(),
                             [&](Value v) { return varied.contains(v); });
    if (!depends)
      continue;
    for (Value result : op->getResults())
      if (typeOf(result).isFloat())
        varied.insert(result);
  }
  llvm::DenseSet<Value> useful = {objective.loss};
  for (Operation *op : llvm::reverse(forward))
    if (llvm::any_of(op->getResults(),
                     [&](Value v) { return useful.contains(v); }))
      for (Value operand : op->getOperands())
        useful.insert(operand);
  auto active = [&](Value v) {
    return varied.contains(v) && useful.contains(v);
  };
  if (!active(objective.loss))
    return emitError(objective.func.getLoc(),
                     "the stage objective depends on no trainable parameter");

  OpBuilder b(ret);
  DenseMap<Value, Value> grads;
  grads[objective.loss] = b.create<ConstantOp>(
      ret->getLoc(), objective.loss.getType(), b.getF64FloatAttr(1.0));
  auto accumulate = [&](Value value, Value grad) {
    auto [it, inserted] = grads.try_emplace(value, grad);
    if (!inserted)
      it->second =
          b.create<AddOp>(grad.getLoc(), value.getType(), it->second, grad);
  };

  for (Operation *op : llvm::reverse(forward)) {
    if (isa<ParamRefOp>(op))
      continue;
    SmallVector<Value> resultGrads;
    bool any = false;
    for (Value result : op->getResults()) {
      Value grad = active(result) ? grads.lookup(result) : Value();
      resultGrads.push_back(grad);
      any |= static_cast<bool>(grad);
    }
    if (!any || llvm::none_of(op->getOperands(), active))
      continue;
    auto rule = dyn_cast<DifferentiableOpInterface>(op);
    if (!rule)
      return op->emitOpError("has no gradient rule, and the objective's "
                             "gradient flows through it");
    SmallVector<Value> operandGrads;
    if (failed(rule.buildGradients(b, resultGrads, operandGrads)))
      return failure();
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!active(operand))
        continue;
      if (!grad)
        return op->emitOpError("gives no gradient for an operand that depends "
                               "on a trainable parameter (")
               << formatTensorType(operand.getType()) << ")";
      accumulate(operand, grad);
    }
  }

  // One gradient per parameter, in the order parameters are declared.
  llvm::MapVector<Operation *, Value> byParam;
  for (Operation *op : forward)
    if (auto ref = dyn_cast<ParamRefOp>(op))
      if (Value grad = grads.lookup(ref.getResult()); grad && active(ref)) {
        ParamOp param = lookupParam(ref);
        auto [it, inserted] = byParam.try_emplace(param, grad);
        if (!inserted)
          it->second =
              b.create<AddOp>(ref.getLoc(), grad.getType(), it->second, grad);
      }
  for (auto &[param, grad] : byParam)
    if (param->getParentOp() != module.getOperation())
      return param->emitOpError(
          "is trained through an imported model; training imported "
          "parameters is not supported yet");
  SmallVector<std::pair<Operation *, Value>> ordered(byParam.begin(),
                                                     byParam.end());
  llvm::sort(ordered, [](auto &x, auto &y) {
    return x.first->isBeforeInBlock(y.first);
  });
  for (auto &[param, grad] : ordered)
    objective.grads.push_back({cast<ParamOp>(param), grad});

  SmallVector<Value> results = {objective.loss};
  SmallVector<std::string> names = {"loss"};
  for (ParamGrad pg : objective.grads) {
    results.push_back(pg.grad);
    names.push_back(("grad." + pg.param.getSymName()).str());
  }
  setResults(objective.func, ret, results, names);
  return success();
}

void TrainingEntryBuilder::setResults(func::FuncOp func, Operation *oldReturn,
                                      ArrayRef<Value> values,
                                      ArrayRef<std::string> names) {
  OpBuilder b(oldReturn);
  b.create<func::ReturnOp>(oldReturn->getLoc(), values);
  oldReturn->erase();
  SmallVector<Type> types;
  for (Value value : values)
    types.push_back(value.getType());
  func.setType(b.getFunctionType(func.getArgumentTypes(), types));
  for (auto [i, name] : llvm::enumerate(names))
    func.setResultAttr(i, RecDialect::kNameAttrName, b.getStringAttr(name));
}

//===----------------------------------------------------------------------===//
// Optimizer steps
//===----------------------------------------------------------------------===//

ParamOp TrainingEntryBuilder::stateOf(ParamOp param, StringRef suffix) {
  std::string name = (param.getSymName() + "." + suffix).str();
  if (auto existing = symbols.lookup<ParamOp>(name))
    return existing;
  OpBuilder b(module.getContext());
  b.setInsertionPointAfter(param);
  auto init = InitAttr::get(b.getContext(), InitKind::zeros, 0.0, 0.0, 0);
  auto state =
      b.create<ParamOp>(param.getLoc(), name, param.getType(), init,
                        /*buffer=*/false, /*no_decay=*/true,
                        FlatSymbolRefAttr::get(param.getSymNameAttr()));
  symbols.insert(state, b.getInsertionPoint());
  return state;
}

func::FuncOp TrainingEntryBuilder::cloneAs(func::FuncOp func, StringRef name,
                                           EntryKind kind) {
  func::FuncOp copy = func.clone();
  copy.setSymName(name);
  copy->setAttr(RecDialect::kEntryAttrName,
                EntryKindAttr::get(func.getContext(), kind));
  module.getBody()->push_back(copy);
  return copy;
}

void TrainingEntryBuilder::addControlInputs(func::FuncOp func, Value &step,
                                            Value &hparams) {
  MLIRContext *ctx = func.getContext();
  Builder b(ctx);
  auto attrs = [&](StringRef name) {
    return b.getDictionaryAttr(
        {b.getNamedAttr(RecDialect::kNameAttrName, b.getStringAttr(name)),
         b.getNamedAttr(RecDialect::kRoleAttrName,
                        ArgRoleAttr::get(ctx, ArgRole::control))});
  };
  unsigned n = func.getNumArguments();
  auto stepType = RecTensorType::get({}, b.getI64Type());
  auto hparamsType = RecTensorType::get({Dim::fixed(8)}, b.getF32Type());
  (void)func.insertArgument(n, stepType, attrs(kStepInput), func.getLoc());
  (void)func.insertArgument(n + 1, hparamsType, attrs(kHparamsInput),
                            func.getLoc());
  step = func.getArgument(n);
  hparams = func.getArgument(n + 1);
}

static double settingOr(Operation *op, StringRef name, double fallback) {
  Attribute attr = op->getAttr(name);
  if (auto f = dyn_cast_or_null<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    return static_cast<double>(i.getInt());
  return fallback;
}

LogicalResult TrainingEntryBuilder::buildStep(const Objective &objective,
                                              StringRef name,
                                              int64_t accumulate) {
  OptimizerOp optimizer;
  for (Operation &op : train.getBody().front())
    if (auto opt = dyn_cast<OptimizerOp>(op))
      optimizer = opt;
  if (!optimizer)
    return train.emitOpError("needs an optimizer");
  OptimizerKind kind = optimizer.getKind();

  // Optimizer state is named after its parameter; a model parameter that
  // already has such a name would be mistaken for it.
  SmallVector<StringRef> suffixes = {"grad_acc"};
  if (kind == OptimizerKind::sgd)
    suffixes.push_back("momentum");
  else
    suffixes.append({"adam_m", "adam_v"});
  for (ParamGrad pg : objective.grads)
    for (StringRef suffix : suffixes) {
      auto existing =
          symbols.lookup<ParamOp>((pg.param.getSymName() + "." + suffix).str());
      if (existing && existing.getStateOfAttr() !=
                          FlatSymbolRefAttr::get(pg.param.getSymNameAttr()))
        return existing.emitOpError("is named like the optimizer state of '")
               << pg.param.getSymName() << "'; rename the parameter";
    }

  func::FuncOp step = cloneAs(objective.func, name, EntryKind::train_step);
  Value stepInput, hparams;
  addControlInputs(step, stepInput, hparams);
  Block &body = step.getBody().front();
  Operation *ret = body.getTerminator();
  Location loc = ret->getLoc();
  OpBuilder b(ret);
  Value loss = ret->getOperand(0);
  SmallVector<Value> grads(ret->getOperands().drop_front());

  auto ref = [&](ParamOp param) {
    return b
        .create<ParamRefOp>(loc, param.getType(),
                            FlatSymbolRefAttr::get(param.getSymNameAttr()))
        .getResult();
  };
  // With accumulation, earlier micro-batches' gradients are in accumulators.
  SmallVector<Value> accumulators;
  if (accumulate > 1)
    for (auto [pg, grad] : llvm::zip(objective.grads, grads)) {
      Value acc = ref(stateOf(pg.param, "grad_acc"));
      accumulators.push_back(acc);
      grad = b.create<AddOp>(loc, grad.getType(), grad, acc);
    }
  auto scalarF32 = RecTensorType::get({}, b.getF32Type());
  Value norm = b.create<GlobalNormOp>(loc, scalarF32, grads);

  for (auto [pg, grad] : llvm::zip(objective.grads, grads)) {
    ParamOp param = pg.param;
    bool decay = !param.getNoDecay();
    if (kind == OptimizerKind::sgd) {
      b.create<SgdUpdateOp>(loc, ref(param), grad,
                            ref(stateOf(param, "momentum")), stepInput, hparams,
                            norm, decay);
    } else {
      b.create<AdamWUpdateOp>(loc, ref(param), grad,
                              ref(stateOf(param, "adam_m")),
                              ref(stateOf(param, "adam_v")), stepInput, hparams,
                              norm, decay, kind == OptimizerKind::adamw);
    }
  }
  for (Value acc : accumulators)
    b.create<FillOp>(loc, acc, b.getF64FloatAttr(0.0));

  // Auxiliary-loss-free balancing: each routing bias moves toward equal
  // expert load, outside the gradient.
  // A routing bias moves once per step, from the mean load of every MoE op
  // it routes (several objective terms may run the same layer).
  double rate = settingOr(train, "balance_rate", kDefaultBalanceRate);
  llvm::MapVector<Attribute, std::pair<ParamRefOp, SmallVector<Value>>> loads;
  for (Operation &op : body.without_terminator()) {
    auto moe = dyn_cast<MoeOp>(op);
    if (!moe || moe.getBalance() != MoeBalance::aux_free)
      continue;
    auto biasRef = moe.getGateBias().getDefiningOp<ParamRefOp>();
    if (!biasRef)
      continue;
    auto &entry = loads[biasRef.getParamAttr()];
    entry.first = biasRef;
    entry.second.push_back(moe.getLoad());
  }
  for (auto &[param, entry] : loads) {
    auto &[biasRef, perOp] = entry;
    Value load = perOp.front();
    for (Value other : llvm::drop_begin(perOp))
      load = b.create<AddOp>(loc, load.getType(), load, other);
    if (perOp.size() > 1) {
      Value count = b.create<ConstantOp>(
          loc, RecTensorType::get({}, b.getF32Type()),
          b.getF64FloatAttr(static_cast<double>(perOp.size())));
      load = b.create<DivOp>(loc, load.getType(), load, count);
    }
    b.create<MoeBiasUpdateOp>(loc, biasRef, load, hparams,
                              b.getF64FloatAttr(rate));
  }
  setResults(step, ret, {loss, norm}, {"loss", "grad_norm"});
  return success();
}

void TrainingEntryBuilder::buildAccumulate(const Objective &objective,
                                           StringRef name) {
  func::FuncOp func = cloneAs(objective.func, name, EntryKind::train_step);
  Operation *ret = func.getBody().front().getTerminator();
  OpBuilder b(ret);
  Location loc = ret->getLoc();
  for (auto [pg, grad] :
       llvm::zip(objective.grads, ret->getOperands().drop_front())) {
    ParamOp acc = stateOf(pg.param, "grad_acc");
    Value accRef = b.create<ParamRefOp>(
        loc, acc.getType(), FlatSymbolRefAttr::get(acc.getSymNameAttr()));
    b.create<AssignAddOp>(loc, accRef, grad);
  }
  setResults(func, ret, {ret->getOperand(0)}, {"loss"});
}

LogicalResult TrainingEntryBuilder::build(StageOp stage, StringRef prefix) {
  MinimizeOp minimize;
  for (Operation &op : stage.getBody().front())
    if (auto m = dyn_cast<MinimizeOp>(op))
      minimize = m;
  if (!minimize)
    return success();
  FailureOr<Objective> objective =
      buildObjective(minimize, (prefix + "train_grad").str());
  if (failed(objective))
    return failure();
  int64_t accumulate =
      static_cast<int64_t>(settingOr(train, "accumulate", 1.0));
  if (accumulate < 1)
    return train.emitOpError("accumulate must be at least 1");
  if (failed(buildStep(*objective, (prefix + "train_step").str(), accumulate)))
    return failure();
  if (accumulate > 1)
    buildAccumulate(*objective, (prefix + "train_accumulate").str());
  // The plan's stage table names the entry (drivers pick stages by it).
  stage->setAttr(RecDialect::kTrainEntryAttrName,
                 StringAttr::get(stage.getContext(), prefix + "train_step"));
  return success();
}

struct RecAutodiffPass : public onerec::impl::RecAutodiffBase<RecAutodiffPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (TrainOp train : module.getOps<TrainOp>()) {
      TrainingEntryBuilder builder(module, train);
      bool first = true;
      for (Operation &op : train.getBody().front()) {
        auto stage = dyn_cast<StageOp>(op);
        if (!stage)
          continue;
        // Stages with only `minimize` objectives train by gradient descent
        // here; stages that align by reinforcement (dpo, ecpo) need
        // generation in the loop and get their entries from the alignment
        // driver.
        bool minimizes = false, aligns = false;
        for (Operation &o : stage.getBody().front()) {
          minimizes |= isa<MinimizeOp>(o);
          aligns |= isa<DpoOp, EcpoOp>(o);
        }
        if (!minimizes || aligns)
          continue;
        std::string prefix = first ? "" : (stage.getName() + ".").str();
        if (failed(builder.build(stage, prefix)))
          return signalPassFailure();
        first = false;
      }
    }
  }
};

} // namespace
