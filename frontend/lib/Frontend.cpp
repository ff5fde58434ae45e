//===- Frontend.cpp - compile .rdsl models to rec IR ----------------------===//

#include "onerec/Frontend/Frontend.h"

#include "ModelCompiler.h"
#include "onerec/Dialect/Rec/IR/Rec.h"
#include "onerec/Frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"

using namespace mlir;
using namespace onerec::frontend;

void onerec::frontend::loadFrontendDialects(MLIRContext &context) {
  context.loadDialect<onerec::rec::RecDialect, func::FuncDialect>();
}

OwningOpRef<ModuleOp> onerec::frontend::compileModel(
    llvm::SourceMgr &sourceMgr, unsigned bufferId, MLIRContext &context,
    const FrontendOptions &options, bool *stoppedAtLimit) {
  loadFrontendDialects(context);
  DiagnosticReporter diag(sourceMgr, &context, options.maxErrors);
  auto report = [&] {
    if (stoppedAtLimit)
      *stoppedAtLimit = diag.tooManyErrors();
  };

  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(bufferId);
  auto file =
      std::make_unique<FileAST>(Parser(buffer->getBuffer(), diag).parseFile());
  if (diag.hadErrors() || !file->model) {
    report();
    return nullptr;
  }

  const ModelDecl &model = *file->model;
  CompilerSession session(context, sourceMgr, diag, options);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(diag.location(model.loc), model.name);
  llvm::SmallString<256> path;
  if (llvm::sys::fs::real_path(buffer->getBufferIdentifier(), path))
    path = buffer->getBufferIdentifier();
  session.importStack.push_back(path.str().str());

  ModelCompiler compiler(session, *file, *module, {}, &options);
  (void)compiler.compile();
  if (diag.hadErrors() || failed(verify(*module))) {
    report();
    return nullptr;
  }
  report();
  return module;
}
