// RUN: onerec-opt %s --split-input-file --verify-diagnostics | FileCheck %s
// RUN: onerec-opt %s --split-input-file --verify-diagnostics --mlir-print-op-generic | onerec-opt --split-input-file | FileCheck %s

// rec.fused groups parse, verify and print back: full, row, column and
// scalar values, a last-axis reduction, several results.

module attributes {rec.model = "fused"} {
rec.dim @B max 64
// CHECK-LABEL: func.func @rms_norm_group
func.func @rms_norm_group(%a: !rec.tensor<[B, 8], f32>, %r: !rec.tensor<[B, 8], f32>, %g: !rec.tensor<[8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>) {
  // CHECK: %[[R:.*]]:2 = rec.fused(%{{.*}}, %{{.*}}, %{{.*}}) : (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>) {
  // CHECK-NEXT: ^bb0(%[[X:.*]]: !rec.tensor<[B, 8], f32>, %{{.*}}: !rec.tensor<[B, 8], f32>, %{{.*}}: !rec.tensor<[8], f32>):
  // CHECK: rec.reduce_mean %{{.*}} {axes = array<i64: -1>, keepdim} : (!rec.tensor<[B, 8], f32>) -> !rec.tensor<[B, 1], f32>
  // CHECK: rec.yield %{{.*}}, %{{.*}} : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>
  // CHECK-NEXT: }
  %0:2 = rec.fused(%a, %r, %g) : (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>) {
  ^bb0(%x: !rec.tensor<[B, 8], f32>, %res: !rec.tensor<[B, 8], f32>, %gain: !rec.tensor<[8], f32>):
    %s = rec.add %x, %res : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32> -> !rec.tensor<[B, 8], f32>
    %sq = rec.mul %s, %s : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32> -> !rec.tensor<[B, 8], f32>
    %ms = rec.reduce_mean %sq {axes = array<i64: -1>, keepdim} : (!rec.tensor<[B, 8], f32>) -> !rec.tensor<[B, 1], f32>
    %eps = rec.constant(1.0e-6) : !rec.tensor<[], f32>
    %v = rec.add %ms, %eps : !rec.tensor<[B, 1], f32>, !rec.tensor<[], f32> -> !rec.tensor<[B, 1], f32>
    %inv = rec.rsqrt %v : !rec.tensor<[B, 1], f32>
    %n = rec.mul %s, %inv : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 1], f32> -> !rec.tensor<[B, 8], f32>
    %y = rec.mul %n, %gain : !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[B, 8], f32>
    rec.yield %s, %y : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>
  }
  return %0#0, %0#1 : !rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>
}

// CHECK-LABEL: func.func @masked_row_max
func.func @masked_row_max(%a: !rec.tensor<[B, 4, 8], f32>, %m: !rec.tensor<[B, 4, 8], i1>) -> !rec.tensor<[B, 4, 1], f32> {
  // CHECK: rec.fused
  // CHECK: rec.select
  // CHECK: rec.reduce_max
  %0 = rec.fused(%a, %m) : (!rec.tensor<[B, 4, 8], f32>, !rec.tensor<[B, 4, 8], i1>) -> !rec.tensor<[B, 4, 1], f32> {
  ^bb0(%x: !rec.tensor<[B, 4, 8], f32>, %mask: !rec.tensor<[B, 4, 8], i1>):
    %ninf = rec.constant(-1.0e30) : !rec.tensor<[], f32>
    %s = rec.select %mask, %x, %ninf : !rec.tensor<[B, 4, 8], i1>, !rec.tensor<[B, 4, 8], f32>, !rec.tensor<[], f32> -> !rec.tensor<[B, 4, 8], f32>
    %mx = rec.reduce_max %s {axes = array<i64: 2>, keepdim} : (!rec.tensor<[B, 4, 8], f32>) -> !rec.tensor<[B, 4, 1], f32>
    rec.yield %mx : !rec.tensor<[B, 4, 1], f32>
  }
  return %0 : !rec.tensor<[B, 4, 1], f32>
}
}

// -----

func.func @wrong_arg_type(%a: !rec.tensor<[4, 8], f32>) {
  // expected-error @+1 {{'rec.fused' op body argument #0 has type f32[4, 9] but operand #0 has type f32[4, 8]}}
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 9], f32>):
    %e = rec.exp %x : !rec.tensor<[4, 9], f32>
    rec.yield %e : !rec.tensor<[4, 9], f32>
  }
  return
}

// -----

func.func @yield_mismatch(%a: !rec.tensor<[4, 8], f32>) {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    %s = rec.reduce_sum %x {axes = array<i64: -1>, keepdim} : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 1], f32>
    // expected-error @+1 {{'rec.yield' op types must match the results of the rec.fused op}}
    rec.yield %s : !rec.tensor<[4, 1], f32>
  }
  return
}

// -----

