//===- RecOps.td - rec dialect operations ------------------*- tablegen -*-===//
//
// Three groups: the model structure (dims, parameters, generation and training
// configuration), primitive tensor operations, and the few composite
// operations that are kernels in their own right (attention, mixture of
// experts, normalizations, embedding lookups, losses).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DIALECT_REC_IR_RECOPS_TD
#define ONEREC_DIALECT_REC_IR_RECOPS_TD

include "onerec/Dialect/Rec/IR/RecDialect.td"
include "onerec/Dialect/Rec/IR/RecTypes.td"
include "onerec/Dialect/Rec/IR/RecAttrs.td"
include "onerec/Dialect/Rec/IR/RecInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// Constraints keep the generic ::mlir::Type C++ class on purpose: assembly
// formats then print types in full (`!rec.tensor<[B, 8], f32>`), not in the
// stripped form a known type class gets (`<[B, 8], f32>`).
def Rec_AnyTensor : Type<CPred<"::llvm::isa<::onerec::rec::RecTensorType>($_self)">,
    "rec tensor">;

class Rec_TensorOf<string pred, string summary>
    : Type<And<[Rec_AnyTensor.predicate,
                CPred<"::llvm::cast<::onerec::rec::RecTensorType>($_self)." # pred>]>,
           summary>;

def Rec_FloatTensor : Rec_TensorOf<"isFloat()", "rec tensor of floats">;
def Rec_BoolTensor : Rec_TensorOf<"isBool()", "rec tensor of booleans">;
def Rec_IndexTensor : Rec_TensorOf<"isIndexLike()",
    "rec tensor of integers, ids or semantic ids">;

def Rec_TermArrayAttr : TypedArrayAttrBase<Rec_TermAttr, "weighted entry terms">;

//===----------------------------------------------------------------------===//
// Op classes
//===----------------------------------------------------------------------===//

// An op whose result types are computed by its ShapeInferenceOpInterface
// implementation. Its assembly spells out all types, so parsing never infers.
class Rec_InferredOp<string mnemonic, list<Trait> traits = []>
    : Rec_Op<mnemonic, !listconcat(traits,
        [DeclareOpInterfaceMethods<Rec_ShapeInferenceOpInterface>])>;

class Rec_UnaryOp<string mnemonic, Type operandType, string fn>
    : Rec_InferredOp<mnemonic, [Pure, SameOperandsAndResultType,
                                DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "elementwise " # fn;
  let description = "Applies " # fn # " to every element. The result has the "
                    # "operand's type.";
  let arguments = (ins operandType:$x);
  let results = (outs operandType:$result);
  let assemblyFormat = "$x attr-dict `:` type($result)";
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &results) {
      return ::onerec::rec::inferUnaryTypes(*this, results);
    }
  }];
}

// Elementwise binary op with numpy-style broadcasting (trailing dimensions
// aligned; equal or 1; a symbolic dimension matches only itself or 1).
class Rec_BinaryOp<string mnemonic, string fn, list<Trait> traits = []>
    : Rec_InferredOp<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>])> {
  let summary = "elementwise " # fn # " with broadcasting";
  let description = [{
    Operands broadcast numpy-style: dimensions are aligned from the right and
    must be equal, or one of them 1. A symbolic dimension matches only the same
    symbol or 1. Both operands have the same element type (floats or integers;
    ids and semantic ids support no arithmetic).
  }];
  let arguments = (ins Rec_AnyTensor:$lhs, Rec_AnyTensor:$rhs);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &results) {
      return ::onerec::rec::inferArithmeticTypes(*this, results);
    }
  }];
}

class Rec_ReduceOp<string mnemonic, string fn>
    : Rec_InferredOp<mnemonic, [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = fn # " over axes";
  let description = "Reduces `x` by " # fn # [{ over `axes` (negative axes
    count from the end). With `keepdim` the reduced axes stay as size 1.
    An empty `axes` reduces over every axis.

    Example: `%s = rec.reduce_sum %x {axes = array<i64: -1>} : (!rec.tensor<[B, 8], f32>) -> !rec.tensor<[B], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x, DenseI64ArrayAttr:$axes, UnitAttr:$keepdim);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, $result)";
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::inferResultTypes(
        ::llvm::SmallVectorImpl<::mlir::Type> &results) {
      return ::onerec::rec::inferReductionTypes(*this, getAxes(), getKeepdim(),
                                                results);
    }
  }];
}

//===----------------------------------------------------------------------===//
// Model structure
//===----------------------------------------------------------------------===//

def Rec_DimOp : Rec_Op<"dim", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "declares a symbolic dimension and its maximum";
  let description = [{
    A dimension bound at run time (batch, beam width ...). Tensors name it in
    their types; memory planning sizes buffers for `max`.

    Example: `rec.dim @B max 1024`
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       ConfinedAttr<I64Attr, [IntPositive]>:$max);
  let assemblyFormat = "$sym_name `max` $max attr-dict";
}

def Rec_ParamOp : Rec_Op<"param", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "declares a model parameter";
  let description = [{
    A weight of the model with its static type and its initializer. `buffer`
    marks state updated outside the gradient (the aux-free MoE routing bias);
    `no_decay` excludes the parameter from weight decay (biases, norm gains).
    `state_of` marks optimizer state (Adam moments, momentum, gradient
    accumulators) of another parameter; `rec-autodiff` creates these.

    Example:
    ```mlir
    rec.param @item_emb : !rec.tensor<[12102, 64], f32> init #rec.init<normal(0.0, 0.02), seed = 11>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Rec_AnyTensor>:$type,
                       Rec_InitAttr:$init,
                       UnitAttr:$buffer,
                       UnitAttr:$no_decay,
                       OptionalAttr<FlatSymbolRefAttr>:$state_of);
  let assemblyFormat = [{
    $sym_name `:` $type `init` $init (`buffer` $buffer^)? (`no_decay` $no_decay^)?
    (`state_of` $state_of^)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    RecTensorType getTensorType() {
      return ::llvm::cast<RecTensorType>(getType());
    }
  }];
}

def Rec_ParamRefOp : Rec_Op<"param_ref",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads a parameter";
  let description = [{
    The current value of a `rec.param`. Parameters of an imported model are
    named by a nested reference, `@pscore::@tower0.w`.

    Example: `%w = rec.param_ref @item_emb : !rec.tensor<[12102, 64], f32>`
  }];
  let arguments = (ins SymbolRefAttr:$param);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$param attr-dict `:` type($result)";
}

