// RUN: onerec-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{tensor dimensions must be positive, got 0}}
func.func @zero_dim(%x: !rec.tensor<[0, 4], f32>)

// -----

// expected-error @+1 {{invalid rec tensor element type 'f128'}}
func.func @bad_element(%x: !rec.tensor<[4], f128>)

// -----

// expected-error @+1 {{semantic-id codebook must be positive, got 0}}
func.func @bad_sid(%x: !rec.tensor<[4], !rec.sid<0>>)

// -----

module attributes {rec.model = "m"} {
  // expected-error @+1 {{symbolic dimension 'B' is not declared by a rec.dim}}
  func.func @f(%x: !rec.tensor<[B, 4], f32>) {
    return
  }
}

// -----

func.func @add_no_broadcast(%a: !rec.tensor<[4, 5], f32>, %b: !rec.tensor<[4, 6], f32>) {
  // expected-error @+1 {{add: shapes [4, 5] and [4, 6] do not broadcast}}
  %0 = rec.add %a, %b : !rec.tensor<[4, 5], f32>, !rec.tensor<[4, 6], f32> -> !rec.tensor<[4, 6], f32>
  return
}

// -----

func.func @symbolic_mismatch(%a: !rec.tensor<[B, 5], f32>, %b: !rec.tensor<[L, 5], f32>) {
  // expected-error @+1 {{mul: shapes [B, 5] and [L, 5] do not broadcast}}
  %0 = rec.mul %a, %b : !rec.tensor<[B, 5], f32>, !rec.tensor<[L, 5], f32> -> !rec.tensor<[B, 5], f32>
  return
}

// -----

func.func @wrong_result(%a: !rec.tensor<[4], f32>) {
  // expected-error @+1 {{'rec.add' op result #0 has type f32[5] but its operands give f32[4]}}
  %0 = rec.add %a, %a : !rec.tensor<[4], f32>, !rec.tensor<[4], f32> -> !rec.tensor<[5], f32>
  return
}

// -----

func.func @id_arithmetic(%a: !rec.tensor<[4], !rec.id<10>>) {
  // expected-error @+1 {{add: ids and semantic ids support no arithmetic (id<10>[4]); embed them, or cast to an integer type}}
  %0 = rec.add %a, %a : !rec.tensor<[4], !rec.id<10>>, !rec.tensor<[4], !rec.id<10>> -> !rec.tensor<[4], !rec.id<10>>
  return
}

// -----

func.func @dtype_mismatch(%a: !rec.tensor<[4], f32>, %b: !rec.tensor<[4], bf16>) {
  // expected-error @+1 {{sub: element types differ: f32[4] and bf16[4]}}
  %0 = rec.sub %a, %b : !rec.tensor<[4], f32>, !rec.tensor<[4], bf16> -> !rec.tensor<[4], f32>
  return
}

// -----

func.func @exp_of_int(%a: !rec.tensor<[4], i64>) {
  // expected-error @+1 {{'rec.exp' op operand #0 must be rec tensor of floats}}
  %0 = rec.exp %a : !rec.tensor<[4], i64>
  return
}

// -----

func.func @id_order(%a: !rec.tensor<[4], !rec.id<10>>) {
  // expected-error @+1 {{cmp: id<10>[4] values compare only for equality}}
  %0 = rec.cmp lt, %a, %a : !rec.tensor<[4], !rec.id<10>>, !rec.tensor<[4], !rec.id<10>> -> !rec.tensor<[4], i1>
  return
}

// -----

func.func @matmul_inner(%a: !rec.tensor<[B, 4, 8], f32>, %b: !rec.tensor<[6, 3], f32>) {
  // expected-error @+1 {{matmul: inner dimensions differ: f32[B, 4, 8] x f32[6, 3] contracts 8 with 6}}
  %0 = rec.matmul %a, %b : (!rec.tensor<[B, 4, 8], f32>, !rec.tensor<[6, 3], f32>) -> !rec.tensor<[B, 4, 3], f32>
  return
}

// -----

func.func @matmul_rank(%a: !rec.tensor<[8], f32>, %b: !rec.tensor<[8, 3], f32>) {
  // expected-error @+1 {{matmul: operands need at least two dimensions}}
  %0 = rec.matmul %a, %b : (!rec.tensor<[8], f32>, !rec.tensor<[8, 3], f32>) -> !rec.tensor<[3], f32>
  return
}

// -----

