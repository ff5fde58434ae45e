//===- Decompose.cpp - the rec-decompose pass -----------------------------===//
//
// Spells composite rec ops with primitive ones (docs/fusion.md, "Decomposition
// (-O0)"): normalizations, losses, attention, the global gradient norm and
// the optimizer updates. Each spelling computes exactly what the composite's
// kernel computes (kernels/lib: eps placement, masks, ignored positions,
// label smoothing, reductions, accidental hits, clipping and bias
// correction), up to floating-point reassociation, and uses only ops that
// have a gradient rule, so rec-autodiff can differentiate the result.
//
//===----------------------------------------------------------------------===//

#include "PrimitiveBuilder.h"

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace onerec {
#define GEN_PASS_DEF_RECDECOMPOSE
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

/// The dims of `type` with `extra` appended.
SmallVector<Dim> appendDims(RecTensorType type, ArrayRef<Dim> extra) {
  SmallVector<Dim> dims(type.getDims());
  dims.append(extra.begin(), extra.end());
  return dims;
}

/// What one composite op becomes. Each returns the values replacing the op's
/// results (none for updates), or failure when a value could not be built;
/// the op then stays as it is.
class Decomposer {
public:
  Decomposer(OpBuilder &b, Location loc) : p(b, loc) {}

  FailureOr<Value> rmsNorm(RmsNormOp op);
  FailureOr<Value> layerNorm(LayerNormOp op);
  FailureOr<Value> crossEntropy(CrossEntropyOp op);
  FailureOr<Value> bceWithLogits(BceWithLogitsOp op);
  FailureOr<Value> sampledSoftmax(SampledSoftmaxOp op);
  FailureOr<Value> attention(AttentionOp op);
  FailureOr<Value> globalNorm(GlobalNormOp op);
  LogicalResult adamW(AdamWUpdateOp op);
  LogicalResult sgd(SgdUpdateOp op);

private:
  /// The loss kernels' reduction: masked positions count 0 (`none`) or not
  /// at all (`sum`, `mean`; the mean of nothing is 0).
  Value reduceLoss(Value loss, Value mask, Reduction reduction,
                   RecTensorType resultType);
  /// `hparams[i]` as a scalar.
  Value hparam(Value hparams, int64_t i) {
    return p.reshape(p.slice(hparams, 0, i, i + 1), ArrayRef<Dim>{});
  }
  /// The factor the optimizer kernels scale gradients by: the grad scale,
  /// times min(1, clip / (norm * scale + 1e-6)) when clipping (clip > 0).
  Value gradScale(Value hparams, Value norm);
  /// An attention score operand (mask or bias) laid out like the scores
  /// [..., H, Lq, Lk]: per-head operands have rank batch + 3; shared ones get
  /// a head axis of 1 before their last two dims.
  Value alignScoreOperand(Value operand, int64_t batchRank);
  static FailureOr<Value> check(Value v) {
    if (!v)
      return failure();
    return v;
  }

  PrimitiveBuilder p;
};

Value Decomposer::reduceLoss(Value loss, Value mask, Reduction reduction,
                             RecTensorType resultType) {
  if (mask)
    loss = p.select(mask, loss, p.scalarLike(0.0, loss));
  Value result;
  switch (reduction) {
  case Reduction::none:
    result = loss;
    break;
  case Reduction::sum:
    result = p.sum(loss, {}, false);
    break;
  case Reduction::mean:
    if (!mask) {
      result = p.mean(loss, {}, false);
      break;
    }
    // sum / count over the counted positions; with none counted the sum is
    // 0, and so is 0 / max(0, 1).
    Value count = p.sum(p.cast(mask, typeOf(loss).getElementType()), {}, false);
    Value total = p.sum(loss, {}, false);
    result = p.div(total, p.make<MaximumOp>(count, p.scalarLike(1.0, total)));
    break;
  }
  return p.reshape(result, resultType);
}

FailureOr<Value> Decomposer::rmsNorm(RmsNormOp op) {
  // x / sqrt(mean(x^2) + eps) * gain.
  Value x = op.getX();
  Value meanSquare = p.mean(p.mul(x, x), {-1}, true);
  Value inv = p.make<RsqrtOp>(
      p.add(meanSquare, p.scalarLike(op.getEps().convertToDouble(), x)));
  return check(p.mul(p.mul(x, inv), op.getGain()));
}

FailureOr<Value> Decomposer::layerNorm(LayerNormOp op) {
  // (x - mean) / sqrt(var + eps) * gain + bias, the variance around the mean.
  Value x = op.getX();
  Value centered = p.sub(x, p.mean(x, {-1}, true));
  Value variance = p.mean(p.mul(centered, centered), {-1}, true);
  Value inv = p.make<RsqrtOp>(
      p.add(variance, p.scalarLike(op.getEps().convertToDouble(), x)));
  return check(p.add(p.mul(p.mul(centered, inv), op.getGain()), op.getBias()));
}

FailureOr<Value> Decomposer::crossEntropy(CrossEntropyOp op) {
  // (1 - eps) * (lse - x[label]) + eps * (lse - mean(x)), i.e. with
  // logp = log_softmax(x): -(1 - eps) logp[label] - eps mean(logp).
  Value logits = op.getLogits(), labels = op.getLabels();
  RecTensorType logitsType = typeOf(logits);
  Dim classes = logitsType.getDims().back();
  if (classes.isSymbolic())
    return failure();
  Value logp = p.make<LogSoftmaxOp>(logits, p.b.getI64IntegerAttr(-1));
  // The label's class as a one-hot mask: labels [..., 1] == iota [C]. A
  // label outside the classes (allowed at masked positions) picks nothing.
  Type labelType = typeOf(labels).getElementType();
  if (isa<SidType>(labelType) ||
      (isa<IdType>(labelType) && cast<IdType>(labelType).getVocab() > 0 &&
       cast<IdType>(labelType).getVocab() < classes.size)) {
    labelType = p.b.getI64Type();
    labels = p.cast(labels, labelType);
  }
  Value column = p.reshape(labels, appendDims(typeOf(labels), {Dim::fixed(1)}));
  Value classIds = p.iota({classes}, labelType, 0);
  Value oneHot = p.cmp(CmpPredicate::eq, column, classIds);
  Value picked =
      p.sum(p.select(oneHot, logp, p.scalarLike(0.0, logp)), {-1}, false);
  Value loss = p.neg(picked);
  double eps = op.getLabelSmoothing().convertToDouble();
  if (eps != 0.0) {
    Value smooth = p.neg(p.mean(logp, {-1}, false));
    loss = p.add(p.scale(loss, 1.0 - eps), p.scale(smooth, eps));
  }
  return check(reduceLoss(loss, op.getMask(), op.getReduction(),
                          typeOf(op.getResult())));
}

FailureOr<Value> Decomposer::bceWithLogits(BceWithLogitsOp op) {
  // softplus(x) - x y, softplus(x) = max(x, 0) + log(1 + exp(-|x|)). At
  // x = 0 the rules of maximum (ties to x) and abs (+1) give sigmoid(0).
  Value x = op.getLogits(), y = op.getLabels();
  Value zero = p.scalarLike(0.0, x), one = p.scalarLike(1.0, x);
  Value softplus =
      p.add(p.make<MaximumOp>(x, zero),
            p.make<LogOp>(p.add(one, p.make<ExpOp>(p.neg(p.make<AbsOp>(x))))));
  Value loss = p.sub(softplus, p.mul(x, y));
  return check(reduceLoss(loss, op.getMask(), op.getReduction(),
                          typeOf(op.getResult())));
}

FailureOr<Value> Decomposer::sampledSoftmax(SampledSoftmaxOp op) {
  // Scores of the positive and the negatives, the cross-entropy of the
  // positive (candidate 0) among them.
  Value h = op.getH(), table = op.getTable(), pos = op.getPos(),
        neg = op.getNeg(), mask = op.getMask();
  RecTensorType hType = typeOf(h), negType = typeOf(neg);
  bool shared = negType.getRank() == 1;
  Dim negatives = negType.getDims().back();
  if (negatives.isSymbolic())
    return failure();
  // Ids at masked positions are never read by the kernel and may be out of
  // range; row 0 stands in for them.
  Value zeroId = p.scalar(0.0, typeOf(pos).getElementType());
  if (mask)
    pos = p.select(mask, pos, zeroId);
  Value posRows = p.make<GatherOp>(table, pos, p.b.getI64IntegerAttr(0));
  Value posScore = p.sum(p.mul(h, posRows), {-1}, true); // [..., 1]
  Value negScores;
  if (shared) {
    Value negRows = p.make<GatherOp>(table, neg, p.b.getI64IntegerAttr(0));
    Value hMatrix = h;
    if (hType.getRank() == 1)
      hMatrix = p.reshape(h, {Dim::fixed(1), hType.getDims().back()});
    negScores = p.reshape(
        p.matmul(hMatrix, negRows, /*transposeB=*/true),
        appendDims(hType.withDims(hType.getDims().drop_back()), {negatives}));
  } else {
    if (mask)
      neg = p.select(p.reshape(mask, appendDims(typeOf(mask), {Dim::fixed(1)})),
                     neg, p.scalar(0.0, negType.getElementType()));
    Value negRows =
        p.make<GatherOp>(table, neg, p.b.getI64IntegerAttr(0)); // [.., N, d]
    Value column = p.reshape(h, appendDims(hType, {Dim::fixed(1)}));
    Value scores = p.matmul(negRows, column); // [..., N, 1]
    negScores = scores ? p.reshape(scores, typeOf(scores).getDims().drop_back())
                       : Value();
  }
  if (op.getRemoveHits() && negScores) {
    // A negative equal to the position's positive leaves the softmax.
    Value posColumn = p.reshape(
        op.getPos(), appendDims(typeOf(op.getPos()), {Dim::fixed(1)}));
    Value hit = p.cmp(CmpPredicate::eq, neg, posColumn);
    negScores = p.select(
        hit, p.scalarLike(-std::numeric_limits<double>::infinity(), negScores),
        negScores);
  }
  Value candidates;
  if (posScore && negScores)
    candidates = p.make<ConcatOp>(ValueRange{posScore, negScores},
                                  p.b.getI64IntegerAttr(-1));
  Value logp = p.make<LogSoftmaxOp>(candidates, p.b.getI64IntegerAttr(-1));
  Value first = p.slice(logp, -1, 0, 1);
  Value loss =
      first ? p.neg(p.reshape(first, hType.getDims().drop_back())) : Value();
  return check(
      reduceLoss(loss, mask, op.getReduction(), typeOf(op.getResult())));
}

Value Decomposer::alignScoreOperand(Value operand, int64_t batchRank) {
  if (!operand)
    return operand;
  RecTensorType type = typeOf(operand);
  int64_t rank = type.getRank();
  if (rank == batchRank + 3 || rank <= 2)
    return operand;
  SmallVector<Dim> dims(type.getDims());
  dims.insert(dims.end() - 2, Dim::fixed(1));
  return p.reshape(operand, dims);
}

FailureOr<Value> Decomposer::attention(AttentionOp op) {
  // Heads split out of the last axis and moved before the length axis,
  // scores scale * q k^T + bias, keys excluded by mask and causality, softmax
  // (a row with no key gives zeros) or silu(scores) / Lk, the value product,
  // heads merged back. Grouped-query attention runs query heads as
  // [..., Hkv, G] against key/value heads [..., Hkv, 1] (head h reads
  // key/value head h / G).
  Value q = op.getQ(), k = op.getK(), v = op.getV();
  RecTensorType qType = typeOf(q), kType = typeOf(k), vType = typeOf(v),
                yType = typeOf(op.getResult());
  int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
  int64_t group = heads / kvHeads;
  Dim qFeatures = qType.getDims().back(), kFeatures = kType.getDims().back(),
      vFeatures = vType.getDims().back();
  if (qFeatures.isSymbolic() || kFeatures.isSymbolic() ||
      vFeatures.isSymbolic())
    return failure();
  int64_t dk = qFeatures.size / heads, dv = vFeatures.size / kvHeads;
  Dim lq = qType.getDims().drop_back().back(),
      lk = kType.getDims().drop_back().back();
  int64_t batchRank = yType.getRank() - 2;

  // [..., L, n * d] -> [..., n, L, d]; with groups [..., Hkv, n / Hkv, L, d].
  auto splitHeads = [&](Value x, int64_t n, int64_t d) {
    RecTensorType type = typeOf(x);
    int64_t lead = type.getRank() - 2;
    SmallVector<Dim> dims(type.getDims().drop_back());
    dims.append({Dim::fixed(n), Dim::fixed(d)});
    SmallVector<int64_t> perm;
    for (int64_t i = 0; i < lead; ++i)
      perm.push_back(i);
    perm.append({lead + 1, lead, lead + 2});
    Value split = p.transpose(p.reshape(x, dims), perm);
    if (group == 1 || !split)
      return split;
    SmallVector<Dim> grouped(typeOf(split).getDims().take_front(lead));
    grouped.append({Dim::fixed(kvHeads), Dim::fixed(n / kvHeads)});
    grouped.append({typeOf(split).getDim(lead + 1), Dim::fixed(d)});
    return p.reshape(split, grouped);
  };
  // [..., a, b, X, Y] -> [..., a * b, X, Y].
  auto mergeGroups = [&](Value x) {
    if (!x || group == 1)
      return x;
    ArrayRef<Dim> dims = typeOf(x).getDims();
    SmallVector<Dim> merged(dims.drop_back(4));
    merged.push_back(Dim::fixed(heads));
    merged.append({dims[dims.size() - 2], dims.back()});
    return p.reshape(x, merged);
  };
  auto splitGroups = [&](Value x) {
    if (!x || group == 1)
      return x;
    ArrayRef<Dim> dims = typeOf(x).getDims();
    SmallVector<Dim> split(dims.drop_back(3));
    split.append({Dim::fixed(kvHeads), Dim::fixed(group)});
    split.append({dims[dims.size() - 2], dims.back()});
    return p.reshape(x, split);
  };

  Value qh = splitHeads(q, heads, dk);
  Value kh = splitHeads(k, kvHeads, dk);
  Value vh = splitHeads(v, kvHeads, dv);
  Value scores = mergeGroups(p.matmul(qh, kh, /*transposeB=*/true));
  scores = p.scale(scores, op.getScale().convertToDouble());
  if (Value bias = alignScoreOperand(op.getBias(), batchRank))
    scores = p.add(scores, bias);

  Value allowed = alignScoreOperand(op.getMask(), batchRank);
  if (op.getCausal()) {
    // Key j is visible from query i when j <= i + (Lk - Lq).
    Type i64 = p.b.getI64Type();
    Value rows = p.iota({lq, Dim::fixed(1)}, i64, 0);
    Value cols = p.iota({Dim::fixed(1), lk}, i64, 1);
    if (lq != lk) {
      if (lq.isSymbolic() || lk.isSymbolic())
        return failure();
      rows = p.add(rows, p.scalar(static_cast<double>(lk.size - lq.size), i64));
    }
    Value causal = p.cmp(CmpPredicate::le, cols, rows);
    allowed = allowed ? p.make<AndOp>(allowed, causal) : causal;
  }

  Value weights;
  if (op.getScoreNorm() == ScoreNorm::softmax) {
    if (allowed)
      scores = p.select(
          allowed, scores,
          p.scalarLike(-std::numeric_limits<double>::infinity(), scores));
    weights = p.make<SoftmaxOp>(scores, p.b.getI64IntegerAttr(-1));
    if (allowed)
      weights = p.select(allowed, weights, p.scalarLike(0.0, weights));
  } else {
    // silu(scores) / Lk, Lk the run-time key count.
    Value activated = p.make<SiluOp>(scores);
    if (lk.isStatic()) {
      weights = p.scale(activated, 1.0 / static_cast<double>(lk.size));
    } else {
      Value ones =
          p.constant(RecTensorType::get({lk}, vType.getElementType()), 1.0);
      weights = p.div(activated, p.sum(ones, {}, false));
    }
    if (allowed)
      weights = p.select(allowed, weights, p.scalarLike(0.0, weights));
  }

  Value out = mergeGroups(p.matmul(splitGroups(weights), vh));
  if (!out)
    return failure();
  // [..., H, Lq, dv] -> [..., Lq, H, dv] -> [..., Lq, H * dv].
  int64_t lead = typeOf(out).getRank() - 3;
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < lead; ++i)
    perm.push_back(i);
  perm.append({lead + 1, lead, lead + 2});
  return check(p.reshape(p.transpose(out, perm), yType));
}

