//===- CompilerValue.h - values of .rdsl expressions --------------*- C++
//-*-===//
//
// An expression evaluates either to a compile-time value (a number, a flag, a
// word such as `swiglu`, a list, a dimension name) or to a tensor, which is an
// SSA value in the IR being built. `poison` stands for a value whose
// computation already reported an error: everything derived from it is
// poison too, silently, so one mistake gives one message.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_FRONTEND_LIB_COMPILERVALUE_H
#define ONEREC_FRONTEND_LIB_COMPILERVALUE_H

#include "onerec/Dialect/Rec/IR/Rec.h"

#include <string>
#include <vector>

namespace onerec::frontend {

class CompilerValue {
public:
  enum class Kind {
    Poison,
    None,
    Int,
    Float,
    Bool,
    String,
    Word,  // a bare enum word: causal, swiglu, catalog, sum ...
    DType, // an element type named in an expression: f32, bool ...
    Dim,   // a symbolic dimension named in an expression: B
    List,
    Tensor,
    Tuple, // several results: `a, b = topk(x, 5)`
  };

  CompilerValue() : kind(Kind::Poison) {}
  static CompilerValue poison() { return CompilerValue(); }
  static CompilerValue none() { return CompilerValue(Kind::None); }
  static CompilerValue integer(int64_t v);
  static CompilerValue floating(double v);
  static CompilerValue boolean(bool v);
  static CompilerValue string(std::string v);
  static CompilerValue word(std::string v);
  static CompilerValue dtype(mlir::Type type);
  static CompilerValue dim(std::string name);
  static CompilerValue list(std::vector<CompilerValue> elements);
  static CompilerValue tensor(mlir::Value value);
  static CompilerValue tuple(std::vector<CompilerValue> elements);

  Kind getKind() const { return kind; }
  bool is(Kind k) const { return kind == k; }
  bool isPoison() const { return kind == Kind::Poison; }
  bool isNone() const { return kind == Kind::None; }
  bool isNumber() const { return kind == Kind::Int || kind == Kind::Float; }
  bool isTensor() const { return kind == Kind::Tensor; }
  /// True for values known while compiling (everything but tensors).
  bool isCompileTime() const;
  /// True if this value or any element of it is poison.
  bool containsPoison() const;

  int64_t getInt() const { return intValue; }
  double getFloat() const { return floatValue; }
  bool getBool() const { return intValue != 0; }
  /// Int or float as a double.
  double asDouble() const;
  const std::string &getString() const { return text; }
  mlir::Type getDType() const { return type; }
  llvm::ArrayRef<CompilerValue> getElements() const { return elements; }
  mlir::Value getTensor() const { return value; }
  rec::RecTensorType getTensorType() const;

  /// "an integer (4)", "f32[B, 8]", "the word 'causal'": for messages.
  std::string describe() const;

private:
  explicit CompilerValue(Kind kind) : kind(kind) {}

  Kind kind;
  int64_t intValue = 0;
  double floatValue = 0;
  std::string text;
  mlir::Type type;
  mlir::Value value;
  std::vector<CompilerValue> elements;
};

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_LIB_COMPILERVALUE_H
