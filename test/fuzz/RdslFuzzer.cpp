//===- RdslFuzzer.cpp - fuzz target: .rdsl source -> rec IR ---------------===//
//
// Any byte string is a valid input: the compiler must report errors for it,
// never crash, hang, or produce IR that fails verification. The same entry
// point serves libFuzzer (ONEREC_FUZZ builds) and the standalone driver that
// CTest runs over the corpus.

#include "onerec/Frontend/Frontend.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sourceMgr;
  unsigned buffer = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.rdsl"),
      llvm::SMLoc());
  mlir::MLIRContext context;
  context.getDiagEngine().registerHandler(
      [](mlir::Diagnostic &) { return mlir::success(); });
  onerec::frontend::FrontendOptions options;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      onerec::frontend::compileModel(sourceMgr, buffer, context, options);
  // compileModel verifies what it returns; a module that fails verification
  // here would be a frontend bug, which must crash loudly for the fuzzer.
  if (module && mlir::failed(mlir::verify(*module))) {
    std::fprintf(stderr, "compileModel returned IR that does not verify\n");
    std::abort();
  }
  return 0;
}