def Rec_GenerateOp : Rec_Op<"generate", [Symbol, HasParent<"::mlir::ModuleOp">,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "how the model generates sessions";
  let description = [{
    Generation configuration for the runtime: `encoder` reads the request's
    context once; `decoder` maps decoder tokens and the encoder's memory to
    next-token logits `[B, items, levels, codebook]`. The result type is one
    generated session per row, `sid<codebook>[B, items, levels]`, which is what
    reward entries receive as their `generated` argument. `init` and `step`
    name the entries `rec-derive-decode-step` derives from the decoder for
    token-by-token decoding (absent until it runs).

    Example:
    ```mlir
    rec.generate @sessions : !rec.tensor<[B, 5, 3], !rec.sid<8192>> =
        beam(@encode, @decode) {constrain = #rec<constraint catalog>, items = 5 : i64, width = 128 : i64}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Rec_AnyTensor>:$type,
                       Rec_DecodeStrategy:$strategy,
                       FlatSymbolRefAttr:$encoder,
                       FlatSymbolRefAttr:$decoder,
                       ConfinedAttr<I64Attr, [IntPositive]>:$width,
                       ConfinedAttr<I64Attr, [IntPositive]>:$items,
                       Rec_DecodeConstraintAttr:$constrain,
                       OptionalAttr<FlatSymbolRefAttr>:$init,
                       OptionalAttr<FlatSymbolRefAttr>:$step);
  let assemblyFormat = [{
    $sym_name `:` $type `=` $strategy `(` $encoder `,` $decoder `)` attr-dict
  }];
  let hasVerifier = 1;
}

def Rec_TrainOp : Rec_Op<"train", [HasParent<"::mlir::ModuleOp">, NoTerminator,
    SingleBlock]> {
  let summary = "the training configuration";
  let description = [{
    Holds one `rec.optimizer`, at most one `rec.schedule` and the ordered
    `rec.stage`s (pretraining, alignment ...). Settings such as `batch`,
    `grad_clip` and `accumulate` are attributes.

    Example:
    ```mlir
    rec.train {batch = 256 : i64, grad_clip = 1.0} {
      rec.optimizer adamw {lr = 2.0e-04, weight_decay = 0.1}
      rec.stage "pretrain" {
        rec.minimize [#rec.term<@ntp, 1.0>]
      }
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The settings a training section takes (as attributes).
    static ::llvm::ArrayRef<::llvm::StringRef> getSettingNames();
  }];
}

def Rec_OptimizerOp : Rec_Op<"optimizer", [HasParent<"TrainOp">]> {
  let summary = "the optimizer and its hyperparameters";
  let description = [{
    `sgd` takes `lr`, `momentum`, `weight_decay`, `nesterov`; `adam` and
    `adamw` take `lr`, `beta1`, `beta2`, `eps`, `weight_decay`.

    Example: `rec.optimizer adamw {lr = 2.0e-04, weight_decay = 0.1}`
  }];
  let arguments = (ins Rec_OptimizerKind:$kind, DictionaryAttr:$params);
  let assemblyFormat = "$kind $params attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The hyperparameters an optimizer of `kind` takes.
    static ::llvm::ArrayRef<::llvm::StringRef> getParamNames(OptimizerKind kind);
  }];
}

def Rec_ScheduleOp : Rec_Op<"schedule", [HasParent<"TrainOp">]> {
  let summary = "the learning-rate schedule";
  let description = [{
    `constant`; `warmup` (linear from 0 over `warmup` steps, then constant);
    `cosine` (linear warmup, then cosine decay to `min_lr` at `total` steps).

    Example: `rec.schedule cosine {total = 100000 : i64, warmup = 1000 : i64}`
  }];
  let arguments = (ins Rec_ScheduleKind:$kind, DictionaryAttr:$params);
  let assemblyFormat = "$kind $params attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The parameters a schedule of `kind` takes.
    static ::llvm::ArrayRef<::llvm::StringRef> getParamNames(ScheduleKind kind);
  }];
}

def Rec_StageOp : Rec_Op<"stage", [HasParent<"TrainOp">, NoTerminator, SingleBlock]> {
  let summary = "one training stage";
  let description = [{
    A named phase of training with its objectives (`rec.minimize`, `rec.dpo`,
    `rec.ecpo`) and settings (`steps`, `epochs`).
  }];
  let arguments = (ins StrAttr:$name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The settings a stage takes (as attributes).
    static ::llvm::ArrayRef<::llvm::StringRef> getSettingNames();
  }];
}

def Rec_MinimizeOp : Rec_Op<"minimize", [HasParent<"StageOp">,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "minimize a weighted sum of loss entries";
  let description = [{
    Example: `rec.minimize [#rec.term<@ntp, 1.0>, #rec.term<@aux, 0.01>]`
  }];
  let arguments = (ins Rec_TermArrayAttr:$terms);
  let assemblyFormat = "$terms attr-dict";
}

def Rec_DpoOp : Rec_Op<"dpo", [HasParent<"StageOp">,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "iterative preference alignment with DPO";
  let description = [{
    OneRec's IPA: for a `fraction` of the samples, beam search proposes
    `group` sessions, the `reward` mix picks the best and worst as a preference
    pair, and `weight * DPO(beta)` is added to the stage's other objectives.

    Example:
    `rec.dpo reward [#rec.term<@preference, 1.0>] {beta = 0.1, fraction = 0.01, group = 128 : i64, weight = 1.0}`
  }];
  let arguments = (ins Rec_TermArrayAttr:$reward, F64Attr:$beta, F64Attr:$weight,
                       I64Attr:$group, F64Attr:$fraction);
  let assemblyFormat = "`reward` $reward attr-dict";
  let hasVerifier = 1;
}

def Rec_EcpoOp : Rec_Op<"ecpo", [HasParent<"StageOp">,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "early-clipped GRPO alignment";
  let description = [{
    OneRec's ECPO: `group` sessions per user, advantage `(r - mean) / std`
    within the group, ratio clipped at `1 + epsilon`, and the old policy
    floored at `sg(pi) / (1 + epsilon + delta)`. With `format`, only `format_k`
    of the group's legal samples (as judged by that reward) are kept, each with
    advantage 1.

    Example:
    `rec.ecpo reward [#rec.term<@preference, 1.0>] format @legal {delta = 0.1, epsilon = 0.2, format_k = 5 : i64, group = 128 : i64}`
  }];
  let arguments = (ins Rec_TermArrayAttr:$reward, OptionalAttr<FlatSymbolRefAttr>:$format,
                       I64Attr:$group, F64Attr:$delta, F64Attr:$epsilon,
                       I64Attr:$format_k);
  let assemblyFormat = "`reward` $reward (`format` $format^)? attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Constants and elementwise operations
//===----------------------------------------------------------------------===//

def Rec_ConstantOp : Rec_Op<"constant", [ConstantLike, Pure]> {
  let summary = "a tensor filled with one value";
  let description = [{
    Every element equals `value` (a float for float tensors, an integer for
    integer, boolean, id and semantic-id tensors). The shape may be symbolic.

    Example: `%c = rec.constant(1.0) : !rec.tensor<[], f32>`
  }];
  let arguments = (ins AnyAttrOf<[F64Attr, I64Attr]>:$value);
  let results = (outs Rec_AnyTensor:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The fill value as a double, whatever its storage.
    double getValueAsDouble();
  }];
}

