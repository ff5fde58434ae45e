// RUN: onerec-opt %s --rec-decompose | FileCheck %s

// Composites become primitives with the kernels' semantics: eps inside the
// square root, the variance around the mean, the label's log-probability
// picked by a one-hot of iota, label smoothing, masked mean over counted
// positions, attention heads split, grouped, masked with -inf and zeroed
// after the softmax.
rec.dim @B max 8

// CHECK-LABEL: func.func @norms
// CHECK: rec.mul %arg0, %arg0
// CHECK: rec.reduce_mean {{.*}}axes = array<i64: -1>, keepdim
// CHECK: rec.rsqrt
// CHECK: rec.sub %arg0
// CHECK: rec.add {{.*}}, %arg2
// CHECK-NOT: rec.rms_norm
// CHECK-NOT: rec.layer_norm
func.func @norms(%x: !rec.tensor<[B, 4], f32>, %g: !rec.tensor<[4], f32>, %b: !rec.tensor<[4], f32>) -> (!rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>) {
  %0 = rec.rms_norm %x, %g {eps = 1.0e-06 : f64} : (!rec.tensor<[B, 4], f32>, !rec.tensor<[4], f32>) -> !rec.tensor<[B, 4], f32>
  %1 = rec.layer_norm %x, %g, %b {eps = 1.0e-05 : f64} : (!rec.tensor<[B, 4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4], f32>) -> !rec.tensor<[B, 4], f32>
  return %0, %1 : !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>
}

// CHECK-LABEL: func.func @ce
// CHECK: rec.log_softmax
// CHECK: rec.iota {axis = 0 : i64} : !rec.tensor<[5], !rec.id<5>>
// CHECK: rec.cmp eq
// CHECK: rec.constant(1.000000e-01)
// CHECK: rec.constant(9.000000e-01)
// CHECK: rec.select %arg2
// CHECK: rec.maximum
// CHECK: rec.div
// CHECK-NOT: rec.cross_entropy
func.func @ce(%x: !rec.tensor<[B, 5], f32>, %l: !rec.tensor<[B], !rec.id<5>>, %m: !rec.tensor<[B], i1>) -> !rec.tensor<[], f32> {
  %0 = rec.cross_entropy %x, %l mask %m {reduction = #rec<reduction mean>, label_smoothing = 0.1 : f64} : (!rec.tensor<[B, 5], f32>, !rec.tensor<[B], !rec.id<5>>, !rec.tensor<[B], i1>) -> !rec.tensor<[], f32>
  return %0 : !rec.tensor<[], f32>
}

// CHECK-LABEL: func.func @attn
// CHECK: rec.reshape {{.*}} -> !rec.tensor<[B, 2, 2, 6, 2], f32>
// CHECK: rec.matmul {{.*}} {transpose_b}
// CHECK: rec.iota {axis = 1 : i64} : !rec.tensor<[1, 6], i64>
// CHECK: rec.cmp le
// CHECK: rec.and
// CHECK: rec.constant(0xFFF0000000000000)
// CHECK: rec.softmax
// CHECK: rec.select
// CHECK: rec.transpose
// CHECK-NOT: rec.attention
func.func @attn(%q: !rec.tensor<[B, 6, 8], f32>, %k: !rec.tensor<[B, 6, 4], f32>, %v: !rec.tensor<[B, 6, 4], f32>, %m: !rec.tensor<[B, 1, 6], i1>) -> !rec.tensor<[B, 6, 8], f32> {
  %0 = rec.attention %q, %k, %v mask %m {causal, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : (!rec.tensor<[B, 6, 8], f32>, !rec.tensor<[B, 6, 4], f32>, !rec.tensor<[B, 6, 4], f32>, !rec.tensor<[B, 1, 6], i1>) -> !rec.tensor<[B, 6, 8], f32>
  return %0 : !rec.tensor<[B, 6, 8], f32>
}

// The optimizer step ends in plain writes, after every read.
// CHECK-LABEL: func.func @step
// CHECK: rec.pow
// CHECK: rec.sqrt
// CHECK: rec.assign %arg2
// CHECK: rec.assign %arg3
// CHECK: rec.assign %arg0
// CHECK-NOT: rec.adamw_update
func.func @step(%p: !rec.tensor<[4], f32>, %g: !rec.tensor<[4], f32>, %m: !rec.tensor<[4], f32>, %v: !rec.tensor<[4], f32>, %s: !rec.tensor<[], i64>, %h: !rec.tensor<[8], f32>) {
  %n = rec.global_norm %g : (!rec.tensor<[4], f32>) -> !rec.tensor<[], f32>
  rec.adamw_update %p, %g, %m, %v, %s, %h, %n {decay, decoupled} : !rec.tensor<[4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[4], f32>, !rec.tensor<[], i64>, !rec.tensor<[8], f32>, !rec.tensor<[], f32>
  return
}
