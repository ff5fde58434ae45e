//===- Passes.td - onerec compiler passes ------------------*- tablegen -*-===//
#ifndef ONEREC_PASSES_PASSES_TD
#define ONEREC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def RecInferShapes : Pass<"rec-infer-shapes", "::mlir::ModuleOp"> {
  let summary = "Recomputes the result types of rec ops from their operands";
  let description = [{
    Walks every function in program order and sets each rec op's result types
    to what its shape rule (ShapeInferenceOpInterface) computes from the
    current operand types, then updates function result types from their
    returns. Run it after changing argument types (binding a symbolic
    dimension, changing a dtype) to propagate the change; an op whose operands
    became invalid is reported at its source location and the pass fails.

    ```mlir
    // Before: the argument was changed from [B, 8] to [B, 16].
    %0 = rec.exp %arg0 : !rec.tensor<[B, 8], f32>
    // After:
    %0 = rec.exp %arg0 : !rec.tensor<[B, 16], f32>
    ```
  }];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

#endif // ONEREC_PASSES_PASSES_TD
