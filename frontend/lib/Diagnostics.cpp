//===- Diagnostics.cpp - located errors for .rdsl programs ----------------===//

#include "onerec/Frontend/Diagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/MLIRContext.h"

using namespace onerec::frontend;

mlir::Location DiagnosticReporter::location(llvm::SMLoc loc) const {
  unsigned buffer = sourceMgr.FindBufferContainingLoc(loc);
  if (buffer == 0)
    return mlir::UnknownLoc::get(context);
  auto [line, col] = sourceMgr.getLineAndColumn(loc, buffer);
  llvm::StringRef file =
      sourceMgr.getMemoryBuffer(buffer)->getBufferIdentifier();
  return mlir::FileLineColLoc::get(context, file, line, col);
}

DiagnosticReporter::DiagnosticReporter(llvm::SourceMgr &sourceMgr,
                                       mlir::MLIRContext *context,
                                       unsigned maxErrors)
    : sourceMgr(sourceMgr), context(context), maxErrors(maxErrors) {
  handler = context->getDiagEngine().registerHandler(
      [this](mlir::Diagnostic &diagnostic) -> mlir::LogicalResult {
        if (diagnostic.getSeverity() != mlir::DiagnosticSeverity::Error)
          return mlir::failure(); // let the printer show it
        ++numErrors;
        // Returning success consumes (hides) the diagnostic.
        return mlir::success(this->maxErrors &&
                             numErrors > this->maxErrors);
      });
}

DiagnosticReporter::~DiagnosticReporter() {
  context->getDiagEngine().eraseHandler(handler);
}

mlir::InFlightDiagnostic DiagnosticReporter::error(llvm::SMLoc loc) {
  return error(location(loc));
}

mlir::InFlightDiagnostic DiagnosticReporter::error(mlir::Location loc) {
  return mlir::emitError(loc);
}

std::string onerec::frontend::closestMatch(llvm::StringRef name,
                                           llvm::ArrayRef<std::string> candidates) {
  std::string best;
  unsigned bestDistance = ~0u;
  // Allow about one edit per three characters: `atten` -> `attn`, not
  // `x` -> `d`.
  unsigned limit = std::max<unsigned>(1, name.size() / 3);
  for (const std::string &candidate : candidates) {
    if (candidate == name || candidate.empty())
      continue;
    unsigned distance =
        name.edit_distance(candidate, /*AllowReplacements=*/true, limit + 1);
    // Every character replaced is not a misspelling (`x` is not `l`).
    if (distance <= limit && distance < name.size() &&
        distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string onerec::frontend::didYouMean(llvm::StringRef name,
                                         llvm::ArrayRef<std::string> candidates) {
  std::string match = closestMatch(name, candidates);
  if (match.empty())
    return "";
  return "; did you mean '" + match + "'?";
}
