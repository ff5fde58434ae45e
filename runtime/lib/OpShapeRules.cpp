//===- OpShapeRules.cpp - dtype and shape rules of plan ops ---------------===//
//
// The plan-level twin of the rec dialect's shape inference
// (dialect/lib/RecShapeInference.cpp), over runtime dtypes and symbolic
// extents: for each op, the operand dtypes and shapes it accepts and the
// result it must declare. Two extents match when they are equal for every
// binding (the same symbol, or both static and equal), so a kernel may rely
// on these relations for any dims up to their maxima. Constraints that hold
// only for some bindings (TopK's k of a symbolic axis) become dim minima the
// executor checks when it binds the inputs.
//
//===----------------------------------------------------------------------===//

#include "PlanChecks.h"

#include <fmt/format.h>

#include <cmath>

namespace onerec::runtime::detail {

namespace {

using plan::OpCode;

/// The checks shared by many ops, phrased for messages.
class Rules {
public:
  explicit Rules(KernelChecker &k) : k(k) {}

  Status floatOperand(int i) const {
    return operandOf(i, isFloat(k.inDType(i)), "a float");
  }
  Status integerOperand(int i) const {
    return operandOf(i, isInteger(k.inDType(i)), "an integer (i32 or i64)");
  }
  Status boolOperand(int i) const {
    return operandOf(i, k.inDType(i) == DType::bool8, "a bool");
  }
  Status numericOperand(int i) const {
    return operandOf(i, isNumeric(k.inDType(i)), "a numeric");
  }
  Status sameDType(int i, int j) const {
    if (k.inDType(i) == k.inDType(j))
      return Status::ok();
    return k.fail(fmt::format("{} and {} must have the same dtype",
                              k.operand(j), k.operand(i)));
  }
  Status minRank(int i, int rank) const {
    if (k.inShape(i).rank >= rank)
      return Status::ok();
    return k.fail(fmt::format("{} needs at least {} dimension{}", k.operand(i),
                              rank, rank == 1 ? "" : "s"));
  }
  /// The `name` attribute as an axis of a rank-`rank` tensor.
  StatusOr<int> axis(int rank, const char *name = "axis") const {
    int64_t a = k.attrs().getInt(name);
    if (a < 0 || a >= rank)
      return k.fail(
          fmt::format("attribute '{}' is {}, outside the {} dimension{}", name,
                      a, rank, rank == 1 ? "" : "s"));
    return static_cast<int>(a);
  }
  /// A static extent of operand `i`.
  StatusOr<int64_t> staticExtent(int i, int axis, const char *what) const {
    SymDim d = k.inShape(i)[axis];
    if (!d.isStatic())
      return k.fail(fmt::format("{} must be static in {}, got '{}'", what,
                                k.operand(i), k.format(d)));
    return d.size;
  }
  StatusOr<SymShape> broadcast(const SymShape &a, const SymShape &b) const {
    SymShape out;
    if (!broadcastShapes(a, b, out))
      return k.fail(fmt::format("shapes {} and {} do not broadcast",
                                k.format(a), k.format(b)));
    return out;
  }
  /// Ids with index_bound > extent would reach past the indexed axis.
  Status indexBound(int i, const SymDim &extent, const char *what) const {
    int64_t bound = k.inIndexBound(i);
    if (bound > 0 && extent.isStatic() && bound > extent.size)
      return k.fail(fmt::format("{} holds ids below {}, but {} has {} entries",
                                k.operand(i), bound, what, extent.size));
    return Status::ok();
  }
  Status positiveFloat(const char *name) const {
    double v = k.attrs().getFloat(name);
    if (v > 0 && std::isfinite(v))
      return Status::ok();
    return k.fail(fmt::format(
        "attribute '{}' is {}, expected a positive number", name, v));
  }
  Status floatInRange(const char *name, double lo, double hi) const {
    double v = k.attrs().getFloat(name);
    if (v >= lo && v < hi)
      return Status::ok();
    return k.fail(fmt::format(
        "attribute '{}' is {}, expected a value in [{}, {})", name, v, lo, hi));
  }
  /// A loss's optional mask: bool, of exactly `shape`.
  Status lossMask(int i, const SymShape &shape) const {
    if (!k.present(i))
      return Status::ok();
    if (Status s = boolOperand(i); !s)
      return s;
    if (k.inShape(i) != shape)
      return k.fail(
          fmt::format("{} must have shape {}", k.operand(i), k.format(shape)));
    return Status::ok();
  }
  /// A loss result: the element shape for reduction none, else a scalar.
  Status lossResult(const SymShape &elements, DType dtype) const {
    bool perElement = k.attrs().getInt("reduction") == 2;
    return k.expectResult(0, dtype, perElement ? elements : SymShape());
  }
  Status sameShape(int i, int j) const {
    if (k.inShape(i) == k.inShape(j))
      return Status::ok();
    return k.fail(fmt::format("{} must have the shape of {}", k.operand(j),
                              k.operand(i)));
  }

