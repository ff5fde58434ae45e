// RUN: onerec-opt %s --split-input-file --rec-decompose --rec-fuse-attention | FileCheck %s --check-prefix=ROUND
// RUN: onerec-opt %s --split-input-file --rec-fuse-attention | FileCheck %s

// Round trip: what rec-decompose writes for grouped-query causal attention
// with a key mask fuses back to the op it came from.
// ROUND-LABEL: func.func @gqa
// ROUND: %[[O:.*]] = rec.attention %arg0, %arg1, %arg2 mask %arg3 {causal, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 5.000000e-01 : f64}
// ROUND-NEXT: return %[[O]]
rec.dim @B max 8
func.func @gqa(%q: !rec.tensor<[B, 6, 8], f32>, %k: !rec.tensor<[B, 6, 4], f32>, %v: !rec.tensor<[B, 6, 4], f32>, %m: !rec.tensor<[B, 1, 6], i1>) -> !rec.tensor<[B, 6, 8], f32> {
  %0 = rec.attention %q, %k, %v mask %m {causal, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f64} : (!rec.tensor<[B, 6, 8], f32>, !rec.tensor<[B, 6, 4], f32>, !rec.tensor<[B, 6, 4], f32>, !rec.tensor<[B, 1, 6], i1>) -> !rec.tensor<[B, 6, 8], f32>
  return %0 : !rec.tensor<[B, 6, 8], f32>
}

// -----

// A user's single-head spelling: matmul with transpose(k), a scale, softmax
// over the keys, the value product.
// CHECK-LABEL: func.func @user
// CHECK: rec.attention %arg0, %arg1, %arg2 {num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 2.500000e-01 : f64}
// CHECK-NOT: rec.softmax
rec.dim @B max 8
func.func @user(%q: !rec.tensor<[B, 5, 16], f32>, %k: !rec.tensor<[B, 7, 16], f32>, %v: !rec.tensor<[B, 7, 16], f32>) -> !rec.tensor<[B, 5, 16], f32> {
  %kt = rec.transpose %k {permutation = array<i64: 0, 2, 1>} : (!rec.tensor<[B, 7, 16], f32>) -> !rec.tensor<[B, 16, 7], f32>
  %s = rec.matmul %q, %kt : (!rec.tensor<[B, 5, 16], f32>, !rec.tensor<[B, 16, 7], f32>) -> !rec.tensor<[B, 5, 7], f32>
  %c = rec.constant(0.25) : !rec.tensor<[], f32>
  %t = rec.mul %s, %c : !rec.tensor<[B, 5, 7], f32>, !rec.tensor<[], f32> -> !rec.tensor<[B, 5, 7], f32>
  %p = rec.softmax %t {axis = -1 : i64} : (!rec.tensor<[B, 5, 7], f32>) -> !rec.tensor<[B, 5, 7], f32>
  %o = rec.matmul %p, %v : (!rec.tensor<[B, 5, 7], f32>, !rec.tensor<[B, 7, 16], f32>) -> !rec.tensor<[B, 5, 16], f32>
  return %o : !rec.tensor<[B, 5, 16], f32>
}

// -----

// Near misses: softmax over the query axis, the scale applied after the
// softmax. Neither is attention as rec.attention computes it.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: rec.attention
// CHECK: rec.softmax {{.*}}axis = 1
rec.dim @B max 8
func.func @wrong_axis(%q: !rec.tensor<[B, 5, 16], f32>, %k: !rec.tensor<[B, 5, 16], f32>, %v: !rec.tensor<[B, 5, 16], f32>) -> !rec.tensor<[B, 5, 16], f32> {
  %s = rec.matmul %q, %k {transpose_b} : (!rec.tensor<[B, 5, 16], f32>, !rec.tensor<[B, 5, 16], f32>) -> !rec.tensor<[B, 5, 5], f32>
  %p = rec.softmax %s {axis = 1 : i64} : (!rec.tensor<[B, 5, 5], f32>) -> !rec.tensor<[B, 5, 5], f32>
  %o = rec.matmul %p, %v : (!rec.tensor<[B, 5, 5], f32>, !rec.tensor<[B, 5, 16], f32>) -> !rec.tensor<[B, 5, 16], f32>
  return %o : !rec.tensor<[B, 5, 16], f32>
}

// CHECK-LABEL: func.func @scale_after_softmax
// CHECK-NOT: rec.attention
// CHECK: rec.softmax
rec.dim @C max 8
func.func @scale_after_softmax(%q: !rec.tensor<[C, 5, 16], f32>, %k: !rec.tensor<[C, 5, 16], f32>, %v: !rec.tensor<[C, 5, 16], f32>) -> !rec.tensor<[C, 5, 16], f32> {
  %s = rec.matmul %q, %k {transpose_b} : (!rec.tensor<[C, 5, 16], f32>, !rec.tensor<[C, 5, 16], f32>) -> !rec.tensor<[C, 5, 5], f32>
  %p = rec.softmax %s {axis = -1 : i64} : (!rec.tensor<[C, 5, 5], f32>) -> !rec.tensor<[C, 5, 5], f32>
  %c = rec.constant(0.25) : !rec.tensor<[], f32>
  %t = rec.mul %p, %c : !rec.tensor<[C, 5, 5], f32>, !rec.tensor<[], f32> -> !rec.tensor<[C, 5, 5], f32>
  %o = rec.matmul %t, %v : (!rec.tensor<[C, 5, 5], f32>, !rec.tensor<[C, 5, 16], f32>) -> !rec.tensor<[C, 5, 16], f32>
  return %o : !rec.tensor<[C, 5, 16], f32>
}
