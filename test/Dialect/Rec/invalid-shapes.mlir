// RUN: onerec-opt %s --split-input-file --verify-diagnostics

// Shape rules (inferResultTypes) of the compute ops. invalid.mlir holds the
// first cases; these cover the remaining messages.

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

func.func @neg_bool(%a: !rec.tensor<[4], i1>) {
  // expected-error @+1 {{neg: expects a numeric tensor, got bool[4]}}
  %0 = rec.neg %a : !rec.tensor<[4], i1>
  return
}

// -----

func.func @abs_id(%a: !rec.tensor<[4], !rec.id<10>>) {
  // expected-error @+1 {{abs: expects a numeric tensor, got id<10>[4]}}
  %0 = rec.abs %a : !rec.tensor<[4], !rec.id<10>>
  return
}

// -----

func.func @and_float(%a: !rec.tensor<[4], f32>) {
  // expected-error @+1 {{and: expects bool tensors, got f32[4]}}
  %0 = rec.and %a, %a : !rec.tensor<[4], f32>, !rec.tensor<[4], f32> -> !rec.tensor<[4], f32>
  return
}

// -----

func.func @add_bool(%a: !rec.tensor<[4], i1>) {
  // expected-error @+1 {{add: expects numeric tensors, got bool[4]}}
  %0 = rec.add %a, %a : !rec.tensor<[4], i1>, !rec.tensor<[4], i1> -> !rec.tensor<[4], i1>
  return
}

// -----

func.func @pow_int(%a: !rec.tensor<[4], i64>) {
  // expected-error @+1 {{pow: expects float tensors, got i64[4]}}
  %0 = rec.pow %a, %a : !rec.tensor<[4], i64>, !rec.tensor<[4], i64> -> !rec.tensor<[4], i64>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

func.func @reduce_bool(%a: !rec.tensor<[4], i1>) {
  // expected-error @+1 {{reduce_sum: expects a numeric tensor, got bool[4]; cast booleans to f32 first}}
  %0 = rec.reduce_sum %a {axes = array<i64>} : (!rec.tensor<[4], i1>) -> !rec.tensor<[], i1>
  return
}

// -----

func.func @reduce_mean_int(%a: !rec.tensor<[4], i64>) {
  // expected-error @+1 {{reduce_mean: expects a float tensor, got i64[4]}}
  %0 = rec.reduce_mean %a {axes = array<i64>} : (!rec.tensor<[4], i64>) -> !rec.tensor<[], i64>
  return
}

// -----

func.func @rms_norm_scalar(%x: !rec.tensor<[], f32>, %g: !rec.tensor<[1], f32>) {
  // expected-error @+1 {{rms_norm: expects at least one dimension, got f32[]}}
  %0 = rec.rms_norm %x, %g {eps = 1.0e-6} : (!rec.tensor<[], f32>, !rec.tensor<[1], f32>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @rms_norm_gain(%x: !rec.tensor<[B, 8], f32>, %g: !rec.tensor<[4], f32>) {
  // expected-error @+1 {{rms_norm: gain f32[4] must match the last dimension of f32[B, 8]}}
  %0 = rec.rms_norm %x, %g {eps = 1.0e-6} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>) -> !rec.tensor<[B, 8], f32>
  return
}

// -----

func.func @rms_norm_eps(%x: !rec.tensor<[B, 8], f32>, %g: !rec.tensor<[8], f32>) {
  // expected-error @+1 {{rms_norm: eps must be positive}}
  %0 = rec.rms_norm %x, %g {eps = 0.0} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>) -> !rec.tensor<[B, 8], f32>
  return
}

// -----

func.func @layer_norm_bias(%x: !rec.tensor<[B, 8], f32>, %g: !rec.tensor<[8], f32>, %b: !rec.tensor<[B, 8], f32>) {
  // expected-error @+1 {{layer_norm: bias f32[B, 8] must match the last dimension of f32[B, 8]}}
  %0 = rec.layer_norm %x, %g, %b {eps = 1.0e-5} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>, !rec.tensor<[B, 8], f32>) -> !rec.tensor<[B, 8], f32>
  return
}

// -----

func.func @layer_norm_eps(%x: !rec.tensor<[B, 8], f32>, %g: !rec.tensor<[8], f32>) {
  // expected-error @+1 {{layer_norm: eps must be positive}}
  %0 = rec.layer_norm %x, %g, %g {eps = -1.0e-5} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>, !rec.tensor<[8], f32>) -> !rec.tensor<[B, 8], f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

