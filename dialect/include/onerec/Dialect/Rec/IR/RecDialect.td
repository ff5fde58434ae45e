//===- RecDialect.td - the rec dialect ---------------------*- tablegen -*-===//
//
// The `rec` dialect: tensor-level operations of generative recommenders, with
// symbolic dimensions, entity-id and semantic-id element types, and the model
// structure (parameters, entries, generation and training configuration) that
// the onerec compiler lowers into an executable plan.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_DIALECT_REC_IR_RECDIALECT_TD
#define ONEREC_DIALECT_REC_IR_RECDIALECT_TD

include "mlir/IR/OpBase.td"

def Rec_Dialect : Dialect {
  let name = "rec";
  let cppNamespace = "::onerec::rec";
  let summary = "Tensor-level operations and model structure of generative recommenders";
  let description = [{
    The `rec` dialect is the IR of the onerec compiler. A model written in
    `.rdsl` becomes one `builtin.module` holding:

    * `rec.dim` declarations of the symbolic dimensions (batch, beam ...) with
      their maxima;
    * `rec.param` declarations of every weight with its initializer and seed;
    * one `func.func` per entry (`def`, `loss`, `reward`), whose arguments are
      the model inputs it reads, tagged with `rec.role` and `rec.name`;
    * optionally `rec.generate` and `rec.train`, the generation and training
      configuration carried to the runtime.

    Tensors are `!rec.tensor<[B, 256, 64], f32>`: each dimension is a static
    extent or the name of a declared symbolic dimension. Element types are the
    builtin floats and integers plus `!rec.id<V>` (an entity id in a vocabulary
    of V entries) and `!rec.sid<K>` (a semantic-ID token from a codebook of K
    codes).
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();

    /// Discardable attribute names the dialect owns.
    static constexpr ::llvm::StringLiteral kEntryAttrName = "rec.entry";
    static constexpr ::llvm::StringLiteral kRoleAttrName = "rec.role";
    static constexpr ::llvm::StringLiteral kNameAttrName = "rec.name";
    static constexpr ::llvm::StringLiteral kModelAttrName = "rec.model";
    /// Lowering annotations (rec-select-kernels, rec-plan-memory).
    static constexpr ::llvm::StringLiteral kKernelAttrName = "rec.kernel";
    static constexpr ::llvm::StringLiteral kOffsetsAttrName = "rec.offsets";
    static constexpr ::llvm::StringLiteral kArenaBytesAttrName = "rec.arena_bytes";
    static constexpr ::llvm::StringLiteral kArenaNaiveBytesAttrName =
        "rec.arena_naive_bytes";
    static constexpr ::llvm::StringLiteral kUnsupportedAttrName = "rec.unsupported";
    /// On a rec.stage: the training-step entry rec-autodiff built for it.
    static constexpr ::llvm::StringLiteral kTrainEntryAttrName = "rec.train_entry";
  }];
}

class Rec_Op<string mnemonic, list<Trait> traits = []>
    : Op<Rec_Dialect, mnemonic, traits>;

#endif // ONEREC_DIALECT_REC_IR_RECDIALECT_TD