def Rec_IotaOp : Rec_Op<"iota", [Pure]> {
  let summary = "positions 0, 1, 2 ... along one axis";
  let description = [{
    Element `i` along `axis` equals `i`; other axes repeat it. The result is an
    integer or id tensor.

    Example: `%p = rec.iota {axis = 0 : i64} : !rec.tensor<[200], i64>`
  }];
  let arguments = (ins I64Attr:$axis);
  let results = (outs Rec_IndexTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Rec_NegOp : Rec_UnaryOp<"neg", Rec_AnyTensor, "negation"> { let hasFolder = 1; }
def Rec_AbsOp : Rec_UnaryOp<"abs", Rec_AnyTensor, "absolute value">;
def Rec_ExpOp : Rec_UnaryOp<"exp", Rec_FloatTensor, "e^x">;
def Rec_LogOp : Rec_UnaryOp<"log", Rec_FloatTensor, "the natural logarithm">;
def Rec_SqrtOp : Rec_UnaryOp<"sqrt", Rec_FloatTensor, "the square root">;
def Rec_RsqrtOp : Rec_UnaryOp<"rsqrt", Rec_FloatTensor, "1 / sqrt(x)">;
def Rec_TanhOp : Rec_UnaryOp<"tanh", Rec_FloatTensor, "tanh">;
def Rec_SigmoidOp : Rec_UnaryOp<"sigmoid", Rec_FloatTensor, "1 / (1 + e^-x)">;
def Rec_SiluOp : Rec_UnaryOp<"silu", Rec_FloatTensor, "x * sigmoid(x)">;
def Rec_GeluOp : Rec_UnaryOp<"gelu", Rec_FloatTensor, "the GELU (tanh approximation)">;
def Rec_ReluOp : Rec_UnaryOp<"relu", Rec_FloatTensor, "max(x, 0)">;
def Rec_NotOp : Rec_UnaryOp<"not", Rec_BoolTensor, "logical negation">;

def Rec_AddOp : Rec_BinaryOp<"add", "addition", [Commutative]> {
  let hasFolder = 1;
}
def Rec_SubOp : Rec_BinaryOp<"sub", "subtraction"> { let hasFolder = 1; }
def Rec_MulOp : Rec_BinaryOp<"mul", "multiplication", [Commutative]> {
  let hasFolder = 1;
}
def Rec_DivOp : Rec_BinaryOp<"div", "division"> { let hasFolder = 1; }
def Rec_PowOp : Rec_BinaryOp<"pow", "power">;
def Rec_MaximumOp : Rec_BinaryOp<"maximum", "maximum", [Commutative]>;
def Rec_MinimumOp : Rec_BinaryOp<"minimum", "minimum", [Commutative]>;
def Rec_AndOp : Rec_BinaryOp<"and", "logical and", [Commutative]>;
def Rec_OrOp : Rec_BinaryOp<"or", "logical or", [Commutative]>;

def Rec_CmpOp : Rec_InferredOp<"cmp", [Pure]> {
  let summary = "elementwise comparison with broadcasting";
  let description = [{
    Compares elementwise and returns booleans (`i1`). Ids and semantic ids
    compare only for (in)equality.

    Example: `%m = rec.cmp ne, %seq, %zero : !rec.tensor<[B, 200], !rec.id<12102>>, !rec.tensor<[], !rec.id<12102>> -> !rec.tensor<[B, 200], i1>`
  }];
  let arguments = (ins Rec_CmpPredicate:$predicate, Rec_AnyTensor:$lhs,
                       Rec_AnyTensor:$rhs);
  let results = (outs Rec_BoolTensor:$result);
  let assemblyFormat = [{
    $predicate `,` $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

def Rec_SelectOp : Rec_InferredOp<"select", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "elementwise choice with broadcasting";
  let description = [{
    `cond ? a : b` elementwise; the three operands broadcast together.
  }];
  let arguments = (ins Rec_BoolTensor:$cond, Rec_AnyTensor:$a, Rec_AnyTensor:$b);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = [{
    $cond `,` $a `,` $b attr-dict `:` type($cond) `,` type($a) `,` type($b) `->` type($result)
  }];
}

def Rec_CastOp : Rec_Op<"cast", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "converts the element type";
  let description = [{
    Between floats, from integers and booleans to floats, between integers,
    from semantic ids to integers, and from integers or semantic ids to ids (the
    explicit step that turns a computed index into an id of a vocabulary).

    Example: `%f = rec.cast %m : !rec.tensor<[B, 200], i1> -> !rec.tensor<[B, 200], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

def Rec_ReshapeOp : Rec_Op<"reshape", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "the same elements under another shape";
  let description = [{
    The result type is given. Symbolic dimensions must appear in the same order
    in the operand and the result, and the static extents between consecutive
    symbolic dimensions must have equal products.

    Example: `%y = rec.reshape %x : !rec.tensor<[B, 8, 64], f32> -> !rec.tensor<[B, 8, 4, 16], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Rec_BroadcastOp : Rec_Op<"broadcast", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "expands to a larger shape by broadcasting";
  let description = [{
    The result type is given; the operand must broadcast to it.

    Example: `%q = rec.broadcast %queries : !rec.tensor<[128, 64], f32> -> !rec.tensor<[B, 128, 64], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Rec_TransposeOp : Rec_InferredOp<"transpose", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "permutes dimensions";
  let description = [{
    Result dimension `i` is operand dimension `permutation[i]`.

    Example: `%t = rec.transpose %x {permutation = array<i64: 1, 0>} : (!rec.tensor<[12102, 64], f32>) -> !rec.tensor<[64, 12102], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x, DenseI64ArrayAttr:$permutation);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, $result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Rec_ConcatOp : Rec_InferredOp<"concat", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "joins tensors along one axis";
  let description = [{
    All operands have the same element type and the same dimensions except
    along `axis`, which must be static in every operand.

    Example: `%c = rec.concat %a, %b {axis = 1 : i64} : (!rec.tensor<[B, 1, 64], f32>, !rec.tensor<[B, 20, 64], f32>) -> !rec.tensor<[B, 21, 64], f32>`
  }];
  let arguments = (ins Variadic<Rec_AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $result)";
  let hasFolder = 1;
}

def Rec_SliceOp : Rec_InferredOp<"slice", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "a contiguous range along one static axis";
  let description = [{
    Elements `start <= i < end` along `axis`; negative bounds count from the
    end of the axis, which must be static.

    Example: `%last = rec.slice %h {axis = 1 : i64, end = 200 : i64, start = 199 : i64} : (!rec.tensor<[B, 200, 64], f32>) -> !rec.tensor<[B, 1, 64], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x, I64Attr:$axis, I64Attr:$start, I64Attr:$end);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, $result)";
  let hasFolder = 1;
}

def Rec_GatherOp : Rec_InferredOp<"gather", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "selects slices along an axis by index";
  let description = [{
    `index_select` semantics: the result's shape is `x`'s with dimension `axis`
    replaced by the full shape of `indices`.

    Example: `%g = rec.gather %x, %idx {axis = 1 : i64} : (!rec.tensor<[B, 200, 64], f32>, !rec.tensor<[4], i64>) -> !rec.tensor<[B, 4, 64], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$x, Rec_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x `,` $indices attr-dict `:` functional-type(operands, $result)";
}

def Rec_ScatterAddOp : Rec_InferredOp<"scatter_add", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "adds slices into a tensor at indices along an axis";
  let description = [{
    The inverse of `rec.gather`: `src` has `x`'s shape with dimension `axis`
    replaced by the shape of `indices`; each slice of `src` is added to the
    slice of `x` its index names. Duplicate indices accumulate.
  }];
  let arguments = (ins Rec_AnyTensor:$x, Rec_IndexTensor:$indices,
                       Rec_AnyTensor:$src, I64Attr:$axis);
  let results = (outs Rec_AnyTensor:$result);
  let assemblyFormat = "$x `,` $indices `,` $src attr-dict `:` functional-type(operands, $result)";
}

def Rec_EmbeddingOp : Rec_InferredOp<"embedding", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "embedding-table lookup";
  let description = [{
    For ids `id<V>[...]` and a table `[V, d]`: the rows the ids name,
    `[..., d]`. For semantic ids `sid<K>[..., levels]` the table holds one
    sub-table per level, `[levels * K, d]` (level `l`'s code `c` is row
    `l * K + c`), and the per-level rows are combined by `combine`: `sum` or
    `mean` give `[..., d]`, `concat` gives `[..., levels * d]`. One lookup
    covers all levels of all positions, which is what the fused kernel wants.

    Example: `%e = rec.embedding %table, %hist {combine = #rec<combine sum>} : (!rec.tensor<[768, 64], f32>, !rec.tensor<[B, 256, 3], !rec.sid<256>>) -> !rec.tensor<[B, 256, 64], f32>`
  }];
  let arguments = (ins Rec_FloatTensor:$table, Rec_IndexTensor:$ids,
                       DefaultValuedAttr<Rec_EmbeddingCombineAttr,
                                         "EmbeddingCombine::sum">:$combine);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$table `,` $ids attr-dict `:` functional-type(operands, $result)";
}

def Rec_HashOp : Rec_InferredOp<"hash", [Pure]> {
  let summary = "hashes raw ids into a fixed number of buckets";
  let description = [{
    Maps unbounded ids to `id<buckets>` with a salted 64-bit mix, so that huge
    or open vocabularies (user ids, hashed feature crosses) share one table.

    Example: `%h = rec.hash %uid {buckets = 1000003 : i64, salt = 0 : i64} : (!rec.tensor<[B], !rec.id<0>>) -> !rec.tensor<[B], !rec.id<1000003>>`
  }];
  let arguments = (ins Rec_IndexTensor:$ids, ConfinedAttr<I64Attr, [IntPositive]>:$buckets,
                       I64Attr:$salt);
  let results = (outs Rec_IndexTensor:$result);
  let assemblyFormat = "$ids attr-dict `:` functional-type($ids, $result)";
}

def Rec_TopKOp : Rec_InferredOp<"topk", [Pure]> {
  let summary = "the k largest values of the last axis and their positions";
  let description = [{
    Values sorted in descending order; ties keep the lower index first.
    Indices are `i64`.
  }];
  let arguments = (ins Rec_AnyTensor:$x, ConfinedAttr<I64Attr, [IntPositive]>:$k);
  let results = (outs Rec_AnyTensor:$values, Rec_IndexTensor:$indices);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, results)";
}

def Rec_ArgMaxOp : Rec_InferredOp<"argmax", [Pure]> {
  let summary = "position of the largest value along an axis";
  let arguments = (ins Rec_AnyTensor:$x, I64Attr:$axis);
  let results = (outs Rec_IndexTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, $result)";
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

def Rec_ReduceSumOp : Rec_ReduceOp<"reduce_sum", "the sum">;
def Rec_ReduceMeanOp : Rec_ReduceOp<"reduce_mean", "the mean">;
def Rec_ReduceMaxOp : Rec_ReduceOp<"reduce_max", "the maximum">;
def Rec_ReduceMinOp : Rec_ReduceOp<"reduce_min", "the minimum">;

def Rec_SoftmaxOp : Rec_InferredOp<"softmax", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "softmax along an axis";
  let arguments = (ins Rec_FloatTensor:$x, I64Attr:$axis);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, $result)";
}

def Rec_LogSoftmaxOp : Rec_InferredOp<"log_softmax", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "log-softmax along an axis";
  let arguments = (ins Rec_FloatTensor:$x, I64Attr:$axis);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type($x, $result)";
}

def Rec_RmsNormOp : Rec_InferredOp<"rms_norm", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "root-mean-square normalization of the last axis";
  let description = [{
    `x / sqrt(mean(x^2) + eps) * gain`, with `gain` of the last axis's size.
  }];
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$gain, F64Attr:$eps);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$x `,` $gain attr-dict `:` functional-type(operands, $result)";
}

