//===- OpSignatures.cpp - operand counts and attributes of plan ops -------===//
//
// One table row per OpCode: how many operands and results, which operands
// may be absent, and each attribute's name, kind, whether it is required and
// (for integers) its range. It mirrors the op table of docs/plan-format.md;
// the shape rules live in OpShapeRules.cpp.
//
//===----------------------------------------------------------------------===//

#include "PlanChecks.h"

#include "onerec/Runtime/PlanValidator.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <variant>

namespace onerec::runtime::detail {

namespace {

using plan::OpCode;

enum class AttrKind : uint8_t { Int, Float, Ints, IntOrFloat };

struct AttrSpec {
  const char *name;
  AttrKind kind;
  bool required;
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
};

struct OpSignature {
  int minInputs;
  int maxInputs;
  /// Bit i set: operand i may be absent (0xFFFFFFFF).
  uint32_t optionalOperands;
  int numOutputs;
  std::vector<AttrSpec> attrs;
  /// Bit i set: result i may be absent (a gradient nobody needs).
  uint32_t optionalResults = 0;
  /// Bit i set: operand i is written in place (ops without results).
  uint32_t inPlaceOperands = 0;
  /// When set, the op takes minOutputs to numOutputs results (the shape
  /// rules say which count applies).
  int minOutputs = -1;
};

constexpr int kVariadic = static_cast<int>(PlanLimits::kMaxOperands);

const char *kindName(AttrKind kind) {
  switch (kind) {
  case AttrKind::Int:
    return "an integer";
  case AttrKind::Float:
    return "a float";
  case AttrKind::Ints:
    return "a list of integers";
  case AttrKind::IntOrFloat:
    return "a number";
  }
  return "?";
}

AttrSpec flag(const char *name, bool required = false) {
  return {name, AttrKind::Int, required, 0, 1};
}
AttrSpec axis(const char *name = "axis") {
  return {name, AttrKind::Int, true, 0, 7};
}
AttrSpec choice(const char *name, int64_t last, bool required = false) {
  return {name, AttrKind::Int, required, 0, last};
}
AttrSpec positive(const char *name) { return {name, AttrKind::Int, true, 1}; }
AttrSpec real(const char *name, bool required = true) {
  return {name, AttrKind::Float, required};
}

OpSignature unary() { return {1, 1, 0, 1, {}}; }
OpSignature binary() { return {2, 2, 0, 1, {}}; }
/// A loss whose operand `mask` (the last) is optional.
OpSignature loss(int operands, std::vector<AttrSpec> attrs) {
  return {operands - 1, operands, 1u << (operands - 1), 1, std::move(attrs)};
}

std::vector<OpSignature> buildSignatures() {
  std::vector<OpSignature> table(static_cast<size_t>(OpCode::MAX) + 1);
  auto set = [&](OpCode op, OpSignature signature) {
    table[static_cast<size_t>(op)] = std::move(signature);
  };
  set(OpCode::Constant, {0, 0, 0, 1, {{"value", AttrKind::IntOrFloat, true}}});
  set(OpCode::Iota, {0, 0, 0, 1, {axis()}});
  for (OpCode op : {OpCode::Copy, OpCode::Neg, OpCode::Abs, OpCode::Exp,
                    OpCode::Log, OpCode::Sqrt, OpCode::Rsqrt, OpCode::Tanh,
                    OpCode::Sigmoid, OpCode::Silu, OpCode::Gelu, OpCode::Relu,
                    OpCode::Not, OpCode::Cast, OpCode::Broadcast})
    set(op, unary());
  for (OpCode op :
       {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div, OpCode::Pow,
        OpCode::Maximum, OpCode::Minimum, OpCode::And, OpCode::Or})
    set(op, binary());
  set(OpCode::Cmp, {2, 2, 0, 1, {choice("predicate", 5, /*required=*/true)}});
  set(OpCode::Select, {3, 3, 0, 1, {}});
  set(OpCode::Transpose, {1, 1, 0, 1, {{"permutation", AttrKind::Ints, true}}});
  set(OpCode::Concat, {1, kVariadic, 0, 1, {axis()}});
  set(OpCode::Slice, {1,
                      1,
                      0,
                      1,
                      {axis(),
                       {"start", AttrKind::Int, true, 0},
                       {"end", AttrKind::Int, true, 1}}});
  set(OpCode::Gather, {2, 2, 0, 1, {axis()}});
  set(OpCode::ScatterAdd, {3, 3, 0, 1, {axis()}});
  set(OpCode::Embedding,
      {2,
       2,
       0,
       1,
       {choice("combine", 2), {"codebook", AttrKind::Int, false, 0}}});
  set(OpCode::Hash,
      {1, 1, 0, 1, {positive("buckets"), {"salt", AttrKind::Int, false}}});
  set(OpCode::TopK, {1, 1, 0, 2, {positive("k")}});
  set(OpCode::ArgMax, {1, 1, 0, 1, {axis()}});
  for (OpCode op : {OpCode::ReduceSum, OpCode::ReduceMean, OpCode::ReduceMax,
                    OpCode::ReduceMin})
    set(op, {1, 1, 0, 1, {{"axes", AttrKind::Ints, false}, flag("keepdim")}});
  set(OpCode::Softmax, {1, 1, 0, 1, {axis()}});
  set(OpCode::LogSoftmax, {1, 1, 0, 1, {axis()}});
  set(OpCode::RmsNorm, {2, 2, 0, 1, {real("eps")}});
  set(OpCode::LayerNorm, {3, 3, 0, 1, {real("eps")}});
  set(OpCode::Matmul, {2, 2, 0, 1, {flag("transpose_a"), flag("transpose_b")}});
  set(OpCode::Attention,
      {3,
       5,
       0b11000,
       1,
       {positive("num_heads"), positive("num_kv_heads"), flag("causal"),
        real("scale"), choice("score_norm", 1)}});
  // 1.3: q, k, v, k_new?, v_new?, lengths?, rows?.
  set(OpCode::DecodeAttention,
      {3,
       7,
       0b1111000,
       1,
       {positive("num_heads"), positive("num_kv_heads"), real("scale")}});
  set(OpCode::Moe, {6,
                    6,
                    0b010000,
                    2,
                    {positive("top_k"), choice("balance", 2),
                     choice("activation", 3, true)}});
  set(OpCode::Dropout,
      {1, 1, 0, 1, {real("rate"), {"stream", AttrKind::Int, false}}});
  set(OpCode::CrossEntropy,
      loss(3, {choice("reduction", 2),
               real("label_smoothing", /*required=*/false)}));
  set(OpCode::BceWithLogits, loss(3, {choice("reduction", 2)}));
  // remove_hits (1.1): optional, absent (0) in 1.0 plans.
  set(OpCode::SampledSoftmax,
      loss(5, {choice("reduction", 2), flag("remove_hits")}));
  set(OpCode::DpoLoss, {4, 4, 0, 1, {real("beta")}});
  set(OpCode::EcpoLoss, loss(4, {real("epsilon"), real("delta")}));

  // 1.1: backward ops (docs/training.md). Every gradient result may be
  // absent when nothing needs it; the forward op's attributes come along.
  set(OpCode::LayerNormGrad, {3, 3, 0, 3, {real("eps")}, 0b111});
  set(OpCode::RmsNormGrad, {3, 3, 0, 2, {real("eps")}, 0b11});
  set(OpCode::AttentionGrad,
      {6,
       6,
       0b011000,
       4,
       {positive("num_heads"), positive("num_kv_heads"), flag("causal"),
        real("scale"), choice("score_norm", 1)},
       0b1111,
       0,
       /*minOutputs=*/3}); // dbias, the fourth, exactly when bias is given
  set(OpCode::EmbeddingGrad,
      {2,
       2,
       0,
       1,
       {choice("combine", 2), {"codebook", AttrKind::Int, false, 0}}});
  set(OpCode::CrossEntropyGrad,
      {4,
       4,
       0b0100,
       1,
       {choice("reduction", 2), real("label_smoothing", /*required=*/false)}});
  set(OpCode::BceWithLogitsGrad, {4, 4, 0b0100, 1, {choice("reduction", 2)}});
  set(OpCode::SampledSoftmaxGrad,
      {6, 6, 0b010000, 2, {choice("reduction", 2), flag("remove_hits")}, 0b11});
  set(OpCode::MoeGrad,
      {7,
       7,
       0b0010000,
       5,
       {positive("top_k"), choice("balance", 2), choice("activation", 3, true)},
       0b11111});
  set(OpCode::WeightGrad, {2, 2, 0, 1, {}});
  // 1.1: optimizer ops. All but GlobalNorm write operands in place.
  set(OpCode::GlobalNorm, {1, kVariadic, 0, 1, {}});
  set(OpCode::AdamWUpdate, {7,
                            7,
                            0b1000000,
                            0,
                            {flag("decay", true), flag("decoupled", true)},
                            0,
                            0b1101});
  set(OpCode::SgdUpdate, {6, 6, 0b100100, 0, {flag("decay", true)}, 0, 0b101});
  set(OpCode::MoeBiasUpdate, {3, 3, 0, 0, {real("rate")}, 0, 0b1});
  set(OpCode::AssignAdd, {2, 2, 0, 0, {}, 0, 0b1});
  set(OpCode::Fill,
      {1, 1, 0, 0, {{"value", AttrKind::IntOrFloat, true}}, 0, 0b1});
  // 1.2: a plain in-place write (the optimizer step spelled with primitives).
  set(OpCode::Assign, {2, 2, 0, 0, {}, 0, 0b1});
  // 1.2: a fused group; Kernel.program says what it computes.
  set(OpCode::Fused, {0, kVariadic, 0, kVariadic, {}, 0, 0, 1});

  // 1.2: GEMM fusion (docs/fusion.md). Gemm: a_0, b_0, bias?, residual?,
  // then the further products; one result (a sum) or one per right operand.
  set(OpCode::Gemm, {4,
                     kVariadic,
                     0b1100,
                     kVariadic,
                     {flag("transpose_a"), flag("transpose_b"),
                      choice("epilogue", 6), flag("shared_lhs")},
                     0,
                     0,
                     /*minOutputs=*/1});
  set(OpCode::GroupedWeightGrad,
      {2, kVariadic, 0, kVariadic, {}, 0, 0, /*minOutputs=*/1});

  // 1.2: multi-tensor updates: one segment of n operands per kind (params,
  // grads, m, v or params, grads, momentum), then step and hparams; the
  // in-place segments are given by writesInPlace. The result is the global
  // norm.
  set(OpCode::MultiAdamWUpdate,
      {6,
       kVariadic,
       0,
       1,
       {{"decay", AttrKind::Ints, true}, flag("decoupled", true)}});
  set(OpCode::MultiSgdUpdate,
      {5, kVariadic, 0, 1, {{"decay", AttrKind::Ints, true}}});

  // 1.2: embedding fusion: tables x n, ids x n -> the concatenation; dy,
  // ids x n -> one table gradient per ids operand.
  set(OpCode::MultiEmbedding, {2, kVariadic, 0, 1, {}});
  set(OpCode::MultiEmbeddingGrad, {2,
                                   kVariadic,
                                   0,
                                   kVariadic,
                                   {{"offsets", AttrKind::Ints, true}},
                                   0,
                                   0,
                                   /*minOutputs=*/1});
  return table;
}

const OpSignature &signatureOf(OpCode op) {
  static const std::vector<OpSignature> table = buildSignatures();
  return table[static_cast<size_t>(op)];
}

std::string countText(int count, const char *noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

} // namespace

Status checkSignature(const KernelChecker &kernel) {
  const OpSignature &sig = signatureOf(kernel.op());
  int inputs = kernel.numInputs();
  if (inputs < sig.minInputs || inputs > sig.maxInputs) {
    std::string expected =
        sig.maxInputs == kVariadic ? fmt::format("at least {}", sig.minInputs)
        : sig.minInputs == sig.maxInputs
            ? std::to_string(sig.minInputs)
            : fmt::format("{} to {}", sig.minInputs, sig.maxInputs);
    return kernel.fail(fmt::format("has {}, expected {}",
                                   countText(inputs, "operand"), expected));
  }
  for (int i = 0; i < inputs; ++i)
    if (!kernel.present(i) && !(i < 32 && (sig.optionalOperands >> i & 1)))
      return kernel.fail(
          fmt::format("operand {} is absent, but it is not optional", i));
  int minOutputs = sig.minOutputs >= 0 ? sig.minOutputs : sig.numOutputs;
  if (kernel.numOutputs() < minOutputs || kernel.numOutputs() > sig.numOutputs)
    return kernel.fail(fmt::format(
        "has {}, expected {}", countText(kernel.numOutputs(), "result"),
        minOutputs == sig.numOutputs
            ? std::to_string(minOutputs)
            : fmt::format("{} or {}", minOutputs, sig.numOutputs)));
  for (int i = 0; i < kernel.numOutputs(); ++i)
    if (!kernel.resultPresent(i) && !(i < 32 && (sig.optionalResults >> i & 1)))
      return kernel.fail(
          fmt::format("result {} is absent, but it is not optional", i));

  const auto &entries = kernel.attrs().entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto &[name, value] = entries[i];
    for (size_t j = 0; j < i; ++j)
      if (entries[j].first == name)
        return kernel.fail(fmt::format("attribute '{}' is given twice", name));
    auto spec = std::find_if(sig.attrs.begin(), sig.attrs.end(),
                             [&](const AttrSpec &s) { return name == s.name; });
    if (spec == sig.attrs.end()) {
      std::string known;
      for (const AttrSpec &s : sig.attrs)
        known += (known.empty() ? "" : ", ") + std::string(s.name);
      return kernel.fail(
          fmt::format("unknown attribute '{}' (this op takes: {})", name,
                      known.empty() ? "none" : known));
    }
    bool isInt = std::holds_alternative<int64_t>(value);
    bool kindOk = spec->kind == AttrKind::Int ? isInt
                  : spec->kind == AttrKind::Float
                      ? std::holds_alternative<double>(value)
                  : spec->kind == AttrKind::Ints
                      ? std::holds_alternative<std::vector<int64_t>>(value)
                      : !std::holds_alternative<std::vector<int64_t>>(value);
    if (!kindOk)
      return kernel.fail(
          fmt::format("attribute '{}' must be {}", name, kindName(spec->kind)));
    if (isInt && spec->kind == AttrKind::Int) {
      int64_t v = std::get<int64_t>(value);
      if (v < spec->min || v > spec->max) {
        std::string range =
            spec->max == std::numeric_limits<int64_t>::max()
                ? fmt::format("at least {}", spec->min)
                : fmt::format("in [{}, {}]", spec->min, spec->max);
        return kernel.fail(
            fmt::format("attribute '{}' is {}, expected {}", name, v, range));
      }
    }
  }
  for (const AttrSpec &spec : sig.attrs)
    if (spec.required && !kernel.attrs().has(spec.name))
      return kernel.fail(fmt::format("missing attribute '{}' ({})", spec.name,
                                     kindName(spec.kind)));
  return Status::ok();
}

uint32_t inPlaceOperands(plan::OpCode op) {
  return signatureOf(op).inPlaceOperands;
}

int multiUpdateSegments(plan::OpCode op) {
  return op == OpCode::MultiAdamWUpdate ? 4
         : op == OpCode::MultiSgdUpdate ? 3
                                        : 0;
}

bool writesInPlace(plan::OpCode op, int i, int numInputs) {
  if (int segments = multiUpdateSegments(op)) {
    // Every segment but the gradients' (the second) is written.
    int n = (numInputs - 2) / segments;
    return n > 0 && i < segments * n && i / n != 1;
  }
  return i < 32 && (inPlaceOperands(op) >> i & 1);
}

bool isElementwise(plan::OpCode op) {
  switch (op) {
  case OpCode::Copy:
  case OpCode::Neg:
  case OpCode::Abs:
  case OpCode::Exp:
  case OpCode::Log:
  case OpCode::Sqrt:
  case OpCode::Rsqrt:
  case OpCode::Tanh:
  case OpCode::Sigmoid:
  case OpCode::Silu:
  case OpCode::Gelu:
  case OpCode::Relu:
  case OpCode::Not:
  case OpCode::Add:
  case OpCode::Sub:
  case OpCode::Mul:
  case OpCode::Div:
  case OpCode::Pow:
  case OpCode::Maximum:
  case OpCode::Minimum:
  case OpCode::And:
  case OpCode::Or:
  case OpCode::Cmp:
  case OpCode::Select:
  case OpCode::Dropout:
    return true;
  default:
    return false;
  }
}

} // namespace onerec::runtime::detail
