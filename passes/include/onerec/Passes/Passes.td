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

def RecAutodiff : Pass<"rec-autodiff", "::mlir::ModuleOp"> {
  let summary = "Builds the gradient and training-step entries of each stage";
  let description = [{
    For each `minimize` stage of `rec.train` (the first unprefixed, later
    ones prefixed `<stage>.`): `train_grad` returns the stage objective (the
    weighted sum of its loss entries, inlined) and `grad.<param>` for every
    trainable parameter it reaches, by reverse-mode differentiation through
    each op's DifferentiableOpInterface rule; `train_step` adds the inputs
    `optimizer.step` and `optimizer.hparams`, computes the global gradient
    norm and updates every parameter in place (`rec.adamw_update` or
    `rec.sgd_update`, with optimizer state created as `rec.param ... state_of`),
    moves auxiliary-loss-free MoE routing biases, and returns `loss` and
    `grad_norm`; with `accumulate = k > 1`, `train_accumulate` adds the
    gradients into `<param>.grad_acc` accumulators that `train_step` consumes
    and clears. Parameters marked `buffer` are not trained. An op on the
    gradient path without a rule is an error at its location.
    ```mlir
    func.func @train_step(%seq: ..., %pos: ..., %neg: ...,
                          %step: !rec.tensor<[], i64>, %hp: !rec.tensor<[8], f32>)
        -> (!rec.tensor<[], f32> {rec.name = "loss"}, ...) {
      ...
      rec.adamw_update %w, %dw, %m, %v, %step, %hp, %norm {decay, decoupled} : ...
    }
    ```
  }];
  let dependentDialects = ["::onerec::rec::RecDialect",
                           "::mlir::func::FuncDialect"];
}

def RecSelectKernels : Pass<"rec-select-kernels", "::mlir::ModuleOp"> {
  let summary = "Chooses the runtime kernel that realizes each op of an entry";
  let description = [{
    Annotates every op of every entry function with `rec.kernel`: the plan
    kernel (`"Matmul"`, `"Attention"` ...), `"view"` for ops whose result is
    their operand's bytes under another type (`rec.reshape`, and
    `rec.dropout` outside training), or `"param"` for parameter reads. An
    entry with an op no runtime kernel realizes yet (catalog queries, which
    need the generation runtime) is marked `rec.unsupported` with the reason
    and left out of the plan, with a warning at the op.

    ```mlir
    %1 = rec.matmul %x, %w {rec.kernel = "Matmul"} : ...
    %2 = rec.reshape %1 {rec.kernel = "view"} : ...
    ```
  }];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

def RecPlanMemory : Pass<"rec-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Assigns every intermediate tensor of an entry an arena offset";
  let description = [{
    For each entry (after rec-select-kernels): sizes every kernel result for
    the symbolic dimensions at their declared maxima (so one plan is valid for
    every binding up to them), computes lifetimes in kernel order (views
    extend the lifetime of the bytes they alias; returned values live to the
    end), lets an elementwise result reuse the bytes of a same-typed operand
    that dies at that op, and packs the buffers greedily, largest first, at
    the lowest offset that overlaps no buffer alive at the same time.
    Results get `rec.offsets` (bytes, one per result); the function gets
    `rec.arena_bytes`, its peak, and `rec.arena_naive_bytes`, what it would
    need without reuse.

    ```mlir
    %1 = rec.matmul %x, %w {rec.kernel = "Matmul", rec.offsets = array<i64: 0>} : ...
    ```
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", "64",
           "Byte alignment of every buffer">,
  ];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

//===----------------------------------------------------------------------===//
// Fusion: optimizer and embeddings
//===----------------------------------------------------------------------===//

def RecFuseOptimizer : Pass<"rec-fuse-optimizer", "::mlir::ModuleOp"> {
  let summary = "Fuses a training step's optimizer updates and gradient norm "
                "into one multi-tensor update";
  let description = [{
    In every `train_step` entry, replaces the per-parameter
    `rec.adamw_update`s (or `rec.sgd_update`s) and the `rec.global_norm`
    their clipping reads by one `rec.multi_adamw_update`
    (`rec.multi_sgd_update`), which the runtime executes as one kernel over
    the parameters, gradients and optimizer state (laid out contiguously by
    the runtime's parameter store: docs/fusion.md, "Optimizer fusion"). The
    fused op returns the norm, computed in the same order, so results are
    bit-identical to the unfused updates.

    The updates fuse when they all use the same step, hyperparameters and
    norm, that norm is a `rec.global_norm` of exactly their gradients in
    their order and is used by nothing but them and the entry's return,
    they update distinct parameters, agree on `decoupled`, and nothing but
    `rec.param_ref`s lies between them. Otherwise the entry is left as it
    is. At most `max-params` parameters fuse (the plan's operand limit).

    ```mlir
    // Before:
    %n = rec.global_norm %g0, %g1 : ...
    rec.adamw_update %w0, %g0, %m0, %v0, %step, %hp, %n {decay, decoupled} : ...
    rec.adamw_update %w1, %g1, %m1, %v1, %step, %hp, %n {decoupled} : ...
    // After:
    %n = rec.multi_adamw_update %step, %hp params(%w0, %w1) grads(%g0, %g1)
           m(%m0, %m1) v(%v0, %v1) {decay = array<i64: 1, 0>, decoupled} : ...
    ```
  }];
  let options = [
    Option<"maxParams", "max-params", "int64_t", "1023",
           "Fuse only when the step updates at most this many parameters">,
  ];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

#endif // ONEREC_PASSES_PASSES_TD
