// RUN: onerec-opt %s --split-input-file --rec-fuse-embedding | FileCheck %s

!u = !rec.tensor<[10, 4], f32>
!a = !rec.tensor<[3, 2], f32>
!iu = !rec.tensor<[B], !rec.id<10>>
!ia = !rec.tensor<[B], !rec.id<3>>

// Lookups concatenated along the last axis become one rec.multi_embedding.
// CHECK-LABEL: func.func @lookups
// CHECK-NOT: rec.embedding
// CHECK-NOT: rec.concat
// CHECK: %[[E:.*]] = rec.multi_embedding tables(%arg0, %arg1) ids(%arg2, %arg3) : (!rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>, !rec.tensor<[B], !rec.id<10>>, !rec.tensor<[B], !rec.id<3>>) -> !rec.tensor<[B, 6], f32>
// CHECK-NEXT: return %[[E]]
func.func @lookups(%tu: !u, %ta: !a, %u: !iu, %v: !ia) -> !rec.tensor<[B, 6], f32> {
  %0 = rec.embedding %tu, %u : (!u, !iu) -> !rec.tensor<[B, 4], f32>
  %1 = rec.embedding %ta, %v : (!a, !ia) -> !rec.tensor<[B, 2], f32>
  %2 = rec.concat %0, %1 {axis = -1 : i64} : (!rec.tensor<[B, 4], f32>, !rec.tensor<[B, 2], f32>) -> !rec.tensor<[B, 6], f32>
  return %2 : !rec.tensor<[B, 6], f32>
}

// -----

!u = !rec.tensor<[10, 4], f32>
!iu = !rec.tensor<[B], !rec.id<10>>

// Near miss: a lookup also used elsewhere stays, and so does the concat.
// CHECK-LABEL: func.func @shared_lookup
// CHECK-NOT: rec.multi_embedding
// CHECK: rec.embedding
// CHECK: rec.embedding
// CHECK: rec.concat
func.func @shared_lookup(%t: !u, %a: !iu, %b: !iu) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 4], f32>) {
  %0 = rec.embedding %t, %a : (!u, !iu) -> !rec.tensor<[B, 4], f32>
  %1 = rec.embedding %t, %b : (!u, !iu) -> !rec.tensor<[B, 4], f32>
  %2 = rec.concat %0, %1 {axis = 1 : i64} : (!rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>) -> !rec.tensor<[B, 8], f32>
  return %2, %0 : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 4], f32>
}

// -----

!u = !rec.tensor<[10, 4], f32>
!i2 = !rec.tensor<[2], !rec.id<10>>

// Near miss: a concatenation along another axis than the last.
// CHECK-LABEL: func.func @other_axis
// CHECK-NOT: rec.multi_embedding
// CHECK: rec.concat %{{.*}}, %{{.*}} {axis = 0 : i64}
func.func @other_axis(%t: !u, %a: !i2, %b: !i2) -> !rec.tensor<[4, 4], f32> {
  %0 = rec.embedding %t, %a : (!u, !i2) -> !rec.tensor<[2, 4], f32>
  %1 = rec.embedding %t, %b : (!u, !i2) -> !rec.tensor<[2, 4], f32>
  %2 = rec.concat %0, %1 {axis = 0 : i64} : (!rec.tensor<[2, 4], f32>, !rec.tensor<[2, 4], f32>) -> !rec.tensor<[4, 4], f32>
  return %2 : !rec.tensor<[4, 4], f32>
}

// -----

!t = !rec.tensor<[6, 4], f32>
!is = !rec.tensor<[B, 2], !rec.sid<3>>

// Near miss: semantic-id lookups keep their own kernels.
// CHECK-LABEL: func.func @semantic_ids
// CHECK-NOT: rec.multi_embedding
// CHECK: rec.concat
func.func @semantic_ids(%t: !t, %a: !is, %b: !is) -> !rec.tensor<[B, 8], f32> {
  %0 = rec.embedding %t, %a : (!t, !is) -> !rec.tensor<[B, 4], f32>
  %1 = rec.embedding %t, %b : (!t, !is) -> !rec.tensor<[B, 4], f32>
  %2 = rec.concat %0, %1 {axis = 1 : i64} : (!rec.tensor<[B, 4], f32>, !rec.tensor<[B, 4], f32>) -> !rec.tensor<[B, 8], f32>
  return %2 : !rec.tensor<[B, 8], f32>
}