FailureOr<Value> Decomposer::globalNorm(GlobalNormOp op) {
  // sqrt(sum over every tensor of g^2).
  Value total;
  for (Value g : op.getInputs()) {
    Value squares = p.sum(p.mul(g, g), {}, false);
    total = total ? p.add(total, squares) : squares;
  }
  return check(p.reshape(p.make<SqrtOp>(total), typeOf(op.getResult())));
}

Value Decomposer::gradScale(Value hparams, Value norm) {
  Value scale = hparam(hparams, 6);
  if (!norm)
    return scale;
  Value clip = hparam(hparams, 5);
  Value zero = p.scalarLike(0.0, clip), one = p.scalarLike(1.0, clip);
  Value factor = p.make<MinimumOp>(
      one, p.div(clip, p.add(p.mul(norm, scale), p.scalarLike(1e-6, clip))));
  Value clipping = p.cmp(CmpPredicate::gt, clip, zero);
  return p.mul(scale, p.select(clipping, factor, one));
}

LogicalResult Decomposer::adamW(AdamWUpdateOp op) {
  // PyTorch's Adam / AdamW (docs/training.md): hparams are lr, beta1, beta2,
  // eps, weight_decay, grad_clip, grad scale.
  Value hp = op.getHparams();
  Value param = op.getParam(), m = op.getM(), v = op.getV();
  Value lr = hparam(hp, 0), beta1 = hparam(hp, 1), beta2 = hparam(hp, 2),
        eps = hparam(hp, 3), wd = hparam(hp, 4);
  Value one = p.scalarLike(1.0, lr);
  Value step = p.cast(op.getStep(), typeOf(lr).getElementType());
  Value bc1 = p.sub(one, p.make<PowOp>(beta1, step));
  Value bc2 = p.sub(one, p.make<PowOp>(beta2, step));

  Value g = p.mul(op.getGrad(), gradScale(hp, op.getNorm()));
  bool decay = op.getDecay(), decoupled = op.getDecoupled();
  if (decay && !decoupled)
    g = p.add(g, p.mul(wd, param));
  Value mNext = p.add(p.mul(beta1, m), p.mul(p.sub(one, beta1), g));
  Value vNext = p.add(p.mul(beta2, v), p.mul(p.sub(one, beta2), p.mul(g, g)));
  Value pNext = param;
  if (decay && decoupled)
    pNext = p.sub(param, p.mul(p.mul(lr, wd), param));
  Value denom = p.add(p.make<SqrtOp>(p.div(vNext, bc2)), eps);
  pNext = p.sub(pNext, p.div(p.mul(lr, p.div(mNext, bc1)), denom));
  if (!mNext || !vNext || !pNext)
    return failure();
  // Every read of the state is above; the writes come last.
  p.b.create<AssignOp>(p.loc, m, mNext);
  p.b.create<AssignOp>(p.loc, v, vNext);
  p.b.create<AssignOp>(p.loc, param, pNext);
  return success();
}

