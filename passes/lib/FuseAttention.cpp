//===- FuseAttention.cpp - the rec-fuse-attention pass --------------------===//
//
// Recognizes attention spelled with primitive ops and rewrites it into one
// rec.attention (docs/fusion.md, "Attention fusion"): heads split out of the
// last axis (reshape, transpose), scores q k^T times a constant scale, an
// optional additive bias, keys excluded by a select with -inf (a mask, the
// causal iota comparison, or both), softmax over the key axis (a select
// with 0 after it gives fully masked rows the kernel's zeros), or HSTU's
// silu(scores) / Lk, the value product, heads merged back. The spelling
// rec-decompose writes fuses back to the op it came from; anything else
// (another softmax axis, the scale applied after the softmax, a bias that
// would broadcast differently) is left alone.
//
//===----------------------------------------------------------------------===//

#include "PrimitiveBuilder.h"

#include "onerec/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cmath>
#include <optional>

namespace onerec {
#define GEN_PASS_DEF_RECFUSEATTENTION
#include "onerec/Passes/Passes.h.inc"
} // namespace onerec

using namespace mlir;
using namespace onerec;
using namespace onerec::rec;

namespace {

/// The value of a rank-0 float constant.
std::optional<double> scalarConstant(Value v) {
  auto c = v ? v.getDefiningOp<ConstantOp>() : ConstantOp();
  if (!c || typeOf(v).getRank() != 0 || !isa<FloatAttr>(c.getValue()))
    return std::nullopt;
  return c.getValueAsDouble();
}

/// The integer value of a rank-0 integer constant.
std::optional<int64_t> intConstant(Value v) {
  auto c = v ? v.getDefiningOp<ConstantOp>() : ConstantOp();
  if (!c || typeOf(v).getRank() != 0)
    return std::nullopt;
  if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
    return i.getInt();
  return std::nullopt;
}

bool isSwapOfLastTwo(ArrayRef<int64_t> perm, int64_t lead) {
  if (static_cast<int64_t>(perm.size()) != lead + 3)
    return false;
  for (int64_t i = 0; i < lead; ++i)
    if (perm[i] != i)
      return false;
  return perm[lead] == lead + 1 && perm[lead + 1] == lead &&
         perm[lead + 2] == lead + 2;
}

/// Heads split out of a packed operand: `packed [..., L, n * d]`.
struct Split {
  Value packed;
  int64_t heads = 1, headDim = 0;
};

/// Matches transpose(reshape(x [..., L, n * d] -> [..., L, n, d])) moving
/// the head axis before L; without one, x itself is a single head.
Split matchSplit(Value v, SmallVectorImpl<Operation *> &chain) {
  auto transpose = v.getDefiningOp<TransposeOp>();
  if (transpose) {
    int64_t rank = typeOf(v).getRank();
    auto reshape = transpose.getX().getDefiningOp<ReshapeOp>();
    if (rank >= 3 && isSwapOfLastTwo(transpose.getPermutation(), rank - 3) &&
        reshape) {
      RecTensorType from = typeOf(reshape.getX()), to = typeOf(reshape);
      ArrayRef<Dim> f = from.getDims(), t = to.getDims();
      if (from.getRank() + 1 == to.getRank() &&
          f.drop_back() == t.drop_back(2) && t.back().isStatic() &&
          t[t.size() - 2].isStatic() && f.back().isStatic() &&
          f.back().size == t.back().size * t[t.size() - 2].size) {
        chain.append({transpose, reshape});
        return {reshape.getX(), t[t.size() - 2].size, t.back().size};
      }
    }
  }
  Dim last = typeOf(v).getDims().back();
  return {v, 1, last.isStatic() ? last.size : 0};
}

/// `v` with a grouping reshape [..., n, L, d] -> [..., a, n / a, L, d]
/// looked through; `groups` gets a (0 when there is none).
Value lookThroughGroups(Value v, int64_t &groups,
                        SmallVectorImpl<Operation *> &chain) {
  groups = 0;
  auto reshape = v.getDefiningOp<ReshapeOp>();
  if (!reshape)
    return v;
  ArrayRef<Dim> f = typeOf(reshape.getX()).getDims(),
                t = typeOf(reshape).getDims();
  if (f.size() < 3 || t.size() != f.size() + 1 ||
      f.take_back(2) != t.take_back(2) || f.drop_back(3) != t.drop_back(4) ||
      !t[t.size() - 4].isStatic() || !t[t.size() - 3].isStatic() ||
      !f[f.size() - 3].isStatic() ||
      t[t.size() - 4].size * t[t.size() - 3].size != f[f.size() - 3].size)
    return v;
  groups = t[t.size() - 4].size;
  chain.push_back(reshape);
  return reshape.getX();
}

/// One attention found in primitive ops.
struct Match {
  Split q, k, v;
  Value mask, bias;
  bool causal = false;
  double scale = 1.0;
  ScoreNorm norm = ScoreNorm::softmax;
  Value result;                   // the merged heads it replaces
  SmallVector<Operation *> chain; // the ops the rewrite makes dead
};

class AttentionMatcher {
public:
  /// Matches the attention whose score normalization is `anchor` (a softmax
  /// or a silu).
  std::optional<Match> match(Operation *anchor);

private:
  /// Splits `allowed` into the causal comparison and at most one mask.
  bool matchAllowed(Value allowed, Dim lq, Dim lk, int64_t batchRank);
  bool isCausal(Value cond, Dim lq, Dim lk);
  /// An operand laid out for the scores [..., H, Lq, Lk] the way
  /// rec-decompose lays out the op's mask or bias, back to the op's form.
  Value unalign(Value v, int64_t batchRank);

