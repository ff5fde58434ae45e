// RUN: onerec-opt %s --split-input-file | FileCheck %s
// RUN: onerec-opt %s --split-input-file --mlir-print-op-generic | onerec-opt --split-input-file | FileCheck %s

// Every compute op parses, verifies its inferred types, and prints back.

module attributes {rec.model = "ops"} {
rec.dim @B max 64
// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: !rec.tensor<[B, 8], f32>, %y: !rec.tensor<[8], f32>, %c: !rec.tensor<[B, 8], i1>) {
  // CHECK: rec.add %{{.*}}, %{{.*}} : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %0 = rec.add %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %1 = rec.sub %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %2 = rec.mul %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %3 = rec.div %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %4 = rec.pow %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %5 = rec.maximum %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  %6 = rec.minimum %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  // CHECK: rec.exp %{{.*}} : !rec.tensor<[B, 8], f32>
  %7 = rec.exp %x : !rec.tensor<[B, 8], f32>
  %8 = rec.log %x : !rec.tensor<[B, 8], f32>
  %9 = rec.sqrt %x : !rec.tensor<[B, 8], f32>
  %10 = rec.rsqrt %x : !rec.tensor<[B, 8], f32>
  %11 = rec.tanh %x : !rec.tensor<[B, 8], f32>
  %12 = rec.sigmoid %x : !rec.tensor<[B, 8], f32>
  %13 = rec.silu %x : !rec.tensor<[B, 8], f32>
  %14 = rec.gelu %x : !rec.tensor<[B, 8], f32>
  %15 = rec.relu %x : !rec.tensor<[B, 8], f32>
  %16 = rec.abs %x : !rec.tensor<[B, 8], f32>
  %17 = rec.neg %x : !rec.tensor<[B, 8], f32>
  // CHECK: rec.cmp lt, %{{.*}}, %{{.*}} : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], i1>
  %18 = rec.cmp lt, %x, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], i1>
  %19 = rec.and %18, %c : !rec.tensor<[B, 8], i1>, !rec.tensor<[B, 8], i1> -> !rec.tensor<[B, 8], i1>
  %20 = rec.or %18, %c : !rec.tensor<[B, 8], i1>, !rec.tensor<[B, 8], i1> -> !rec.tensor<[B, 8], i1>
  %21 = rec.not %20 : !rec.tensor<[B, 8], i1>
  // CHECK: rec.select
  %22 = rec.select %21, %x, %y : !rec.tensor<[B, 8], i1>, !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
  // CHECK: rec.cast %{{.*}} : !rec.tensor<[B, 8], i1> -> !rec.tensor<[B, 8], f32>
  %23 = rec.cast %21 : !rec.tensor<[B, 8], i1> -> !rec.tensor<[B, 8], f32>
  // CHECK: rec.constant(2.500000e+00) : !rec.tensor<[], f32>
  %24 = rec.constant(2.5) : !rec.tensor<[], f32>
  // CHECK: rec.constant(7) : !rec.tensor<[B, 3], i64>
  %25 = rec.constant(7) : !rec.tensor<[B, 3], i64>
  // CHECK: rec.iota {axis = 1 : i64} : !rec.tensor<[B, 3], i64>
  %26 = rec.iota {axis = 1} : !rec.tensor<[B, 3], i64>
  return
}
}

// -----

