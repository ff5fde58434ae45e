//===- Builtins.h - the builtin op library of .rdsl ---------------*- C++
//-*-===//
//
// Builtins are functions the language provides: primitives that map to one
// or a few rec ops (BuiltinOps.cpp), and layers that also create parameters
// (BuiltinLayers.cpp). Each declares its parameters with defaults; a call's
// arguments are bound by position and keyword, and read through typed getters
// that report mistakes at the argument's own source position.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_FRONTEND_LIB_BUILTINS_H
#define ONEREC_FRONTEND_LIB_BUILTINS_H

#include "CompilerValue.h"

#include "onerec/Frontend/AST.h"

#include "mlir/Support/LogicalResult.h"

#include <optional>
#include <string>
#include <vector>

namespace onerec::frontend {

class BuiltinCall;
class ModelCompiler;

struct BuiltinParam {
  std::string name;
  /// Absent for required parameters; `none` for optional ones.
  std::optional<CompilerValue> defaultValue;
};

struct Builtin {
  std::string name;
  std::vector<BuiltinParam> params;
  CompilerValue (*impl)(BuiltinCall &call);
  /// One line for `onerecc --list-builtins` and the language reference.
  std::string summary;

  /// `attn(x, heads, mask = none, ...)`.
  std::string signature() const;
};

/// The builtin named `name`, or null.
const Builtin *lookupBuiltin(llvm::StringRef name);
/// Every builtin, sorted by name.
std::vector<const Builtin *> allBuiltins();
std::vector<std::string> builtinNames();

/// Tables of the builtin families.
std::vector<Builtin> primitiveBuiltins();
std::vector<Builtin> objectiveBuiltins();
std::vector<Builtin> layerBuiltins();

/// Shorthands the builtin implementations share.
inline CompilerValue poison() { return CompilerValue::poison(); }
inline rec::RecTensorType typeOf(mlir::Value value) {
  return llvm::cast<rec::RecTensorType>(value.getType());
}

/// Shorthands for builtin tables.
inline BuiltinParam required(std::string name) { return {std::move(name), {}}; }
inline BuiltinParam optional(std::string name) {
  return {std::move(name), CompilerValue::none()};
}
inline BuiltinParam withDefault(std::string name, CompilerValue value) {
  return {std::move(name), std::move(value)};
}

/// One call of a builtin with its arguments bound to its parameters.
class BuiltinCall {
public:
  /// Binds arguments; reports unknown, duplicate and missing ones. Returns
  /// failure after reporting (or silently when an argument is poison).
  static mlir::FailureOr<BuiltinCall>
  bind(ModelCompiler &compiler, const Builtin &builtin, const CallExpr &call,
       std::vector<CompilerValue> positional,
       std::vector<std::pair<const Arg *, CompilerValue>> keywords);

  ModelCompiler &compiler() const { return *owner; }
  const Builtin &builtin() const { return *spec; }
  llvm::SMLoc loc() const { return callLoc; }

  /// The bound value of a parameter (its default if not passed).
  const CompilerValue &get(llvm::StringRef name) const;
  /// True if the parameter was passed or has a default other than none.
  bool has(llvm::StringRef name) const { return !get(name).isNone(); }
  /// Where the argument was written (the call if it was not).
  llvm::SMLoc argLoc(llvm::StringRef name) const;

  mlir::FailureOr<mlir::Value> tensor(llvm::StringRef name);
  mlir::FailureOr<mlir::Value> floatTensor(llvm::StringRef name);
  /// A tensor, or a null value when the argument is none.
  mlir::FailureOr<mlir::Value> optionalTensor(llvm::StringRef name);
  mlir::FailureOr<int64_t> integer(llvm::StringRef name, int64_t min,
                                   int64_t max = INT64_MAX);
  mlir::FailureOr<double> number(llvm::StringRef name);
  mlir::FailureOr<bool> flag(llvm::StringRef name);
  /// A word (or string) from `allowed`.
  mlir::FailureOr<std::string> choice(llvm::StringRef name,
                                      llvm::ArrayRef<llvm::StringRef> allowed);
  /// An integer or a list of integers.
  mlir::FailureOr<llvm::SmallVector<int64_t>> integers(llvm::StringRef name);
  /// A shape: a list of integers and symbolic dimension names.
  mlir::FailureOr<llvm::SmallVector<rec::Dim>> shape(llvm::StringRef name);
  /// An element type: f32, bf16, i64, bool ...
  mlir::FailureOr<mlir::Type> dtype(llvm::StringRef name);

  /// An error at the call, prefixed with the builtin's name.
  mlir::InFlightDiagnostic error();
  /// An error at an argument, prefixed with the builtin's name.
  mlir::InFlightDiagnostic errorAt(llvm::StringRef name);

private:
  BuiltinCall(ModelCompiler &owner, const Builtin &spec, llvm::SMLoc callLoc)
      : owner(&owner), spec(&spec), callLoc(callLoc) {}
  unsigned indexOf(llvm::StringRef name) const;

  ModelCompiler *owner;
  const Builtin *spec;
  llvm::SMLoc callLoc;
  std::vector<CompilerValue> values;
  std::vector<llvm::SMLoc> locs;
};

/// An attention mask argument: `causal`, none, or a bool tensor, combined with
/// an optional key-padding argument (bool [B, keys]).
struct MaskArgument {
  bool causal = false;
  mlir::Value mask;
};
mlir::FailureOr<MaskArgument> maskArgument(BuiltinCall &call,
                                           llvm::StringRef maskName,
                                           llvm::StringRef paddingName);

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_LIB_BUILTINS_H
