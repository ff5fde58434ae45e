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

def RecBindDims : Pass<"rec-bind-dims", "::mlir::ModuleOp"> {
  let summary = "Specializes symbolic dimensions to static sizes";
  let description = [{
    Replaces each named symbolic dimension by a static extent in every type of
    the module (entry arguments, op results, parameters, the generate
    configuration), checks the extent against the dimension's declared
    maximum, and removes the `rec.dim` declaration. Use it to compile a plan
    for a fixed batch or beam width, where kernels and memory plans can be
    specialized.

    ```mlir
    // --rec-bind-dims="dims=B=32"
    rec.dim @B max 1024                       // removed
    %0 = rec.exp %x : !rec.tensor<[B, 8], f32> // becomes [32, 8]
    ```
  }];
  let options = [
    ListOption<"dims", "dims", "std::string",
               "Bindings NAME=SIZE, comma separated (B=32,W=128)">,
  ];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

#endif // ONEREC_PASSES_PASSES_TD
