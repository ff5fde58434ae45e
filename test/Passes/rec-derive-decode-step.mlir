// RUN: onerec-opt %s --split-input-file --rec-derive-decode-step --verify-diagnostics | FileCheck %s

// A decoder of one item of two levels (codebook 4: tokens 0..7, BOS 8):
// token embedding plus a positional parameter, causal self-attention,
// cross-attention over the encoder's memory, session_head. The init entry
// keeps what reads no token (the cross-attention keys and values); the
// step gathers the positional row of each beam row, reads a KV cache and
// the request's keys through `rows`, and scores the state with both heads.

// CHECK: rec.dim @beams max 4096
// CHECK-LABEL: func.func @decode_init
// CHECK-SAME: (%[[M:.*]]: !rec.tensor<[B, 5, 8], f32> {rec.name = "memory", rec.role = #rec<role argument>})
// CHECK-SAME: -> (!rec.tensor<[B, 5, 8], f32> {rec.name = "context.0"}, !rec.tensor<[B, 5, 8], f32> {rec.name = "context.1"})
// CHECK-DAG: %[[K:.*]] = rec.matmul %[[M]], %{{.*}} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 8], f32>)
// CHECK-DAG: %[[V:.*]] = rec.matmul %[[M]], %{{.*}} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 8], f32>)
// CHECK: return %[[K]], %[[V]]