  KernelChecker &k;

private:
  Status operandOf(int i, bool ok, const char *kind) const {
    if (ok)
      return Status::ok();
    return k.fail(fmt::format("{} must be {} tensor", k.operand(i), kind));
  }
};

#define ONEREC_CHECK(expr)                                                     \
  do {                                                                         \
    if (Status status_ = (expr); !status_)                                     \
      return status_;                                                          \
  } while (false)

#define ONEREC_ASSIGN(var, expr)                                               \
  auto var##OrError = (expr);                                                  \
  if (!var##OrError)                                                           \
    return var##OrError.status();                                              \
  auto var = var##OrError.value()

SymShape withoutLast(const SymShape &s) { return s.prefix(s.rank - 1); }

Status elementwise(Rules &r, OpCode op) {
  KernelChecker &k = r.k;
  int n = k.numInputs();
  if (op == OpCode::Select) {
    ONEREC_CHECK(r.boolOperand(0));
    ONEREC_CHECK(r.sameDType(1, 2));
    ONEREC_ASSIGN(ab, r.broadcast(k.inShape(1), k.inShape(2)));
    ONEREC_ASSIGN(shape, r.broadcast(k.inShape(0), ab));
    return k.expectResult(0, k.inDType(1), shape);
  }
  for (int i = 1; i < n; ++i)
    ONEREC_CHECK(r.sameDType(0, i));
  switch (op) {
  case OpCode::Copy:
    break;
  case OpCode::Neg:
  case OpCode::Abs:
  case OpCode::Add:
  case OpCode::Sub:
  case OpCode::Mul:
  case OpCode::Div:
  case OpCode::Maximum:
  case OpCode::Minimum:
    ONEREC_CHECK(r.numericOperand(0));
    break;
  case OpCode::Not:
  case OpCode::And:
  case OpCode::Or:
    ONEREC_CHECK(r.boolOperand(0));
    break;
  case OpCode::Cmp:
    if (k.attrs().getInt("predicate") >= 2)
      ONEREC_CHECK(r.numericOperand(0));
    break;
  default: // Exp ... Relu, Pow, Dropout
    ONEREC_CHECK(r.floatOperand(0));
  }
  if (op == OpCode::Dropout)
    ONEREC_CHECK(r.floatInRange("rate", 0, 1));
  SymShape shape = k.inShape(0);
  if (n == 2) {
    ONEREC_ASSIGN(both, r.broadcast(k.inShape(0), k.inShape(1)));
    shape = both;
  }
  return k.expectResult(0, op == OpCode::Cmp ? DType::bool8 : k.inDType(0),
                        shape);
}

Status dataMovement(Rules &r, OpCode op) {
  KernelChecker &k = r.k;
  SymShape x = k.numInputs() ? k.inShape(0) : SymShape();
  switch (op) {
  case OpCode::Constant:
    if (k.outDType(0) != DType::f32 && k.outDType(0) != DType::f16 &&
        k.outDType(0) != DType::bf16 && !k.attrs().holdsInt("value"))
      return k.fail(fmt::format("{} is not a float: its value must be an "
                                "integer attribute",
                                k.result(0)));
    return Status::ok();
  case OpCode::Iota: {
    if (!isNumeric(k.outDType(0)))
      return k.fail(fmt::format("{} must be a numeric tensor", k.result(0)));
    ONEREC_ASSIGN(a, r.axis(k.outShape(0).rank));
    (void)a;
    return Status::ok();
  }
  case OpCode::Cast:
    return k.expectResult(0, k.outDType(0), x);
  case OpCode::Broadcast:
    if (!broadcastsTo(x, k.outShape(0)))
      return k.fail(fmt::format("{} does not broadcast to {}", k.operand(0),
                                k.result(0)));
    return k.expectResult(0, k.inDType(0), k.outShape(0));
  case OpCode::Transpose: {
    const std::vector<int64_t> &perm = k.attrs().getInts("permutation");
    bool valid = static_cast<int>(perm.size()) == x.rank;
    bool seen[Shape::kMaxRank] = {};
    SymShape out;
    for (size_t i = 0; valid && i < perm.size(); ++i) {
      valid = perm[i] >= 0 && perm[i] < x.rank && !seen[perm[i]];
      if (valid) {
        seen[perm[i]] = true;
        out.push(x[static_cast<int>(perm[i])]);
      }
    }
    if (!valid)
      return k.fail(fmt::format(
          "attribute 'permutation' [{}] is not a permutation of the "
          "dimensions of {}",
          fmt::join(perm, ", "), k.operand(0)));
    return k.expectResult(0, k.inDType(0), out);
  }
  case OpCode::Concat: {
    ONEREC_ASSIGN(a, r.axis(x.rank));
    int64_t total = 0;
    for (int i = 0; i < k.numInputs(); ++i) {
      ONEREC_CHECK(r.sameDType(0, i));
      SymShape s = k.inShape(i);
      bool sameOutside = s.rank == x.rank;
      for (int d = 0; sameOutside && d < x.rank; ++d)
        sameOutside = d == a || s[d] == x[d];
      if (!sameOutside)
        return k.fail(fmt::format("{} differs from {} outside axis {}",
                                  k.operand(i), k.operand(0), a));
      ONEREC_ASSIGN(extent, r.staticExtent(i, a, "the concatenated dimension"));
      total += extent; // at most kMaxOperands extents of at most 2^40 each
    }
    SymShape out = x;
    out[a] = SymDim::fixed(total);
    return k.expectResult(0, k.inDType(0), out);
  }
  case OpCode::Slice: {
    ONEREC_ASSIGN(a, r.axis(x.rank));
    ONEREC_ASSIGN(extent, r.staticExtent(0, a, "the sliced dimension"));
    int64_t start = k.attrs().getInt("start"), end = k.attrs().getInt("end");
    if (!(start < end && end <= extent))
      return k.fail(
          fmt::format("slice [{}, {}) is empty or outside dimension {} of {}",
                      start, end, a, k.operand(0)));
    SymShape out = x;
    out[a] = SymDim::fixed(end - start);
    return k.expectResult(0, k.inDType(0), out);
  }
  case OpCode::Gather:
  case OpCode::ScatterAdd: {
    ONEREC_CHECK(r.integerOperand(1));
    ONEREC_ASSIGN(a, r.axis(x.rank));
    ONEREC_CHECK(r.indexBound(1, x[a], "the indexed axis"));
    SymShape indexed = x.prefix(a);
    SymShape idx = k.inShape(1);
    bool fits = true;
    for (int d = 0; d < idx.rank; ++d)
      fits &= indexed.push(idx[d]);
    for (int d = a + 1; d < x.rank; ++d)
      fits &= indexed.push(x[d]);
    if (!fits)
      return k.fail(fmt::format(
          "the result of indexing {} with {} would have more than {} "
          "dimensions",
          k.operand(0), k.operand(1), Shape::kMaxRank));
    if (op == OpCode::Gather)
      return k.expectResult(0, k.inDType(0), indexed);
    ONEREC_CHECK(r.numericOperand(0));
    ONEREC_CHECK(r.sameDType(0, 2));
    if (k.inShape(2) != indexed)
      return k.fail(fmt::format("{} must have shape {}", k.operand(2),
                                k.format(indexed)));
    return k.expectResult(0, k.inDType(0), x);
  }
  case OpCode::Hash:
    ONEREC_CHECK(r.integerOperand(0));
    return k.expectResult(0, DType::i64, x);
  case OpCode::TopK: {
    ONEREC_CHECK(r.numericOperand(0));
    ONEREC_CHECK(r.minRank(0, 1));
    int64_t kk = k.attrs().getInt("k");
    if (x.back().isStatic() && x.back().size < kk)
      return k.fail(fmt::format("k = {} exceeds the last dimension of {}", kk,
                                k.operand(0)));
    k.requireAtLeast(x.back(), kk);
    SymShape out = withoutLast(x);
    out.push(SymDim::fixed(kk));
    ONEREC_CHECK(k.expectResult(0, k.inDType(0), out));
    return k.expectResult(1, DType::i64, out);
  }
  case OpCode::ArgMax: {
    ONEREC_CHECK(r.numericOperand(0));
    ONEREC_ASSIGN(a, r.axis(x.rank));
    SymShape out;
    for (int d = 0; d < x.rank; ++d)
      if (d != a)
        out.push(x[d]);
    return k.expectResult(0, DType::i64, out);
  }
  default:
    return k.fail("internal error: no data-movement rule for this op");
  }
}

/// The result of looking up ids (operand `idsOperand`) in a table of shape
/// `table` (`tableWhat` names it in messages): Embedding's result, and the
/// shape EmbeddingGrad's dy must have.
StatusOr<SymShape> embeddingShape(Rules &r, const SymShape &table,
                                  const std::string &tableWhat,
                                  int idsOperand) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.integerOperand(idsOperand));
  SymShape ids = k.inShape(idsOperand);
  if (table.rank != 2 || !table[0].isStatic() || !table[1].isStatic())
    return k.fail(fmt::format(
        "the table {} must be a static [rows, dim] matrix", tableWhat));
  int64_t rows = table[0].size, width = table[1].size;
  int64_t codebook = k.attrs().getInt("codebook");
  SymShape out = ids;
  if (codebook == 0) {
    ONEREC_CHECK(r.indexBound(idsOperand, table[0], "the table"));
  } else {
    ONEREC_CHECK(r.minRank(idsOperand, 1));
    ONEREC_ASSIGN(levels, r.staticExtent(idsOperand, ids.rank - 1,
                                         "the level dimension"));
    int64_t needed = 0;
    if (__builtin_mul_overflow(levels, codebook, &needed) || needed != rows)
      return k.fail(fmt::format(
          "{} has {} levels of {} codes, so the table needs {} rows, "
          "not {}",
          k.operand(idsOperand), levels, codebook,
          needed == 0 ? std::string("too many") : std::to_string(needed),
          rows));
    if (k.inIndexBound(idsOperand) > codebook)
      return k.fail(fmt::format(
          "{} holds codes below {}, but the codebook has {}",
          k.operand(idsOperand), k.inIndexBound(idsOperand), codebook));
    out = withoutLast(ids);
    if (k.attrs().getInt("combine") == 2)
      width *= levels; // both static and bounded by the table's element count
  }
  if (!out.push(SymDim::fixed(width)))
    return k.fail(fmt::format("the result would have more than {} dimensions",
                              Shape::kMaxRank));
  return out;
}

Status embedding(Rules &r) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(0));
  ONEREC_ASSIGN(out, embeddingShape(r, k.inShape(0), k.operand(0), 1));
  return k.expectResult(0, k.inDType(0), out);
}

