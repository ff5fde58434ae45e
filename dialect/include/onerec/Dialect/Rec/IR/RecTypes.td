//===- RecTypes.td - rec dialect types ---------------------*- tablegen -*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECTYPES_TD
#define ONEREC_DIALECT_REC_IR_RECTYPES_TD

include "onerec/Dialect/Rec/IR/RecDialect.td"
include "mlir/IR/AttrTypeBase.td"

class Rec_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Rec_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Rec_IdType : Rec_Type<"Id", "id"> {
  let summary = "an entity identifier (user, item, category ...)";
  let description = [{
    A 64-bit identifier drawn from a vocabulary of `vocab` entries (valid ids
    are `0 .. vocab-1`). `vocab = 0` means an unbounded raw id, which must be
    hashed into buckets (`rec.hash`) before it can index an embedding table.
    Ids support no arithmetic: they index tables and compare for equality.

    Example: `!rec.id<12102>`
  }];
  let parameters = (ins "int64_t":$vocab);
  let assemblyFormat = "`<` $vocab `>`";
  let genVerifyDecl = 1;
}

def Rec_SidType : Rec_Type<"Sid", "sid"> {
  let summary = "a semantic-ID token";
  let description = [{
    One code of an item's semantic ID, from a codebook of `codebook` codes. An
    item is a short tuple of such tokens, one per level (OneRec uses 3 levels;
    the level is the innermost tensor dimension).

    Example: `!rec.sid<8192>`
  }];
  let parameters = (ins "int64_t":$codebook);
  let assemblyFormat = "`<` $codebook `>`";
  let genVerifyDecl = 1;
}

def Rec_TensorType : Rec_Type<"RecTensor", "tensor"> {
  let summary = "a tensor with static and symbolic dimensions";
  let description = [{
    `!rec.tensor<[B, 256, 64], f32>`: a dense tensor whose dimensions are
    static extents or names of symbolic dimensions declared by `rec.dim` (bound
    at run time, at most their declared maximum). `[]` is a scalar. The element
    type is a builtin float (`f32`, `bf16`, `f16`), a builtin signless integer
    (`i1` for booleans, `i32`, `i64`), `!rec.id<V>` or `!rec.sid<K>`.
  }];
  let parameters = (ins ArrayRefParameter<"::onerec::rec::Dim", "dimensions">:$dims,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    TypeBuilderWithInferredContext<(ins "::llvm::ArrayRef<::onerec::rec::Dim>":$dims,
                                        "::mlir::Type":$elementType), [{
      return $_get(elementType.getContext(), dims, elementType);
    }]>
  ];
  let extraClassDeclaration = [{
    /// A scalar (rank-0) tensor of `elementType`.
    static RecTensorType getScalar(::mlir::Type elementType) {
      return get({}, elementType);
    }
    /// A tensor whose dimensions are all static.
    static RecTensorType getStatic(::llvm::ArrayRef<int64_t> shape,
                                   ::mlir::Type elementType);

    int64_t getRank() const { return getDims().size(); }
    ::onerec::rec::Dim getDim(int64_t i) const { return getDims()[i]; }
    bool hasStaticShape() const;
    /// Number of elements if every dimension is static.
    std::optional<int64_t> getStaticNumElements() const;
    /// The same dimensions with another element type.
    RecTensorType withElementType(::mlir::Type elementType) const {
      return get(getDims(), elementType);
    }
    RecTensorType withDims(::llvm::ArrayRef<::onerec::rec::Dim> dims) const {
      return get(dims, getElementType());
    }
    bool isFloat() const { return ::llvm::isa<::mlir::FloatType>(getElementType()); }
    bool isBool() const { return getElementType().isInteger(1); }
    /// Integers (not bool), ids and semantic ids: what can index a table.
    bool isIndexLike() const;
  }];
}

#endif // ONEREC_DIALECT_REC_IR_RECTYPES_TD
