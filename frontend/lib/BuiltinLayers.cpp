//===- BuiltinLayers.cpp - builtins that create weights -------------------===//
//
// Layers create their parameters where they are called, named after the
// call site (`encode.enc_layer0.2.attn0.wq`), and lower to rec ops: linear
// maps to matmul (+ add), attention to projections around rec.attention, the
// MoE to rec.moe. Defaults follow common transformer practice: weights
// normal(0, 0.02), biases zero, norm gains one; biases and gains are excluded
// from weight decay.
//
//===----------------------------------------------------------------------===//

#include "Builtins.h"
#include "ModelCompiler.h"

#include "llvm/Support/MathExtras.h"
#include <cmath>

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;
using rec::Dim;
using rec::RecTensorType;

namespace {

/// Creates the parameters of one layer instance.
class Weights {
public:
  Weights(ModelCompiler &c, llvm::SMLoc at, std::string prefix)
      : c(c), at(at), prefix(std::move(prefix)) {}

  FailureOr<Value> make(llvm::StringRef local, ArrayRef<int64_t> shape,
                        std::optional<rec::InitAttr> init = std::nullopt,
                        bool noDecay = false, bool buffer = false) {
    std::string name = prefix + "." + local.str();
    rec::InitAttr attr =
        init ? *init : c.initializer(rec::InitKind::normal, 0.0, 0.02, name);
    CompilerValue value =
        c.param(at, name, RecTensorType::getStatic(shape, c.f32()), attr,
                buffer, noDecay);
    if (value.isPoison())
      return failure();
    return value.getTensor();
  }
  FailureOr<Value> zeros(llvm::StringRef local, ArrayRef<int64_t> shape,
                         bool buffer = false) {
    return make(local, shape, c.initializer(rec::InitKind::zeros, 0, 0, ""),
                /*noDecay=*/true, buffer);
  }
  FailureOr<Value> ones(llvm::StringRef local, ArrayRef<int64_t> shape) {
    return make(local, shape, c.initializer(rec::InitKind::ones, 0, 0, ""),
                /*noDecay=*/true);
  }
  const std::string &name() const { return prefix; }

private:
  ModelCompiler &c;
  llvm::SMLoc at;
  std::string prefix;
};

/// The static width of the last axis of a float tensor.
FailureOr<int64_t> featureWidth(ModelCompiler &c, llvm::SMLoc at,
                                llvm::StringRef layer, Value x) {
  RecTensorType type = typeOf(x);
  if (!type.isFloat() || type.getRank() < 1 ||
      type.getDims().back().isSymbolic()) {
    c.error(at) << layer << ": expects a float tensor with a static feature "
                << "(last) dimension, got " << rec::formatTensorType(type);
    return failure();
  }
  return type.getDims().back().size;
}

/// Applies dropout with a stream named after the layer.
FailureOr<Value> maybeDropout(ModelCompiler &c, llvm::SMLoc at,
                              const std::string &prefix, Value x, double rate) {
  if (rate == 0)
    return x;
  CompilerValue out = c.emit<rec::DropoutOp>(
      at, x, llvm::APFloat(rate),
      static_cast<uint64_t>(c.streamFor(prefix + ".dropout")));
  if (out.isPoison())
    return failure();
  return out.getTensor();
}

FailureOr<Value> linearCore(ModelCompiler &c, llvm::SMLoc at,
                            const std::string &prefix, Value x, int64_t out,
                            bool bias,
                            std::optional<rec::InitAttr> init = std::nullopt) {
  FailureOr<int64_t> in = featureWidth(c, at, "linear", x);
  if (failed(in))
    return failure();
  Weights weights(c, at, prefix);
  FailureOr<Value> w = weights.make("w", {*in, out}, init);
  if (failed(w))
    return failure();
  CompilerValue y = c.emit<rec::MatmulOp>(at, x, *w);
  if (y.isPoison())
    return failure();
  if (!bias)
    return y.getTensor();
  FailureOr<Value> b = weights.zeros("b", {out});
  if (failed(b))
    return failure();
  CompilerValue sum = c.emit<rec::AddOp>(at, y.getTensor(), *b);
  if (sum.isPoison())
    return failure();
  return sum.getTensor();
}

FailureOr<Value> rmsNormCore(ModelCompiler &c, llvm::SMLoc at,
                             const std::string &prefix, Value x, double eps) {
  FailureOr<int64_t> d = featureWidth(c, at, "rmsnorm", x);
  if (failed(d))
    return failure();
  FailureOr<Value> gain = Weights(c, at, prefix).ones("gain", {*d});
  if (failed(gain))
    return failure();
  CompilerValue y = c.emit<rec::RmsNormOp>(at, x, *gain, llvm::APFloat(eps));
  if (y.isPoison())
    return failure();
  return y.getTensor();
}

struct AttentionConfig {
  int64_t heads = 1;
  int64_t kvHeads = 1;
  /// Width of one head; 0 means model width / heads.
  int64_t headDim = 0;
  bool causal = false;
  Value mask;
  Value bias;
  double dropout = 0;
};

/// Multi-head attention with its projections. Queries come from `xq`; keys
/// and values are projected from `xkv`, or taken as given (`keys`/`values`,
/// OneRec-V2's lazy cross-attention, which has no K/V projections).
FailureOr<Value> attentionCore(ModelCompiler &c, llvm::SMLoc at,
                               llvm::StringRef layer, const std::string &prefix,
                               Value xq, Value xkv, Value keys, Value values,
                               const AttentionConfig &config) {
  FailureOr<int64_t> d = featureWidth(c, at, layer, xq);
  if (failed(d))
    return failure();
  if (config.heads < 1 || config.kvHeads < 1 ||
      config.heads % config.kvHeads != 0) {
    c.error(at) << layer << ": " << config.heads << " query heads cannot share "
                << config.kvHeads << " key/value heads evenly";
    return failure();
  }
  if (!config.headDim && *d % config.heads != 0) {
    c.error(at) << layer << ": model width " << *d << " is not divisible by "
                << config.heads << " heads; give head_dim";
    return failure();
  }
  int64_t headDim = config.headDim ? config.headDim : *d / config.heads;
  int64_t inner = config.heads * headDim;
  int64_t kvWidth = config.kvHeads * headDim;
  Weights weights(c, at, prefix);
  FailureOr<Value> wq = weights.make("wq", {*d, inner});
  if (failed(wq))
    return failure();
  CompilerValue q = c.emit<rec::MatmulOp>(at, xq, *wq);
  if (q.isPoison())
    return failure();
  Value k = keys, v = values;
  if (!k) {
    FailureOr<int64_t> dkv = featureWidth(c, at, layer, xkv);
    if (failed(dkv))
      return failure();
    FailureOr<Value> wk = weights.make("wk", {*dkv, kvWidth});
    FailureOr<Value> wv = weights.make("wv", {*dkv, kvWidth});
    if (failed(wk) || failed(wv))
      return failure();
    CompilerValue kp = c.emit<rec::MatmulOp>(at, xkv, *wk);
    CompilerValue vp = c.emit<rec::MatmulOp>(at, xkv, *wv);
    if (kp.isPoison() || vp.isPoison())
      return failure();
    k = kp.getTensor();
    v = vp.getTensor();
  }
  CompilerValue o = c.emit<rec::AttentionOp>(
      at, q.getTensor(), k, v, config.mask, config.bias,
      static_cast<uint64_t>(config.heads),
      static_cast<uint64_t>(config.kvHeads), config.causal,
      llvm::APFloat(1.0 / std::sqrt(static_cast<double>(headDim))),
      rec::ScoreNorm::softmax);
  if (o.isPoison())
    return failure();
  FailureOr<Value> wo = weights.make("wo", {inner, *d});
  if (failed(wo))
    return failure();
  CompilerValue out = c.emit<rec::MatmulOp>(at, o.getTensor(), *wo);
  if (out.isPoison())
    return failure();
  return maybeDropout(c, at, prefix, out.getTensor(), config.dropout);
}

FailureOr<rec::Activation> activationArg(BuiltinCall &call) {
  FailureOr<std::string> act =
      call.choice("act", {"gelu", "relu", "silu", "swiglu"});
  if (failed(act))
    return failure();
  return *rec::symbolizeActivation(*act);
}

FailureOr<Value> ffnCore(ModelCompiler &c, llvm::SMLoc at,
                         const std::string &prefix, Value x, int64_t hidden,
                         rec::Activation act, bool bias, double dropout) {
  FailureOr<int64_t> d = featureWidth(c, at, "ffn", x);
  if (failed(d))
    return failure();
  FailureOr<Value> up = linearCore(c, at, prefix + ".up", x, hidden, bias);
  if (failed(up))
    return failure();
  CompilerValue h;
  switch (act) {
  case rec::Activation::gelu:
    h = c.emit<rec::GeluOp>(at, *up);
    break;
  case rec::Activation::relu:
    h = c.emit<rec::ReluOp>(at, *up);
    break;
  case rec::Activation::silu:
    h = c.emit<rec::SiluOp>(at, *up);
    break;
  case rec::Activation::swiglu: {
    // silu(x W_gate) * (x W_up)
    FailureOr<Value> gate =
        linearCore(c, at, prefix + ".gate", x, hidden, bias);
    if (failed(gate))
      return failure();
    CompilerValue s = c.emit<rec::SiluOp>(at, *gate);
    if (s.isPoison())
      return failure();
    h = c.emit<rec::MulOp>(at, s.getTensor(), *up);
    break;
  }
  }
  if (h.isPoison())
    return failure();
  FailureOr<Value> down =
      linearCore(c, at, prefix + ".down", h.getTensor(), *d, bias);
  if (failed(down))
    return failure();
  return maybeDropout(c, at, prefix, *down, dropout);
}

//===----------------------------------------------------------------------===//
// The builtins
//===----------------------------------------------------------------------===//

/// The `init = ...` argument, seeded for the weight it initializes.
FailureOr<std::optional<rec::InitAttr>> initArg(BuiltinCall &call,
                                                const std::string &paramName) {
  if (!call.has("init"))
    return std::optional<rec::InitAttr>();
  FailureOr<rec::InitAttr> init = call.compiler().initializerFrom(
      call.get("init"), call.argLoc("init"), paramName);
  if (failed(init))
    return failure();
  return std::optional<rec::InitAttr>(*init);
}

CompilerValue linear(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<int64_t> out = call.integer("out", 1, CompileLimits::kMaxDim);
  FailureOr<bool> bias = call.flag("bias");
  if (failed(x) || failed(out) || failed(bias))
    return poison();
  std::string prefix = c.instance().next("linear");
  FailureOr<std::optional<rec::InitAttr>> init = initArg(call, prefix + ".w");
  if (failed(init))
    return poison();
  FailureOr<Value> y =
      linearCore(c, call.loc(), prefix, *x, *out, *bias, *init);
  return succeeded(y) ? CompilerValue::tensor(*y) : poison();
}

CompilerValue embed(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  llvm::SMLoc at = call.loc();
  FailureOr<Value> ids = call.tensor("ids");
  FailureOr<Value> table = call.optionalTensor("table");
  FailureOr<int64_t> hashBuckets = call.integer("hash", 0);
  FailureOr<std::string> combine =
      call.choice("combine", {"sum", "mean", "concat"});
  if (failed(ids) || failed(table) || failed(hashBuckets) || failed(combine))
    return poison();
  Value indices = *ids;
  RecTensorType idType = typeOf(indices);
  if (!idType.isIndexLike()) {
    call.errorAt("ids") << "expects ids, semantic ids or integers, got "
                        << rec::formatTensorType(idType);
    return poison();
  }
  std::string prefix = c.instance().next("embed");
  if (*hashBuckets > 0) {
    CompilerValue hashed = c.emit<rec::HashOp>(
        at, indices, static_cast<uint64_t>(*hashBuckets), uint64_t(0));
    if (hashed.isPoison())
      return hashed;
    indices = hashed.getTensor();
    idType = typeOf(indices);
  }
  auto combineKind = *rec::symbolizeEmbeddingCombine(*combine);
  if (*table)
    return c.emit<rec::EmbeddingOp>(at, *table, indices, combineKind);

  if (!call.has("dim")) {
    call.error() << "give the embedding width (embed(ids, 64)) or a table "
                    "(embed(ids, table = item_emb))";
    return poison();
  }
  FailureOr<int64_t> dim = call.integer("dim", 1, CompileLimits::kMaxDim);
  if (failed(dim))
    return poison();
  int64_t rows = 0;
  Type element = idType.getElementType();
  if (auto id = dyn_cast<rec::IdType>(element)) {
    rows = id.getVocab();
  } else if (auto sid = dyn_cast<rec::SidType>(element)) {
    Dim levels = idType.getRank() ? idType.getDims().back() : Dim();
    if (!levels.isStatic() || idType.getRank() == 0) {
      call.errorAt("ids") << "semantic ids need a static level dimension, got "
                          << rec::formatTensorType(idType);
      return poison();
    }
    if (llvm::MulOverflow(levels.size, sid.getCodebook(), rows) ||
        rows > CompileLimits::kMaxDim) {
      call.errorAt("ids") << rec::formatTensorType(idType)
                          << " needs a table of levels * codebook rows, too "
                             "many to embed";
      return poison();
    }
  }
  if (rows == 0) {
    call.errorAt("ids") << rec::formatTensorType(idType)
                        << " has no vocabulary size: declare it as id<V>, or "
                           "pass hash = <buckets>";
    return poison();
  }
  FailureOr<std::optional<rec::InitAttr>> init =
      initArg(call, prefix + ".table");
  if (failed(init))
    return poison();
  FailureOr<Value> weights =
      Weights(c, at, prefix).make("table", {rows, *dim}, *init);
  if (failed(weights))
    return poison();
  return c.emit<rec::EmbeddingOp>(at, *weights, indices, combineKind);
}

CompilerValue rmsnorm(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<double> eps = call.number("eps");
  if (failed(x) || failed(eps))
    return poison();
  FailureOr<Value> y =
      rmsNormCore(c, call.loc(), c.instance().next("rmsnorm"), *x, *eps);
  return succeeded(y) ? CompilerValue::tensor(*y) : poison();
}

CompilerValue layernorm(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<double> eps = call.number("eps");
  if (failed(x) || failed(eps))
    return poison();
  FailureOr<int64_t> d = featureWidth(c, call.loc(), "layernorm", *x);
  if (failed(d))
    return poison();
  Weights weights(c, call.loc(), c.instance().next("layernorm"));
  FailureOr<Value> gain = weights.ones("gain", {*d});
  FailureOr<Value> bias = weights.zeros("bias", {*d});
  if (failed(gain) || failed(bias))
    return poison();
  return c.emit<rec::LayerNormOp>(call.loc(), *x, *gain, *bias,
                                  llvm::APFloat(*eps));
}

/// Reads heads, kv_heads, mask, padding and dropout into a config.
FailureOr<AttentionConfig> attentionArgs(BuiltinCall &call, bool withMask) {
  AttentionConfig config;
  FailureOr<int64_t> heads = call.integer("heads", 1);
  FailureOr<double> dropout = call.number("dropout");
  if (failed(heads) || failed(dropout))
    return failure();
  config.heads = *heads;
  config.kvHeads = *heads;
  config.dropout = *dropout;
  if (call.has("head_dim")) {
    FailureOr<int64_t> headDim = call.integer("head_dim", 1);
    if (failed(headDim))
      return failure();
    config.headDim = *headDim;
  }
  if (call.has("kv_heads")) {
    FailureOr<int64_t> kv = call.integer("kv_heads", 1);
    if (failed(kv))
      return failure();
    config.kvHeads = *kv;
  }
  FailureOr<MaskArgument> mask =
      maskArgument(call, withMask ? "mask" : "", "padding");
  if (failed(mask))
    return failure();
  config.causal = mask->causal;
  config.mask = mask->mask;
  return config;
}

CompilerValue attn(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<AttentionConfig> config = attentionArgs(call, /*withMask=*/true);
  FailureOr<Value> bias = call.optionalTensor("bias");
  if (failed(x) || failed(config) || failed(bias))
    return poison();
  config->bias = *bias;
  FailureOr<Value> y =
      attentionCore(c, call.loc(), "attn", c.instance().next("attn"), *x, *x,
                    Value(), Value(), *config);
  return succeeded(y) ? CompilerValue::tensor(*y) : poison();
}

CompilerValue crossAttn(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<Value> memory = call.floatTensor("memory");
  FailureOr<AttentionConfig> config = attentionArgs(call, /*withMask=*/false);
  if (failed(x) || failed(memory) || failed(config))
    return poison();
  FailureOr<Value> y = attentionCore(c, call.loc(), "cross_attn",
                                     c.instance().next("cross_attn"), *x,
                                     *memory, Value(), Value(), *config);
  return succeeded(y) ? CompilerValue::tensor(*y) : poison();
}

CompilerValue lazyCrossAttn(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<Value> keys = call.floatTensor("keys");
  FailureOr<Value> values = call.floatTensor("values");
  FailureOr<AttentionConfig> config = attentionArgs(call, /*withMask=*/false);
  if (failed(x) || failed(keys) || failed(values) || failed(config))
    return poison();
  FailureOr<Value> y = attentionCore(c, call.loc(), "lazy_cross_attn",
                                     c.instance().next("lazy_cross_attn"), *x,
                                     Value(), *keys, *values, *config);
  return succeeded(y) ? CompilerValue::tensor(*y) : poison();
}

CompilerValue ffn(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<int64_t> hidden = call.integer("hidden", 1, CompileLimits::kMaxDim);
  FailureOr<rec::Activation> act = activationArg(call);
  FailureOr<bool> bias = call.flag("bias");
  FailureOr<double> dropout = call.number("dropout");
  if (failed(x) || failed(hidden) || failed(act) || failed(bias) ||
      failed(dropout))
    return poison();
  FailureOr<Value> y = ffnCore(c, call.loc(), c.instance().next("ffn"), *x,
                               *hidden, *act, *bias, *dropout);
  return succeeded(y) ? CompilerValue::tensor(*y) : poison();
}

CompilerValue moe(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  llvm::SMLoc at = call.loc();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<int64_t> experts = call.integer("experts", 1, 4096);
  FailureOr<int64_t> topK = call.integer("top_k", 1, 4096);
  FailureOr<int64_t> hidden = call.integer("hidden", 1, CompileLimits::kMaxDim);
  FailureOr<rec::Activation> act = activationArg(call);
  FailureOr<std::string> balance =
      call.choice("balance", {"none", "aux_loss", "aux_free"});
  if (failed(x) || failed(experts) || failed(topK) || failed(hidden) ||
      failed(act) || failed(balance))
    return poison();
  if (*topK > *experts) {
    call.errorAt("top_k") << "top_k = " << *topK << " exceeds " << *experts
                          << " experts";
    return poison();
  }
  FailureOr<int64_t> d = featureWidth(c, at, "moe", *x);
  if (failed(d))
    return poison();
  rec::MoeBalance balanceKind = *rec::symbolizeMoeBalance(*balance);
  Weights weights(c, at, c.instance().next("moe"));
  FailureOr<Value> gate = weights.make("gate", {*d, *experts});
  // The aux-free bias is state the trainer updates from the expert load.
  FailureOr<Value> bias =
      balanceKind == rec::MoeBalance::aux_free
          ? weights.zeros("gate_bias", {*experts}, /*buffer=*/true)
          : FailureOr<Value>(Value());
  if (succeeded(bias) && !*bias) {
    CompilerValue zero = c.constant(at, CompilerValue::floating(0.0), c.f32());
    CompilerValue zeros =
        zero.isPoison() ? zero
                        : c.emitTyped<rec::BroadcastOp>(
                              at, RecTensorType::getStatic({*experts}, c.f32()),
                              zero.getTensor());
    if (zeros.isPoison())
      return poison();
    bias = zeros.getTensor();
  }
  FailureOr<Value> up = weights.make("up", {*experts, *d, *hidden});
  FailureOr<Value> down = weights.make("down", {*experts, *hidden, *d});
  FailureOr<Value> gateProj =
      *act == rec::Activation::swiglu
          ? weights.make("gate_proj", {*experts, *d, *hidden})
          : FailureOr<Value>(Value());
  if (failed(gate) || failed(bias) || failed(up) || failed(down) ||
      failed(gateProj))
    return poison();
  CompilerValue result =
      c.emit2<rec::MoeOp>(at, *x, *gate, *bias, *up, *gateProj, *down,
                          static_cast<uint64_t>(*topK), balanceKind, *act);
  if (result.isPoison())
    return result;
  // The expert load (second result) feeds load balancing, not the model.
  return result.getElements()[0];
}

/// QFormer-style compression: learned queries cross-attend to a long
/// sequence (OneRec's lifelong pathway: 2,000 items -> 128 queries).
CompilerValue qformer(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  llvm::SMLoc at = call.loc();
  FailureOr<Value> x = call.floatTensor("x");
  FailureOr<int64_t> queries =
      call.integer("queries", 1, CompileLimits::kMaxDim);
  FailureOr<int64_t> heads = call.integer("heads", 1);
  FailureOr<int64_t> layers = call.integer("layers", 1, 64);
  if (failed(x) || failed(queries) || failed(heads) || failed(layers))
    return poison();
  RecTensorType type = typeOf(*x);
  FailureOr<int64_t> d = featureWidth(c, at, "qformer", *x);
  if (failed(d))
    return poison();
  if (type.getRank() < 2) {
    call.errorAt("x") << "expects a sequence [..., length, d], got "
                      << rec::formatTensorType(type);
    return poison();
  }
  int64_t hidden = 4 * *d;
  if (call.has("hidden")) {
    FailureOr<int64_t> given =
        call.integer("hidden", 1, CompileLimits::kMaxDim);
    if (failed(given))
      return poison();
    hidden = *given;
  }
  std::string prefix = c.instance().next("qformer");
  FailureOr<Value> learned =
      Weights(c, at, prefix).make("queries", {*queries, *d});
  if (failed(learned))
    return poison();
  SmallVector<Dim> dims(type.getDims().drop_back(2));
  dims.push_back(Dim::fixed(*queries));
  dims.push_back(Dim::fixed(*d));
  CompilerValue q = c.emitTyped<rec::BroadcastOp>(
      at, RecTensorType::get(dims, c.f32()), *learned);
  if (q.isPoison())
    return q;
  Value state = q.getTensor();
  AttentionConfig config;
  config.heads = config.kvHeads = *heads;
  // Pre-norm blocks: cross-attention to the sequence, then a SwiGLU FFN.
  for (int64_t i = 0; i < *layers; ++i) {
    InstanceScope scope(prefix + "." + std::to_string(i));
    ModelCompiler::InstanceGuard guard(c, scope);
    FailureOr<Value> n1 =
        rmsNormCore(c, at, scope.next("rmsnorm"), state, 1e-6);
    if (failed(n1))
      return poison();
    FailureOr<Value> a =
        attentionCore(c, at, "qformer", scope.next("cross_attn"), *n1, *x,
                      Value(), Value(), config);
    if (failed(a))
      return poison();
    CompilerValue r1 = c.emit<rec::AddOp>(at, state, *a);
    if (r1.isPoison())
      return r1;
    FailureOr<Value> n2 =
        rmsNormCore(c, at, scope.next("rmsnorm"), r1.getTensor(), 1e-6);
    if (failed(n2))
      return poison();
    FailureOr<Value> f = ffnCore(c, at, scope.next("ffn"), *n2, hidden,
                                 rec::Activation::swiglu, false, 0.0);
    if (failed(f))
      return poison();
    CompilerValue r2 = c.emit<rec::AddOp>(at, r1.getTensor(), *f);
    if (r2.isPoison())
      return r2;
    state = r2.getTensor();
  }
  return CompilerValue::tensor(state);
}

/// Per-level output heads of session-wise generation: the decoder's states at
/// positions [BOS, s1, s2] of each item predict [s1, s2, s3], each level with
/// its own head. h [B, items * (levels + 1), d] -> [B, items, levels, K].
CompilerValue sessionHead(BuiltinCall &call) {
  ModelCompiler &c = call.compiler();
  llvm::SMLoc at = call.loc();
  FailureOr<Value> h = call.floatTensor("h");
  FailureOr<int64_t> levels = call.integer("levels", 1, 64);
  FailureOr<int64_t> codebook =
      call.integer("codebook", 1, CompileLimits::kMaxDim);
  if (failed(h) || failed(levels) || failed(codebook))
    return poison();
  RecTensorType type = typeOf(*h);
  FailureOr<int64_t> d = featureWidth(c, at, "session_head", *h);
  if (failed(d))
    return poison();
  Dim length = type.getRank() >= 2 ? type.getDims().drop_back().back() : Dim();
  if (type.getRank() < 2 || length.isSymbolic() ||
      length.size % (*levels + 1) != 0) {
    call.errorAt("h") << "expects decoder states [..., items * (levels + 1), "
                         "d] with levels = "
                      << *levels << ", got " << rec::formatTensorType(type);
    return poison();
  }
  int64_t items = length.size / (*levels + 1);
  FailureOr<Value> head = Weights(c, at, c.instance().next("session_head"))
                              .make("w", {*levels, *d, *codebook});
  if (failed(head))
    return poison();
  SmallVector<Dim> batch(type.getDims().drop_back(2));
  auto with = [&](ArrayRef<Dim> tail) {
    SmallVector<Dim> dims(batch);
    llvm::append_range(dims, tail);
    return dims;
  };
  int64_t rank = batch.size();
  CompilerValue grouped = c.reshape(
      at, *h,
      with({Dim::fixed(items), Dim::fixed(*levels + 1), Dim::fixed(*d)}));
  if (grouped.isPoison())
    return grouped;
  CompilerValue predicting = c.emit<rec::SliceOp>(
      at, grouped.getTensor(), static_cast<uint64_t>(rank + 1), int64_t(0),
      *levels);
  if (predicting.isPoison())
    return predicting;
  CompilerValue rows = c.reshape(at, predicting.getTensor(),
                                 with({Dim::fixed(items), Dim::fixed(*levels),
                                       Dim::fixed(1), Dim::fixed(*d)}));
  if (rows.isPoison())
    return rows;
  CompilerValue logits = c.emit<rec::MatmulOp>(at, rows.getTensor(), *head);
  if (logits.isPoison())
    return logits;
  return c.reshape(
      at, logits.getTensor(),
      with({Dim::fixed(items), Dim::fixed(*levels), Dim::fixed(*codebook)}));
}

} // namespace