// -----

!dy = !rec.tensor<[B, 6], f32>
!iu = !rec.tensor<[B], !rec.id<10>>
!ia = !rec.tensor<[B], !rec.id<3>>

// The concat's backward: embedding_grads of last-axis slices of one
// gradient become one rec.multi_embedding_grad; the slices go.
// CHECK-LABEL: func.func @gradients
// CHECK-NOT: rec.slice
// CHECK-NOT: rec.embedding_grad
// CHECK: %[[G:.*]]:2 = rec.multi_embedding_grad %arg0 ids(%arg2, %arg1) {offsets = array<i64: 4, 0>} : (!rec.tensor<[B, 6], f32>, !rec.tensor<[B], !rec.id<3>>, !rec.tensor<[B], !rec.id<10>>) -> (!rec.tensor<[3, 2], f32>, !rec.tensor<[10, 4], f32>)
// CHECK-NEXT: return %[[G]]#1, %[[G]]#0
func.func @gradients(%dy: !dy, %u: !iu, %v: !ia) -> (!rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>) {
  %0 = rec.slice %dy {axis = 1 : i64, start = 0 : i64, end = 4 : i64} : (!dy) -> !rec.tensor<[B, 4], f32>
  %1 = rec.slice %dy {axis = 1 : i64, start = 4 : i64, end = 6 : i64} : (!dy) -> !rec.tensor<[B, 2], f32>
  %2 = rec.embedding_grad %v, %1 : (!ia, !rec.tensor<[B, 2], f32>) -> !rec.tensor<[3, 2], f32>
  %3 = rec.embedding_grad %u, %0 : (!iu, !rec.tensor<[B, 4], f32>) -> !rec.tensor<[10, 4], f32>
  return %3, %2 : !rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>
}

// -----

!dy = !rec.tensor<[B, 6], f32>
!iu = !rec.tensor<[B], !rec.id<10>>
!ia = !rec.tensor<[B], !rec.id<3>>

// Near miss: one gradient's slice per source is nothing to fuse, and a
// slice along another axis is not the concat's backward.
// CHECK-LABEL: func.func @single_gradient
// CHECK-NOT: rec.multi_embedding_grad
// CHECK: rec.embedding_grad
// CHECK: rec.embedding_grad
func.func @single_gradient(%dy: !dy, %dx: !rec.tensor<[B, 2], f32>, %u: !iu, %v: !ia) -> (!rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>) {
  %0 = rec.slice %dy {axis = 1 : i64, start = 0 : i64, end = 4 : i64} : (!dy) -> !rec.tensor<[B, 4], f32>
  %1 = rec.embedding_grad %u, %0 : (!iu, !rec.tensor<[B, 4], f32>) -> !rec.tensor<[10, 4], f32>
  %2 = rec.embedding_grad %v, %dx : (!ia, !rec.tensor<[B, 2], f32>) -> !rec.tensor<[3, 2], f32>
  return %1, %2 : !rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>
}

// -----

!dy = !rec.tensor<[B, 6], f32>
!iu = !rec.tensor<[B], !rec.id<10>>
!ia = !rec.tensor<[B], !rec.id<3>>

// Near miss: the first gradient is used before the last one is computed.
// CHECK-LABEL: func.func @used_early
// CHECK-NOT: rec.multi_embedding_grad
func.func @used_early(%dy: !dy, %u: !iu, %v: !ia) -> (!rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>) {
  %0 = rec.slice %dy {axis = 1 : i64, start = 0 : i64, end = 4 : i64} : (!dy) -> !rec.tensor<[B, 4], f32>
  %1 = rec.slice %dy {axis = 1 : i64, start = 4 : i64, end = 6 : i64} : (!dy) -> !rec.tensor<[B, 2], f32>
  %2 = rec.embedding_grad %u, %0 : (!iu, !rec.tensor<[B, 4], f32>) -> !rec.tensor<[10, 4], f32>
  %3 = rec.neg %2 : !rec.tensor<[10, 4], f32>
  %4 = rec.embedding_grad %v, %1 : (!ia, !rec.tensor<[B, 2], f32>) -> !rec.tensor<[3, 2], f32>
  return %3, %4 : !rec.tensor<[10, 4], f32>, !rec.tensor<[3, 2], f32>
}