LogicalResult Decomposer::sgd(SgdUpdateOp op) {
  // hparams are lr, momentum, nesterov, -, weight_decay, grad_clip, grad
  // scale. The momentum buffer starts as the first gradient (step 1) and is
  // left alone without momentum.
  Value hp = op.getHparams();
  Value param = op.getParam(), buffer = op.getMomentum();
  Value lr = hparam(hp, 0), mu = hparam(hp, 1), nesterov = hparam(hp, 2),
        wd = hparam(hp, 4);
  Value zero = p.scalarLike(0.0, lr);
  Value g = p.mul(op.getGrad(), gradScale(hp, op.getNorm()));
  if (op.getDecay())
    g = p.add(g, p.mul(wd, param));
  Value first =
      p.cmp(CmpPredicate::eq, op.getStep(), p.scalarLike(1.0, op.getStep()));
  Value bufferNext = p.select(first, g, p.add(p.mul(mu, buffer), g));
  Value momentum = p.cmp(CmpPredicate::ne, mu, zero);
  Value direction = p.select(p.cmp(CmpPredicate::ne, nesterov, zero),
                             p.add(g, p.mul(mu, bufferNext)), bufferNext);
  direction = p.select(momentum, direction, g);
  Value pNext = p.sub(param, p.mul(lr, direction));
  bufferNext = p.select(momentum, bufferNext, buffer);
  if (!pNext || !bufferNext)
    return failure();
  p.b.create<AssignOp>(p.loc, buffer, bufferNext);
  p.b.create<AssignOp>(p.loc, param, pNext);
  return success();
}