def Rec_LayerNormOp : Rec_InferredOp<"layer_norm", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "layer normalization of the last axis";
  let description = [{
    `(x - mean) / sqrt(var + eps) * gain + bias` over the last axis.
  }];
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$gain,
                       Rec_FloatTensor:$bias, F64Attr:$eps);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$x `,` $gain `,` $bias attr-dict `:` functional-type(operands, $result)";
}

//===----------------------------------------------------------------------===//
// Contractions and composite kernels
//===----------------------------------------------------------------------===//

def Rec_MatmulOp : Rec_InferredOp<"matmul", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "batched matrix product with broadcasting";
  let description = [{
    `a [..., m, k] x b [..., k, n] -> [..., m, n]`; the leading (batch)
    dimensions broadcast. A 2-D `b` applied to a 3-D `a` is the usual linear
    layer. `transpose_b` reads `b` as `[..., n, k]` (a tied output embedding).

    Example: `%y = rec.matmul %x, %w : (!rec.tensor<[B, 200, 64], f32>, !rec.tensor<[64, 256], f32>) -> !rec.tensor<[B, 200, 256], f32>`
  }];
  let arguments = (ins Rec_FloatTensor:$a, Rec_FloatTensor:$b, UnitAttr:$transpose_a,
                       UnitAttr:$transpose_b);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$a `,` $b attr-dict `:` functional-type(operands, $result)";
}

def Rec_AttentionOp : Rec_InferredOp<"attention", [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "multi-head scaled dot-product attention";
  let description = [{
    Heads are packed in the last axis: `q [..., Lq, H * dk]`,
    `k [..., Lk, Hkv * dk]`, `v [..., Lk, Hkv * dv]`, result `[..., Lq, H * dv]`.
    `num_kv_heads < num_heads` is grouped-query attention (each group of
    `H / Hkv` query heads shares one key/value head). `mask` (booleans, true =
    may attend) broadcasts to `[..., Lq, Lk]` or, with an extra head axis, to
    `[..., H, Lq, Lk]`; `bias` (an additive score bias such as a relative
    position bias) broadcasts to `[..., H, Lq, Lk]`. `causal` adds the causal
    mask. `score_norm = softmax` is standard attention; `silu` is HSTU's
    pointwise aggregated attention, `silu(scores) / Lk`.

    Example: `%o = rec.attention %q, %k, %v {causal, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f64, score_norm = #rec<score_norm softmax>} : (!rec.tensor<[B, 8, 64], f32>, !rec.tensor<[B, 8, 64], f32>, !rec.tensor<[B, 8, 64], f32>) -> !rec.tensor<[B, 8, 64], f32>`
  }];
  let arguments = (ins Rec_FloatTensor:$q, Rec_FloatTensor:$k, Rec_FloatTensor:$v,
                       Optional<Rec_BoolTensor>:$mask,
                       Optional<Rec_FloatTensor>:$bias,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_kv_heads,
                       UnitAttr:$causal, F64Attr:$scale,
                       DefaultValuedAttr<Rec_ScoreNormAttr, "ScoreNorm::softmax">:$score_norm);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`mask` $mask^)? (`bias` $bias^)? attr-dict `:`
    functional-type(operands, $result)
  }];
}

def Rec_DecodeAttentionOp : Rec_InferredOp<"decode_attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "attention of newly decoded tokens over cached or shared keys";
  let description = [{
    Token-by-token decoding (`rec-derive-decode-step`). Queries
    `q [N, S, H * dk]` are S new tokens of each of N rows; `k [Bk, L, Hkv * dk]`
    and `v [Bk, L, Hkv * dv]` are keys and values computed earlier: a
    self-attention cache, or an encoder's cross-attention keys. Row n reads
    keys row `rows[n]` (absent: row n, and Bk = N), of which only the first
    `lengths[n]` (absent: all L). `k_new` / `v_new` `[N, S, ...]` are the new
    tokens' own keys and values, attended after the cached ones and causally
    among themselves (new token i sees new tokens 0..i). Heads are packed as
    in `rec.attention`; the result is `[N, S, H * dv]`. Inference only.

    Example: `%o = rec.decode_attention %q, %kc, %vc k_new %k v_new %v lengths %pos {num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f64} : (!rec.tensor<[beams, 1, 64], f32>, !rec.tensor<[beams, 20, 64], f32>, !rec.tensor<[beams, 20, 64], f32>, !rec.tensor<[beams, 1, 64], f32>, !rec.tensor<[beams, 1, 64], f32>, !rec.tensor<[beams], i64>) -> !rec.tensor<[beams, 1, 64], f32>`
  }];
  let arguments = (ins Rec_FloatTensor:$q, Rec_FloatTensor:$k, Rec_FloatTensor:$v,
                       Optional<Rec_FloatTensor>:$k_new,
                       Optional<Rec_FloatTensor>:$v_new,
                       Optional<Rec_IndexTensor>:$lengths,
                       Optional<Rec_IndexTensor>:$rows,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_kv_heads,
                       F64Attr:$scale);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`k_new` $k_new^)? (`v_new` $v_new^)?
    (`lengths` $lengths^)? (`rows` $rows^)? attr-dict `:`
    functional-type(operands, $result)
  }];
}