func.func @reduce_axis(%a: !rec.tensor<[4, 5], f32>) {
  // expected-error @+1 {{reduce_sum: axis 2 is out of range for f32[4, 5]}}
  %0 = rec.reduce_sum %a {axes = array<i64: 2>} : (!rec.tensor<[4, 5], f32>) -> !rec.tensor<[4], f32>
  return
}

// -----

func.func @reduce_twice(%a: !rec.tensor<[4, 5], f32>) {
  // expected-error @+1 {{reduce_sum: axis -1 is listed twice}}
  %0 = rec.reduce_sum %a {axes = array<i64: 1, -1>} : (!rec.tensor<[4, 5], f32>) -> !rec.tensor<[4], f32>
  return
}

// -----

func.func @transpose_perm(%a: !rec.tensor<[4, 5], f32>) {
  // expected-error @+1 {{transpose: [0, 0] is not a permutation of the 2 dimensions of f32[4, 5]}}
  %0 = rec.transpose %a {permutation = array<i64: 0, 0>} : (!rec.tensor<[4, 5], f32>) -> !rec.tensor<[4, 4], f32>
  return
}

// -----

func.func @concat_symbolic(%a: !rec.tensor<[B, 5], f32>) {
  // expected-error @+1 {{concat: the concatenated dimension must be static, got symbolic dimension 'B' in f32[B, 5]}}
  %0 = rec.concat %a, %a {axis = 0 : i64} : (!rec.tensor<[B, 5], f32>, !rec.tensor<[B, 5], f32>) -> !rec.tensor<[B, 5], f32>
  return
}

// -----

func.func @concat_mismatch(%a: !rec.tensor<[4, 5], f32>, %b: !rec.tensor<[3, 6], f32>) {
  // expected-error @+1 {{concat: operands differ outside axis 1: f32[4, 5] and f32[3, 6]}}
  %0 = rec.concat %a, %b {axis = 1 : i64} : (!rec.tensor<[4, 5], f32>, !rec.tensor<[3, 6], f32>) -> !rec.tensor<[4, 11], f32>
  return
}

// -----

func.func @slice_range(%a: !rec.tensor<[4, 5], f32>) {
  // expected-error @+1 {{slice: range [3, 9) is empty or outside dimension 1 of f32[4, 5]}}
  %0 = rec.slice %a {axis = 1 : i64, start = 3 : i64, end = 9 : i64} : (!rec.tensor<[4, 5], f32>) -> !rec.tensor<[4, 6], f32>
  return
}

// -----

func.func @reshape_count(%a: !rec.tensor<[B, 4, 6], f32>) {
  // expected-error @+1 {{'rec.reshape' op cannot reshape f32[B, 4, 6] to f32[B, 5, 5]: symbolic dimensions must stay in order with equal static extents between them}}
  %0 = rec.reshape %a : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 5, 5], f32>
  return
}

// -----

func.func @reshape_moves_symbol(%a: !rec.tensor<[B, 4], f32>) {
  // expected-error @+1 {{'rec.reshape' op cannot reshape f32[B, 4] to f32[4, B]}}
  %0 = rec.reshape %a : !rec.tensor<[B, 4], f32> -> !rec.tensor<[4, B], f32>
  return
}

// -----

func.func @broadcast_bad(%a: !rec.tensor<[3], f32>) {
  // expected-error @+1 {{'rec.broadcast' op cannot broadcast f32[3] to f32[B, 4]}}
  %0 = rec.broadcast %a : !rec.tensor<[3], f32> -> !rec.tensor<[B, 4], f32>
  return
}

// -----

func.func @cast_float_to_id(%a: !rec.tensor<[3], f32>) {
  // expected-error @+1 {{'rec.cast' op cannot cast f32[3] to id<10>[3]}}
  %0 = rec.cast %a : !rec.tensor<[3], f32> -> !rec.tensor<[3], !rec.id<10>>
  return
}

// -----

func.func @constant_kind() {
  // expected-error @+1 {{'rec.constant' op a f32[] constant needs a float value}}
  %0 = rec.constant(3) : !rec.tensor<[], f32>
  return
}

// -----

func.func @constant_vocab() {
  // expected-error @+1 {{'rec.constant' op id 12 is outside the vocabulary of 10}}
  %0 = rec.constant(12) : !rec.tensor<[], !rec.id<10>>
  return
}

// -----

