//===- RecAttrs.td - rec dialect attributes and enums ------*- tablegen -*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECATTRS_TD
#define ONEREC_DIALECT_REC_IR_RECATTRS_TD

include "onerec/Dialect/Rec/IR/RecDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

class Rec_I32Enum<string name, string summary, list<I32EnumAttrCase> cases>
    : I32EnumAttr<name, summary, cases> {
  let cppNamespace = "::onerec::rec";
  let genSpecializedAttr = 0;
}
// Enums spelled as a bare keyword in op assembly (`rec.optimizer adamw`,
// `rec.cmp lt`), stored as integer attributes.
class Rec_KeywordEnum<string name, string summary, list<I32EnumAttrCase> cases>
    : I32EnumAttr<name, summary, cases> {
  let cppNamespace = "::onerec::rec";
}

// Printed `#rec<activation swiglu>` on its own and as a bare keyword
// (`swiglu`) inside op assembly formats.
class Rec_EnumAttr<EnumAttrInfo info, string mnemonic>
    : EnumAttr<Rec_Dialect, info, mnemonic>;

def Rec_Activation : Rec_I32Enum<"Activation", "feed-forward activation", [
  I32EnumAttrCase<"gelu", 0>, I32EnumAttrCase<"relu", 1>,
  I32EnumAttrCase<"silu", 2>, I32EnumAttrCase<"swiglu", 3>]>;
def Rec_ActivationAttr : Rec_EnumAttr<Rec_Activation, "activation">;

def Rec_MoeBalance : Rec_I32Enum<"MoeBalance", "mixture-of-experts load balancing", [
  I32EnumAttrCase<"none", 0>,
  // Switch-style auxiliary loss on the expert load.
  I32EnumAttrCase<"aux_loss", 1>,
  // Auxiliary-loss-free: a per-expert routing bias nudged by the load,
  // outside the gradient (DeepSeek-V3, OneRec technical report).
  I32EnumAttrCase<"aux_free", 2>]>;
def Rec_MoeBalanceAttr : Rec_EnumAttr<Rec_MoeBalance, "balance">;

def Rec_ScoreNorm : Rec_I32Enum<"ScoreNorm", "attention score normalization", [
  I32EnumAttrCase<"softmax", 0>,
  // HSTU's pointwise aggregated attention: silu(scores) / key length.
  I32EnumAttrCase<"silu", 1>]>;
def Rec_ScoreNormAttr : Rec_EnumAttr<Rec_ScoreNorm, "score_norm">;

def Rec_EmbeddingCombine : Rec_I32Enum<"EmbeddingCombine",
    "how per-level semantic-ID embeddings are combined", [
  I32EnumAttrCase<"sum", 0>, I32EnumAttrCase<"mean", 1>,
  I32EnumAttrCase<"concat", 2>]>;
def Rec_EmbeddingCombineAttr : Rec_EnumAttr<Rec_EmbeddingCombine, "combine">;

def Rec_InitKind : Rec_I32Enum<"InitKind", "parameter initializer", [
  I32EnumAttrCase<"zeros", 0>, I32EnumAttrCase<"ones", 1>,
  I32EnumAttrCase<"constant", 2>, I32EnumAttrCase<"normal", 3>,
  I32EnumAttrCase<"truncated_normal", 4>, I32EnumAttrCase<"uniform", 5>,
  I32EnumAttrCase<"xavier_uniform", 6>]>;

def Rec_CmpPredicate : Rec_KeywordEnum<"CmpPredicate", "comparison predicate", [
  I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>, I32EnumAttrCase<"lt", 2>,
  I32EnumAttrCase<"le", 3>, I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>]>;

def Rec_Reduction : Rec_I32Enum<"Reduction", "how a loss reduces over elements", [
  I32EnumAttrCase<"mean", 0>, I32EnumAttrCase<"sum", 1>, I32EnumAttrCase<"none", 2>]>;
def Rec_ReductionAttr : Rec_EnumAttr<Rec_Reduction, "reduction">;

def Rec_EntryKind : Rec_I32Enum<"EntryKind", "what an entry function computes", [
  I32EnumAttrCase<"def", 0>, I32EnumAttrCase<"loss", 1>, I32EnumAttrCase<"reward", 2>,
  // Built by rec-autodiff: the objective and its parameter gradients.
  I32EnumAttrCase<"grad", 3>,
  // Built by rec-autodiff: forward, backward and the optimizer update.
  I32EnumAttrCase<"train_step", 4>]>;
def Rec_EntryKindAttr : Rec_EnumAttr<Rec_EntryKind, "entry">;

