//===- BuiltinObjectives.cpp - losses, alignment, rewards, initializers ---===//
//
// Builtins for what a model is trained and aligned on: losses (cross-entropy,
// BCE, sampled softmax, OneRec's session-wise next-token loss), semantic-ID
// token sequences, DPO and ECPO objectives, reward helpers over the catalog,
// and the initializer specs of parameters.
//
//===----------------------------------------------------------------------===//

#include "Builtins.h"
#include "ModelCompiler.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace onerec;
using namespace onerec::frontend;
using rec::Dim;
using rec::RecTensorType;
using K = CompilerValue::Kind;

namespace {

//===----------------------------------------------------------------------===//
// Losses and objectives
//===----------------------------------------------------------------------===//

FailureOr<rec::Reduction> reductionArg(BuiltinCall &call) {
  FailureOr<std::string> r = call.choice("reduction", {"mean", "sum", "none"});
  if (failed(r))
    return failure();
  return *rec::symbolizeReduction(*r);
}

CompilerValue crossEntropy(BuiltinCall &call) {
  FailureOr<Value> logits = call.tensor("logits"),
                   labels = call.tensor("labels");
  FailureOr<Value> mask = call.optionalTensor("mask");
  FailureOr<rec::Reduction> reduction = reductionArg(call);
  FailureOr<double> smoothing = call.number("label_smoothing");
  if (failed(logits) || failed(labels) || failed(mask) || failed(reduction) ||
      failed(smoothing))
    return poison();
  return call.compiler().emit<rec::CrossEntropyOp>(call.loc(), *logits, *labels,
                                                   *mask, *reduction,
                                                   llvm::APFloat(*smoothing));
}

CompilerValue sessionNtp(BuiltinCall &call) {
  FailureOr<Value> logits = call.tensor("logits"), items = call.tensor("items");
  FailureOr<Value> mask = call.optionalTensor("mask");
  if (failed(logits) || failed(items) || failed(mask))
    return poison();
  if (!isa<rec::SidType>(typeOf(*items).getElementType())) {
    call.errorAt("items") << "expects semantic-id items sid<K>[B, items, "
                             "levels], got "
                          << rec::formatTensorType(typeOf(*items));
    return poison();
  }
  return call.compiler().emit<rec::CrossEntropyOp>(call.loc(), *logits, *items,
                                                   *mask, rec::Reduction::mean,
                                                   llvm::APFloat(0.0));
}

CompilerValue sequenceLogp(BuiltinCall &call) {
  FailureOr<Value> logits = call.tensor("logits"),
                   labels = call.tensor("labels");
  if (failed(logits) || failed(labels))
    return poison();
  ModelCompiler &c = call.compiler();
  CompilerValue nll =
      c.emit<rec::CrossEntropyOp>(call.loc(), *logits, *labels, Value(),
                                  rec::Reduction::none, llvm::APFloat(0.0));
  if (nll.isPoison())
    return nll;
  int64_t rank = nll.getTensorType().getRank();
  if (rank < 1) {
    call.error() << "needs a batch dimension";
    return poison();
  }
  SmallVector<int64_t> axes;
  for (int64_t i = 1; i < rank; ++i)
    axes.push_back(i);
  CompilerValue total =
      axes.empty()
          ? nll
          : c.emit<rec::ReduceSumOp>(call.loc(), nll.getTensor(), axes, false);
  if (total.isPoison())
    return total;
  return c.emit<rec::NegOp>(call.loc(), total.getTensor());
}

CompilerValue bce(BuiltinCall &call) {
  FailureOr<Value> logits = call.tensor("logits"),
                   labels = call.tensor("labels");
  FailureOr<Value> mask = call.optionalTensor("mask");
  FailureOr<rec::Reduction> reduction = reductionArg(call);
  if (failed(logits) || failed(labels) || failed(mask) || failed(reduction))
    return poison();
  return call.compiler().emit<rec::BceWithLogitsOp>(call.loc(), *logits,
                                                    *labels, *mask, *reduction);
}

CompilerValue sampledSoftmax(BuiltinCall &call) {
  FailureOr<Value> h = call.tensor("h"), table = call.tensor("table"),
                   pos = call.tensor("pos"), neg = call.tensor("neg");
  FailureOr<Value> mask = call.optionalTensor("mask");
  FailureOr<rec::Reduction> reduction = reductionArg(call);
  FailureOr<bool> removeHits = call.flag("remove_hits");
  if (failed(h) || failed(table) || failed(pos) || failed(neg) ||
      failed(mask) || failed(reduction) || failed(removeHits))
    return poison();
  return call.compiler().emit<rec::SampledSoftmaxOp>(
      call.loc(), *h, *table, *pos, *neg, *mask, *reduction, *removeHits);
}

CompilerValue dpoLoss(BuiltinCall &call) {
  FailureOr<Value> pw = call.tensor("policy_chosen"),
                   pl = call.tensor("policy_rejected"),
                   rw = call.tensor("ref_chosen"),
                   rl = call.tensor("ref_rejected");
  FailureOr<double> beta = call.number("beta");
  if (failed(pw) || failed(pl) || failed(rw) || failed(rl) || failed(beta))
    return poison();
  return call.compiler().emit<rec::DpoLossOp>(call.loc(), *pw, *pl, *rw, *rl,
                                              llvm::APFloat(*beta));
}

CompilerValue ecpoLoss(BuiltinCall &call) {
  FailureOr<Value> logp = call.tensor("logp"), old = call.tensor("old_logp"),
                   adv = call.tensor("advantage");
  FailureOr<Value> mask = call.optionalTensor("mask");
  FailureOr<double> epsilon = call.number("epsilon"),
                    delta = call.number("delta");
  if (failed(logp) || failed(old) || failed(adv) || failed(mask) ||
      failed(epsilon) || failed(delta))
    return poison();
  return call.compiler().emit<rec::EcpoLossOp>(call.loc(), *logp, *old, *adv,
                                               *mask, llvm::APFloat(*epsilon),
                                               llvm::APFloat(*delta));
}

/// Decoder input for session-wise generation: each item [s1, s2, s3] becomes
/// [BOS, s1, s2, s3], level l's code c the id l * K + c (one table holds every
/// level), BOS the id levels * K. With bos = false, items are just flattened
/// into tokens (an encoder's input, as in TIGER).
CompilerValue sessionTokens(BuiltinCall &call) {
  FailureOr<Value> items = call.tensor("items");
  FailureOr<bool> withBos = call.flag("bos");
  if (failed(items) || failed(withBos))
    return poison();
  RecTensorType type = typeOf(*items);
  auto sid = dyn_cast<rec::SidType>(type.getElementType());
  if (!sid || type.getRank() < 2 || !type.getDims().back().isStatic() ||
      !type.getDims().drop_back().back().isStatic()) {
    call.errorAt("items") << "expects semantic-id sessions sid<K>[B, items, "
                             "levels] with static items and levels, got "
                          << rec::formatTensorType(type);
    return poison();
  }
  ModelCompiler &c = call.compiler();
  MLIRContext *ctx = c.getContext();
  llvm::SMLoc at = call.loc();
  int64_t levels = type.getDims().back().size;
  int64_t items_ = type.getDims().drop_back().back().size;
  int64_t codebook = sid.getCodebook();
  int64_t vocabulary;
  if (llvm::MulOverflow(levels, codebook, vocabulary) ||
      vocabulary >= CompileLimits::kMaxDim) {
    call.errorAt("items") << "levels * codebook of "
                          << rec::formatTensorType(type)
                          << " is too large for a token vocabulary";
    return poison();
  }
  Type i64 = IntegerType::get(ctx, 64);
  auto tokenId = rec::IdType::get(ctx, vocabulary + 1);

  CompilerValue codes =
      c.emitTyped<rec::CastOp>(at, type.withElementType(i64), *items);
  CompilerValue level = c.emitTyped<rec::IotaOp>(
      at, RecTensorType::getStatic({levels}, i64), uint64_t(0));
  CompilerValue k = c.constant(at, CompilerValue::integer(codebook), i64);
  if (codes.isPoison() || level.isPoison() || k.isPoison())
    return poison();
  CompilerValue offsets =
      c.emit<rec::MulOp>(at, level.getTensor(), k.getTensor());
  if (offsets.isPoison())
    return offsets;
  CompilerValue shifted =
      c.emit<rec::AddOp>(at, codes.getTensor(), offsets.getTensor());
  if (shifted.isPoison())
    return shifted;
  CompilerValue ids = c.emitTyped<rec::CastOp>(
      at, type.withElementType(tokenId), shifted.getTensor());
  SmallVector<Dim> flat(type.getDims().drop_back(2));
  if (!*withBos) {
    if (ids.isPoison())
      return ids;
    flat.push_back(Dim::fixed(items_ * levels));
    return c.reshape(at, ids.getTensor(), flat);
  }
  SmallVector<Dim> bosDims(type.getDims().drop_back());
  bosDims.push_back(Dim::fixed(1));
  CompilerValue bosScalar =
      c.constant(at, CompilerValue::integer(levels * codebook), tokenId);
  if (ids.isPoison() || bosScalar.isPoison())
    return poison();
  CompilerValue bos = c.emitTyped<rec::BroadcastOp>(
      at, RecTensorType::get(bosDims, tokenId), bosScalar.getTensor());
  CompilerValue joined =
      c.emit<rec::ConcatOp>(at, ValueRange{bos.getTensor(), ids.getTensor()},
                            static_cast<uint64_t>(type.getRank() - 1));
  if (joined.isPoison())
    return joined;
  flat.push_back(Dim::fixed(items_ * (levels + 1)));
  return c.reshape(at, joined.getTensor(), flat);
}

//===----------------------------------------------------------------------===//
// Rewards
//===----------------------------------------------------------------------===//

CompilerValue inCatalog(BuiltinCall &call) {
  FailureOr<Value> sessions = call.tensor("sessions");
  if (failed(sessions))
    return poison();
  return call.compiler().emit<rec::InCatalogOp>(call.loc(), *sessions);
}

CompilerValue itemFlag(BuiltinCall &call) {
  FailureOr<Value> sessions = call.tensor("sessions");
  const CompilerValue &flag = call.get("flag");
  if (failed(sessions))
    return poison();
  if (!flag.is(K::String) && !flag.is(K::Word)) {
    call.errorAt("flag") << "expected the catalog flag's name, such as "
                            "\"viral\", got "
                         << flag.describe();
    return poison();
  }
  return call.compiler().emit<rec::ItemFlagOp>(call.loc(), *sessions,
                                               flag.getString());
}

/// The fraction of true values along the last axis, as f32.
CompilerValue share(BuiltinCall &call) {
  FailureOr<Value> flags = call.tensor("flags");
  if (failed(flags))
    return poison();
  RecTensorType type = typeOf(*flags);
  if (!type.isBool() || type.getRank() < 1) {
    call.errorAt("flags") << "expects booleans with at least one dimension, "
                             "got "
                          << rec::formatTensorType(type);
    return poison();
  }
  ModelCompiler &c = call.compiler();
  CompilerValue f = c.emitTyped<rec::CastOp>(
      call.loc(), type.withElementType(c.f32()), *flags);
  if (f.isPoison())
    return f;
  return c.emit<rec::ReduceMeanOp>(
      call.loc(), f.getTensor(), ArrayRef<int64_t>{type.getRank() - 1}, false);
}

/// OneRec's industrial reward: alpha where `cond` holds, 1 elsewhere.
CompilerValue penalize(BuiltinCall &call) {
  FailureOr<Value> cond = call.tensor("cond");
  FailureOr<double> alpha = call.number("alpha");
  if (failed(cond) || failed(alpha))
    return poison();
  if (!(*alpha > 0 && *alpha < 1)) {
    call.errorAt("alpha") << "alpha must be in (0, 1), got "
                          << rec::formatNumber(*alpha);
    return poison();
  }
  ModelCompiler &c = call.compiler();
  CompilerValue a =
      c.constant(call.loc(), CompilerValue::floating(*alpha), c.f32());
  CompilerValue one =
      c.constant(call.loc(), CompilerValue::floating(1.0), c.f32());
  if (a.isPoison() || one.isPoison())
    return poison();
  return c.emit<rec::SelectOp>(call.loc(), *cond, a.getTensor(),
                               one.getTensor());
}

//===----------------------------------------------------------------------===//
// Initializer specs (param ... = normal(0, 0.02), linear(..., init = ...))
//===----------------------------------------------------------------------===//

/// An initializer spec is the tuple [kind, a, b, seed-or-none] that
/// ModelCompiler::initializerFrom reads.
CompilerValue initSpec(BuiltinCall &call, llvm::StringRef kind,
                       llvm::StringRef a, llvm::StringRef b,
                       bool hasSeed = true) {
  FailureOr<double> first = a.empty() ? FailureOr<double>(0.0) : call.number(a);
  FailureOr<double> second =
      b.empty() ? FailureOr<double>(0.0) : call.number(b);
  if (failed(first) || failed(second))
    return poison();
  CompilerValue seed = CompilerValue::none();
  if (hasSeed && call.has("seed")) {
    FailureOr<int64_t> given = call.integer("seed", 0);
    if (failed(given))
      return poison();
    seed = CompilerValue::integer(*given);
  }
  return CompilerValue::tuple({CompilerValue::word(kind.str()),
                               CompilerValue::floating(*first),
                               CompilerValue::floating(*second), seed});
}

} // namespace