def Rec_MoeOp : Rec_InferredOp<"moe", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "mixture of experts: gate, top-k routing, expert FFNs, combine";
  let description = [{
    Each token of `x [..., d]` is routed to the `top_k` experts with the
    highest `softmax(x @ gate) (+ gate_bias for selection)`; their FFN outputs
    are summed, weighted by the renormalized gate probabilities. Experts are
    `up [E, d, h]`, optional `gate_proj [E, d, h]` (SwiGLU), `down [E, h, d]`.
    `gate_bias [E]` is the aux-free balancing bias (it changes which experts are
    chosen, not their weights). The second result is the fraction of tokens
    routed to each expert, `f32[E]`, from which the bias is updated.
  }];
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$gate,
                       Rec_FloatTensor:$gate_bias, Rec_FloatTensor:$up,
                       Optional<Rec_FloatTensor>:$gate_proj, Rec_FloatTensor:$down,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k,
                       Rec_MoeBalanceAttr:$balance, Rec_ActivationAttr:$activation);
  let results = (outs Rec_FloatTensor:$result, Rec_FloatTensor:$load);
  let assemblyFormat = [{
    $x `,` $gate `,` $gate_bias `,` $up (`gate_proj` $gate_proj^)? `,` $down attr-dict `:`
    functional-type(operands, results)
  }];
}

def Rec_DropoutOp : Rec_InferredOp<"dropout", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "zeroes elements with probability rate during training";
  let description = [{
    Scales kept elements by `1 / (1 - rate)`. `stream` selects the
    counter-based random stream, so masks are reproducible for a seed and step.
    Outside training entries it is the identity.
  }];
  let arguments = (ins Rec_FloatTensor:$x, F64Attr:$rate, I64Attr:$stream);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Losses and alignment objectives
//===----------------------------------------------------------------------===//

def Rec_CrossEntropyOp : Rec_InferredOp<"cross_entropy", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "softmax cross-entropy against class labels";
  let description = [{
    `logits [..., C]`, `labels [...]` (integers, ids or semantic ids),
    optional `mask [...]` (true = counted). `mean` averages over counted
    elements, `sum` adds them, `none` returns the per-element losses `[...]`.
  }];
  let arguments = (ins Rec_FloatTensor:$logits, Rec_IndexTensor:$labels,
                       Optional<Rec_BoolTensor>:$mask, Rec_ReductionAttr:$reduction,
                       DefaultValuedAttr<F64Attr, "0.0">:$label_smoothing);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels (`mask` $mask^)? attr-dict `:` functional-type(operands, $result)
  }];
}

def Rec_BceWithLogitsOp : Rec_InferredOp<"bce_with_logits", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "binary cross-entropy on logits";
  let description = [{
    `logits` and float `labels` of one shape, optional boolean `mask`;
    reductions as for `rec.cross_entropy`.
  }];
  let arguments = (ins Rec_FloatTensor:$logits, Rec_FloatTensor:$labels,
                       Optional<Rec_BoolTensor>:$mask, Rec_ReductionAttr:$reduction);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels (`mask` $mask^)? attr-dict `:` functional-type(operands, $result)
  }];
}

def Rec_SampledSoftmaxOp : Rec_InferredOp<"sampled_softmax", [Pure, DeclareOpInterfaceMethods<Rec_DifferentiableOpInterface>]> {
  let summary = "softmax cross-entropy over the positive and sampled negatives";
  let description = [{
    `h [..., d]` scored against `table [V, d]` rows: the positive `pos [...]`
    and negatives `neg [..., N]` (or `[N]`, shared by all positions). The loss
    is the cross-entropy of the positive among the `1 + N` candidates. With
    `remove_hits`, a negative equal to the position's positive (an accidental
    hit) is left out of that position's softmax: its score is -inf.
  }];
  let arguments = (ins Rec_FloatTensor:$h, Rec_FloatTensor:$table,
                       Rec_IndexTensor:$pos, Rec_IndexTensor:$neg,
                       Optional<Rec_BoolTensor>:$mask, Rec_ReductionAttr:$reduction,
                       UnitAttr:$remove_hits);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    $h `,` $table `,` $pos `,` $neg (`mask` $mask^)? attr-dict `:`
    functional-type(operands, $result)
  }];
}

def Rec_DpoLossOp : Rec_InferredOp<"dpo_loss", [Pure]> {
  let summary = "direct preference optimization loss";
  let description = [{
    `-log sigmoid(beta * ((pw - rw) - (pl - rl)))`, averaged over the batch:
    sequence log-probabilities `[B]` of the chosen (`w`) and rejected (`l`)
    sessions under the policy (`p`) and the frozen reference (`r`).
  }];
  let arguments = (ins Rec_FloatTensor:$policy_chosen, Rec_FloatTensor:$policy_rejected,
                       Rec_FloatTensor:$ref_chosen, Rec_FloatTensor:$ref_rejected,
                       F64Attr:$beta);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, $result)";
}

def Rec_EcpoLossOp : Rec_InferredOp<"ecpo_loss", [Pure]> {
  let summary = "early-clipped GRPO policy loss";
  let description = [{
    With `ratio = exp(logp - old')`, `old' = max(sg(logp) - log(1 + epsilon +
    delta), old_logp)`: `-mean(min(ratio * adv, clip(ratio, 1 - epsilon,
    1 + epsilon) * adv))` over the (masked) samples. All operands `[B]`.
  }];
  let arguments = (ins Rec_FloatTensor:$logp, Rec_FloatTensor:$old_logp,
                       Rec_FloatTensor:$advantage, Optional<Rec_BoolTensor>:$mask,
                       F64Attr:$epsilon, F64Attr:$delta);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    $logp `,` $old_logp `,` $advantage (`mask` $mask^)? attr-dict `:`
    functional-type(operands, $result)
  }];
}

//===----------------------------------------------------------------------===//
// Catalog queries (rewards)
//===----------------------------------------------------------------------===//

def Rec_InCatalogOp : Rec_InferredOp<"in_catalog", [Pure]> {
  let summary = "whether each generated semantic ID is a real item";
  let description = [{
    `sessions sid<K>[..., items, levels]` -> `i1[..., items]`: true where the
    item's full code is in the runtime catalog (the format reward).
  }];
  let arguments = (ins Rec_IndexTensor:$sessions);
  let results = (outs Rec_BoolTensor:$result);
  let assemblyFormat = "$sessions attr-dict `:` functional-type($sessions, $result)";
}

def Rec_ItemFlagOp : Rec_InferredOp<"item_flag", [Pure]> {
  let summary = "a boolean item attribute of each generated item";
  let description = [{
    `sessions sid<K>[..., items, levels]` -> `i1[..., items]`: the catalog's
    `flag` attribute of each item (false for items not in the catalog). Used by
    industrial rewards, e.g. the share of flagged items in a session.
  }];
  let arguments = (ins Rec_IndexTensor:$sessions, StrAttr:$flag);
  let results = (outs Rec_BoolTensor:$result);
  let assemblyFormat = "$sessions attr-dict `:` functional-type($sessions, $result)";
}

//===----------------------------------------------------------------------===//
// Training: backward kernels and optimizer updates
//
// `rec-autodiff` builds these; the frontend never does. Backward ops take the
// forward operands they need and the result gradient `dy`; their result
// types are set by the rule that builds them (the operands' types) and
// checked by their verifiers. Optimizer ops have no results: they update
// parameters (`rec.param_ref` values) in place, so they carry write effects
// and end a `train_step` entry.
//===----------------------------------------------------------------------===//

class Rec_GradOp<string mnemonic, list<Trait> traits = []>
    : Rec_Op<mnemonic, !listconcat(traits, [Pure])> {
  let hasVerifier = 1;
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Rec_LayerNormGradOp : Rec_GradOp<"layer_norm_grad"> {
  let summary = "backward of rec.layer_norm";
  let description = [{
    `dx` has `x`'s type; `dgain` and `dbias` the gain's, summed over all
    leading positions.
  }];
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$gain,
                       Rec_FloatTensor:$dy, F64Attr:$eps);
  let results = (outs Rec_FloatTensor:$dx, Rec_FloatTensor:$dgain,
                      Rec_FloatTensor:$dbias);
}