func.func @gather_range(%a: !rec.tensor<[5, 8], f32>, %i: !rec.tensor<[3], !rec.id<100>>) {
  // expected-error @+1 {{gather: indices id<100>[3] can reach 99 but the gathered axis has 5 entries}}
  %0 = rec.gather %a, %i {axis = 0 : i64} : (!rec.tensor<[5, 8], f32>, !rec.tensor<[3], !rec.id<100>>) -> !rec.tensor<[3, 8], f32>
  return
}

// -----

func.func @embedding_raw(%t: !rec.tensor<[10, 8], f32>, %i: !rec.tensor<[3], !rec.id<0>>) {
  // expected-error @+1 {{embedding: raw ids (id with no vocabulary) cannot index the table; hash them into buckets first}}
  %0 = rec.embedding %t, %i : (!rec.tensor<[10, 8], f32>, !rec.tensor<[3], !rec.id<0>>) -> !rec.tensor<[3, 8], f32>
  return
}

// -----

func.func @embedding_levels(%t: !rec.tensor<[10, 8], f32>, %i: !rec.tensor<[B, 3], !rec.sid<4>>) {
  // expected-error @+1 {{embedding: sid<4>[B, 3] has 3 levels of 4 codes, so the table needs 12 rows, not 10}}
  %0 = rec.embedding %t, %i : (!rec.tensor<[10, 8], f32>, !rec.tensor<[B, 3], !rec.sid<4>>) -> !rec.tensor<[B, 8], f32>
  return
}

// -----

func.func @attention_heads(%q: !rec.tensor<[B, 5, 10], f32>) {
  // expected-error @+1 {{attention: query width 10 is not divisible by 4 heads}}
  %0 = rec.attention %q, %q, %q {num_heads = 4, num_kv_heads = 4, scale = 1.0} : (!rec.tensor<[B, 5, 10], f32>, !rec.tensor<[B, 5, 10], f32>, !rec.tensor<[B, 5, 10], f32>) -> !rec.tensor<[B, 5, 10], f32>
  return
}

// -----

func.func @attention_groups(%q: !rec.tensor<[B, 5, 12], f32>) {
  // expected-error @+1 {{attention: 3 query heads cannot share 2 key/value heads evenly}}
  %0 = rec.attention %q, %q, %q {num_heads = 3, num_kv_heads = 2, scale = 1.0} : (!rec.tensor<[B, 5, 12], f32>, !rec.tensor<[B, 5, 12], f32>, !rec.tensor<[B, 5, 12], f32>) -> !rec.tensor<[B, 5, 12], f32>
  return
}

// -----

func.func @attention_mask(%q: !rec.tensor<[B, 5, 8], f32>, %m: !rec.tensor<[B, 6], i1>) {
  // expected-error @+1 {{attention: mask bool[B, 6] does not broadcast to the scores [B, 5, 5]}}
  %0 = rec.attention %q, %q, %q mask %m {num_heads = 2, num_kv_heads = 2, scale = 1.0} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 6], i1>) -> !rec.tensor<[B, 5, 8], f32>
  return
}

// -----