// CHECK-LABEL: func.func @decode_step
// CHECK-SAME: (%[[TOK:.*]]: !rec.tensor<[beams, 1], !rec.id<9>> {rec.name = "tokens", rec.role = #rec<role argument>},
// CHECK-SAME: %[[POS:.*]]: !rec.tensor<[beams], !rec.id<3>> {rec.name = "positions", rec.role = #rec<role argument>},
// CHECK-SAME: %[[ROWS:.*]]: !rec.tensor<[beams], i64> {rec.name = "rows", rec.role = #rec<role argument>},
// CHECK-SAME: %[[C0:.*]]: !rec.tensor<[B, 5, 8], f32> {rec.name = "context.0", rec.role = #rec<role argument>},
// CHECK-SAME: %[[C1:.*]]: !rec.tensor<[B, 5, 8], f32> {rec.name = "context.1", rec.role = #rec<role argument>},
// CHECK-SAME: %[[CK:.*]]: !rec.tensor<[beams, 3, 8], f32> {rec.name = "cache.k.0", rec.role = #rec<role argument>},
// CHECK-SAME: %[[CV:.*]]: !rec.tensor<[beams, 3, 8], f32> {rec.name = "cache.v.0", rec.role = #rec<role argument>})
// CHECK-SAME: -> (!rec.tensor<[beams, 2, 4], f32> {rec.name = "logits"}, !rec.tensor<[beams, 1, 8], f32> {rec.name = "cache.k.0.new"}, !rec.tensor<[beams, 1, 8], f32> {rec.name = "cache.v.0.new"})
// CHECK: %[[IDX:.*]] = rec.reshape %[[POS]] : !rec.tensor<[beams], !rec.id<3>> -> !rec.tensor<[beams, 1], !rec.id<3>>
// CHECK: %[[E:.*]] = rec.embedding %{{.*}}, %[[TOK]]
// CHECK: %[[P:.*]] = rec.gather %{{.*}}, %[[IDX]] {axis = 0 : i64} : (!rec.tensor<[3, 8], f32>, !rec.tensor<[beams, 1], !rec.id<3>>) -> !rec.tensor<[beams, 1, 8], f32>
// CHECK: %[[X:.*]] = rec.add %[[E]], %[[P]]
// CHECK: %[[Q:.*]] = rec.matmul %[[X]]
// CHECK: %[[KN:.*]] = rec.matmul %[[X]]
// CHECK: %[[VN:.*]] = rec.matmul %[[X]]
// CHECK: %[[SA:.*]] = rec.decode_attention %[[Q]], %[[CK]], %[[CV]] k_new %[[KN]] v_new %[[VN]] lengths %[[POS]] {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 5.000000e-01 : f64}
// CHECK: %[[Y:.*]] = rec.add %[[X]], %[[SA]]
// CHECK: %[[Q2:.*]] = rec.matmul %[[Y]]
// CHECK: %[[CA:.*]] = rec.decode_attention %[[Q2]], %[[C0]], %[[C1]] rows %[[ROWS]] {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 5.000000e-01 : f64}
// CHECK: %[[H:.*]] = rec.add %[[Y]], %[[CA]]
// CHECK: %[[R:.*]] = rec.reshape %[[H]] : !rec.tensor<[beams, 1, 8], f32> -> !rec.tensor<[beams, 1, 1, 8], f32>
// CHECK: %[[S:.*]] = rec.matmul %[[R]], %{{.*}} : (!rec.tensor<[beams, 1, 1, 8], f32>, !rec.tensor<[2, 8, 4], f32>) -> !rec.tensor<[beams, 2, 1, 4], f32>
// CHECK: %[[L:.*]] = rec.reshape %[[S]] : !rec.tensor<[beams, 2, 1, 4], f32> -> !rec.tensor<[beams, 2, 4], f32>
// CHECK: return %[[L]], %[[KN]], %[[VN]]
// CHECK: rec.generate @out {{.*}} = beam(@encode, @decode) {constrain = #rec<constraint catalog>, init = @decode_init, items = 1 : i64, step = @decode_step, width = 4 : i64}
rec.dim @B max 8
rec.param @table : !rec.tensor<[9, 8], f32> init <zeros>
rec.param @pos : !rec.tensor<[3, 8], f32> init <zeros>
rec.param @wq : !rec.tensor<[8, 8], f32> init <zeros>
rec.param @wk : !rec.tensor<[8, 8], f32> init <zeros>
rec.param @wv : !rec.tensor<[8, 8], f32> init <zeros>
rec.param @head : !rec.tensor<[2, 8, 4], f32> init <zeros>
func.func @encode(%u: !rec.tensor<[B, 5, 8], f32> {rec.name = "user", rec.role = #rec<role input>}) -> !rec.tensor<[B, 5, 8], f32> attributes {rec.entry = #rec<entry def>} {
  return %u : !rec.tensor<[B, 5, 8], f32>
}
func.func @decode(%t: !rec.tensor<[B, 3], !rec.id<9>> {rec.name = "tokens", rec.role = #rec<role argument>}, %m: !rec.tensor<[B, 5, 8], f32> {rec.name = "memory", rec.role = #rec<role argument>}) -> !rec.tensor<[B, 1, 2, 4], f32> attributes {rec.entry = #rec<entry def>} {
  %table = rec.param_ref @table : !rec.tensor<[9, 8], f32>
  %e = rec.embedding %table, %t : (!rec.tensor<[9, 8], f32>, !rec.tensor<[B, 3], !rec.id<9>>) -> !rec.tensor<[B, 3, 8], f32>
  %pos = rec.param_ref @pos : !rec.tensor<[3, 8], f32>
  %x = rec.add %e, %pos : !rec.tensor<[B, 3, 8], f32>, !rec.tensor<[3, 8], f32> -> !rec.tensor<[B, 3, 8], f32>
  %wq = rec.param_ref @wq : !rec.tensor<[8, 8], f32>
  %wk = rec.param_ref @wk : !rec.tensor<[8, 8], f32>
  %wv = rec.param_ref @wv : !rec.tensor<[8, 8], f32>
  %q = rec.matmul %x, %wq : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[8, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %k = rec.matmul %x, %wk : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[8, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %v = rec.matmul %x, %wv : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[8, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %sa = rec.attention %q, %k, %v {causal, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 3, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %y = rec.add %x, %sa : !rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 3, 8], f32> -> !rec.tensor<[B, 3, 8], f32>
  %q2 = rec.matmul %y, %wq : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[8, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %mk = rec.matmul %m, %wk : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  %mv = rec.matmul %m, %wv : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  %ca = rec.attention %q2, %mk, %mv {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %h = rec.add %y, %ca : !rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 3, 8], f32> -> !rec.tensor<[B, 3, 8], f32>
  %head = rec.param_ref @head : !rec.tensor<[2, 8, 4], f32>
  %g = rec.reshape %h : !rec.tensor<[B, 3, 8], f32> -> !rec.tensor<[B, 1, 3, 8], f32>
  %s = rec.slice %g {axis = 2 : i64, start = 0 : i64, end = 2 : i64} : (!rec.tensor<[B, 1, 3, 8], f32>) -> !rec.tensor<[B, 1, 2, 8], f32>
  %r = rec.reshape %s : !rec.tensor<[B, 1, 2, 8], f32> -> !rec.tensor<[B, 1, 2, 1, 8], f32>
  %l = rec.matmul %r, %head : (!rec.tensor<[B, 1, 2, 1, 8], f32>, !rec.tensor<[2, 8, 4], f32>) -> !rec.tensor<[B, 1, 2, 1, 4], f32>
  %out = rec.reshape %l : !rec.tensor<[B, 1, 2, 1, 4], f32> -> !rec.tensor<[B, 1, 2, 4], f32>
  return %out : !rec.tensor<[B, 1, 2, 4], f32>
}
rec.generate @out : !rec.tensor<[B, 1, 2], !rec.sid<4>> = beam(@encode, @decode) {constrain = #rec<constraint catalog>, items = 1 : i64, width = 4 : i64}

// -----

// Self-attention that sees later tokens cannot be decoded one token at a
// time.
rec.dim @B max 8
rec.param @table : !rec.tensor<[9, 8], f32> init <zeros>
func.func @encode(%u: !rec.tensor<[B, 5, 8], f32> {rec.name = "user", rec.role = #rec<role input>}) -> !rec.tensor<[B, 5, 8], f32> attributes {rec.entry = #rec<entry def>} {
  return %u : !rec.tensor<[B, 5, 8], f32>
}
func.func @decode(%t: !rec.tensor<[B, 3], !rec.id<9>> {rec.name = "tokens", rec.role = #rec<role argument>}, %m: !rec.tensor<[B, 5, 8], f32> {rec.name = "memory", rec.role = #rec<role argument>}) -> !rec.tensor<[B, 1, 2, 4], f32> attributes {rec.entry = #rec<entry def>} {
  %table = rec.param_ref @table : !rec.tensor<[9, 8], f32>
  %x = rec.embedding %table, %t : (!rec.tensor<[9, 8], f32>, !rec.tensor<[B, 3], !rec.id<9>>) -> !rec.tensor<[B, 3, 8], f32>
  // expected-error @+1 {{cannot decode 'decode' token by token: self-attention in a decoder must be causal}}
  %sa = rec.attention %x, %x, %x {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : (!rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 3, 8], f32>, !rec.tensor<[B, 3, 8], f32>) -> !rec.tensor<[B, 3, 8], f32>
  %g = rec.reshape %sa : !rec.tensor<[B, 3, 8], f32> -> !rec.tensor<[B, 1, 3, 8], f32>
  %s = rec.slice %g {axis = 2 : i64, start = 0 : i64, end = 2 : i64} : (!rec.tensor<[B, 1, 3, 8], f32>) -> !rec.tensor<[B, 1, 2, 8], f32>
  %r = rec.reshape %s : !rec.tensor<[B, 1, 2, 8], f32> -> !rec.tensor<[B, 1, 2, 2, 4], f32>
  %out = rec.reduce_sum %r {axes = array<i64: 3>} : (!rec.tensor<[B, 1, 2, 2, 4], f32>) -> !rec.tensor<[B, 1, 2, 4], f32>
  return %out : !rec.tensor<[B, 1, 2, 4], f32>
}
rec.generate @out : !rec.tensor<[B, 1, 2], !rec.sid<4>> = beam(@encode, @decode) {constrain = #rec<constraint catalog>, items = 1 : i64, width = 4 : i64}

// -----

// A pooling over the sequence mixes positions.
rec.dim @B max 8
rec.param @table : !rec.tensor<[5, 4], f32> init <zeros>
func.func @encode(%u: !rec.tensor<[B, 5, 8], f32> {rec.name = "user", rec.role = #rec<role input>}) -> !rec.tensor<[B, 5, 8], f32> attributes {rec.entry = #rec<entry def>} {
  return %u : !rec.tensor<[B, 5, 8], f32>
}
func.func @decode(%t: !rec.tensor<[B, 2], !rec.id<5>> {rec.name = "tokens", rec.role = #rec<role argument>}, %m: !rec.tensor<[B, 5, 8], f32> {rec.name = "memory", rec.role = #rec<role argument>}) -> !rec.tensor<[B, 1, 1, 4], f32> attributes {rec.entry = #rec<entry def>} {
  %table = rec.param_ref @table : !rec.tensor<[5, 4], f32>
  %x = rec.embedding %table, %t : (!rec.tensor<[5, 4], f32>, !rec.tensor<[B, 2], !rec.id<5>>) -> !rec.tensor<[B, 2, 4], f32>
  // expected-error @+1 {{cannot decode 'decode' token by token: 'rec.reduce_mean' may mix positions of the sequence}}
  %p = rec.reduce_mean %x {axes = array<i64: 1>, keepdim} : (!rec.tensor<[B, 2, 4], f32>) -> !rec.tensor<[B, 1, 4], f32>
  %r = rec.reshape %p : !rec.tensor<[B, 1, 4], f32> -> !rec.tensor<[B, 1, 1, 4], f32>
  return %r : !rec.tensor<[B, 1, 1, 4], f32>
}
rec.generate @out : !rec.tensor<[B, 1, 1], !rec.sid<4>> = beam(@encode, @decode) {constrain = #rec<constraint catalog>, items = 1 : i64, width = 4 : i64}
