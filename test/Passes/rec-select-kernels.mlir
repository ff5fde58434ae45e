// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-select-kernels | FileCheck %s

// Kernels by op; reshape and (outside training) dropout are views; parameter
// reads have no kernel of their own.
// CHECK-LABEL: func.func @kernels
// CHECK: rec.param_ref @w {rec.kernel = "param"}
// CHECK: rec.matmul {{.*}} {rec.kernel = "Matmul"}
// CHECK: rec.reshape {{.*}} {rec.kernel = "view"}
// CHECK: rec.dropout {{.*}}rec.kernel = "view"
// CHECK: rec.reduce_sum {{.*}}rec.kernel = "ReduceSum"
// CHECK: rec.topk {{.*}}rec.kernel = "TopK"
// CHECK: rec.argmax {{.*}}rec.kernel = "ArgMax"
// CHECK: rec.bce_with_logits {{.*}}rec.kernel = "BceWithLogits"
// CHECK-NOT: rec.unsupported
module @kernels attributes {rec.model = "kernels"} {
  rec.dim @B max 8
  rec.param @w : !rec.tensor<[4, 6], f32> init <zeros>
  func.func @kernels(%x: !rec.tensor<[B, 4], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[], f32> attributes {rec.entry = #rec<entry loss>} {
    %w = rec.param_ref @w : !rec.tensor<[4, 6], f32>
    %0 = rec.matmul %x, %w : (!rec.tensor<[B, 4], f32>, !rec.tensor<[4, 6], f32>) -> !rec.tensor<[B, 6], f32>
    %1 = rec.reshape %0 : !rec.tensor<[B, 6], f32> -> !rec.tensor<[B, 2, 3], f32>
    %2 = rec.dropout %1 {rate = 0.1 : f64, stream = 3 : i64} : !rec.tensor<[B, 2, 3], f32> -> !rec.tensor<[B, 2, 3], f32>
    %3 = rec.reduce_sum %2 {axes = array<i64: -1>} : (!rec.tensor<[B, 2, 3], f32>) -> !rec.tensor<[B, 2], f32>
    %4, %5 = rec.topk %3 {k = 1 : i64} : (!rec.tensor<[B, 2], f32>) -> (!rec.tensor<[B, 1], f32>, !rec.tensor<[B, 1], i64>)
    %6 = rec.argmax %3 {axis = 1 : i64} : (!rec.tensor<[B, 2], f32>) -> !rec.tensor<[B], i64>
    %7 = rec.bce_with_logits %4, %4 {reduction = #rec<reduction mean>} : (!rec.tensor<[B, 1], f32>, !rec.tensor<[B, 1], f32>) -> !rec.tensor<[], f32>
    return %7 : !rec.tensor<[], f32>
  }
}

// -----

// An entry that queries the catalog has no runtime kernel yet: it is marked
// and left out of the plan, with a warning; other entries are unaffected.
// CHECK-LABEL: module @catalog
// CHECK: func.func @legal{{.*}}rec.unsupported = "rec.in_catalog queries the item catalog
// CHECK: func.func @plain
// CHECK-NOT: rec.unsupported
module @catalog attributes {rec.model = "catalog"} {
  rec.dim @B max 8
  func.func @legal(%s: !rec.tensor<[B, 5, 3], !rec.sid<16>> {rec.role = #rec<role generated>, rec.name = "sessions"}) -> !rec.tensor<[B, 5], i1> attributes {rec.entry = #rec<entry def>} {
    // expected-warning @+1 {{entry 'legal' is left out of the plan: rec.in_catalog queries the item catalog}}
    %0 = rec.in_catalog %s : (!rec.tensor<[B, 5, 3], !rec.sid<16>>) -> !rec.tensor<[B, 5], i1>
    return %0 : !rec.tensor<[B, 5], i1>
  }
  func.func @plain(%x: !rec.tensor<[B], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[B], f32> attributes {rec.entry = #rec<entry def>} {
    %0 = rec.exp %x : !rec.tensor<[B], f32>
    return %0 : !rec.tensor<[B], f32>
  }
}

// -----

// A symbolic dim used inside an entry must come from one of its inputs,
// where the runtime binds it; otherwise the entry is left out.
// CHECK-LABEL: module @unbound
// CHECK: func.func @f{{.*}}rec.unsupported = "dimension 'B' is used but no input of the entry has it
module @unbound attributes {rec.model = "unbound"} {
  rec.dim @B max 4
  func.func @f(%x: !rec.tensor<[3], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[B, 3], f32> attributes {rec.entry = #rec<entry def>} {
    // expected-warning @+1 {{entry 'f' is left out of the plan: dimension 'B' is used but no input of the entry has it, so no call can bind it}}
    %0 = rec.broadcast %x : !rec.tensor<[3], f32> -> !rec.tensor<[B, 3], f32>
    return %0 : !rec.tensor<[B, 3], f32>
  }
}