  Match m;
};

Value AttentionMatcher::unalign(Value v, int64_t batchRank) {
  int64_t rank = typeOf(v).getRank();
  bool asIs = rank <= 2 || rank == batchRank + 3;
  auto reshape = v.getDefiningOp<ReshapeOp>();
  if (!reshape)
    return asIs ? v : Value();
  ArrayRef<Dim> f = typeOf(reshape.getX()).getDims(),
                t = typeOf(reshape).getDims();
  // [..., X, Y] -> [..., 1, X, Y]
  if (t.size() != f.size() + 1 || f.size() < 3 || !t[t.size() - 3].isOne() ||
      f.take_back(2) != t.take_back(2) || f.drop_back(2) != t.drop_back(3))
    return asIs ? v : Value();
  return reshape.getX();
}

bool AttentionMatcher::isCausal(Value cond, Dim lq, Dim lk) {
  auto cmp = cond.getDefiningOp<CmpOp>();
  if (!cmp)
    return false;
  Value cols, rows;
  if (cmp.getPredicate() == CmpPredicate::le)
    cols = cmp.getLhs(), rows = cmp.getRhs();
  else if (cmp.getPredicate() == CmpPredicate::ge)
    rows = cmp.getLhs(), cols = cmp.getRhs();
  else
    return false;
  int64_t shift = 0;
  if (auto add = rows.getDefiningOp<AddOp>()) {
    std::optional<int64_t> s = intConstant(add.getRhs());
    if (!s)
      return false;
    shift = *s;
    rows = add.getLhs();
  }
  auto r = rows.getDefiningOp<IotaOp>(), c = cols.getDefiningOp<IotaOp>();
  if (!r || !c)
    return false;
  ArrayRef<Dim> rd = typeOf(r).getDims(), cd = typeOf(c).getDims();
  if (rd.size() != 2 || cd.size() != 2 || r.getAxis() != 0 ||
      c.getAxis() != 1 || rd[0] != lq || !rd[1].isOne() || !cd[0].isOne() ||
      cd[1] != lk)
    return false;
  // Key j is visible from query i when j <= i + (Lk - Lq).
  if (lq == lk)
    return shift == 0;
  return lq.isStatic() && lk.isStatic() && shift == lk.size - lq.size;
}

bool AttentionMatcher::matchAllowed(Value allowed, Dim lq, Dim lk,
                                    int64_t batchRank) {
  SmallVector<Value> terms = {allowed};
  if (auto conj = allowed.getDefiningOp<AndOp>())
    terms = {conj.getLhs(), conj.getRhs()};
  for (Value term : terms) {
    if (!m.causal && isCausal(term, lq, lk)) {
      m.causal = true;
      continue;
    }
    Value mask = unalign(term, batchRank);
    if (!mask || m.mask)
      return false;
    m.mask = mask;
  }
  return true;
}

std::optional<Match> AttentionMatcher::match(Operation *anchor) {
  m = Match();
  Value scores = anchor->getOperand(0);
  RecTensorType scoresType = typeOf(scores);
  int64_t rank = scoresType.getRank();
  if (rank < 2)
    return std::nullopt;
  Dim lq = scoresType.getDim(rank - 2), lk = scoresType.getDim(rank - 1);

  // Normalization and the masked weights.
  Value weights = anchor->getResult(0), allowed;
  if (auto softmax = dyn_cast<SoftmaxOp>(anchor)) {
    int64_t axis = softmax.getAxis();
    if (axis != -1 && axis != rank - 1)
      return std::nullopt;
    if (auto select = scores.getDefiningOp<SelectOp>()) {
      std::optional<double> fill = scalarConstant(select.getB());
      if (!fill || *fill > -1e30)
        return std::nullopt;
      allowed = select.getCond();
      scores = select.getA();
      m.chain.push_back(select);
      // A finite fill gives a row with no key uniform weights, the kernel
      // zeros: only the select after the softmax makes them agree.
      bool zeroed = false;
      if (weights.hasOneUse())
        if (auto after = dyn_cast<SelectOp>(*weights.getUsers().begin()))
          if (after.getCond() == allowed && after.getA() == weights &&
              scalarConstant(after.getB()) == 0.0) {
            m.chain.push_back(anchor);
            weights = after;
            zeroed = true;
          }
      if (!zeroed && !std::isinf(*fill))
        return std::nullopt;
    }
    if (weights == anchor->getResult(0))
      m.chain.push_back(anchor);
  } else {
    // silu(scores) / Lk, Lk static, then the select with 0 for the mask.
    m.norm = ScoreNorm::silu;
    if (lk.isSymbolic() || !weights.hasOneUse())
      return std::nullopt;
    auto mul = dyn_cast<MulOp>(*weights.getUsers().begin());
    if (!mul || mul.getLhs() != weights)
      return std::nullopt;
    std::optional<double> factor = scalarConstant(mul.getRhs());
    double expected = 1.0 / static_cast<double>(lk.size);
    if (!factor || std::abs(*factor - expected) > 1e-6 * expected)
      return std::nullopt;
    m.chain.append({mul, anchor});
    weights = mul;
    if (weights.hasOneUse())
      if (auto after = dyn_cast<SelectOp>(*weights.getUsers().begin()))
        if (after.getA() == weights && scalarConstant(after.getB()) == 0.0) {
          allowed = after.getCond();
          m.chain.push_back(after);
          weights = after;
        }
  }

  // Scores: (q k^T) * scale (+ bias); with groups the product is merged
  // from [..., Hkv, G, Lq, Lk] to [..., H, Lq, Lk].
  auto product = [&](Value candidate, double &scale,
                     SmallVectorImpl<Operation *> &ops) -> MatmulOp {
    scale = 1.0;
    Value raw = candidate;
    if (auto mul = candidate.getDefiningOp<MulOp>()) {
      std::optional<double> s = scalarConstant(mul.getRhs());
      raw = mul.getLhs();
      if (!s) {
        s = scalarConstant(mul.getLhs());
        raw = mul.getRhs();
      }
      if (!s)
        return MatmulOp();
      scale = *s;
      ops.push_back(mul);
    }
    if (auto reshape = raw.getDefiningOp<ReshapeOp>()) {
      ops.push_back(reshape);
      raw = reshape.getX();
    }
    auto matmul = raw.getDefiningOp<MatmulOp>();
    if (!matmul || matmul.getTransposeA())
      return MatmulOp();
    ops.push_back(matmul);
    return matmul;
  };
  MatmulOp qk;
  if (auto add = scores.getDefiningOp<AddOp>()) {
    for (auto [candidate, bias] : {std::pair(add.getLhs(), add.getRhs()),
                                   std::pair(add.getRhs(), add.getLhs())}) {
      SmallVector<Operation *> ops;
      if ((qk = product(candidate, m.scale, ops))) {
        m.bias = bias;
        m.chain.push_back(add);
        m.chain.append(ops.begin(), ops.end());
        break;
      }
    }
  }
  if (!qk) {
    SmallVector<Operation *> ops;
    if (!(qk = product(scores, m.scale, ops)))
      return std::nullopt;
    m.chain.append(ops.begin(), ops.end());
  }
  Value kOperand = qk.getB();
  if (!qk.getTransposeB()) {
    auto t = kOperand.getDefiningOp<TransposeOp>();
    int64_t r = typeOf(kOperand).getRank();
    if (!t || r < 2)
      return std::nullopt;
    ArrayRef<int64_t> perm = t.getPermutation();
    for (int64_t i = 0; i < r - 2; ++i)
      if (perm[i] != i)
        return std::nullopt;
    if (perm[r - 2] != r - 1 || perm[r - 1] != r - 2)
      return std::nullopt;
    m.chain.push_back(t);
    kOperand = t.getX();
  }
  int64_t qGroups, kGroups, vGroups;
  SmallVector<Operation *> splits; // may have other users: not erased
  m.q = matchSplit(lookThroughGroups(qk.getA(), qGroups, splits), splits);
  m.k = matchSplit(lookThroughGroups(kOperand, kGroups, splits), splits);

  // The value product and the merged heads.
  if (!weights.hasOneUse())
    return std::nullopt;
  Value pv = weights;
  Operation *user = *weights.getUsers().begin();
  if (auto reshape = dyn_cast<ReshapeOp>(user)) {
    m.chain.push_back(reshape);
    pv = reshape;
    if (!pv.hasOneUse())
      return std::nullopt;
    user = *pv.getUsers().begin();
  }
  auto out = dyn_cast<MatmulOp>(user);
  if (!out || out.getA() != pv || out.getTransposeA() || out.getTransposeB())
    return std::nullopt;
  m.chain.push_back(out);
  m.v = matchSplit(lookThroughGroups(out.getB(), vGroups, splits), splits);
  Value merged = out;
  if (merged.hasOneUse())
    if (auto reshape = dyn_cast<ReshapeOp>(*merged.getUsers().begin()))
      if (typeOf(reshape).getRank() + 1 == typeOf(merged).getRank()) {
        m.chain.push_back(reshape);
        merged = reshape;
      }
  if (m.q.heads > 1 || m.k.heads > 1) {
    // [..., H, Lq, dv] -> [..., Lq, H, dv] -> [..., Lq, H * dv]
    if (!merged.hasOneUse())
      return std::nullopt;
    auto t = dyn_cast<TransposeOp>(*merged.getUsers().begin());
    int64_t r = typeOf(merged).getRank();
    if (!t || !isSwapOfLastTwo(t.getPermutation(), r - 3) ||
        !t.getResult().hasOneUse())
      return std::nullopt;
    auto reshape = dyn_cast<ReshapeOp>(*t.getResult().getUsers().begin());
    if (!reshape || typeOf(reshape).getRank() + 1 != r)
      return std::nullopt;
    m.chain.append({t, reshape});
    merged = reshape;
  }
  m.result = merged;

  // Heads must be consistent: H = Hkv * G, the same key/value heads.
  int64_t heads = m.q.heads, kvHeads = m.k.heads;
  if (!heads || !kvHeads || heads % kvHeads || m.v.heads != kvHeads ||
      m.q.headDim != m.k.headDim || m.q.headDim == 0)
    return std::nullopt;
  int64_t group = heads / kvHeads;
  if (group > 1
          ? (qGroups != kvHeads || kGroups != kvHeads || vGroups != kvHeads)
          : (qGroups || kGroups || vGroups))
    return std::nullopt;

  int64_t batchRank = typeOf(m.result).getRank() - 2;
  if (m.bias && !(m.bias = unalign(m.bias, batchRank)))
    return std::nullopt;
  if (allowed && !matchAllowed(allowed, lq, lk, batchRank))
    return std::nullopt;
  return m;
}

struct RecFuseAttentionPass
    : public onerec::impl::RecFuseAttentionBase<RecFuseAttentionPass> {
  void runOnOperation() override {
    SmallVector<Operation *> anchors;
    getOperation().walk([&](Operation *op) {
      if (isa<SoftmaxOp, SiluOp>(op))
        anchors.push_back(op);
    });
    AttentionMatcher matcher;
    for (Operation *anchor : anchors) {
      std::optional<Match> m = matcher.match(anchor);
      if (!m)
        continue;
      Operation *last = m->result.getDefiningOp();
      OpBuilder b(last);
      // Built with the result type it replaces; the verifier and shape rule
      // must agree, else the spelling stays.
      auto fused = b.create<AttentionOp>(
          last->getLoc(), m->result.getType(), m->q.packed, m->k.packed,
          m->v.packed, m->mask, m->bias, b.getI64IntegerAttr(m->q.heads),
          b.getI64IntegerAttr(m->k.heads),
          m->causal ? b.getUnitAttr() : UnitAttr(), b.getF64FloatAttr(m->scale),
          ScoreNormAttr::get(b.getContext(), m->norm));
      SmallVector<Type> inferred;
      if (failed(cast<ShapeInferenceOpInterface>(fused.getOperation())
                     .inferResultTypes(inferred)) ||
          inferred[0] != m->result.getType()) {
        fused->erase();
        continue;
      }
      m->result.replaceAllUsesWith(fused);
      // The spelling and whatever only it used (splits, constants, the
      // causal comparison) are dead now.
      SmallVector<Operation *> worklist(m->chain);
      while (!worklist.empty()) {
        Operation *op = worklist.pop_back_val();
        if (!op->use_empty() || !isPure(op))
          continue;
        for (Value operand : op->getOperands())
          if (Operation *def = operand.getDefiningOp())
            worklist.push_back(def);
        // An op may be on the list twice; drop the other entries first.
        llvm::erase(worklist, op);
        op->erase();
      }
    }
  }
};

} // namespace
