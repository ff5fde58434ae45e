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

def RecFuseGemm : Pass<"rec-fuse-gemm", "::mlir::ModuleOp"> {
  let summary = "Fuses matrix products with their epilogues and shared operands";
  let description = [{
    After autodiff, per function block, in this order: SwiGLU
    (`silu(x·Wg) * (x·Wu)`, intermediates used only there) becomes one
    `rec.gemm` with a `swiglu` epilogue; `rec.matmul`s of one left operand
    (q/k/v projections, SwiGLU's gate and up in training, the decoder
    layers' cross-attention k/v of the encoder output) become one `rec.gemm`
    with a result each, placed at the first (later parameter reads move up);
    `rec.add` trees whose leaves are matmuls and at most one other tensor of
    the result's type (data gradients `dY1·W1ᵀ + dY2·W2ᵀ + acc`) become one
    `rec.gemm` accumulating into its output; a matmul followed by a bias add
    (vector over the last dim), an activation (relu, gelu, silu, sigmoid,
    tanh) and/or a residual add of its shape becomes one `rec.gemm` with that
    epilogue; `rec.weight_grad`s of one activation become one
    `rec.grouped_weight_grad`, placed at the last.

    Cost model: an intermediate is folded in only when the fused op is its
    sole user, so it never has to be written to memory. Nothing is fused
    across an op that writes memory (in-place updates). Results change only
    by floating-point reassociation.

    ```mlir
    %0 = rec.matmul %x, %w : ...
    %1 = rec.add %0, %b : ...
    %2 = rec.relu %1 : ...
    // becomes
    %2 = rec.gemm(%x) x (%w) bias %b {epilogue = #rec<gemm_epilogue relu>} : ...
    ```
  }];
  let options = [
    Option<"epilogues", "epilogues", "bool", "true",
           "Fuse bias, activation and residual adds into the GEMM">,
    Option<"sharedLhs", "shared-lhs", "bool", "true",
           "Fuse matmuls of one left operand (and SwiGLU pairs)">,
    Option<"sums", "sums", "bool", "true",
           "Fuse sums of matmuls into one accumulating GEMM">,
    Option<"weightGrads", "weight-grads", "bool", "true",
           "Group weight gradients of one activation">,
  ];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

#endif // ONEREC_PASSES_PASSES_TD