module attributes {rec.model = "ops"} {
rec.dim @B max 64
// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: !rec.tensor<[B, 4, 6], f32>, %i: !rec.tensor<[2], i64>, %ids: !rec.tensor<[B], !rec.id<0>>, %sq: !rec.tensor<[4, 6], f32>) {
  // CHECK: rec.reshape %{{.*}} : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 2, 12], f32>
  %0 = rec.reshape %x : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 2, 12], f32>
  // CHECK: rec.transpose %{{.*}} {permutation = array<i64: 0, 2, 1>}
  %1 = rec.transpose %x {permutation = array<i64: 0, 2, 1>} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 6, 4], f32>
  // CHECK: rec.concat
  %2 = rec.concat %x, %x {axis = 2 : i64} : (!rec.tensor<[B, 4, 6], f32>, !rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 4, 12], f32>
  // CHECK: rec.slice
  %3 = rec.slice %x {axis = 1 : i64, start = -1 : i64, end = 4 : i64} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 1, 6], f32>
  // CHECK: rec.gather
  %4 = rec.gather %x, %i {axis = 1 : i64} : (!rec.tensor<[B, 4, 6], f32>, !rec.tensor<[2], i64>) -> !rec.tensor<[B, 2, 6], f32>
  // CHECK: rec.scatter_add
  %5 = rec.scatter_add %x, %i, %4 {axis = 1 : i64} : (!rec.tensor<[B, 4, 6], f32>, !rec.tensor<[2], i64>, !rec.tensor<[B, 2, 6], f32>) -> !rec.tensor<[B, 4, 6], f32>
  // CHECK: rec.broadcast %{{.*}} : !rec.tensor<[4, 6], f32> -> !rec.tensor<[B, 4, 6], f32>
  %6 = rec.broadcast %sq : !rec.tensor<[4, 6], f32> -> !rec.tensor<[B, 4, 6], f32>
  // CHECK: rec.topk %{{.*}} {k = 2 : i64} : (!rec.tensor<[B, 4, 6], f32>) -> (!rec.tensor<[B, 4, 2], f32>, !rec.tensor<[B, 4, 2], i64>)
  %v, %ix = rec.topk %x {k = 2} : (!rec.tensor<[B, 4, 6], f32>) -> (!rec.tensor<[B, 4, 2], f32>, !rec.tensor<[B, 4, 2], i64>)
  // CHECK: rec.argmax
  %7 = rec.argmax %x {axis = 2 : i64} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 4], i64>
  // CHECK: rec.hash %{{.*}} {buckets = 97 : i64, salt = 1 : i64} : (!rec.tensor<[B], !rec.id<0>>) -> !rec.tensor<[B], !rec.id<97>>
  %8 = rec.hash %ids {buckets = 97, salt = 1} : (!rec.tensor<[B], !rec.id<0>>) -> !rec.tensor<[B], !rec.id<97>>
  // CHECK: rec.reduce_max %{{.*}} {axes = array<i64: 2>, keepdim}
  %9 = rec.reduce_max %x {axes = array<i64: 2>, keepdim} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 4, 1], f32>
  %10 = rec.reduce_min %x {axes = array<i64: 1, 2>} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B], f32>
  %11 = rec.softmax %x {axis = 2 : i64} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 4, 6], f32>
  %12 = rec.log_softmax %x {axis = 2 : i64} : (!rec.tensor<[B, 4, 6], f32>) -> !rec.tensor<[B, 4, 6], f32>
  %13 = rec.dropout %x {rate = 0.1, stream = 3} : !rec.tensor<[B, 4, 6], f32> -> !rec.tensor<[B, 4, 6], f32>
  return
}
}

// -----

module attributes {rec.model = "ops"} {
rec.dim @B max 64
// CHECK-LABEL: func.func @kernels
func.func @kernels(%x: !rec.tensor<[B, 5, 8], f32>, %w: !rec.tensor<[8, 16], f32>, %g: !rec.tensor<[8], f32>,
                   %mem: !rec.tensor<[B, 7, 4], f32>, %pad: !rec.tensor<[B, 1, 7], i1>,
                   %hist: !rec.tensor<[B, 7, 3], !rec.sid<4>>, %table: !rec.tensor<[12, 8], f32>) {
  // CHECK: rec.matmul %{{.*}}, %{{.*}} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 16], f32>) -> !rec.tensor<[B, 5, 16], f32>
  %0 = rec.matmul %x, %w : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 16], f32>) -> !rec.tensor<[B, 5, 16], f32>
  // CHECK: rec.matmul %{{.*}}, %{{.*}} {transpose_b}
  %1 = rec.matmul %x, %x {transpose_b} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>) -> !rec.tensor<[B, 5, 5], f32>
  %2 = rec.layer_norm %x, %g, %g {eps = 1.0e-5} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8], f32>, !rec.tensor<[8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  // Grouped-query cross-attention: 2 query heads share 1 key/value head of width 4.
  // CHECK: rec.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} {num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 5.000000e-01 : f64}
  %3 = rec.attention %x, %mem, %mem mask %pad {num_heads = 2, num_kv_heads = 1, scale = 0.5} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 7, 4], f32>, !rec.tensor<[B, 7, 4], f32>, !rec.tensor<[B, 1, 7], i1>) -> !rec.tensor<[B, 5, 8], f32>
  // HSTU's pointwise attention.
  // CHECK: score_norm = #rec<score_norm silu>
  %4 = rec.attention %x, %x, %x {causal, num_heads = 2, num_kv_heads = 2, scale = 0.5, score_norm = #rec<score_norm silu>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>, !rec.tensor<[B, 5, 8], f32>) -> !rec.tensor<[B, 5, 8], f32>
  // Semantic-ID lookup: 3 levels of 4 codes in one table of 12 rows.
  // CHECK: rec.embedding %{{.*}}, %{{.*}} : (!rec.tensor<[12, 8], f32>, !rec.tensor<[B, 7, 3], !rec.sid<4>>) -> !rec.tensor<[B, 7, 8], f32>
  %5 = rec.embedding %table, %hist : (!rec.tensor<[12, 8], f32>, !rec.tensor<[B, 7, 3], !rec.sid<4>>) -> !rec.tensor<[B, 7, 8], f32>
  // CHECK: {combine = #rec<combine concat>}
  %6 = rec.embedding %table, %hist {combine = #rec<combine concat>} : (!rec.tensor<[12, 8], f32>, !rec.tensor<[B, 7, 3], !rec.sid<4>>) -> !rec.tensor<[B, 7, 24], f32>
  return
}
}