std::vector<Builtin> onerec::frontend::layerBuiltins() {
  auto f = [](double v) { return CompilerValue::floating(v); };
  auto b = [](bool v) { return CompilerValue::boolean(v); };
  auto w = [](const char *v) { return CompilerValue::word(v); };
  std::vector<Builtin> layers;
  layers.push_back({"linear",
                    {required("x"), required("out"),
                     withDefault("bias", b(true)), optional("init")},
                    linear,
                    "x W + b; creates W [in, out] and b [out]"});
  layers.push_back({"embed",
                    {required("ids"), optional("dim"), optional("table"),
                     withDefault("hash", CompilerValue::integer(0)),
                     withDefault("combine", w("sum")), optional("init")},
                    embed,
                    "embedding lookup; semantic ids use one table per level"});
  layers.push_back({"rmsnorm",
                    {required("x"), withDefault("eps", f(1e-6))},
                    rmsnorm,
                    "RMS normalization with a learned gain"});
  layers.push_back({"layernorm",
                    {required("x"), withDefault("eps", f(1e-5))},
                    layernorm,
                    "layer normalization with gain and bias"});
  layers.push_back(
      {"attn",
       {required("x"), required("heads"), optional("mask"), optional("padding"),
        optional("kv_heads"), optional("head_dim"),
        withDefault("dropout", f(0.0)), optional("bias")},
       attn,
       "multi-head self-attention (mask = causal, kv_heads for "
       "grouped-query attention)"});
  layers.push_back({"cross_attn",
                    {required("x"), required("memory"), required("heads"),
                     optional("kv_heads"), optional("head_dim"),
                     optional("padding"), withDefault("dropout", f(0.0))},
                    crossAttn,
                    "multi-head attention from x to memory"});
  layers.push_back(
      {"lazy_cross_attn",
       {required("x"), required("keys"), required("values"), required("heads"),
        optional("kv_heads"), optional("head_dim"), optional("padding"),
        withDefault("dropout", f(0.0))},
       lazyCrossAttn,
       "cross-attention to given keys/values, no K/V projections "
       "(OneRec-V2)"});
  layers.push_back(
      {"ffn",
       {required("x"), required("hidden"), withDefault("act", w("gelu")),
        withDefault("bias", b(false)), withDefault("dropout", f(0.0))},
       ffn,
       "feed-forward block (act = gelu, relu, silu, swiglu)"});
  layers.push_back({"moe",
                    {required("x"), required("experts"), required("top_k"),
                     required("hidden"), withDefault("act", w("swiglu")),
                     withDefault("balance", w("aux_free"))},
                    moe,
                    "mixture of experts with top-k routing"});
  layers.push_back(
      {"qformer",
       {required("x"), required("queries"), required("heads"),
        withDefault("layers", CompilerValue::integer(1)), optional("hidden")},
       qformer,
       "compresses a long sequence into learned queries"});
  layers.push_back(
      {"session_head",
       {required("h"), required("levels"), required("codebook")},
       sessionHead,
       "per-level next-token logits [B, items, levels, codebook]"});
  return layers;
}
