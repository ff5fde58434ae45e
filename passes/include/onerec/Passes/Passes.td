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

def RecCleanup : Pass<"rec-cleanup", "::mlir::ModuleOp"> {
  let summary = "Canonicalization, CSE and dead-code elimination to a fixpoint";
  let description = [{
    Runs every loaded dialect's and op's canonicalization patterns and folds,
    then common-subexpression elimination, then dead-code elimination of the
    entry bodies, and repeats until a round changes nothing (at most
    `max-rounds`). The lowering pipeline runs it before and after
    `rec-autodiff`: autodiff writes `x * 1`, zeros added to gradients, the
    same transpose twice and forward values no gradient reads, and operator
    counts and fusion should see none of that.

    ```mlir
    %0 = rec.mul %x, %one       // x * 1: folded to %x
    %1 = rec.exp %x             // two identical ops: one remains
    %2 = rec.exp %x
    %3 = rec.add %1, %2
    %4 = rec.tanh %x            // unused: erased
    ```
  }];
  let options = [
    Option<"maxRounds", "max-rounds", "unsigned", /*default=*/"4",
           "Rounds of canonicalize + CSE + DCE before giving up on a fixpoint">,
  ];
  let dependentDialects = ["::onerec::rec::RecDialect",
                           "::mlir::func::FuncDialect"];
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
// Fusion (issue 5): the -O0 primitive path and attention fusion
//===----------------------------------------------------------------------===//

def RecDecompose : Pass<"rec-decompose", "::mlir::ModuleOp"> {
  let summary = "Spells composite rec ops with primitive ones";
  let description = [{
    Rewrites `rec.layer_norm`, `rec.rms_norm`, `rec.cross_entropy`,
    `rec.bce_with_logits`, `rec.sampled_softmax`, `rec.attention` (every
    variant: grouped-query heads, causal, masks, bias, cross-attention,
    queries broadcast over the batch, HSTU's silu scores),
    `rec.global_norm`, `rec.adamw_update` and `rec.sgd_update` into
    primitive rec ops (matmul, transpose, reshape, elementwise arithmetic,
    reductions, softmax, gather, select, cmp, iota, cast, and `rec.assign`
    for the optimizer's in-place writes) that compute what the composite's
    kernel computes, up to floating-point reassociation. Every op it emits
    has a gradient rule, so `rec-autodiff` can differentiate the result.
    `-O0` runs it before and after `rec-autodiff` (which creates the
    optimizer ops), so that every operator of a training step is one
    primitive kernel.

    `rec.moe` (data-dependent routing: which tokens reach which expert is
    known only at run time) and `rec.dropout` (its mask comes from the
    runtime's random stream) stay as they are, as does a composite whose
    shape the primitives cannot express (a symbolic class count, causal
    attention between queries and keys of different symbolic lengths).

    ```mlir
    %y = rec.rms_norm %x, %g {eps = 1.0e-06 : f64} : ...
    // becomes
    %0 = rec.mul %x, %x ...
    %1 = rec.reduce_mean %0 {axes = array<i64: -1>, keepdim} ...
    %2 = rec.add %1, %eps ...
    %3 = rec.rsqrt %2 ...
    %4 = rec.mul %x, %3 ...
    %y = rec.mul %4, %g ...
    ```
  }];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

def RecFuseAttention : Pass<"rec-fuse-attention", "::mlir::ModuleOp"> {
  let summary = "Rewrites attention spelled with primitive ops into rec.attention";
  let description = [{
    Finds scaled dot-product attention written with primitives and replaces
    it by one `rec.attention` (a flash-style kernel whose backward is
    `rec.attention_grad`): heads split from the last axis by reshape and
    transpose (grouped-query heads as rec-decompose writes them), scores
    `matmul(q, k, transpose_b)` (or `matmul(q, transpose(k))`) times a
    constant scale, an optional additive bias, keys excluded by
    `select(allowed, scores, -inf)` where `allowed` is a mask, the causal
    comparison of two iotas, or their conjunction, `softmax` over the key
    axis (optionally followed by `select(allowed, p, 0)`, the kernel's zeros
    for a row with no visible key), or HSTU's `silu(scores) * (1 / Lk)`,
    then the product with the values and the heads merged back. It runs
    before `rec-autodiff`, so the backward is one `rec.attention_grad`.

    It leaves alone what would compute something else: softmax over another
    axis, a scale applied after the softmax, a finite fill without the
    select after the softmax (a fully masked row would get uniform weights,
    not zeros), a bias or mask that broadcasts differently from the op's
    rule, inconsistent head counts.

    ```mlir
    %s = rec.matmul %q, %k {transpose_b} : ...
    %t = rec.mul %s, %scale : ...
    %p = rec.softmax %t {axis = -1 : i64} : ...
    %o = rec.matmul %p, %v : ...
    // becomes
    %o = rec.attention %q, %k, %v {num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = ...}
    ```
  }];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

def RecDeriveDecodeStep : Pass<"rec-derive-decode-step", "::mlir::ModuleOp"> {
  let summary = "Derives token-by-token decoding entries from a generate section's decoder";
  let description = [{
    For each `rec.generate`, derives from its decoder def (tokens `[B, T]`
    and encoder-side arguments `[B, ...]` to logits `[B, items, levels, K]`)
    two entries (docs/generation.md, "Decoding entries"):

    - `<decoder>_init`: what reads no token, returned as `context.i`: the
      cross-attention keys and values, computed once per request.
    - `<decoder>_step`: one new token per beam row (`tokens [beams, 1]`,
      `positions [beams]`, `rows [beams]`, the contexts and a key/value
      cache `cache.k.j` / `cache.v.j [beams, T, width]` per causal
      self-attention) to `logits [beams, levels, K]` (every level's head at
      that position) and the token's keys and values `cache.k.j.new` /
      `cache.v.j.new [beams, 1, width]`.

    The sequence axis is tracked from the tokens through the decoder:
    position-wise ops run at one position, a weight indexed by position (a
    positional embedding) is gathered at each row's position, encoder-side
    values are gathered by `rows`, causal self-attention becomes
    `rec.decode_attention` over the cache and the new token, cross-attention
    a `rec.decode_attention` that reads the request's keys through `rows`
    (shared by its beams), and `session_head` scores the state with every
    level's head. What would mix positions otherwise (a reduction over the
    sequence, non-causal self-attention, a mask) is an error at its location.
    Records the entries on the `rec.generate` (`init`, `step`) and declares
    the `beams` dimension with maximum `max-rows`.
  }];
  let options = [
    Option<"maxRows", "max-rows", "int64_t", /*default=*/"4096",
           "The most beam rows one decoding step takes (the `beams` dim's max)">
  ];
  let dependentDialects = ["::onerec::rec::RecDialect", "::mlir::func::FuncDialect"];
}

//===----------------------------------------------------------------------===//
// Fusion: elementwise and reduction groups
//===----------------------------------------------------------------------===//

def RecFuseElementwise : Pass<"rec-fuse-elementwise", "::mlir::ModuleOp"> {
  let summary = "Groups elementwise ops and last-axis reductions into rec.fused kernels";
  let description = [{
    In every entry function, walks the ops in program order and merges each
    elementwise op (unary, binary, `cmp`, `select`, `cast`, `broadcast`) and
    each last-axis reduction into the group of the fusable ops that produce
    its operands, when the merged group still has one iteration shape (see
    `rec.fused`), no op between its first and last member writes memory
    (optimizer updates), every value a member gives to an op outside the
    group is used after the group's last member, and the group reads at most
    `max-inputs` tensors. Each group of two or more ops becomes one
    `rec.fused` op at its last member's place, yielding every value that is
    used outside it (a multi-output group); scalar constants are copied into
    the bodies that read them. A reduction without `keepdim` ends its group:
    the body reduces with `keepdim` and a `rec.reshape` (a view) outside
    drops the 1.

    With `expand-composites`, a last-axis `rec.softmax`, `rec.rms_norm` or
    `rec.layer_norm` whose operand is computed by a fusable op is first
    expanded into primitives, so it joins that op's group: a residual `add`
    and the norm that follows become one kernel yielding both the sum and
    the normalized value; mask, scale and softmax become one. Fusion only
    reassociates floating-point work; docs/fusion.md describes the cost
    model.

    ```mlir
    // Before:
    %s = rec.add %x, %r : ...
    %y = rec.rms_norm %s, %g {eps = 1.0e-6} : ...
    // After:
    %f:2 = rec.fused(%x, %r, %g) : (...) -> (...) {
      ... rec.yield %sum, %normalized : ...
    }
    ```
  }];
  let options = [
    Option<"maxInputs", "max-inputs", "unsigned", "16",
           "Most tensors one group may read">,
    Option<"expandComposites", "expand-composites", "bool", "true",
           "Expand last-axis softmax and norms fed by fusable ops into primitives">,
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

//===----------------------------------------------------------------------===//
// Fusion: GEMMs with their epilogues and shared operands
//===----------------------------------------------------------------------===//

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

def RecFuseEmbedding : Pass<"rec-fuse-embedding", "::mlir::ModuleOp"> {
  let summary = "Fuses concatenated embedding lookups and their gradients "
                "into one kernel each";
  let description = [{
    Forward: a `rec.concat` along the last axis whose operands are all
    `rec.embedding` lookups of plain ids, each used by nothing else, becomes
    one `rec.multi_embedding` that writes every table's rows straight into
    its columns of the concatenation.

    Backward: the `rec.embedding_grad`s (plain ids) of an entry whose `dy`
    are `rec.slice`s along the last axis of one gradient (how autodiff
    spells the concat's backward) become one `rec.multi_embedding_grad` of
    that gradient with each slice's start as its offset; slices left
    without users are erased. Each table's rows add their contributions in
    lookup order, so results are bit-identical to the unfused kernels.

    ```mlir
    // Before:
    %a = rec.embedding %t0, %i0 : ...
    %b = rec.embedding %t1, %i1 : ...
    %e = rec.concat %a, %b {axis = 1 : i64} : ...
    // After:
    %e = rec.multi_embedding tables(%t0, %t1) ids(%i0, %i1) : ...
    ```
  }];
  let dependentDialects = ["::onerec::rec::RecDialect"];
}

#endif // ONEREC_PASSES_PASSES_TD
