//===- TestSource.h - a .rdsl buffer with captured diagnostics ----*- C++
//-*-===//
#ifndef ONEREC_TEST_UNIT_TESTSOURCE_H
#define ONEREC_TEST_UNIT_TESTSOURCE_H

#include "onerec/Frontend/Diagnostics.h"
#include "onerec/Frontend/Frontend.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>
#include <vector>

namespace onerec::test {

/// Holds one source buffer and records every diagnostic as "line:col: text".
class TestSource {
public:
  explicit TestSource(llvm::StringRef code) {
    bufferId = sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(code, "test.rdsl"), llvm::SMLoc());
    capture = std::make_unique<mlir::ScopedDiagnosticHandler>(
        &context, [this](mlir::Diagnostic &d) {
          std::string where;
          if (auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(d.getLocation()))
            where = std::to_string(loc.getLine()) + ":" +
                    std::to_string(loc.getColumn()) + ": ";
          if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
            errors.push_back(where + d.str());
          return mlir::success();
        });
  }

  llvm::StringRef text() const {
    return sourceMgr.getMemoryBuffer(bufferId)->getBuffer();
  }

  /// Compiles the buffer as a model.
  mlir::OwningOpRef<mlir::ModuleOp>
  compile(const frontend::FrontendOptions &options = {}) {
    return frontend::compileModel(sourceMgr, bufferId, context, options);
  }

  llvm::SourceMgr sourceMgr;
  mlir::MLIRContext context;
  unsigned bufferId;
  std::vector<std::string> errors;

private:
  std::unique_ptr<mlir::ScopedDiagnosticHandler> capture;
};

} // namespace onerec::test

#endif // ONEREC_TEST_UNIT_TESTSOURCE_H