func.func @concat_empty() {
  // expected-error @+1 {{concat: needs at least one operand}}
  %0 = rec.concat {axis = 0 : i64} : () -> !rec.tensor<[1], f32>
  return
}

// -----

func.func @concat_rank(%a: !rec.tensor<[4, 5], f32>, %b: !rec.tensor<[4], f32>) {
  // expected-error @+1 {{concat: operands have different ranks: f32[4, 5] and f32[4]}}
  %0 = rec.concat %a, %b {axis = 0 : i64} : (!rec.tensor<[4, 5], f32>, !rec.tensor<[4], f32>) -> !rec.tensor<[8, 5], f32>
  return
}

// -----

func.func @scatter_bool(%x: !rec.tensor<[4], i1>, %i: !rec.tensor<[2], i64>, %s: !rec.tensor<[2], i1>) {
  // expected-error @+1 {{scatter_add: expects numeric tensors, got bool[4]}}
  %0 = rec.scatter_add %x, %i, %s {axis = 0 : i64} : (!rec.tensor<[4], i1>, !rec.tensor<[2], i64>, !rec.tensor<[2], i1>) -> !rec.tensor<[4], i1>
  return
}

// -----

func.func @scatter_source(%x: !rec.tensor<[4, 6], f32>, %i: !rec.tensor<[2], i64>, %s: !rec.tensor<[3, 6], f32>) {
  // expected-error @+1 {{scatter_add: source f32[3, 6] must have shape [2, 6]}}
  %0 = rec.scatter_add %x, %i, %s {axis = 0 : i64} : (!rec.tensor<[4, 6], f32>, !rec.tensor<[2], i64>, !rec.tensor<[3, 6], f32>) -> !rec.tensor<[4, 6], f32>
  return
}

// -----

func.func @embedding_symbolic_table(%t: !rec.tensor<[V, 8], f32>, %i: !rec.tensor<[3], i64>) {
  // expected-error @+1 {{embedding: the table must be a static [rows, dim] matrix, got f32[V, 8]}}
  %0 = rec.embedding %t, %i : (!rec.tensor<[V, 8], f32>, !rec.tensor<[3], i64>) -> !rec.tensor<[3, 8], f32>
  return
}

// -----

func.func @embedding_sid_scalar(%t: !rec.tensor<[4, 8], f32>, %i: !rec.tensor<[], !rec.sid<4>>) {
  // expected-error @+1 {{embedding: semantic ids need a level dimension, got sid<4>[]}}
  %0 = rec.embedding %t, %i : (!rec.tensor<[4, 8], f32>, !rec.tensor<[], !rec.sid<4>>) -> !rec.tensor<[8], f32>
  return
}

// -----

func.func @topk_bool(%x: !rec.tensor<[4], i1>) {
  // expected-error @+1 {{topk: expects a numeric tensor with at least one dimension, got bool[4]}}
  %v, %i = rec.topk %x {k = 2} : (!rec.tensor<[4], i1>) -> (!rec.tensor<[2], i1>, !rec.tensor<[2], i64>)
  return
}

// -----

func.func @topk_k(%x: !rec.tensor<[B, 4], f32>) {
  // expected-error @+1 {{topk: k = 5 exceeds the last dimension of f32[B, 4]}}
  %v, %i = rec.topk %x {k = 5} : (!rec.tensor<[B, 4], f32>) -> (!rec.tensor<[B, 5], f32>, !rec.tensor<[B, 5], i64>)
  return
}

// -----