func.func @moe_topk(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: top_k = 5 exceeds 4 experts}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 5, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @moe_swiglu(%x: !rec.tensor<[B, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>, %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // expected-error @+1 {{moe: swiglu experts need a gate projection}}
  %y, %l = rec.moe %x, %gate, %bias, %up, %down {top_k = 2, balance = #rec<balance none>, activation = #rec<activation swiglu>} : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[4], f32>)
  return
}

// -----

func.func @ce_labels(%l: !rec.tensor<[B, 5, 16], f32>, %y: !rec.tensor<[B, 4], i64>) {
  // expected-error @+1 {{cross_entropy: labels i64[B, 4] must have the shape of the logits without their class dimension, [B, 5]}}
  %0 = rec.cross_entropy %l, %y {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 16], f32>, !rec.tensor<[B, 4], i64>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @ce_codebook(%l: !rec.tensor<[B, 5, 16], f32>, %y: !rec.tensor<[B, 5], !rec.sid<32>>) {
  // expected-error @+1 {{cross_entropy: indices sid<32>[B, 5] can reach 31 but the class dimension has 16 entries}}
  %0 = rec.cross_entropy %l, %y {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 16], f32>, !rec.tensor<[B, 5], !rec.sid<32>>) -> !rec.tensor<[], f32>
  return
}

// -----

func.func @dropout_rate(%x: !rec.tensor<[4], f32>) {
  // expected-error @+1 {{dropout: rate must be in [0, 1), got 1.5}}
  %0 = rec.dropout %x {rate = 1.5, stream = 0} : !rec.tensor<[4], f32> -> !rec.tensor<[4], f32>
  return
}

// -----

func.func @catalog_sid(%s: !rec.tensor<[B, 5], i64>) {
  // expected-error @+1 {{in_catalog: expects semantic-id sessions sid<K>[..., items, levels], got i64[B, 5]}}
  %0 = rec.in_catalog %s : (!rec.tensor<[B, 5], i64>) -> !rec.tensor<[B], i1>
  return
}

// -----

module attributes {rec.model = "m"} {
  // expected-error @+1 {{'rec.param' op parameter shapes are static, got f32[B, 4]}}
  rec.param @p : !rec.tensor<[B, 4], f32> init #rec.init<zeros>
  rec.dim @B max 4
}

// -----

// expected-error @+1 {{normal initializer needs a positive standard deviation, got -1}}
rec.param @p : !rec.tensor<[4], f32> init #rec.init<normal(0.0, -1.0), seed = 1>

// -----

module {
  rec.param @p : !rec.tensor<[4], f32> init #rec.init<zeros>
  func.func @f() {
    // expected-error @+1 {{'rec.param_ref' op type f32[5] does not match parameter type f32[4]}}
    %0 = rec.param_ref @p : !rec.tensor<[5], f32>
    return
  }
}

// -----

module {
  func.func @f() {
    // expected-error @+1 {{'rec.param_ref' op '@missing' is not a rec.param}}
    %0 = rec.param_ref @missing : !rec.tensor<[5], f32>
    return
  }
}

// -----

// expected-error @+1 {{'func.func' op a loss entry returns one float scalar}}
func.func @l(%x: !rec.tensor<[4], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[4], f32> attributes {rec.entry = #rec<entry loss>} {
  return %x : !rec.tensor<[4], f32>
}

// -----

// expected-error @+1 {{'func.func' op entry argument #0 needs 'rec.role' and 'rec.name' attributes}}
func.func @e(%x: !rec.tensor<[4], f32>) attributes {rec.entry = #rec<entry def>} {
  return
}

// -----

module {
  func.func @l() -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %0 = rec.constant(0.0) : !rec.tensor<[], f32>
    return %0 : !rec.tensor<[], f32>
  }
  // expected-error @+1 {{'rec.train' op needs exactly one rec.optimizer, found 0}}
  rec.train {
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  rec.train {
    // expected-error @+1 {{'rec.optimizer' op adamw has no parameter 'lrate'; it takes lr, beta1, beta2, eps, weight_decay}}
    rec.optimizer adamw {lrate = 1.0}
    rec.stage "s" {
      rec.minimize [#rec.term<@l, 1.0>]
    }
  }
}

// -----

module {
  func.func @d() attributes {rec.entry = #rec<entry def>} {
    return
  }
  rec.train {
    rec.optimizer sgd {lr = 0.1}
    rec.stage "s" {
      // expected-error @+1 {{'rec.minimize' op loss @d must be a loss entry}}
      rec.minimize [#rec.term<@d, 1.0>]
    }
  }
}

// -----

module {
  func.func @d() attributes {rec.entry = #rec<entry def>} {
    return
  }
  // expected-error @+1 {{'rec.generate' op generates semantic-id sessions sid<K>[B, items, levels], got f32[4]}}
  rec.generate @g : !rec.tensor<[4], f32> = beam(@d, @d) {constrain = #rec<constraint none>, items = 1, width = 4}
}

// -----

// A shared left operand: one launch covers one batch, so every product has
// the first's leading dims.
func.func @gemm_shared_other_batch(%x: !rec.tensor<[5, 16], f32>, %w: !rec.tensor<[16, 8], f32>, %ws: !rec.tensor<[3, 16, 8], f32>) {
  // expected-error @+1 {{'rec.gemm' op product 1 of a shared left operand is f32[3, 5, 8], with other batch dims than product 0 (f32[5, 8])}}
  %y:2 = rec.gemm(%x) x(%w, %ws) : (!rec.tensor<[5, 16], f32>, !rec.tensor<[16, 8], f32>, !rec.tensor<[3, 16, 8], f32>) -> (!rec.tensor<[5, 8], f32>, !rec.tensor<[3, 5, 8], f32>)
  return
}
