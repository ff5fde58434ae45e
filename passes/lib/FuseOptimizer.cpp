//===- FuseOptimizer.cpp - the rec-fuse-optimizer pass --------------------===//
//
// A training step ends with one optimizer update per trainable parameter and
// the global gradient norm they clip by. This pass turns them into one
// rec.multi_adamw_update (rec.multi_sgd_update) that returns the norm, so
// the runtime runs the whole optimizer as one kernel. Each element's update
// is the same arithmetic as before and the norm is summed in the same order,
// so the fused step is bit-identical to the unfused one.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

namespace onerec {
#define GEN_PASS_DEF_RECFUSEOPTIMIZER
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

/// The fields of one per-parameter update that the fused op needs.
struct Update {
  Operation *op;
  Value param, grad, step, hparams, norm;
  /// m and v (AdamW) or momentum (SGD).
  SmallVector<Value, 2> state;
  bool decay;
  bool decoupled = false;
};

std::optional<Update> asUpdate(Operation *op) {
  if (auto u = dyn_cast<AdamWUpdateOp>(op))
    return Update{op,
                  u.getParam(),
                  u.getGrad(),
                  u.getStep(),
                  u.getHparams(),
                  u.getNorm(),
                  {u.getM(), u.getV()},
                  u.getDecay(),
                  u.getDecoupled()};
  if (auto u = dyn_cast<SgdUpdateOp>(op))
    return Update{op,
                  u.getParam(),
                  u.getGrad(),
                  u.getStep(),
                  u.getHparams(),
                  u.getNorm(),
                  {u.getMomentum()},
                  u.getDecay()};
  return std::nullopt;
}

/// Why a step's updates cannot fuse, or an empty string when they can.
std::string whyNotFusable(ArrayRef<Update> updates, int64_t maxParams) {
  const Update &first = updates.front();
  if (static_cast<int64_t>(updates.size()) > maxParams)
    return "more parameters than max-params";
  llvm::DenseSet<Attribute> params;
  for (const Update &u : updates) {
    if (u.op->getName() != first.op->getName())
      return "AdamW and SGD updates mixed";
    if (u.step != first.step || u.hparams != first.hparams ||
        u.norm != first.norm || u.decoupled != first.decoupled)
      return "updates differ in step, hyperparameters, norm or decoupled";
    auto ref = u.param.getDefiningOp<ParamRefOp>();
    if (!ref || !params.insert(ref.getParamAttr()).second)
      return "a parameter is not a distinct rec.param_ref";
  }
  auto norm = first.norm.getDefiningOp<GlobalNormOp>();
  if (!norm || norm.getInputs().size() != updates.size())
    return "the norm is not a rec.global_norm of the updates' gradients";
  for (auto [input, u] : llvm::zip(norm.getInputs(), updates))
    if (input != u.grad)
      return "the norm is not a rec.global_norm of the updates' gradients";
  for (Operation *user : norm->getUsers())
    if (!asUpdate(user) && !isa<func::ReturnOp>(user))
      return "the norm has other users";
  // The fused op runs where the last update was; nothing that could
  // observe a parameter before its update may lie in between.
  for (Operation *op = first.op->getNextNode(); op != updates.back().op;
       op = op->getNextNode())
    if (!asUpdate(op) && !isa<ParamRefOp>(op))
      return "other ops lie between the updates";
  return "";
}

void fuseUpdates(ArrayRef<Update> updates) {
  const Update &first = updates.front();
  OpBuilder b(updates.back().op);
  Location loc = b.getFusedLoc(llvm::to_vector(llvm::map_range(
      updates, [](const Update &u) { return u.op->getLoc(); })));
  SmallVector<Value> params, grads, state0, state1;
  SmallVector<int64_t> decay;
  for (const Update &u : updates) {
    params.push_back(u.param);
    grads.push_back(u.grad);
    state0.push_back(u.state[0]);
    if (u.state.size() > 1)
      state1.push_back(u.state[1]);
    decay.push_back(u.decay ? 1 : 0);
  }
  Type normType = first.norm.getType();
  Value fusedNorm;
  if (isa<AdamWUpdateOp>(first.op))
    fusedNorm = b.create<MultiAdamWUpdateOp>(
        loc, normType, params, grads, state0, state1, first.step, first.hparams,
        decay, first.decoupled);
  else
    fusedNorm = b.create<MultiSgdUpdateOp>(loc, normType, params, grads, state0,
                                           first.step, first.hparams, decay);
  Operation *norm = first.norm.getDefiningOp();
  for (const Update &u : updates)
    u.op->erase();
  norm->getResult(0).replaceAllUsesWith(fusedNorm);
  norm->erase();
}

struct RecFuseOptimizerPass
    : public onerec::impl::RecFuseOptimizerBase<RecFuseOptimizerPass> {
  using RecFuseOptimizerBase::RecFuseOptimizerBase;

  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) {
      auto kind = func->getAttrOfType<EntryKindAttr>("rec.entry");
      if (!kind || kind.getValue() != EntryKind::train_step ||
          func.getBody().empty())
        return;
      SmallVector<Update> updates;
      for (Operation &op : func.getBody().front())
        if (std::optional<Update> u = asUpdate(&op))
          updates.push_back(*u);
      if (updates.empty() || !whyNotFusable(updates, maxParams).empty())
        return;
      fuseUpdates(updates);
    });
  }
};

} // namespace