/// EmbeddingGrad: ids, dy -> dtable [R, d]; dy is what Embedding would
/// return for a table of dtable's shape.
Status embeddingGrad(Rules &r) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(1));
  if (!isFloat(k.outDType(0)) || k.outDType(0) != k.inDType(1))
    return k.fail(
        fmt::format("{} must have the dtype of {}", k.result(0), k.operand(1)));
  ONEREC_ASSIGN(y, embeddingShape(r, k.outShape(0), k.result(0), 0));
  if (k.inShape(1) != y)
    return k.fail(fmt::format("{} must have shape {}, the lookup's result",
                              k.operand(1), k.format(y)));
  return Status::ok();
}

Status reductionOrNorm(Rules &r, OpCode op) {
  KernelChecker &k = r.k;
  SymShape x = k.inShape(0);
  switch (op) {
  case OpCode::Softmax:
  case OpCode::LogSoftmax: {
    ONEREC_CHECK(r.floatOperand(0));
    ONEREC_ASSIGN(a, r.axis(x.rank));
    (void)a;
    return k.expectResult(0, k.inDType(0), x);
  }
  case OpCode::RmsNorm:
  case OpCode::LayerNorm: {
    ONEREC_CHECK(r.floatOperand(0));
    ONEREC_CHECK(r.minRank(0, 1));
    for (int i = 1; i < k.numInputs(); ++i) {
      ONEREC_CHECK(r.sameDType(0, i));
      SymShape p = k.inShape(i);
      if (p.rank != 1 || p[0] != x.back())
        return k.fail(fmt::format("{} must be [{}], the last dimension of {}",
                                  k.operand(i), k.format(x.back()),
                                  k.operand(0)));
    }
    ONEREC_CHECK(r.positiveFloat("eps"));
    return k.expectResult(0, k.inDType(0), x);
  }
  default: { // ReduceSum, ReduceMean, ReduceMax, ReduceMin
    if (op == OpCode::ReduceMean)
      ONEREC_CHECK(r.floatOperand(0));
    else
      ONEREC_CHECK(r.numericOperand(0));
    const std::vector<int64_t> &axes = k.attrs().getInts("axes");
    bool reduced[Shape::kMaxRank] = {};
    for (size_t i = 0; i < axes.size(); ++i) {
      if (axes[i] < 0 || axes[i] >= x.rank || (i > 0 && axes[i] <= axes[i - 1]))
        return k.fail(fmt::format(
            "attribute 'axes' [{}] must be sorted, distinct axes of {}",
            fmt::join(axes, ", "), k.operand(0)));
      reduced[axes[i]] = true;
    }
    bool keepdim = k.attrs().getInt("keepdim") == 1;
    SymShape out;
    for (int d = 0; d < x.rank; ++d) {
      if (!axes.empty() && !reduced[d])
        out.push(x[d]);
      else if (keepdim)
        out.push(SymDim::fixed(1));
    }
    return k.expectResult(0, k.inDType(0), out);
  }
  }
}

Status matmul(Rules &r) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(0));
  ONEREC_CHECK(r.sameDType(0, 1));
  ONEREC_CHECK(r.minRank(0, 2));
  ONEREC_CHECK(r.minRank(1, 2));
  SymShape a = k.inShape(0), b = k.inShape(1);
  bool ta = k.attrs().getInt("transpose_a"),
       tb = k.attrs().getInt("transpose_b");
  SymDim m = a[a.rank - 2], ak = a[a.rank - 1], bk = b[b.rank - 2],
         n = b[b.rank - 1];
  if (ta)
    std::swap(m, ak);
  if (tb)
    std::swap(bk, n);
  if (ak != bk)
    return k.fail(
        fmt::format("operand 1 has inner dimension {}, expected {} ({} x {})",
                    k.format(bk), k.format(ak), k.operand(0), k.operand(1)));
  ONEREC_ASSIGN(batch, r.broadcast(a.prefix(a.rank - 2), b.prefix(b.rank - 2)));
  batch.push(m);
  batch.push(n); // batch has at most 6 dims: both operands have rank >= 2
  return k.expectResult(0, k.inDType(0), batch);
}

