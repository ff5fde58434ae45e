//===- Frontend.h - compile .rdsl models to rec IR ----------------*- C++
//-*-===//
//
// The public entry of the frontend: source text in, a verified `builtin.module`
// of the rec dialect out. Errors go to the MLIR context's diagnostic handlers
// (install a SourceMgrDiagnosticHandler to print them with source lines).
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_FRONTEND_FRONTEND_H
#define ONEREC_FRONTEND_FRONTEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <utility>
#include <vector>

namespace onerec::frontend {

struct FrontendOptions {
  /// `-D name=value` overrides of constants (or of a dimension's maximum),
  /// applied after the selected configuration.
  std::vector<std::pair<std::string, std::string>> defines;
  /// A `config <name> { ... }` of the model to apply first.
  std::string config;
  /// Directories searched for imported files after the importing file's own.
  std::vector<std::string> importDirs;
  /// Stop reporting after this many errors (0: no limit).
  unsigned maxErrors = 20;
};

/// Compiles the model in buffer `bufferId` of `sourceMgr` into a new, verified
/// module in `context`. Returns null after reporting errors. Compilation stops
/// once `options.maxErrors` errors were reported; `stoppedAtLimit` says so.
mlir::OwningOpRef<mlir::ModuleOp> compileModel(llvm::SourceMgr &sourceMgr,
                                               unsigned bufferId,
                                               mlir::MLIRContext &context,
                                               const FrontendOptions &options,
                                               bool *stoppedAtLimit = nullptr);

/// Lists the builtin functions of the language: signature and summary.
void printBuiltinReference(llvm::raw_ostream &os);

/// Registers what the frontend's output needs in a context.
void loadFrontendDialects(mlir::MLIRContext &context);

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_FRONTEND_H