struct RecDecomposePass
    : public onerec::impl::RecDecomposeBase<RecDecomposePass> {
  void runOnOperation() override {
    SmallVector<Operation *> composites;
    getOperation().walk([&](Operation *op) {
      if (isa<RmsNormOp, LayerNormOp, CrossEntropyOp, BceWithLogitsOp,
              SampledSoftmaxOp, AttentionOp, GlobalNormOp, AdamWUpdateOp,
              SgdUpdateOp>(op))
        composites.push_back(op);
    });
    for (Operation *op : composites) {
      OpBuilder b(op);
      Decomposer d(b, op->getLoc());
      // Built ops land before `op`; on failure they are unused and erased.
      Block *block = op->getBlock();
      Operation *before = op->getPrevNode();
      FailureOr<SmallVector<Value>> result =
          llvm::TypeSwitch<Operation *, FailureOr<SmallVector<Value>>>(op)
              .Case<RmsNormOp, LayerNormOp, CrossEntropyOp, BceWithLogitsOp,
                    SampledSoftmaxOp, AttentionOp, GlobalNormOp>(
                  [&](auto o) -> FailureOr<SmallVector<Value>> {
                    FailureOr<Value> v = decompose(d, o);
                    if (failed(v))
                      return failure();
                    return SmallVector<Value>{*v};
                  })
              .Case<AdamWUpdateOp>(
                  [&](AdamWUpdateOp o) -> FailureOr<SmallVector<Value>> {
                    if (failed(d.adamW(o)))
                      return failure();
                    return SmallVector<Value>{};
                  })
              .Case<SgdUpdateOp>(
                  [&](SgdUpdateOp o) -> FailureOr<SmallVector<Value>> {
                    if (failed(d.sgd(o)))
                      return failure();
                    return SmallVector<Value>{};
                  })
              .Default([](Operation *) -> FailureOr<SmallVector<Value>> {
                return failure();
              });
      if (failed(result)) {
        eraseUnused(block, before, op);
        continue;
      }
      op->replaceAllUsesWith(*result);
      op->erase();
    }
  }

  static FailureOr<Value> decompose(Decomposer &d, RmsNormOp o) {
    return d.rmsNorm(o);
  }
  static FailureOr<Value> decompose(Decomposer &d, LayerNormOp o) {
    return d.layerNorm(o);
  }
  static FailureOr<Value> decompose(Decomposer &d, CrossEntropyOp o) {
    return d.crossEntropy(o);
  }
  static FailureOr<Value> decompose(Decomposer &d, BceWithLogitsOp o) {
    return d.bceWithLogits(o);
  }
  static FailureOr<Value> decompose(Decomposer &d, SampledSoftmaxOp o) {
    return d.sampledSoftmax(o);
  }
  static FailureOr<Value> decompose(Decomposer &d, AttentionOp o) {
    return d.attention(o);
  }
  static FailureOr<Value> decompose(Decomposer &d, GlobalNormOp o) {
    return d.globalNorm(o);
  }

  /// Erases the ops a failed rewrite built between `before` and `op`, last
  /// first (each is unused once its users are gone).
  static void eraseUnused(Block *block, Operation *before, Operation *op) {
    SmallVector<Operation *> built;
    for (Operation *o = before ? before->getNextNode() : &block->front();
         o != op; o = o->getNextNode())
      built.push_back(o);
    for (Operation *o : llvm::reverse(built))
      if (o->use_empty())
        o->erase();
  }
};

} // namespace
