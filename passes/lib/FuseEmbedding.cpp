//===- FuseEmbedding.cpp - the rec-fuse-embedding pass --------------------===//
//
// Recommendation models look up several id features in their own tables and
// concatenate the rows (OneRec's static pathway: uid, age, gender). This
// pass turns such a concatenation of lookups into one rec.multi_embedding,
// which writes each table's rows into its columns of the result, and the
// backward, embedding_grads of column slices of one gradient, into one
// rec.multi_embedding_grad. Every row of every table gradient adds its
// contributions in lookup order, as the unfused kernel does, so the fused
// step is bit-identical to the unfused one.
//
//===----------------------------------------------------------------------===//

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace onerec {
#define GEN_PASS_DEF_RECFUSEEMBEDDING
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

bool hasPlainIds(Value ids) {
  return !isa<SidType>(cast<RecTensorType>(ids.getType()).getElementType());
}

int64_t normalizedAxis(int64_t axis, Value v) {
  return axis < 0 ? axis + cast<RecTensorType>(v.getType()).getRank() : axis;
}

/// concat(embedding_0, ..., embedding_n) along the last axis, each lookup
/// of plain ids used only here -> one rec.multi_embedding.
void fuseLookups(ConcatOp concat) {
  Value result = concat.getResult();
  auto type = cast<RecTensorType>(result.getType());
  if (concat.getInputs().size() < 2 ||
      normalizedAxis(concat.getAxis(), result) != type.getRank() - 1)
    return;
  SmallVector<EmbeddingOp> lookups;
  for (Value input : concat.getInputs()) {
    auto lookup = input.getDefiningOp<EmbeddingOp>();
    if (!lookup || !hasPlainIds(lookup.getIds()) || !lookup->hasOneUse() ||
        lookup->getBlock() != concat->getBlock())
      return;
    lookups.push_back(lookup);
  }
  SmallVector<Value> tables, ids;
  SmallVector<Location> locs;
  for (EmbeddingOp lookup : lookups) {
    tables.push_back(lookup.getTable());
    ids.push_back(lookup.getIds());
    locs.push_back(lookup.getLoc());
  }
  locs.push_back(concat.getLoc());
  OpBuilder b(concat);
  auto fused =
      b.create<MultiEmbeddingOp>(b.getFusedLoc(locs), type, tables, ids);
  concat.getResult().replaceAllUsesWith(fused.getResult());
  concat.erase();
  for (EmbeddingOp lookup : lookups)
    lookup.erase();
}

/// The embedding_grads of `block` whose dy are last-axis slices of one
/// value -> one rec.multi_embedding_grad of that value, at the last of them.
void fuseGradients(Block &block) {
  llvm::MapVector<Value, SmallVector<EmbeddingGradOp>> bySource;
  for (Operation &op : block) {
    auto grad = dyn_cast<EmbeddingGradOp>(&op);
    if (!grad || !hasPlainIds(grad.getIds()))
      continue;
    auto slice = grad.getDy().getDefiningOp<SliceOp>();
    if (!slice || normalizedAxis(slice.getAxis(), slice.getX()) !=
                      cast<RecTensorType>(slice.getX().getType()).getRank() - 1)
      continue;
    bySource[slice.getX()].push_back(grad);
  }
  for (auto &[source, grads] : bySource) {
    if (grads.size() < 2)
      continue;
    // The fused op replaces every gradient at the last one's place: the
    // earlier ones' users must come after it.
    Operation *last = grads.back();
    bool usersAfter = llvm::all_of(grads, [&](EmbeddingGradOp g) {
      return llvm::all_of(g->getUsers(), [&](Operation *user) {
        Operation *inBlock = block.findAncestorOpInBlock(*user);
        return inBlock && last->isBeforeInBlock(inBlock);
      });
    });
    if (!usersAfter)
      continue;
    SmallVector<Value> ids;
    SmallVector<Type> types;
    SmallVector<int64_t> offsets;
    SmallVector<Location> locs;
    llvm::SmallSetVector<Operation *, 4> slices;
    for (EmbeddingGradOp g : grads) {
      auto slice = g.getDy().getDefiningOp<SliceOp>();
      ids.push_back(g.getIds());
      types.push_back(g.getDtable().getType());
      offsets.push_back(slice.getStart());
      locs.push_back(g.getLoc());
      slices.insert(slice);
    }
    OpBuilder b(last);
    auto fused = b.create<MultiEmbeddingGradOp>(b.getFusedLoc(locs), types,
                                                source, ids, offsets);
    for (auto [g, r] : llvm::zip(grads, fused.getDtables())) {
      g.getDtable().replaceAllUsesWith(r);
      g.erase();
    }
    for (Operation *slice : slices)
      if (slice->use_empty())
        slice->erase();
  }
}

struct RecFuseEmbeddingPass
    : public onerec::impl::RecFuseEmbeddingBase<RecFuseEmbeddingPass> {
  using RecFuseEmbeddingBase::RecFuseEmbeddingBase;

  void runOnOperation() override {
    SmallVector<ConcatOp> concats;
    getOperation().walk([&](ConcatOp c) { concats.push_back(c); });
    for (ConcatOp c : concats)
      fuseLookups(c);
    SmallVector<Block *> blocks;
    getOperation().walk([&](func::FuncOp f) {
      for (Block &block : f.getBody())
        blocks.push_back(&block);
    });
    for (Block *block : blocks)
      fuseGradients(*block);
  }
};

} // namespace
