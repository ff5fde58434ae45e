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
        return mlir::success(this->maxErrors && numErrors > this->maxErrors);
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

/// Edit distance where swapping two adjacent characters is one edit (the
/// optimal string alignment distance): `widht` is one edit from `width`.
static unsigned editDistance(llvm::StringRef a, llvm::StringRef b) {
  std::vector<std::vector<unsigned>> d(a.size() + 1,
                                       std::vector<unsigned>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string
onerec::frontend::closestMatch(llvm::StringRef name,
                               llvm::ArrayRef<std::string> candidates) {
  std::string best;
  unsigned bestDistance = ~0u;
  // Allow about one edit per three characters: `atten` -> `attn`, not
  // `x` -> `d`.
  unsigned limit = std::max<unsigned>(1, name.size() / 3);
  for (const std::string &candidate : candidates) {
    if (candidate == name || candidate.empty())
      continue;
    // Names far apart in length cannot be close; skip the table.
    if (std::max(name.size(), candidate.size()) -
            std::min(name.size(), candidate.size()) >
        limit)
      continue;
    unsigned distance = editDistance(name, candidate);
    // Every character replaced is not a misspelling (`x` is not `l`).
    if (distance <= limit && distance < name.size() &&
        distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string
onerec::frontend::didYouMean(llvm::StringRef name,
                             llvm::ArrayRef<std::string> candidates) {
  std::string match = closestMatch(name, candidates);
  if (match.empty())
    return "";
  return "; did you mean '" + match + "'?";
}