def Rec_ArgRole : Rec_I32Enum<"ArgRole", "what feeds an entry argument", [
  // A model input (features, history).
  I32EnumAttrCase<"input", 0>,
  // A training label.
  I32EnumAttrCase<"target", 1>,
  // An explicit argument of a `def` (passed by the caller or the driver).
  I32EnumAttrCase<"argument", 2>,
  // The output of the generate section (what rewards score).
  I32EnumAttrCase<"generated", 3>,
  // The optimizer's step number and hyperparameters (training entries).
  I32EnumAttrCase<"control", 4>]>;
def Rec_ArgRoleAttr : Rec_EnumAttr<Rec_ArgRole, "role">;

def Rec_OptimizerKind : Rec_KeywordEnum<"OptimizerKind", "optimizer", [
  I32EnumAttrCase<"sgd", 0>, I32EnumAttrCase<"adam", 1>, I32EnumAttrCase<"adamw", 2>]>;

def Rec_ScheduleKind : Rec_KeywordEnum<"ScheduleKind", "learning-rate schedule", [
  I32EnumAttrCase<"constant", 0>, I32EnumAttrCase<"warmup", 1>,
  I32EnumAttrCase<"cosine", 2>]>;

def Rec_DecodeStrategy : Rec_KeywordEnum<"DecodeStrategy", "generation strategy", [
  I32EnumAttrCase<"beam", 0>, I32EnumAttrCase<"greedy", 1>]>;

def Rec_DecodeConstraint : Rec_I32Enum<"DecodeConstraint", "what generated items must be", [
  I32EnumAttrCase<"none", 0>,
  // Every generated semantic ID is a real item of the runtime catalog.
  I32EnumAttrCase<"catalog", 1>]>;
def Rec_DecodeConstraintAttr : Rec_EnumAttr<Rec_DecodeConstraint, "constraint">;

// Fusion (rec-fuse-gemm): what a rec.gemm applies to its output.
def Rec_GemmEpilogue : Rec_I32Enum<"GemmEpilogue", "the output stage of a fused GEMM", [
  I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"relu", 1>,
  I32EnumAttrCase<"gelu", 2>, I32EnumAttrCase<"silu", 3>,
  I32EnumAttrCase<"sigmoid", 4>, I32EnumAttrCase<"tanh", 5>,
  // silu(a·b0) * (a·b1): SwiGLU's gate and up projections of one input.
  I32EnumAttrCase<"swiglu", 6>]>;
def Rec_GemmEpilogueAttr : Rec_EnumAttr<Rec_GemmEpilogue, "gemm_epilogue">;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

def Rec_InitAttr : AttrDef<Rec_Dialect, "Init"> {
  let mnemonic = "init";
  let summary = "how a parameter's initial values are drawn";
  let description = [{
    `#rec.init<zeros>`, `#rec.init<ones>`, `#rec.init<constant(0.5)>`,
    `#rec.init<normal(0.0, 0.02), seed = 7>` (mean, standard deviation),
    `#rec.init<truncated_normal(0.0, 0.02), seed = 7>` (cut at two standard
    deviations), `#rec.init<uniform(-0.1, 0.1), seed = 7>` (low, high),
    `#rec.init<xavier_uniform(1.0), seed = 7>` (gain). Random initializers carry
    the seed of their counter-based generator stream, so initial weights are
    reproducible per parameter, independent of the order they are created in.
  }];
  let parameters = (ins "InitKind":$kind, APFloatParameter<"first argument">:$a,
                        APFloatParameter<"second argument">:$b, "uint64_t":$seed);
  let builders = [
    AttrBuilder<(ins "InitKind":$kind, "double":$a, "double":$b, "uint64_t":$seed), [{
      return $_get($_ctxt, kind, ::llvm::APFloat(a), ::llvm::APFloat(b), seed);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True for initializers that draw random numbers (and use the seed).
    bool isRandom() const;
    /// How many of `a`, `b` the kind uses.
    static unsigned getNumArgs(InitKind kind);
  }];
}

def Rec_TermAttr : AttrDef<Rec_Dialect, "Term"> {
  let mnemonic = "term";
  let summary = "a weighted reference to a loss or reward entry";
  let description = [{
    One term of a weighted sum of entries, `#rec.term<@ntp, 1.0>`. Training
    objectives (`minimize ntp + 0.1 * dpo`) and reward mixes
    (`preference + industrial`) are lists of terms.
  }];
  let parameters = (ins "::mlir::FlatSymbolRefAttr":$entry,
                        APFloatParameter<"weight">:$weight);
  let hasCustomAssemblyFormat = 1;
  let builders = [
    AttrBuilder<(ins "::mlir::FlatSymbolRefAttr":$entry, "double":$weight), [{
      return $_get($_ctxt, entry, ::llvm::APFloat(weight));
    }]>
  ];
}

#endif // ONEREC_DIALECT_REC_IR_RECATTRS_TD
