//===- onerec-opt.cpp - run rec passes on MLIR files ----------------------===//
//
// The mlir-opt of onerec: parses `.mlir`, runs any registered pass or
// pipeline, prints the result. The lit suite drives every pass through it.
//
//===----------------------------------------------------------------------===//

#include "onerec/Dialect/Rec/IR/Rec.h"
#include "onerec/Passes/Passes.h"
#include "onerec/Passes/Pipelines.h"

#include "mlir/Dialect/Func/Extensions/InlinerExtension.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<onerec::rec::RecDialect, mlir::func::FuncDialect>();
  mlir::func::registerInlinerExtension(registry);

  onerec::registerOnerecPasses();
  onerec::registerPipelines();
  // The generic cleanups the onerec pipelines use, runnable alone too.
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerInlinerPass();
  mlir::registerSymbolDCEPass();

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "onerec optimizer driver\n", registry));
}