func.func @argmax_bool(%x: !rec.tensor<[4], i1>) {
  // expected-error @+1 {{argmax: expects a numeric tensor, got bool[4]}}
  %0 = rec.argmax %x {axis = 0 : i64} : (!rec.tensor<[4], i1>) -> !rec.tensor<[], i64>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Contractions and composite kernels
//===----------------------------------------------------------------------===//

func.func @matmul_rank_full(%a: !rec.tensor<[8], f32>, %b: !rec.tensor<[8, 3], f32>) {
  // expected-error @+1 {{matmul: operands need at least two dimensions, got f32[8] and f32[8, 3]}}
  %0 = rec.matmul %a, %b : (!rec.tensor<[8], f32>, !rec.tensor<[8, 3], f32>) -> !rec.tensor<[3], f32>
  return
}

// -----

func.func @attention_rank(%q: !rec.tensor<[B, 5, 8], f32>, %k: !rec.tensor<[8], f32>) {
  // expected-error @+1 {{attention: queries, keys and values are [..., length, features], got f32[8]}}
  %0 = rec.attention %q, %k, %k {num_heads = 2, num_kv_heads = 2, scale = 1.0} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8], f32>, !rec.tensor<[8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  return
}

// -----

func.func @attention_kv_widths(%q: !rec.tensor<[B, 5, 8], f32>, %k: !rec.tensor<[B, 5, 5], f32>) {
  // expected-error @+1 {{attention: key/value widths 5, 5 are not divisible by 2 key/value heads}}
  %0 = rec.attention %q, %k, %k {num_heads = 2, num_kv_heads = 2, scale = 1.0} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 5], f32>, !rec.tensor<[B, 5, 5], f32>) -> !rec.tensor<[B, 5, 4], f32>
  return
}

// -----

func.func @attention_head_width(%q: !rec.tensor<[B, 5, 8], f32>, %k: !rec.tensor<[B, 5, 6], f32>) {
  // expected-error @+1 {{attention: query head width 4 differs from key head width 3}}
  %0 = rec.attention %q, %k, %k {num_heads = 2, num_kv_heads = 2, scale = 1.0} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 6], f32>, !rec.tensor<[B, 5, 6], f32>) -> !rec.tensor<[B, 5, 6], f32>
  return
}

// -----

func.func @attention_lengths(%q: !rec.tensor<[B, 5, 8], f32>, %v: !rec.tensor<[B, 6, 8], f32>) {
  // expected-error @+1 {{attention: keys f32[B, 5, 8] and values f32[B, 6, 8] have different lengths}}
  %0 = rec.attention %q, %q, %v {num_heads = 2, num_kv_heads = 2, scale = 1.0} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 6, 8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  return
}

// -----

func.func @attention_scale(%q: !rec.tensor<[B, 5, 8], f32>) {
  // expected-error @+1 {{attention: scale must be positive}}
  %0 = rec.attention %q, %q, %q {num_heads = 2, num_kv_heads = 2, scale = 0.0} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  return
}

// -----