/// Attention's operands 0..4; returns the shape of its result.
StatusOr<SymShape> attentionShape(Rules &r) {
  KernelChecker &k = r.k;
  for (int i = 0; i < 3; ++i) {
    ONEREC_CHECK(r.floatOperand(i));
    ONEREC_CHECK(r.sameDType(0, i));
    ONEREC_CHECK(r.minRank(i, 2));
  }
  SymShape q = k.inShape(0), key = k.inShape(1), v = k.inShape(2);
  int64_t heads = k.attrs().getInt("num_heads"),
          kvHeads = k.attrs().getInt("num_kv_heads");
  if (heads % kvHeads != 0)
    return k.fail(
        fmt::format("{} query heads cannot share {} key/value heads evenly",
                    heads, kvHeads));
  ONEREC_ASSIGN(dq, r.staticExtent(0, q.rank - 1, "the query width"));
  ONEREC_ASSIGN(dk, r.staticExtent(1, key.rank - 1, "the key width"));
  ONEREC_ASSIGN(dv, r.staticExtent(2, v.rank - 1, "the value width"));
  if (dq % heads != 0 || dk % kvHeads != 0 || dv % kvHeads != 0)
    return k.fail(fmt::format(
        "widths {} (queries), {} (keys), {} (values) are not divisible "
        "by {} heads and {} key/value heads",
        dq, dk, dv, heads, kvHeads));
  if (dq / heads != dk / kvHeads)
    return k.fail(
        fmt::format("query head width {} differs from key head width {}",
                    dq / heads, dk / kvHeads));
  SymDim lq = q[q.rank - 2], lk = key[key.rank - 2];
  if (v[v.rank - 2] != lk)
    return k.fail(fmt::format("{} and {} have different lengths", k.operand(1),
                              k.operand(2)));
  ONEREC_ASSIGN(qk,
                r.broadcast(q.prefix(q.rank - 2), key.prefix(key.rank - 2)));
  ONEREC_ASSIGN(batch, r.broadcast(qk, v.prefix(v.rank - 2)));
  for (int i : {3, 4}) {
    if (!k.present(i))
      continue;
    if (i == 3)
      ONEREC_CHECK(r.boolOperand(3));
    else
      ONEREC_CHECK(r.sameDType(0, 4));
    SymShape scores = batch;
    bool fits = true;
    if (k.inShape(i).rank == batch.rank + 3)
      fits &= scores.push(SymDim::fixed(heads));
    fits &= scores.push(lq) && scores.push(lk);
    if (!fits || !broadcastsTo(k.inShape(i), scores))
      return k.fail(fmt::format("{} does not broadcast to the scores {}",
                                k.operand(i), k.format(scores)));
  }
  ONEREC_CHECK(r.positiveFloat("scale"));
  SymShape out = batch;
  out.push(lq);
  out.push(SymDim::fixed(heads * (dv / kvHeads)));
  return out;
}

Status attention(Rules &r) {
  ONEREC_ASSIGN(out, attentionShape(r));
  return r.k.expectResult(0, r.k.inDType(0), out);
}

/// DecodeAttention: q [N, S, H·dk], k [Bk, L, Hkv·dk], v [Bk, L, Hkv·dv],
/// k_new? / v_new? [N, S, ...], lengths? [N], rows? [N] -> [N, S, H·dv].
/// The kernel checks the lengths and rows against L and Bk.
Status decodeAttention(Rules &r) {
  KernelChecker &k = r.k;
  for (int i = 0; i < 3; ++i) {
    ONEREC_CHECK(r.floatOperand(i));
    ONEREC_CHECK(r.sameDType(0, i));
    if (k.inShape(i).rank != 3)
      return k.fail(
          fmt::format("{} must be [rows, length, features]", k.operand(i)));
  }
  SymShape q = k.inShape(0), key = k.inShape(1), v = k.inShape(2);
  int64_t heads = k.attrs().getInt("num_heads"),
          kvHeads = k.attrs().getInt("num_kv_heads");
  ONEREC_ASSIGN(dq, r.staticExtent(0, 2, "the query width"));
  ONEREC_ASSIGN(dk, r.staticExtent(1, 2, "the key width"));
  ONEREC_ASSIGN(dv, r.staticExtent(2, 2, "the value width"));
  if (heads % kvHeads != 0 || dq % heads != 0 || dk % kvHeads != 0 ||
      dv % kvHeads != 0 || dq / heads != dk / kvHeads)
    return k.fail(fmt::format(
        "widths {} (queries), {} (keys), {} (values) do not split into {} "
        "query heads and {} key/value heads of one width",
        dq, dk, dv, heads, kvHeads));
  if (key[0] != v[0] || key[1] != v[1])
    return k.fail(fmt::format("{} and {} differ in rows or length",
                              k.operand(1), k.operand(2)));
  if (!k.present(6) && key[0] != q[0])
    return k.fail(fmt::format("without rows, {} must have the queries' rows",
                              k.operand(1)));
  if (k.present(3) != k.present(4))
    return k.fail("new keys and new values come together");
  for (int i : {3, 4}) {
    if (!k.present(i))
      continue;
    ONEREC_CHECK(r.sameDType(0, i));
    SymShape expected = q.prefix(2);
    expected.push(i == 3 ? key[2] : v[2]);
    if (k.inShape(i) != expected)
      return k.fail(fmt::format("{} must have shape {}", k.operand(i),
                                k.format(expected)));
  }
  for (int i : {5, 6}) {
    if (!k.present(i))
      continue;
    ONEREC_CHECK(r.integerOperand(i));
    if (k.inShape(i) != q.prefix(1))
      return k.fail(fmt::format("{} must have shape {}", k.operand(i),
                                k.format(q.prefix(1))));
  }
  ONEREC_CHECK(r.positiveFloat("scale"));
  SymShape out = q.prefix(2);
  out.push(SymDim::fixed(heads * (dv / kvHeads)));
  return k.expectResult(0, k.inDType(0), out);
}

/// AttentionGrad: q, k, v, mask?, bias?, dy -> dq, dk, dv.
Status attentionGrad(Rules &r) {
  KernelChecker &k = r.k;
  ONEREC_ASSIGN(y, attentionShape(r));
  ONEREC_CHECK(r.sameDType(0, 5));
  if (k.inShape(5) != y)
    return k.fail(fmt::format("{} must have shape {}, the attention's result",
                              k.operand(5), k.format(y)));
  for (int i = 0; i < 3; ++i)
    ONEREC_CHECK(k.expectResult(i, k.inDType(i), k.inShape(i)));
  // dbias: a fourth result exactly when there is a bias, shaped like it.
  int expected = k.present(4) ? 4 : 3;
  if (k.numOutputs() != expected)
    return k.fail(fmt::format("has {} results, expected {} ({})",
                              k.numOutputs(), expected,
                              k.present(4) ? "dq, dk, dv, dbias: the bias is "
                                             "given"
                                           : "dq, dk, dv: no bias is given"));
  if (k.present(4))
    ONEREC_CHECK(k.expectResult(3, k.inDType(4), k.inShape(4)));
  return Status::ok();
}