std::vector<Builtin> onerec::frontend::objectiveBuiltins() {
  std::vector<Builtin> b;
  b.push_back({"cross_entropy",
               {required("logits"), required("labels"), optional("mask"),
                withDefault("reduction", CompilerValue::word("mean")),
                withDefault("label_smoothing", CompilerValue::floating(0.0))},
               crossEntropy,
               "softmax cross-entropy against class labels"});
  b.push_back({"session_ntp",
               {required("logits"), required("items"), optional("mask")},
               sessionNtp,
               "OneRec's session-wise next-token loss over semantic ids"});
  b.push_back({"sequence_logp",
               {required("logits"), required("labels")},
               sequenceLogp,
               "log-probability of each row's whole sequence"});
  b.push_back({"bce",
               {required("logits"), required("labels"), optional("mask"),
                withDefault("reduction", CompilerValue::word("mean"))},
               bce,
               "binary cross-entropy on logits"});
  b.push_back(
      {"sampled_softmax",
       {required("h"), required("table"), required("pos"), required("neg"),
        optional("mask"), withDefault("reduction", CompilerValue::word("mean")),
        withDefault("remove_hits", CompilerValue::boolean(true))},
       sampledSoftmax,
       "softmax over the positive and sampled negatives (remove_hits: "
       "negatives equal to the positive are left out)"});
  b.push_back({"dpo_loss",
               {required("policy_chosen"), required("policy_rejected"),
                required("ref_chosen"), required("ref_rejected"),
                withDefault("beta", CompilerValue::floating(0.1))},
               dpoLoss,
               "direct preference optimization loss"});
  b.push_back(
      {"ecpo_loss",
       {required("logp"), required("old_logp"), required("advantage"),
        optional("mask"), withDefault("epsilon", CompilerValue::floating(0.2)),
        withDefault("delta", CompilerValue::floating(0.1))},
       ecpoLoss,
       "early-clipped GRPO policy loss"});
  b.push_back(
      {"session_tokens",
       {required("items"), withDefault("bos", CompilerValue::boolean(true))},
       sessionTokens,
       "semantic ids as one token sequence: [BOS, s1, s2, s3] per item"});

  b.push_back({"in_catalog",
               {required("sessions")},
               inCatalog,
               "whether each generated item is real"});
  b.push_back({"item_flag",
               {required("sessions"), required("flag")},
               itemFlag,
               "a boolean catalog attribute of each generated item"});
  b.push_back({"share",
               {required("flags")},
               share,
               "fraction of true values along the last axis"});
  b.push_back({"penalize",
               {required("cond"), required("alpha")},
               penalize,
               "alpha where cond holds, 1 elsewhere"});

  b.push_back(
      {"normal",
       {withDefault("mean", CompilerValue::floating(0.0)),
        withDefault("std", CompilerValue::floating(0.02)), optional("seed")},
       +[](BuiltinCall &c) { return initSpec(c, "normal", "mean", "std"); },
       "initializer: normal(mean, std)"});
  b.push_back(
      {"truncated_normal",
       {withDefault("mean", CompilerValue::floating(0.0)),
        withDefault("std", CompilerValue::floating(0.02)), optional("seed")},
       +[](BuiltinCall &c) {
         return initSpec(c, "truncated_normal", "mean", "std");
       },
       "initializer: normal cut at two standard deviations"});
  b.push_back(
      {"uniform",
       {withDefault("low", CompilerValue::floating(-0.05)),
        withDefault("high", CompilerValue::floating(0.05)), optional("seed")},
       +[](BuiltinCall &c) { return initSpec(c, "uniform", "low", "high"); },
       "initializer: uniform(low, high)"});
  b.push_back(
      {"xavier_uniform",
       {withDefault("gain", CompilerValue::floating(1.0)), optional("seed")},
       +[](BuiltinCall &c) {
         return initSpec(c, "xavier_uniform", "gain", "");
       },
       "initializer: Glorot uniform"});
  b.push_back({"constant",
               {required("value")},
               +[](BuiltinCall &c) {
                 return initSpec(c, "constant", "value", "", /*hasSeed=*/false);
               },
               "initializer: every element equals value"});
  return b;
}
