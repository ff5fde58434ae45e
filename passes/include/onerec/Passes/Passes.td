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
// CUDA code generation for fused groups (issue 5)
//===----------------------------------------------------------------------===//

def RecGenerateCuda : Pass<"rec-generate-cuda", "::mlir::ModuleOp"> {
  let summary = "Generates and compiles (NVRTC) a CUDA kernel per fused group";
  let description = [{
    For each `rec.fused` op: generates one CUDA C++ kernel (a block holds
    rows of the group's iteration domain, threads stride over a row's
    columns; last-axis reductions are accumulated in one pass over the row
    per reduction depth and combined by warp shuffles, across warps through
    shared memory, in a fixed order), compiles it with NVRTC for `arch` at
    compile time, and attaches `rec.cuda_kernel` (the `extern "C"` name, a
    hash of the source, so identical groups share one kernel),
    `rec.cuda_source`, `rec.cuda_domain` (the iteration domain, whose
    extents follow the kernel's pointers as arguments), `rec.cuda_launch`
    (threads per row, rows per block), `rec.cuda_cubin` and `rec.cuda_ptx`;
    the module gets `rec.cuda_arch`. The math is that of the CPU kernels.
    A group the generator cannot express, or code NVRTC rejects, is an error
    at the group's location with NVRTC's log. docs/fusion.md, "CUDA code
    generation", describes the kernels.

    ```mlir
    // --rec-generate-cuda="arch=sm_90"
    %y = rec.fused(%x, %b) {rec.cuda_cubin = "\7FELF...",
        rec.cuda_domain = !rec.tensor<[B, 64], f32>,
        rec.cuda_kernel = "onerec_fused_5c1e0f3a9b7d2468",
        rec.cuda_launch = array<i64: 32, 8>, rec.cuda_ptx = "...",
        rec.cuda_source = "..."} : ... { ... }
    ```
  }];
  let options = [
    Option<"arch", "arch", "std::string", "\"sm_90\"",
           "GPU architecture to compile for (sm_80, sm_90 ...)">,
    Option<"compile", "compile", "bool", "true",
           "Compile with NVRTC (false: generate and attach the source only)">,
    Option<"printSource", "print-source", "bool", "false",
           "Print each distinct kernel's source to stdout (for tests)">,
  ];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

#endif // ONEREC_PASSES_PASSES_TD
