//===- Diagnostics.h - located errors for .rdsl programs ----------*- C++
//-*-===//
//
// The frontend reports through MLIR's diagnostic engine: a position in a
// `.rdsl` buffer becomes a FileLineColLoc, and the SourceMgr diagnostic
// handler prints `file:line:col: error: ...` with the source line and a caret.
// Errors found by later passes use the same locations, so they point at the
// same lines.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_FRONTEND_DIAGNOSTICS_H
#define ONEREC_FRONTEND_DIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/SourceMgr.h"

#include <string>

namespace onerec::frontend {

/// Emits errors at `.rdsl` positions and counts every error reported in the
/// context while it lives, whoever emits it (the parser, the model compiler,
/// an op's shape rule, the verifier). Past `maxErrors` it swallows errors and
/// their notes. Create it after the handler that prints diagnostics: handlers
/// run newest first, so it sees each diagnostic before the printer does.
class DiagnosticReporter {
public:
  DiagnosticReporter(llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context,
                     unsigned maxErrors = 20);
  ~DiagnosticReporter();
  DiagnosticReporter(const DiagnosticReporter &) = delete;
  DiagnosticReporter &operator=(const DiagnosticReporter &) = delete;

  /// The MLIR location of a position in any buffer of the source manager.
  mlir::Location location(llvm::SMLoc loc) const;

  /// Reports an error at `loc`. Returns a diagnostic that accepts more text
  /// and notes; once the error limit is reached, further errors are dropped.
  mlir::InFlightDiagnostic error(llvm::SMLoc loc);
  mlir::InFlightDiagnostic error(mlir::Location loc);

  unsigned getNumErrors() const { return numErrors; }
  bool hadErrors() const { return numErrors > 0; }
  /// True once the limit is reached: callers may stop early.
  bool tooManyErrors() const { return maxErrors && numErrors >= maxErrors; }

  llvm::SourceMgr &getSourceMgr() const { return sourceMgr; }
  mlir::MLIRContext *getContext() const { return context; }

private:
  llvm::SourceMgr &sourceMgr;
  mlir::MLIRContext *context;
  unsigned maxErrors;
  unsigned numErrors = 0;
  mlir::DiagnosticEngine::HandlerID handler;
};

/// The candidate closest to `name` by edit distance, if close enough to be a
/// plausible misspelling; empty otherwise.
std::string closestMatch(llvm::StringRef name,
                         llvm::ArrayRef<std::string> candidates);

/// `; did you mean 'attn'?` or nothing.
std::string didYouMean(llvm::StringRef name,
                       llvm::ArrayRef<std::string> candidates);

} // namespace onerec::frontend

#endif // ONEREC_FRONTEND_DIAGNOSTICS_H