// -----

module attributes {rec.model = "ops"} {
rec.dim @B max 64
// CHECK-LABEL: func.func @moe
func.func @moe(%x: !rec.tensor<[B, 5, 8], f32>, %gate: !rec.tensor<[8, 4], f32>, %bias: !rec.tensor<[4], f32>,
               %up: !rec.tensor<[4, 8, 16], f32>, %down: !rec.tensor<[4, 16, 8], f32>) {
  // CHECK: rec.moe %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} gate_proj %{{.*}}, %{{.*}} {activation = #rec<activation swiglu>, balance = #rec<balance aux_free>, top_k = 2 : i64} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[4], f32>)
  %y, %load = rec.moe %x, %gate, %bias, %up gate_proj %up, %down {top_k = 2, balance = #rec<balance aux_free>, activation = #rec<activation swiglu>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[4], f32>)
  // CHECK: rec.moe %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {activation = #rec<activation gelu>
  %z, %l2 = rec.moe %x, %gate, %bias, %up, %down {top_k = 1, balance = #rec<balance none>, activation = #rec<activation gelu>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[8, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4, 8, 16], f32>, !rec.tensor<[4, 16, 8], f32>) -> (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[4], f32>)
  return
}
}

// -----

module attributes {rec.model = "ops"} {
rec.dim @B max 64
// CHECK-LABEL: func.func @losses
func.func @losses(%logits: !rec.tensor<[B, 5, 3, 16], f32>, %items: !rec.tensor<[B, 5, 3], !rec.sid<16>>,
                  %mask: !rec.tensor<[B, 5, 3], i1>, %p: !rec.tensor<[B], f32>,
                  %h: !rec.tensor<[B, 5, 8], f32>, %table: !rec.tensor<[100, 8], f32>,
                  %pos: !rec.tensor<[B, 5], !rec.id<100>>, %neg: !rec.tensor<[20], !rec.id<100>>) {
  // CHECK: rec.cross_entropy %{{.*}}, %{{.*}} mask %{{.*}} {reduction = #rec<reduction mean>}
  %0 = rec.cross_entropy %logits, %items mask %mask {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 3, 16], f32>, !rec.tensor<[B, 5, 3], !rec.sid<16>>, !rec.tensor<[B, 5, 3], i1>) -> !rec.tensor<[], f32>
  // CHECK: rec.cross_entropy {{.*}} -> !rec.tensor<[B, 5, 3], f32>
  %1 = rec.cross_entropy %logits, %items {reduction = #rec<reduction none>, label_smoothing = 0.1} : (!rec.tensor<[B, 5, 3, 16], f32>, !rec.tensor<[B, 5, 3], !rec.sid<16>>) -> !rec.tensor<[B, 5, 3], f32>
  %2 = rec.bce_with_logits %p, %p {reduction = #rec<reduction sum>} : (!rec.tensor<[B], f32>, !rec.tensor<[B], f32>) -> !rec.tensor<[], f32>
  // CHECK: rec.sampled_softmax
  %3 = rec.sampled_softmax %h, %table, %pos, %neg {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 5, 8], f32>, !rec.tensor<[100, 8], f32>, !rec.tensor<[B, 5], !rec.id<100>>, !rec.tensor<[20], !rec.id<100>>) -> !rec.tensor<[], f32>
  // CHECK: rec.dpo_loss
  %4 = rec.dpo_loss %p, %p, %p, %p {beta = 0.1} : (!rec.tensor<[B], f32>, !rec.tensor<[B], f32>, !rec.tensor<[B], f32>, !rec.tensor<[B], f32>) -> !rec.tensor<[], f32>
  // CHECK: rec.ecpo_loss
  %5 = rec.ecpo_loss %p, %p, %p {epsilon = 0.2, delta = 0.1} : (!rec.tensor<[B], f32>, !rec.tensor<[B], f32>, !rec.tensor<[B], f32>) -> !rec.tensor<[], f32>
  // CHECK: rec.in_catalog %{{.*}} : (!rec.tensor<[B, 5, 3], !rec.sid<16>>) -> !rec.tensor<[B, 5], i1>
  %6 = rec.in_catalog %items : (!rec.tensor<[B, 5, 3], !rec.sid<16>>) -> !rec.tensor<[B, 5], i1>
  // CHECK: rec.item_flag %{{.*}} {flag = "viral"}
  %7 = rec.item_flag %items {flag = "viral"} : (!rec.tensor<[B, 5, 3], !rec.sid<16>>) -> !rec.tensor<[B, 5], i1>
  return
}
}