def Rec_RmsNormGradOp : Rec_GradOp<"rms_norm_grad"> {
  let summary = "backward of rec.rms_norm";
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$gain,
                       Rec_FloatTensor:$dy, F64Attr:$eps);
  let results = (outs Rec_FloatTensor:$dx, Rec_FloatTensor:$dgain);
}

def Rec_AttentionGradOp : Rec_GradOp<"attention_grad", [AttrSizedOperandSegments]> {
  let summary = "backward of rec.attention";
  let description = [{
    Recomputes the probabilities (flash-style) and returns the gradients of
    q, k and v, and of the additive score bias when there is one (summed
    over the dims it was broadcast along). Attributes are the forward op's.
  }];
  let arguments = (ins Rec_FloatTensor:$q, Rec_FloatTensor:$k, Rec_FloatTensor:$v,
                       Optional<Rec_BoolTensor>:$mask,
                       Optional<Rec_FloatTensor>:$bias, Rec_FloatTensor:$dy,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_kv_heads,
                       UnitAttr:$causal, F64Attr:$scale,
                       DefaultValuedAttr<Rec_ScoreNormAttr, "ScoreNorm::softmax">:$score_norm);
  let results = (outs Rec_FloatTensor:$dq, Rec_FloatTensor:$dk, Rec_FloatTensor:$dv,
                      Optional<Rec_FloatTensor>:$dbias);
}

def Rec_EmbeddingGradOp : Rec_GradOp<"embedding_grad"> {
  let summary = "backward of rec.embedding with respect to the table";
  let description = [{
    A zero table of the result's shape with each row of `dy` added to the
    row(s) its id names (for semantic ids, one row per level, combined as
    the forward op's `combine`).
  }];
  let arguments = (ins Rec_IndexTensor:$ids, Rec_FloatTensor:$dy,
                       DefaultValuedAttr<Rec_EmbeddingCombineAttr,
                                         "EmbeddingCombine::sum">:$combine);
  let results = (outs Rec_FloatTensor:$dtable);
}

def Rec_CrossEntropyGradOp : Rec_GradOp<"cross_entropy_grad"> {
  let summary = "backward of rec.cross_entropy with respect to the logits";
  let arguments = (ins Rec_FloatTensor:$logits, Rec_IndexTensor:$labels,
                       Optional<Rec_BoolTensor>:$mask, Rec_FloatTensor:$dloss,
                       Rec_ReductionAttr:$reduction,
                       DefaultValuedAttr<F64Attr, "0.0">:$label_smoothing);
  let results = (outs Rec_FloatTensor:$dlogits);
}

def Rec_BceWithLogitsGradOp : Rec_GradOp<"bce_with_logits_grad"> {
  let summary = "backward of rec.bce_with_logits with respect to the logits";
  let arguments = (ins Rec_FloatTensor:$logits, Rec_FloatTensor:$labels,
                       Optional<Rec_BoolTensor>:$mask, Rec_FloatTensor:$dloss,
                       Rec_ReductionAttr:$reduction);
  let results = (outs Rec_FloatTensor:$dlogits);
}

def Rec_SampledSoftmaxGradOp : Rec_GradOp<"sampled_softmax_grad"> {
  let summary = "backward of rec.sampled_softmax";
  let description = [{
    Gradients w.r.t. `h` and `table`; `remove_hits` as the forward op's
    (accidental hits get no gradient).
  }];
  let arguments = (ins Rec_FloatTensor:$h, Rec_FloatTensor:$table,
                       Rec_IndexTensor:$pos, Rec_IndexTensor:$neg,
                       Optional<Rec_BoolTensor>:$mask, Rec_FloatTensor:$dloss,
                       Rec_ReductionAttr:$reduction, UnitAttr:$remove_hits);
  let results = (outs Rec_FloatTensor:$dh, Rec_FloatTensor:$dtable);
}

def Rec_MoeGradOp : Rec_GradOp<"moe_grad"> {
  let summary = "backward of rec.moe's first result";
  let description = [{
    Gradients for the routing the forward op chose (the choice itself has
    none): of x, the gate, the expert weights. `dgate_proj` exists when
    `gate_proj` does.
  }];
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$gate,
                       Rec_FloatTensor:$gate_bias, Rec_FloatTensor:$up,
                       Optional<Rec_FloatTensor>:$gate_proj, Rec_FloatTensor:$down,
                       Rec_FloatTensor:$dy,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k,
                       Rec_MoeBalanceAttr:$balance, Rec_ActivationAttr:$activation);
  let results = (outs Rec_FloatTensor:$dx, Rec_FloatTensor:$dgate,
                      Rec_FloatTensor:$dup, Optional<Rec_FloatTensor>:$dgate_proj,
                      Rec_FloatTensor:$ddown);
}

def Rec_WeightGradOp : Rec_GradOp<"weight_grad"> {
  let summary = "sum over all positions of the outer products x^T y";
  let description = [{
    `x [..., k]`, `y [..., n]` with the same leading dims -> `[k, n]`:
    the gradient of a weight `[k, n]` applied to every position of `x`
    (`y` is the result gradient), as one GEMM over the flattened positions.
  }];
  let arguments = (ins Rec_FloatTensor:$x, Rec_FloatTensor:$y);
  let results = (outs Rec_FloatTensor:$result);
}

def Rec_GlobalNormOp : Rec_Op<"global_norm", [Pure]> {
  let summary = "the L2 norm of all elements of several tensors";
  let description = [{
    `sqrt(sum of g^2 over every tensor)`, a `f32[]` scalar: what gradient
    clipping compares against `grad_clip`.
  }];
  let arguments = (ins Variadic<Rec_FloatTensor>:$inputs);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $result)";
  let hasVerifier = 1;
}

class Rec_UpdateOp<string mnemonic>
    : Rec_Op<mnemonic, [MemoryEffects<[MemRead, MemWrite]>]> {
  let hasVerifier = 1;
  let assemblyFormat = "operands attr-dict `:` type(operands)";
}