func.func @moe_scalar(%x: !rec.tensor<[], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: input needs a feature dimension}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @moe_gate(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[6, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: gate f32[6, 4] must be [8, experts]}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[6, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @moe_bias(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[3], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: gate bias f32[3] must be [4]}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[3], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @moe_up(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 6, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: up projection f32[4, 6, 16] must be [4, 8, hidden]}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 6, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @moe_gate_proj(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %gp: !rec.tensor<[4, 8, 12], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: gate projection f32[4, 8, 12] must match the up projection f32[4, 8, 16]}}
  %y, %l = rec.moe %x, %gate, %bias, %up gate_proj %gp, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation swiglu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 8, 12], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @moe_down(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 8, 16], f32>) {
  // expected-error @+1 {{moe: down projection f32[4, 8, 16] must be [4, 16, 8]}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 8, 16], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

func.func @ce_mask(%l: !rec.tensor<[B, 5, 16], f32>, %y: !rec.tensor<[B, 5], i64>, %m: !rec.tensor<[B, 4], i1>) {
  // expected-error @+1 {{cross_entropy: mask bool[B, 4] must have shape [B, 5]}}
  %0 = rec.cross_entropy %l, %y mask %m {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 16], f32>, !rec.tensor<[B, 5], i64>, !rec.tensor<[B, 4], i1>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @ce_scalar_logits(%l: !rec.tensor<[], f32>, %y: !rec.tensor<[], i64>) {
  // expected-error @+1 {{cross_entropy: logits need a class dimension}}
  %0 = rec.cross_entropy %l, %y {reduction = #rec<reduction mean>} : (!rec.tensor<[], f32>, !rec.tensor<[], i64>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @ce_smoothing(%l: !rec.tensor<[B, 16], f32>, %y: !rec.tensor<[B], i64>) {
  // expected-error @+1 {{cross_entropy: label_smoothing must be in [0, 1)}}
  %0 = rec.cross_entropy %l, %y {reduction = #rec<reduction mean>, label_smoothing = 1.0} : (!rec.tensor<[B, 16], f32>, !rec.tensor<[B], i64>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @bce_shapes(%l: !rec.tensor<[B], f32>, %y: !rec.tensor<[B, 1], f32>) {
  // expected-error @+1 {{bce_with_logits: logits f32[B] and labels f32[B, 1] must have the same shape}}
  %0 = rec.bce_with_logits %l, %y {reduction = #rec<reduction mean>} : (!rec.tensor<[B], f32>, !rec.tensor<[B, 1], f32>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @sampled_table(%h: !rec.tensor<[B, 5, 8], f32>, %t: !rec.tensor<[100, 4], f32>, %pos: !rec.tensor<[B, 5], !rec.id<100>>, %neg: !rec.tensor<[20], !rec.id<100>>) {
  // expected-error @+1 {{sampled_softmax: table f32[100, 4] must be [items, d] for hidden states f32[B, 5, 8]}}
  %0 = rec.sampled_softmax %h, %t, %pos, %neg {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[100, 4], f32>, !rec.tensor<[B, 5], !rec.id<100>>, !rec.tensor<[20], !rec.id<100>>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @sampled_pos(%h: !rec.tensor<[B, 5, 8], f32>, %t: !rec.tensor<[100, 8], f32>, %pos: !rec.tensor<[B], !rec.id<100>>, %neg: !rec.tensor<[20], !rec.id<100>>) {
  // expected-error @+1 {{sampled_softmax: positives id<100>[B] must have shape [B, 5]}}
  %0 = rec.sampled_softmax %h, %t, %pos, %neg {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[100, 8], f32>, !rec.tensor<[B], !rec.id<100>>, !rec.tensor<[20], !rec.id<100>>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @sampled_neg(%h: !rec.tensor<[B, 5, 8], f32>, %t: !rec.tensor<[100, 8], f32>, %pos: !rec.tensor<[B, 5], !rec.id<100>>, %neg: !rec.tensor<[B, 4, 20], !rec.id<100>>) {
  // expected-error @+1 {{sampled_softmax: negatives id<100>[B, 4, 20] must be [N] or [B, 5] + [N]}}
  %0 = rec.sampled_softmax %h, %t, %pos, %neg {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[100, 8], f32>, !rec.tensor<[B, 5], !rec.id<100>>, !rec.tensor<[B, 4, 20], !rec.id<100>>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @dpo_rank(%p: !rec.tensor<[B, 2], f32>) {
  // expected-error @+1 {{dpo_loss: sequence log-probabilities are [B], got f32[B, 2]}}
  %0 = rec.dpo_loss %p, %p, %p, %p {beta = 0.1} : (!rec.tensor<[B, 2], f32>, !rec.tensor<[B, 2], f32>, !rec.tensor<[B, 2], f32>, !rec.tensor<[B, 2], f32>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @dpo_beta(%p: !rec.tensor<[B], f32>) {
  // expected-error @+1 {{dpo_loss: beta must be positive}}
  %0 = rec.dpo_loss %p, %p, %p, %p {beta = 0.0} : (!rec.tensor<[B], f32>, !rec.tensor<[B], f32>, !rec.tensor<[B], f32>, !rec.tensor<[B], f32>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @ecpo_eps(%p: !rec.tensor<[B], f32>) {
  // expected-error @+1 {{ecpo_loss: epsilon must be positive and delta >= 0}}
  %0 = rec.ecpo_loss %p, %p, %p {epsilon = 0.2, delta = -0.1} : (!rec.tensor<[B], f32>, !rec.tensor<[B], f32>, !rec.tensor<[B], f32>) -> !rec.tensor<[], f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Catalog queries
//===----------------------------------------------------------------------===//

func.func @item_flag_empty(%s: !rec.tensor<[B, 5, 3], !rec.sid<16>>) {
  // expected-error @+1 {{item_flag: needs a flag name}}
  %0 = rec.item_flag %s {flag = ""} : (!rec.tensor<[B, 5, 3], !rec.sid<16>>) -> !rec.tensor<[B, 5], i1>
  return
}

// -----

func.func @embedding_overflow(%t: !rec.tensor<[12, 8], f32>, %i: !rec.tensor<[B, 4611686018427387904], !rec.sid<4>>) {
  // expected-error @+1 {{embedding: sid<4>[B, 4611686018427387904] has more levels * codes than a table can hold}}
  %0 = rec.embedding %t, %i : (!rec.tensor<[12, 8], f32>, !rec.tensor<[B, 4611686018427387904], !rec.sid<4>>) -> !rec.tensor<[B, 8], f32>
  return
}