Status moe(Rules &r) {
  KernelChecker &k = r.k;
  for (int i = 0; i < k.numInputs(); ++i) {
    if (!k.present(i))
      continue;
    ONEREC_CHECK(r.floatOperand(i));
    ONEREC_CHECK(r.sameDType(0, i));
  }
  ONEREC_CHECK(r.minRank(0, 1));
  ONEREC_ASSIGN(d, r.staticExtent(0, k.inShape(0).rank - 1, "the model width"));
  SymShape gate = k.inShape(1);
  auto isStatic = [](const SymShape &s, std::initializer_list<int64_t> dims) {
    if (s.rank != static_cast<int>(dims.size()))
      return false;
    int i = 0;
    for (int64_t dim : dims)
      if (s[i++] != SymDim::fixed(dim))
        return false;
    return true;
  };
  if (gate.rank != 2 || gate[0] != SymDim::fixed(d) || !gate[1].isStatic())
    return k.fail(
        fmt::format("the gate {} must be [{}, experts]", k.operand(1), d));
  int64_t experts = gate[1].size;
  if (k.attrs().getInt("top_k") > experts)
    return k.fail(fmt::format("top_k = {} exceeds {} experts",
                              k.attrs().getInt("top_k"), experts));
  if (!isStatic(k.inShape(2), {experts}))
    return k.fail(
        fmt::format("the gate bias {} must be [{}]", k.operand(2), experts));
  SymShape up = k.inShape(3);
  if (up.rank != 3 || up[0] != SymDim::fixed(experts) ||
      up[1] != SymDim::fixed(d) || !up[2].isStatic())
    return k.fail(fmt::format("the up projection {} must be [{}, {}, hidden]",
                              k.operand(3), experts, d));
  int64_t hidden = up[2].size;
  bool gated = k.attrs().getInt("activation") == 3;
  if (gated != k.present(4))
    return k.fail(
        gated ? "swiglu experts need a gate projection (operand 4)"
              : "only swiglu experts take a gate projection (operand 4)");
  if (gated && k.inShape(4) != up)
    return k.fail(
        fmt::format("the gate projection {} must match the up projection {}",
                    k.operand(4), k.operand(3)));
  if (!isStatic(k.inShape(5), {experts, hidden, d}))
    return k.fail(fmt::format("the down projection {} must be [{}, {}, {}]",
                              k.operand(5), experts, hidden, d));
  if (k.op() == OpCode::MoeGrad) {
    // dy -> dx, dgate, dup, dgate_proj?, ddown (gate_bias gets none).
    ONEREC_CHECK(r.sameDType(0, 6));
    ONEREC_CHECK(r.sameShape(0, 6));
    if (!gated && k.resultPresent(3))
      return k.fail("result 3 (dgate_proj) must be absent: the experts have "
                    "no gate projection");
    int operandOf[] = {0, 1, 3, 4, 5};
    for (int i = 0; i < 5; ++i)
      if (k.present(operandOf[i]))
        ONEREC_CHECK(k.expectResult(i, k.inDType(0), k.inShape(operandOf[i])));
    return Status::ok();
  }
  ONEREC_CHECK(k.expectResult(0, k.inDType(0), k.inShape(0)));
  SymShape load;
  load.push(SymDim::fixed(experts));
  return k.expectResult(1, k.inDType(0), load);
}

/// The loss's result (forward), or for its gradient op: operand `dloss`
/// with the loss's shape, and each result `i` shaped like operand
/// `gradOf[i]` (the logits, or h and the table).
Status lossOutputs(Rules &r, const SymShape &elements, DType dtype) {
  KernelChecker &k = r.k;
  OpCode op = k.op();
  bool grad = op == OpCode::CrossEntropyGrad ||
              op == OpCode::BceWithLogitsGrad ||
              op == OpCode::SampledSoftmaxGrad;
  if (!grad)
    return r.lossResult(elements, dtype);
  int dloss = k.numInputs() - 1;
  SymShape loss = k.attrs().getInt("reduction") == 2 ? elements : SymShape();
  if (k.inDType(dloss) != dtype || k.inShape(dloss) != loss)
    return k.fail(fmt::format("{} must be {}{}, the loss's type",
                              k.operand(dloss), dtypeName(dtype),
                              k.format(loss)));
  for (int i = 0; i < k.numOutputs(); ++i)
    ONEREC_CHECK(k.expectResult(i, k.inDType(i), k.inShape(i)));
  return Status::ok();
}

Status lossRule(Rules &r, OpCode op) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(0));
  SymShape x = k.inShape(0);
  DType dtype = k.inDType(0);
  switch (op) {
  case OpCode::CrossEntropyGrad:
  case OpCode::CrossEntropy: {
    ONEREC_CHECK(r.minRank(0, 1));
    ONEREC_CHECK(r.integerOperand(1));
    SymShape elements = withoutLast(x);
    if (k.inShape(1) != elements)
      return k.fail(fmt::format(
          "labels {} must have the shape of the logits without their "
          "class dimension, {}",
          k.operand(1), k.format(elements)));
    ONEREC_CHECK(r.indexBound(1, x.back(), "the class dimension"));
    ONEREC_CHECK(r.lossMask(2, elements));
    ONEREC_CHECK(r.floatInRange("label_smoothing", 0, 1));
    return lossOutputs(r, elements, dtype);
  }
  case OpCode::BceWithLogitsGrad:
  case OpCode::BceWithLogits:
    ONEREC_CHECK(r.sameDType(0, 1));
    ONEREC_CHECK(r.sameShape(0, 1));
    ONEREC_CHECK(r.lossMask(2, x));
    return lossOutputs(r, x, dtype);
  case OpCode::SampledSoftmaxGrad:
  case OpCode::SampledSoftmax: {
    ONEREC_CHECK(r.minRank(0, 1));
    ONEREC_CHECK(r.sameDType(0, 1));
    SymShape table = k.inShape(1);
    if (table.rank != 2 || table[1] != x.back())
      return k.fail(fmt::format("the table {} must be [items, {}]",
                                k.operand(1), k.format(x.back())));
    ONEREC_CHECK(r.integerOperand(2));
    ONEREC_CHECK(r.integerOperand(3));
    SymShape elements = withoutLast(x);
    if (k.inShape(2) != elements)
      return k.fail(fmt::format("{} must have shape {}", k.operand(2),
                                k.format(elements)));
    SymShape neg = k.inShape(3);
    bool perPosition =
        neg.rank == elements.rank + 1 && neg.prefix(elements.rank) == elements;
    if (neg.rank != 1 && !perPosition)
      return k.fail(fmt::format("negatives {} must be [N] or {} + [N]",
                                k.operand(3), k.format(elements)));
    ONEREC_CHECK(r.indexBound(2, table[0], "the table"));
    ONEREC_CHECK(r.indexBound(3, table[0], "the table"));
    ONEREC_CHECK(r.lossMask(4, elements));
    return lossOutputs(r, elements, dtype);
  }
  case OpCode::DpoLoss:
    if (x.rank != 1)
      return k.fail(fmt::format("{} must be [B]", k.operand(0)));
    for (int i = 1; i < 4; ++i) {
      ONEREC_CHECK(r.sameDType(0, i));
      ONEREC_CHECK(r.sameShape(0, i));
    }
    ONEREC_CHECK(r.positiveFloat("beta"));
    return k.expectResult(0, dtype, SymShape());
  default: { // EcpoLoss
    for (int i = 1; i < 3; ++i) {
      ONEREC_CHECK(r.sameDType(0, i));
      ONEREC_CHECK(r.sameShape(0, i));
    }
    ONEREC_CHECK(r.lossMask(3, x));
    ONEREC_CHECK(r.positiveFloat("epsilon"));
    ONEREC_CHECK(r.floatInRange("delta", 0, HUGE_VAL));
    return k.expectResult(0, dtype, SymShape());
  }
  }
}

