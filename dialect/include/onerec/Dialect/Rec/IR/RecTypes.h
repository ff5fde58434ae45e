//===- RecTypes.h - rec dialect types -----------------------------*- C++
//-*-===//
#ifndef ONEREC_DIALECT_REC_IR_RECTYPES_H
#define ONEREC_DIALECT_REC_IR_RECTYPES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#include <optional>

namespace onerec::rec {

/// One dimension of a RecTensorType: a static extent, or the name of a
/// symbolic dimension declared by `rec.dim`.
struct Dim {
  int64_t size = 0;
  mlir::StringAttr symbol;

  static Dim fixed(int64_t size) { return Dim{size, {}}; }
  static Dim symbolic(mlir::StringAttr name) { return Dim{0, name}; }

  bool isStatic() const { return !symbol; }
  bool isSymbolic() const { return static_cast<bool>(symbol); }
  bool isOne() const { return isStatic() && size == 1; }

  bool operator==(const Dim &other) const {
    return size == other.size && symbol == other.symbol;
  }
  bool operator!=(const Dim &other) const { return !(*this == other); }
};

inline llvm::hash_code hash_value(const Dim &dim) {
  return llvm::hash_combine(dim.size, dim.symbol);
}

/// Prints `B` or `64`.
llvm::raw_ostream &operator<<(llvm::raw_ostream &os, const Dim &dim);

} // namespace onerec::rec

#define GET_TYPEDEF_CLASSES
#include "onerec/Dialect/Rec/IR/RecTypes.h.inc"

namespace onerec::rec {

/// Prints a tensor type the way `.rdsl` writes it: `f32[B, 256, 64]`,
/// `sid<256>[B, 5, 3]`. Used in user-facing diagnostics.
std::string formatTensorType(mlir::Type type);

/// Prints `B` or `64`.
std::string formatDim(const Dim &dim);

/// Prints a number the way people write it in messages: `1.5`, `-1`, `1e-06`
/// (diagnostics print a double as `1.500000e+00` otherwise).
std::string formatNumber(double value);

/// Prints an element type as `.rdsl` writes it: `f32`, `bool`, `id<100>`.
std::string formatElementType(mlir::Type type);

/// Prints `[B, 256, 64]`.
std::string formatDims(llvm::ArrayRef<Dim> dims);

/// The numpy-style broadcast of two shapes, or std::nullopt when a pair of
/// aligned dimensions is neither equal nor 1.
std::optional<llvm::SmallVector<Dim>> broadcastDims(llvm::ArrayRef<Dim> lhs,
                                                    llvm::ArrayRef<Dim> rhs);

/// True when `from` broadcasts to exactly `to`.
bool isBroadcastableTo(llvm::ArrayRef<Dim> from, llvm::ArrayRef<Dim> to);

} // namespace onerec::rec

#endif // ONEREC_DIALECT_REC_IR_RECTYPES_H