func.func @not_allowed(%a: !rec.tensor<[4, 8], f32>) {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    // expected-error @+1 {{'rec.softmax' op is not allowed in a rec.fused body}}
    %m = rec.softmax %x {axis = -1 : i64} : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32>
    rec.yield %m : !rec.tensor<[4, 8], f32>
  }
  return
}

// -----

func.func @not_a_kind(%a: !rec.tensor<[2, 4, 8], f32>, %b: !rec.tensor<[2, 1, 8], f32>) {
  // expected-error @+1 {{'rec.fused' op value of type f32[2, 1, 8] is neither the iteration shape [2, 4, 8], one element per row, per column, nor a scalar}}
  %0 = rec.fused(%a, %b) : (!rec.tensor<[2, 4, 8], f32>, !rec.tensor<[2, 1, 8], f32>) -> !rec.tensor<[2, 4, 8], f32> {
  ^bb0(%x: !rec.tensor<[2, 4, 8], f32>, %y: !rec.tensor<[2, 1, 8], f32>):
    %s = rec.add %x, %y : !rec.tensor<[2, 4, 8], f32>, !rec.tensor<[2, 1, 8], f32> -> !rec.tensor<[2, 4, 8], f32>
    rec.yield %s : !rec.tensor<[2, 4, 8], f32>
  }
  return
}

// -----

func.func @reduce_first_axis(%a: !rec.tensor<[4, 8], f32>) {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[1, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    // expected-error @+1 {{'rec.reduce_sum' op in a rec.fused body reduces the last axis only, with keepdim}}
    %s = rec.reduce_sum %x {axes = array<i64: 0>, keepdim} : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[1, 8], f32>
    rec.yield %s : !rec.tensor<[1, 8], f32>
  }
  return
}

// -----

func.func @reduce_no_keepdim(%a: !rec.tensor<[4, 8], f32>) {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    // expected-error @+1 {{'rec.reduce_sum' op in a rec.fused body reduces the last axis only, with keepdim}}
    %s = rec.reduce_sum %x {axes = array<i64: -1>} : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4], f32>
    %e = rec.exp %x : !rec.tensor<[4, 8], f32>
    rec.yield %e : !rec.tensor<[4, 8], f32>
  }
  return
}

// -----

func.func @reduce_a_row(%a: !rec.tensor<[4, 8], f32>) {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 1], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    %s = rec.reduce_sum %x {axes = array<i64: -1>, keepdim} : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 1], f32>
    // expected-error @+1 {{'rec.reduce_max' op in a rec.fused body reduces a value of the iteration shape [4, 8], got f32[4, 1]}}
    %t = rec.reduce_max %s {axes = array<i64: -1>, keepdim} : (!rec.tensor<[4, 1], f32>) -> !rec.tensor<[4, 1], f32>
    rec.yield %t : !rec.tensor<[4, 1], f32>
  }
  return
}

// -----

func.func @column_result(%a: !rec.tensor<[4, 8], f32>, %c: !rec.tensor<[8], f32>) {
  %0:2 = rec.fused(%a, %c) : (!rec.tensor<[4, 8], f32>, !rec.tensor<[8], f32>) -> (!rec.tensor<[4, 8], f32>, !rec.tensor<[8], f32>) {
  ^bb0(%x: !rec.tensor<[4, 8], f32>, %y: !rec.tensor<[8], f32>):
    %e = rec.exp %y : !rec.tensor<[8], f32>
    %s = rec.mul %x, %e : !rec.tensor<[4, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[4, 8], f32>
    // expected-error @+1 {{'rec.yield' op result #1 of type f32[8] is neither the iteration shape [4, 8] nor one element per row}}
    rec.yield %s, %e : !rec.tensor<[4, 8], f32>, !rec.tensor<[8], f32>
  }
  return
}

// -----

func.func @integers(%a: !rec.tensor<[4, 8], i64>) {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], i64>) -> !rec.tensor<[4, 8], i64> {
  ^bb0(%x: !rec.tensor<[4, 8], i64>):
    // expected-error @+1 {{'rec.neg' op a rec.fused body computes with floats and booleans, got i64[4, 8]}}
    %n = rec.neg %x : !rec.tensor<[4, 8], i64>
    rec.yield %n : !rec.tensor<[4, 8], i64>
  }
  return
}

// -----

func.func @no_results(%a: !rec.tensor<[4, 8], f32>) {
  // expected-error @+1 {{'rec.fused' op needs at least one result}}
  rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> () {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    rec.yield
  }
  return
}

// -----

func.func @captures(%a: !rec.tensor<[4, 8], f32>) {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    // expected-error @+1 {{using value defined outside the region}}
    %s = rec.add %x, %a : !rec.tensor<[4, 8], f32>, !rec.tensor<[4, 8], f32> -> !rec.tensor<[4, 8], f32>
    rec.yield %s : !rec.tensor<[4, 8], f32>
  }
  return
}