/// LayerNormGrad: x, gain, dy -> dx, dgain, dbias; RmsNormGrad: x, gain, dy
/// -> dx, dgain.
Status normGrad(Rules &r) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(0));
  ONEREC_CHECK(r.minRank(0, 1));
  SymShape x = k.inShape(0);
  ONEREC_CHECK(r.sameDType(0, 1));
  SymShape gain = k.inShape(1);
  if (gain.rank != 1 || gain[0] != x.back())
    return k.fail(fmt::format("{} must be [{}], the last dimension of {}",
                              k.operand(1), k.format(x.back()), k.operand(0)));
  ONEREC_CHECK(r.sameDType(0, 2));
  ONEREC_CHECK(r.sameShape(0, 2));
  ONEREC_CHECK(r.positiveFloat("eps"));
  ONEREC_CHECK(k.expectResult(0, k.inDType(0), x));
  for (int i = 1; i < k.numOutputs(); ++i)
    ONEREC_CHECK(k.expectResult(i, k.inDType(0), gain));
  return Status::ok();
}

/// WeightGrad: x [..., k], y [..., n] with the same leading dims -> [k, n].
Status weightGrad(Rules &r) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(0));
  ONEREC_CHECK(r.sameDType(0, 1));
  ONEREC_CHECK(r.minRank(0, 1));
  SymShape x = k.inShape(0), y = k.inShape(1);
  if (y.rank != x.rank || withoutLast(x) != withoutLast(y))
    return k.fail(fmt::format("{} and {} must have the same leading "
                              "dimensions",
                              k.operand(0), k.operand(1)));
  SymShape out;
  out.push(x.back());
  out.push(y.back());
  return k.expectResult(0, k.inDType(0), out);
}

/// 1.2: one product of a Gemm, operands `ai` x `bi`: rec.matmul's rule.
StatusOr<SymShape> gemmProduct(Rules &r, int ai, int bi, bool ta, bool tb) {
  KernelChecker &k = r.k;
  ONEREC_CHECK(r.floatOperand(ai));
  ONEREC_CHECK(r.sameDType(ai, bi));
  ONEREC_CHECK(r.minRank(ai, 2));
  ONEREC_CHECK(r.minRank(bi, 2));
  SymShape a = k.inShape(ai), b = k.inShape(bi);
  SymDim m = a[a.rank - 2], ak = a[a.rank - 1], bk = b[b.rank - 2],
         n = b[b.rank - 1];
  if (ta)
    std::swap(m, ak);
  if (tb)
    std::swap(bk, n);
  if (ak != bk)
    return k.fail(fmt::format("{} has inner dimension {}, expected {} ({})",
                              k.operand(bi), k.format(bk), k.format(ak),
                              k.operand(ai)));
  ONEREC_ASSIGN(batch, r.broadcast(a.prefix(a.rank - 2), b.prefix(b.rank - 2)));
  batch.push(m);
  batch.push(n);
  return batch;
}

/// 1.2: Gemm. Operands a_0, b_0, bias?, residual?, then further (a_p, b_p)
/// pairs summed into one result, or (shared_lhs) further b_j, one result
/// per b_j (one for the swiglu epilogue).
Status gemm(Rules &r) {
  KernelChecker &k = r.k;
  bool ta = k.attrs().getInt("transpose_a"),
       tb = k.attrs().getInt("transpose_b"),
       shared = k.attrs().getInt("shared_lhs");
  bool swiglu = k.attrs().getInt("epilogue") == 6;
  int inputs = k.numInputs(), outputs = k.numOutputs();
  if (shared) {
    int products = inputs - 3;
    int expected = swiglu ? 1 : products;
    if (products < 2 || (swiglu && products != 2) || outputs != expected)
      return k.fail(fmt::format(
          "a shared left operand takes at least two right operands (exactly "
          "two with swiglu) and one result per product (one with swiglu), "
          "got {} operands and {} results",
          inputs, outputs));
    if (k.present(2) || k.present(3))
      return k.fail("a shared left operand takes no bias or residual");
    if (!swiglu && k.attrs().getInt("epilogue") != 0)
      return k.fail("a shared left operand takes no epilogue but swiglu");
    SymShape first;
    for (int j = 0; j < products; ++j) {
      ONEREC_ASSIGN(y, gemmProduct(r, 0, j == 0 ? 1 : 3 + j, ta, tb));
      ONEREC_CHECK(k.expectResult(swiglu ? 0 : j, k.inDType(0), y));
      // One launch covers one batch: every product has the first's
      // leading dims.
      if (j == 0)
        first = y;
      bool sameBatch = y.rank == first.rank && y.rank >= 2;
      for (int d = 0; sameBatch && d + 2 < y.rank; ++d)
        sameBatch = y[d] == first[d];
      if (!sameBatch)
        return k.fail(fmt::format("product {} of a shared left operand has "
                                  "other batch dims than product 0",
                                  j));
    }
    return Status::ok();
  }
  if (inputs % 2 != 0 || outputs != 1 || swiglu)
    return k.fail(fmt::format("a sum of products takes (a, b) pairs besides "
                              "bias and residual, one result and no swiglu, "
                              "got {} operands and {} results",
                              inputs, outputs));
  ONEREC_ASSIGN(y, gemmProduct(r, 0, 1, ta, tb));
  for (int p = 4; p < inputs; p += 2) {
    ONEREC_ASSIGN(product, gemmProduct(r, p, p + 1, ta, tb));
    ONEREC_CHECK(r.sameDType(0, p));
    if (product != y)
      return k.fail(fmt::format("product {} is {}, expected {}", p / 2 - 1,
                                k.format(product), k.format(y)));
  }
  if (k.present(2)) {
    ONEREC_CHECK(r.sameDType(0, 2));
    SymShape bias = k.inShape(2);
    if (bias.rank != 1 || bias[0] != y.back())
      return k.fail(fmt::format("{} must be a vector of {} elements",
                                k.operand(2), k.format(y.back())));
  }
  if (k.present(3)) {
    ONEREC_CHECK(r.sameDType(0, 3));
    if (k.inShape(3) != y)
      return k.fail(fmt::format("{} must have the result's shape {}",
                                k.operand(3), k.format(y)));
  }
  return k.expectResult(0, k.inDType(0), y);
}