def Rec_AdamWUpdateOp : Rec_UpdateOp<"adamw_update"> {
  let summary = "one Adam / AdamW step of a parameter, in place";
  let description = [{
    Updates `param`, `m` and `v` (`rec.param_ref`s) from `grad`. `step` is the
    1-based update count (`i64[]`); `hparams` is the `f32[8]` vector of
    docs/training.md (lr, beta1, beta2, eps, weight_decay, grad_clip, grad
    scale); `norm` the global gradient norm for clipping. `decay` applies
    weight decay to this parameter; `decoupled` is AdamW (else Adam's L2).
  }];
  let arguments = (ins Rec_FloatTensor:$param, Rec_FloatTensor:$grad,
                       Rec_FloatTensor:$m, Rec_FloatTensor:$v,
                       Rec_IndexTensor:$step, Rec_FloatTensor:$hparams,
                       Rec_FloatTensor:$norm, UnitAttr:$decay, UnitAttr:$decoupled);
}

def Rec_SgdUpdateOp : Rec_UpdateOp<"sgd_update"> {
  let summary = "one SGD (momentum, Nesterov) step of a parameter, in place";
  let arguments = (ins Rec_FloatTensor:$param, Rec_FloatTensor:$grad,
                       Rec_FloatTensor:$momentum, Rec_IndexTensor:$step,
                       Rec_FloatTensor:$hparams, Rec_FloatTensor:$norm,
                       UnitAttr:$decay);
}

def Rec_MoeBiasUpdateOp : Rec_UpdateOp<"moe_bias_update"> {
  let summary = "auxiliary-loss-free balancing of a MoE routing bias";
  let description = [{
    `bias[e] += rate * sign(mean(load) - load[e])`, outside the gradient:
    under-loaded experts become more likely to be chosen.
  }];
  let arguments = (ins Rec_FloatTensor:$bias, Rec_FloatTensor:$load,
                       Rec_FloatTensor:$hparams, F64Attr:$rate);
}

def Rec_AssignAddOp : Rec_UpdateOp<"assign_add"> {
  let summary = "target += x, in place (gradient accumulation)";
  let arguments = (ins Rec_FloatTensor:$target, Rec_FloatTensor:$x);
}

def Rec_FillOp : Rec_UpdateOp<"fill"> {
  let summary = "sets every element of a parameter, in place";
  let arguments = (ins Rec_FloatTensor:$target, F64Attr:$value);
}

// Fusion (issue 5): the optimizer step spelled with primitive ops ends in
// plain writes (rec-decompose, -O0).
def Rec_AssignOp : Rec_UpdateOp<"assign"> {
  let summary = "target = x, in place";
  let description = [{
    Writes `x` into the parameter `target` (a `rec.param_ref` value), in
    place: the last op of an optimizer update spelled with primitive ops
    (`rec-decompose`). `x` has the target's type.

    Example: `rec.assign %w, %w_next : !rec.tensor<[64, 64], f32>, !rec.tensor<[64, 64], f32>`
  }];
  let arguments = (ins Rec_AnyTensor:$target, Rec_AnyTensor:$x);
}

//===----------------------------------------------------------------------===//
// Fusion
//
// `rec-fuse-elementwise` builds these after autodiff; the frontend never
// does. A group is one kernel: the CPU runtime interprets its body as a tile
// program, the CUDA backend generates source for it.
//===----------------------------------------------------------------------===//

def Rec_FusedOp : Rec_Op<"fused", [Pure, IsolatedFromAbove, SingleBlock]> {
  let summary = "a group of elementwise ops and last-axis reductions run as one kernel";
  let description = [{
    Executing a `rec.fused` op equals inlining its body: the block arguments
    are the operands (same types, in order) and the results are the values
    `rec.yield` returns. The body is isolated from above, so everything it
    reads is an operand.

    ```mlir
    %r:2 = rec.fused(%a, %g) : (!rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32>)
        -> (!rec.tensor<[B, 64], f32>, !rec.tensor<[B, 1], f32>) {
    ^bb0(%x: !rec.tensor<[B, 64], f32>, %gain: !rec.tensor<[64], f32>):
      %sq = rec.mul %x, %x : ...
      %ms = rec.reduce_mean %sq {axes = array<i64: -1>, keepdim} : ...
      ...
      rec.yield %y, %ms : !rec.tensor<[B, 64], f32>, !rec.tensor<[B, 1], f32>
    }
    ```

    The contract every backend relies on (the verifier checks it):

    * **Body ops.** Only these: elementwise unary ops (`neg abs exp log sqrt
      rsqrt tanh sigmoid silu gelu relu not`), elementwise binary ops (`add
      sub mul div pow maximum minimum and or`), `cmp`, `select`, `cast`
      (between floats, from booleans to floats), `constant`, `broadcast`, and
      `reduce_sum`, `reduce_mean`, `reduce_max`, `reduce_min` over the last
      axis with `keepdim`. Element types are floats and booleans (`i1`).
    * **Iteration shape.** `S`, the numpy broadcast of the types of every
      value of the body (block arguments and op results). The group's
      iteration domain is `rows x cols`: `cols` is the last dimension of `S`
      (1 when `S` has rank 0), `rows` the product of the others.
    * **Value kinds.** Comparing shapes without their leading 1s, every body
      value is one of: *full* (`S` itself: one element per point of the
      domain), *row* (`S` with its last dimension 1, `[..., 1]`: one element
      per row), *column* (`[cols]`: one element per column, shared by all
      rows) or *scalar* (every dimension 1). Operands are read accordingly;
      other broadcasts (`[B, 1, D]` against `[B, S, D]`) are not groups.
    * **Reductions** read a full value and give a row value: the reduction
      of each row over its `cols` elements. Values computed from a row's
      reduction may be combined with full values of the same row (numpy
      broadcasting), so a row can be reduced, then normalized, in one pass
      over its elements per reduction.
    * **Results** are full or row values. A consumer that wants the reduced
      shape without the trailing 1 reads it through `rec.reshape` (a view).
  }];
  let arguments = (ins Variadic<Rec_AnyTensor>:$inputs);
  let results = (outs Variadic<Rec_AnyTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The iteration shape `S` of the body (see the description); std::nullopt
    /// when the body's shapes do not broadcast together.
    std::optional<::llvm::SmallVector<::onerec::rec::Dim>> getIterationShape();
    /// How a value of `type` maps onto the domain of iteration shape `shape`,
    /// or std::nullopt when it is none of the kinds.
    static std::optional<::onerec::rec::FusedValueKind>
    classify(::mlir::Type type, ::llvm::ArrayRef<::onerec::rec::Dim> shape);
    /// True when `op` may appear in a body (its kind, not its shapes).
    static bool isAllowedInBody(::mlir::Operation *op);
    /// The body's terminator.
    YieldOp getYield();
  }];
}

