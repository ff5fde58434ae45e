// RUN: onerec-opt %s --rec-infer-shapes | FileCheck %s
// RUN: onerec-opt %s --rec-bind-dims="dims=B=4" --rec-infer-shapes | FileCheck %s --check-prefix=BOUND

// On IR whose types are consistent the pass changes nothing; after a
// specialization it re-derives the same types the rewrite produced. (Stale
// types cannot be written in a .mlir file, since parsing verifies them: the
// propagation and the error path are tested in unit/PassesTest.cpp.)

// CHECK-LABEL: func.func @chain
// CHECK-SAME: -> (!rec.tensor<[B, 16], f32>, !rec.tensor<[B, 4], f32>)
// CHECK: rec.exp %{{.*}} : !rec.tensor<[B, 16], f32>
// CHECK: rec.matmul {{.*}} -> !rec.tensor<[B, 4], f32>
// BOUND-LABEL: func.func @chain
// BOUND-SAME: -> (!rec.tensor<[4, 16], f32>, !rec.tensor<[4, 4], f32>)
// BOUND: rec.matmul {{.*}} -> !rec.tensor<[4, 4], f32>
module attributes {rec.model = "m"} {
  rec.dim @B max 8
  func.func @chain(%x: !rec.tensor<[B, 16], f32>, %w: !rec.tensor<[16, 4], f32>) -> (!rec.tensor<[B, 16], f32>, !rec.tensor<[B, 4], f32>) {
    %0 = rec.exp %x : !rec.tensor<[B, 16], f32>
    %1 = rec.matmul %0, %w : (!rec.tensor<[B, 16], f32>, !rec.tensor<[16, 4], f32>) -> !rec.tensor<[B, 4], f32>
    return %0, %1 : !rec.tensor<[B, 16], f32>, !rec.tensor<[B, 4], f32>
  }
}