/// 1.2: GroupedWeightGrad: x [..., k], dy_j [..., n_j] -> dw_j [k, n_j].
Status groupedWeightGrad(Rules &r) {
  KernelChecker &k = r.k;
  if (k.numOutputs() != k.numInputs() - 1)
    return k.fail(fmt::format("has {} results, expected one per result "
                              "gradient ({})",
                              k.numOutputs(), k.numInputs() - 1));
  ONEREC_CHECK(r.floatOperand(0));
  ONEREC_CHECK(r.minRank(0, 1));
  SymShape x = k.inShape(0);
  for (int j = 1; j < k.numInputs(); ++j) {
    ONEREC_CHECK(r.sameDType(0, j));
    SymShape dy = k.inShape(j);
    if (dy.rank != x.rank || withoutLast(x) != withoutLast(dy))
      return k.fail(fmt::format("{} and {} must have the same leading "
                                "dimensions",
                                k.operand(0), k.operand(j)));
    SymShape out;
    out.push(x.back());
    out.push(dy.back());
    ONEREC_CHECK(k.expectResult(j - 1, k.inDType(0), out));
  }
  return Status::ok();
}

/// 1.2: MultiEmbedding: tables [R_i, d_i] x n, plain ids x n of one shape
/// -> [..., sum d_i], the concatenation of the n lookups.
Status multiEmbedding(Rules &r) {
  KernelChecker &k = r.k;
  int n = k.numInputs() / 2;
  if (n < 1 || k.numInputs() != 2 * n)
    return k.fail(fmt::format("has {} operands, expected n tables, then "
                              "their n ids",
                              k.numInputs()));
  int64_t width = 0;
  for (int i = 0; i < n; ++i) {
    ONEREC_CHECK(r.floatOperand(i));
    ONEREC_CHECK(r.sameDType(0, i));
    ONEREC_ASSIGN(y, embeddingShape(r, k.inShape(i), k.operand(i), n + i));
    if (k.inShape(n + i) != k.inShape(n))
      return k.fail(fmt::format("{} must have the shape of {}",
                                k.operand(n + i), k.operand(n)));
    width += y.back().size;
  }
  SymShape out = k.inShape(n);
  if (!out.push(SymDim::fixed(width)))
    return k.fail(fmt::format("the result would have more than {} dimensions",
                              Shape::kMaxRank));
  return k.expectResult(0, k.inDType(0), out);
}

/// 1.2: MultiEmbeddingGrad: dy [..., D], plain ids_i [...] -> dtable_i
/// [R_i, d_i]; table i reads columns offsets[i] .. offsets[i] + d_i of dy.
Status multiEmbeddingGrad(Rules &r) {
  KernelChecker &k = r.k;
  int n = k.numInputs() - 1;
  if (k.numOutputs() != n)
    return k.fail(fmt::format("has {} results, expected one per ids operand "
                              "({})",
                              k.numOutputs(), n));
  ONEREC_CHECK(r.floatOperand(0));
  ONEREC_CHECK(r.minRank(0, 1));
  SymShape dy = k.inShape(0);
  if (!dy.back().isStatic())
    return k.fail(
        fmt::format("{} needs a static last dimension", k.operand(0)));
  const std::vector<int64_t> &offsets = k.attrs().getInts("offsets");
  if (static_cast<int>(offsets.size()) != n)
    return k.fail(fmt::format("attribute 'offsets' has {} entries for {} "
                              "tables",
                              offsets.size(), n));
  for (int i = 0; i < n; ++i) {
    if (!isFloat(k.outDType(i)) || k.outDType(i) != k.inDType(0))
      return k.fail(fmt::format("{} must have the dtype of {}", k.result(i),
                                k.operand(0)));
    ONEREC_ASSIGN(y, embeddingShape(r, k.outShape(i), k.result(i), i + 1));
    if (withoutLast(y) != withoutLast(dy))
      return k.fail(fmt::format("{} must have the leading shape of {}",
                                k.operand(i + 1), k.operand(0)));
    int64_t d = y.back().size;
    if (offsets[i] < 0 || offsets[i] > dy.back().size - d)
      return k.fail(fmt::format("columns {}..{} of table {} lie outside {}",
                                offsets[i], offsets[i] + d, i, k.operand(0)));
  }
  return Status::ok();
}

/// The optimizer's step: an integer scalar.
Status stepOperand(Rules &r, int i) {
  ONEREC_CHECK(r.integerOperand(i));
  if (r.k.inShape(i).rank != 0)
    return r.k.fail(fmt::format("{} must be a scalar", r.k.operand(i)));
  return Status::ok();
}

/// optimizer.hparams: f32[8]; the global norm: f32[].
Status hparamsOperand(Rules &r, int i) {
  SymShape eight;
  eight.push(SymDim::fixed(8));
  if (r.k.inDType(i) != DType::f32 || r.k.inShape(i) != eight)
    return r.k.fail(
        fmt::format("{} must be f32[8] (optimizer.hparams)", r.k.operand(i)));
  return Status::ok();
}

Status normOperand(Rules &r, int i) {
  if (!r.k.present(i))
    return Status::ok();
  if (r.k.inDType(i) != DType::f32 || r.k.inShape(i).rank != 0)
    return r.k.fail(
        fmt::format("{} must be f32[] (the global norm)", r.k.operand(i)));
  return Status::ok();
}