def Rec_YieldOp : Rec_Op<"yield", [Pure, Terminator,
                                   HasParent<"FusedOp">]> {
  let summary = "returns the results of a rec.fused body";
  let description = [{
    Its operands are the `rec.fused` op's results, in order and of the same
    types.

    Example: `rec.yield %y, %s : !rec.tensor<[B, 64], f32>, !rec.tensor<[B, 1], f32>`
  }];
  let arguments = (ins Variadic<Rec_AnyTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// Fusion: GEMMs with their epilogues and shared operands
//
// `rec-fuse-gemm` builds these after autodiff from rec.matmul, rec.add,
// activations and rec.weight_grad; the frontend never does, and they need
// no gradient rule.
//===----------------------------------------------------------------------===//

def Rec_GemmOp : Rec_Op<"gemm", [Pure, AttrSizedOperandSegments]> {
  let summary = "matrix products with a fused epilogue or a shared left operand";
  let description = [{
    Every product is `rec.matmul`'s (`lhs [..., m, k] x rhs [..., k, n]`,
    batch dims broadcast, `transpose_a`/`transpose_b` for every product).
    Two forms:

    - Sum (as many `lhs` as `rhs`, one result):
      `y = epilogue(Σ_p lhs_p · rhs_p + bias) + residual`, every product of
      `y`'s shape; `bias` is a vector over the last dim, `residual` a tensor
      of `y`'s type (with no activation, an accumulation with beta = 1).
      `epilogue` is `none`, `relu`, `gelu`, `silu`, `sigmoid` or `tanh`.
    - Shared left operand (one `lhs`, several `rhs`, no bias or residual):
      `y_j = lhs · rhs_j`, one result per `rhs` (the left operand is read
      once); with `epilogue = swiglu` and two `rhs`, the one result
      `silu(lhs · rhs_0) * (lhs · rhs_1)`.

    ```mlir
    %y = rec.gemm (%x, %w) bias %b {epilogue = #rec<gemm_epilogue relu>}
         : (...) -> !rec.tensor<[B, 50, 64], f32>
    %q, %k, %v = rec.gemm (%x) x (%wq, %wk, %wv) : (...) -> (...)
    ```
  }];
  let arguments = (ins Variadic<Rec_FloatTensor>:$lhs,
                       Variadic<Rec_FloatTensor>:$rhs,
                       Optional<Rec_FloatTensor>:$bias,
                       Optional<Rec_FloatTensor>:$residual,
                       UnitAttr:$transpose_a, UnitAttr:$transpose_b,
                       DefaultValuedAttr<Rec_GemmEpilogueAttr,
                                         "GemmEpilogue::none">:$epilogue);
  let results = (outs Variadic<Rec_FloatTensor>:$results);
  let assemblyFormat = [{
    `(` $lhs `)` `x` `(` $rhs `)` (`bias` $bias^)? (`residual` $residual^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// One left operand for several products (y_j = lhs · rhs_j, or SwiGLU).
    bool isSharedLhs() { return getLhs().size() == 1 && getRhs().size() > 1; }
  }];
}

def Rec_GroupedWeightGradOp : Rec_Op<"grouped_weight_grad", [Pure]> {
  let summary = "several rec.weight_grad of one activation";
  let description = [{
    `x [..., k]` and `dy_j [..., n_j]` (the same leading dims) ->
    `dw_j [k, n_j] = Σ_positions x^T dy_j`: the gradients of the weights
    applied to the same input (q/k/v projections, SwiGLU's gate and up),
    with `x` read once for all of them.

    ```mlir
    %dq, %dk = rec.grouped_weight_grad %x, %dyq, %dyk : (...) -> (...)
    ```
  }];
  let arguments = (ins Rec_FloatTensor:$x, Variadic<Rec_FloatTensor>:$dys);
  let results = (outs Variadic<Rec_FloatTensor>:$results);
  let assemblyFormat = "$x `,` $dys attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion: multi-tensor optimizer updates (rec-fuse-optimizer)
//
// One op updates every trainable parameter of a training step and computes
// the global gradient norm its clipping uses, so the runtime runs the whole
// optimizer as one kernel (docs/fusion.md, "Optimizer fusion"). The operand
// segments line up: parameter i, its gradient and its state are element i
// of each segment.
//===----------------------------------------------------------------------===//

class Rec_MultiUpdateOp<string mnemonic, list<string> segments>
    : Rec_Op<mnemonic, [AttrSizedOperandSegments,
                        MemoryEffects<[MemRead, MemWrite]>,
                        AllTypesMatch<segments>]> {
  let hasVerifier = 1;
}

def Rec_MultiAdamWUpdateOp : Rec_MultiUpdateOp<"multi_adamw_update",
                                       ["params", "grads", "m", "v"]> {
  let summary = "AdamW / Adam steps of many parameters and their global "
                "gradient norm, in place";
  let description = [{
    For every i, what `rec.adamw_update` does to `params[i]`, `m[i]` and
    `v[i]` from `grads[i]`, with `decay[i]` (0 or 1) as its `decay` flag;
    `decoupled` is AdamW (else Adam's L2). The result `norm` is the global
    L2 norm of all `grads` (what `rec.global_norm` of them computes, in the
    same order), and the clipping of every update uses it.

    Example:
    ```mlir
    %n = rec.multi_adamw_update %step, %hp params(%w0, %w1) grads(%g0, %g1)
           m(%m0, %m1) v(%v0, %v1) {decay = array<i64: 1, 0>, decoupled}
           : !rec.tensor<[], i64>, !rec.tensor<[8], f32>,
             (!rec.tensor<[4, 8], f32>, !rec.tensor<[8], f32>)
           -> !rec.tensor<[], f32>
    ```
  }];
  let arguments = (ins Variadic<Rec_FloatTensor>:$params,
                       Variadic<Rec_FloatTensor>:$grads,
                       Variadic<Rec_FloatTensor>:$m,
                       Variadic<Rec_FloatTensor>:$v,
                       Rec_IndexTensor:$step, Rec_FloatTensor:$hparams,
                       DenseI64ArrayAttr:$decay, UnitAttr:$decoupled);
  let results = (outs Rec_FloatTensor:$norm);
  let assemblyFormat = [{
    $step `,` $hparams `params` `(` $params `)` `grads` `(` $grads `)`
    `m` `(` $m `)` `v` `(` $v `)` attr-dict `:` type($step) `,`
    type($hparams) `,` `(` type($params) `)` `->` type($norm)
  }];
}

def Rec_MultiSgdUpdateOp : Rec_MultiUpdateOp<"multi_sgd_update",
                                     ["params", "grads", "momentum"]> {
  let summary = "SGD steps of many parameters and their global gradient "
                "norm, in place";
  let description = [{
    For every i, what `rec.sgd_update` does to `params[i]` and
    `momentum[i]` from `grads[i]`, with `decay[i]` (0 or 1) as its `decay`
    flag; `norm` as for `rec.multi_adamw_update`.
  }];
  let arguments = (ins Variadic<Rec_FloatTensor>:$params,
                       Variadic<Rec_FloatTensor>:$grads,
                       Variadic<Rec_FloatTensor>:$momentum,
                       Rec_IndexTensor:$step, Rec_FloatTensor:$hparams,
                       DenseI64ArrayAttr:$decay);
  let results = (outs Rec_FloatTensor:$norm);
  let assemblyFormat = [{
    $step `,` $hparams `params` `(` $params `)` `grads` `(` $grads `)`
    `momentum` `(` $momentum `)` attr-dict `:` type($step) `,`
    type($hparams) `,` `(` type($params) `)` `->` type($norm)
  }];
}

//===----------------------------------------------------------------------===//
// Fusion: embedding lookups (rec-fuse-embedding)
//
// The lookups of several tables whose results are concatenated along the
// feature axis become one op that writes each table's rows straight into
// its columns of the concatenation; their backward, several embedding_grads
// of column slices of one gradient, becomes one op that scatter-adds every
// table's gradient in one launch (docs/fusion.md, "Embedding fusion").
// Plain ids only: semantic-id lookups keep their own kernels.
//===----------------------------------------------------------------------===//

def Rec_MultiEmbeddingOp : Rec_Op<"multi_embedding",
                                  [Pure, AttrSizedOperandSegments]> {
  let summary = "lookups in several tables, concatenated along the last axis";
  let description = [{
    Tables `[R_i, d_i]` and plain ids `id[...]` of one shape ->
    `[..., Σ d_i]`: what `rec.concat` (last axis) of the `rec.embedding`s
    `(tables[i], ids[i])` returns, written by one kernel.

    ```mlir
    %e = rec.multi_embedding tables(%t0, %t1) ids(%a, %b)
           : (!rec.tensor<[1000, 64], f32>, !rec.tensor<[4, 64], f32>,
              !rec.tensor<[B], !rec.id<1000>>, !rec.tensor<[B], !rec.id<4>>)
           -> !rec.tensor<[B, 128], f32>
    ```
  }];
  let arguments = (ins Variadic<Rec_FloatTensor>:$tables,
                       Variadic<Rec_IndexTensor>:$ids);
  let results = (outs Rec_FloatTensor:$result);
  let assemblyFormat = [{
    `tables` `(` $tables `)` `ids` `(` $ids `)` attr-dict `:`
    functional-type(operands, $result)
  }];
  let hasVerifier = 1;
}

def Rec_MultiEmbeddingGradOp : Rec_Op<"multi_embedding_grad", [Pure]> {
  let summary = "several rec.embedding_grad of column slices of one gradient";
  let description = [{
    `dy [..., D]` and plain ids `ids[i]` of dy's leading shape ->
    `dtables[i] [R_i, d_i]`: what `rec.embedding_grad ids[i],
    dy[..., offsets[i] : offsets[i] + d_i]` returns (a zero table with each
    slice row added to the row its id names, in lookup order), every table
    in one kernel.

    ```mlir
    %d0, %d1 = rec.multi_embedding_grad %dy ids(%a, %b)
                 {offsets = array<i64: 0, 64>} : (...) -> (...)
    ```
  }];
  let arguments = (ins Rec_FloatTensor:$dy, Variadic<Rec_IndexTensor>:$ids,
                       DenseI64ArrayAttr:$offsets);
  let results = (outs Variadic<Rec_FloatTensor>:$dtables);
  let assemblyFormat = [{
    $dy `ids` `(` $ids `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // ONEREC_DIALECT_REC_IR_RECOPS_TD