Status optimizerRule(Rules &r, OpCode op) {
  KernelChecker &k = r.k;
  switch (op) {
  case OpCode::GlobalNorm:
    for (int i = 0; i < k.numInputs(); ++i)
      ONEREC_CHECK(r.floatOperand(i));
    return k.expectResult(0, DType::f32, SymShape());
  case OpCode::AdamWUpdate:
  case OpCode::SgdUpdate: {
    bool adam = op == OpCode::AdamWUpdate;
    ONEREC_CHECK(r.floatOperand(0));
    // param, grad, then the state: m and v, or momentum (optional).
    for (int i = 1, last = adam ? 3 : 2; i <= last; ++i) {
      if (!k.present(i))
        continue;
      ONEREC_CHECK(r.sameDType(0, i));
      ONEREC_CHECK(r.sameShape(0, i));
    }
    int step = adam ? 4 : 3;
    ONEREC_CHECK(stepOperand(r, step));
    ONEREC_CHECK(hparamsOperand(r, step + 1));
    return normOperand(r, step + 2);
  }
  case OpCode::MoeBiasUpdate: {
    ONEREC_CHECK(r.floatOperand(0));
    if (k.inShape(0).rank != 1)
      return k.fail(fmt::format("{} must be [experts]", k.operand(0)));
    ONEREC_CHECK(r.sameDType(0, 1));
    ONEREC_CHECK(r.sameShape(0, 1));
    ONEREC_CHECK(hparamsOperand(r, 2));
    return r.floatInRange("rate", 0, HUGE_VAL);
  }
  case OpCode::Assign:
  case OpCode::AssignAdd:
    ONEREC_CHECK(r.numericOperand(0));
    ONEREC_CHECK(r.sameDType(0, 1));
    return r.sameShape(0, 1);
  default: // Fill
    if (!isFloat(k.inDType(0)) && !k.attrs().holdsInt("value"))
      return k.fail(fmt::format("{} is not a float: its value must be an "
                                "integer attribute",
                                k.operand(0)));
    if (k.inDType(0) == DType::bool8 && k.attrs().getInt("value") != 0 &&
        k.attrs().getInt("value") != 1)
      return k.fail(
          fmt::format("{} is a bool: its value must be 0 or 1", k.operand(0)));
    return Status::ok();
  }
}

/// 1.2: MultiAdamWUpdate and MultiSgdUpdate: n parameters, their n
/// gradients and n of each optimizer state, then step and hparams; a 0/1
/// decay flag per parameter; the result is the global norm, f32[].
Status multiUpdateRule(Rules &r, OpCode op) {
  KernelChecker &k = r.k;
  int segments = multiUpdateSegments(op);
  int n = (k.numInputs() - 2) / segments;
  if (n < 1 || k.numInputs() != 2 + segments * n)
    return k.fail(fmt::format("has {} operands, expected {} segments of equal "
                              "length, then step and hparams",
                              k.numInputs(), segments));
  ONEREC_CHECK(stepOperand(r, segments * n));
  ONEREC_CHECK(hparamsOperand(r, segments * n + 1));
  for (int p = 0; p < n; ++p) {
    if (k.inDType(p) != DType::f32)
      return k.fail(fmt::format("{} must be f32", k.operand(p)));
    for (int s = 1; s < segments; ++s) {
      ONEREC_CHECK(r.sameDType(p, p + s * n));
      ONEREC_CHECK(r.sameShape(p, p + s * n));
    }
  }
  const std::vector<int64_t> &decay = k.attrs().getInts("decay");
  if (static_cast<int>(decay.size()) != n)
    return k.fail(fmt::format("attribute 'decay' has {} flags for {} "
                              "parameters",
                              decay.size(), n));
  for (size_t i = 0; i < decay.size(); ++i)
    if (decay[i] != 0 && decay[i] != 1)
      return k.fail(fmt::format("attribute 'decay' flag {} is {}, expected 0 "
                                "or 1",
                                i, decay[i]));
  return k.expectResult(0, DType::f32, SymShape());
}

} // namespace

Status checkShapeRules(KernelChecker &k) {
  Rules r(k);
  OpCode op = k.op();
  if (isElementwise(op))
    return elementwise(r, op);
  switch (op) {
  case OpCode::Constant:
  case OpCode::Iota:
  case OpCode::Cast:
  case OpCode::Broadcast:
  case OpCode::Transpose:
  case OpCode::Concat:
  case OpCode::Slice:
  case OpCode::Gather:
  case OpCode::ScatterAdd:
  case OpCode::Hash:
  case OpCode::TopK:
  case OpCode::ArgMax:
    return dataMovement(r, op);
  case OpCode::Embedding:
    return embedding(r);
  case OpCode::ReduceSum:
  case OpCode::ReduceMean:
  case OpCode::ReduceMax:
  case OpCode::ReduceMin:
  case OpCode::Softmax:
  case OpCode::LogSoftmax:
  case OpCode::RmsNorm:
  case OpCode::LayerNorm:
    return reductionOrNorm(r, op);
  case OpCode::Matmul:
    return matmul(r);
  case OpCode::Attention:
    return attention(r);
  case OpCode::DecodeAttention:
    return decodeAttention(r);
  case OpCode::Moe:
    return moe(r);
  case OpCode::CrossEntropy:
  case OpCode::BceWithLogits:
  case OpCode::SampledSoftmax:
  case OpCode::DpoLoss:
  case OpCode::EcpoLoss:
  case OpCode::CrossEntropyGrad:
  case OpCode::BceWithLogitsGrad:
  case OpCode::SampledSoftmaxGrad:
    return lossRule(r, op);
  case OpCode::LayerNormGrad:
  case OpCode::RmsNormGrad:
    return normGrad(r);
  case OpCode::AttentionGrad:
    return attentionGrad(r);
  case OpCode::EmbeddingGrad:
    return embeddingGrad(r);
  case OpCode::MoeGrad:
    return moe(r);
  case OpCode::WeightGrad:
    return weightGrad(r);
  case OpCode::Gemm:
    return gemm(r);
  case OpCode::GroupedWeightGrad:
    return groupedWeightGrad(r);
  case OpCode::GlobalNorm:
  case OpCode::AdamWUpdate:
  case OpCode::SgdUpdate:
  case OpCode::MoeBiasUpdate:
  case OpCode::AssignAdd:
  case OpCode::Fill:
  case OpCode::Assign:
    return optimizerRule(r, op);
  case OpCode::Fused:
    return checkFusedKernel(k);
  case OpCode::MultiAdamWUpdate:
  case OpCode::MultiSgdUpdate:
    return multiUpdateRule(r, op);
  case OpCode::MultiEmbedding:
    return multiEmbedding(r);
  case OpCode::MultiEmbeddingGrad:
    return multiEmbeddingGrad(r);
  default:
    return k.fail("internal error: no shape rule for this op");
  }
}

} // namespace onerec::runtime::detail
