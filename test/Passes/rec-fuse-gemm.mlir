// RUN: onerec-opt %s --split-input-file --rec-fuse-gemm | FileCheck %s
// RUN: onerec-opt %s --split-input-file --rec-fuse-gemm="epilogues=false sums=false shared-lhs=false weight-grads=false" | FileCheck %s --check-prefix=OFF

// Bias, activation and residual fold into the product's output stage.
// CHECK-LABEL: func.func @epilogue
// CHECK-NEXT: %[[Y:.*]] = rec.gemm(%arg0) x(%arg1) bias %arg2 residual %arg3 {epilogue = #rec<gemm_epilogue gelu>}
// CHECK-NEXT: return %[[Y]]
// OFF-LABEL: func.func @epilogue
// OFF-NOT: rec.gemm
func.func @epilogue(%x: !rec.tensor<[4, 8, 16], f32>, %w: !rec.tensor<[16, 32], f32>, %b: !rec.tensor<[32], f32>, %r: !rec.tensor<[4, 8, 32], f32>) -> !rec.tensor<[4, 8, 32], f32> {
  %0 = rec.matmul %x, %w : (!rec.tensor<[4, 8, 16], f32>, !rec.tensor<[16, 32], f32>) -> !rec.tensor<[4, 8, 32], f32>
  %1 = rec.add %0, %b : !rec.tensor<[4, 8, 32], f32>, !rec.tensor<[32], f32> -> !rec.tensor<[4, 8, 32], f32>
  %2 = rec.gelu %1 : !rec.tensor<[4, 8, 32], f32>
  %3 = rec.add %r, %2 : !rec.tensor<[4, 8, 32], f32>, !rec.tensor<[4, 8, 32], f32> -> !rec.tensor<[4, 8, 32], f32>
  return %3 : !rec.tensor<[4, 8, 32], f32>
}

// -----

// The pre-activation is needed elsewhere (by a backward relu mask): the bias
// folds in, the activation stays.
// CHECK-LABEL: func.func @preactivation_used
// CHECK-NEXT: %[[P:.*]] = rec.gemm(%arg0) x(%arg1) bias %arg2 :
// CHECK-NEXT: rec.relu %[[P]]
func.func @preactivation_used(%x: !rec.tensor<[8, 16], f32>, %w: !rec.tensor<[16, 32], f32>, %b: !rec.tensor<[32], f32>) -> (!rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32>) {
  %0 = rec.matmul %x, %w : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 32], f32>) -> !rec.tensor<[8, 32], f32>
  %1 = rec.add %0, %b : !rec.tensor<[8, 32], f32>, !rec.tensor<[32], f32> -> !rec.tensor<[8, 32], f32>
  %2 = rec.relu %1 : !rec.tensor<[8, 32], f32>
  return %1, %2 : !rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32>
}

// -----

// Near misses: a product used twice; an add of a broadcast operand that is
// not a vector over the last dim; a parameter written between the product and
// its add.
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: rec.gemm
// CHECK: return
module {
  rec.param @w : !rec.tensor<[16, 32], f32> init <zeros>
  func.func @near_misses(%x: !rec.tensor<[8, 16], f32>, %w: !rec.tensor<[16, 32], f32>, %c: !rec.tensor<[8, 1], f32>, %g: !rec.tensor<[16, 32], f32>, %r: !rec.tensor<[8, 32], f32>) -> (!rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32>) {
    %0 = rec.matmul %x, %w : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 32], f32>) -> !rec.tensor<[8, 32], f32>
    %1 = rec.relu %0 : !rec.tensor<[8, 32], f32>
    %2 = rec.add %0, %1 : !rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32> -> !rec.tensor<[8, 32], f32>
    %3 = rec.matmul %1, %g {transpose_b} : (!rec.tensor<[8, 32], f32>, !rec.tensor<[16, 32], f32>) -> !rec.tensor<[8, 16], f32>
    %4 = rec.add %3, %c : !rec.tensor<[8, 16], f32>, !rec.tensor<[8, 1], f32> -> !rec.tensor<[8, 16], f32>
    %p = rec.param_ref @w : !rec.tensor<[16, 32], f32>
    %5 = rec.matmul %4, %p : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 32], f32>) -> !rec.tensor<[8, 32], f32>
    rec.assign_add %p, %g : !rec.tensor<[16, 32], f32>, !rec.tensor<[16, 32], f32>
    %6 = rec.add %5, %r : !rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32> -> !rec.tensor<[8, 32], f32>
    return %2, %6, %1 : !rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32>, !rec.tensor<[8, 32], f32>
  }
}

// -----

// q/k/v of one normalized input: one gemm at the first product, the later
// parameter reads moved up; a product of another input stays out.
// CHECK-LABEL: func.func @shared_lhs
// CHECK: %[[WQ:.*]] = rec.param_ref @wq
// CHECK-NEXT: %[[WK:.*]] = rec.param_ref @wk
// CHECK-NEXT: %[[WV:.*]] = rec.param_ref @wv
// CHECK-NEXT: %[[QKV:.*]]:3 = rec.gemm(%arg0) x(%[[WQ]], %[[WK]], %[[WV]]) :
// CHECK-NEXT: rec.matmul %arg1, %[[WQ]]
// CHECK: rec.attention %[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2
module {
  rec.param @wq : !rec.tensor<[16, 16], f32> init <zeros>
  rec.param @wk : !rec.tensor<[16, 16], f32> init <zeros>
  rec.param @wv : !rec.tensor<[16, 8], f32> init <zeros>
  func.func @shared_lhs(%x: !rec.tensor<[2, 5, 16], f32>, %other: !rec.tensor<[2, 5, 16], f32>) -> (!rec.tensor<[2, 5, 8], f32>, !rec.tensor<[2, 5, 16], f32>) {
    %wq = rec.param_ref @wq : !rec.tensor<[16, 16], f32>
    %q = rec.matmul %x, %wq : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[16, 16], f32>) -> !rec.tensor<[2, 5, 16], f32>
    %o = rec.matmul %other, %wq : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[16, 16], f32>) -> !rec.tensor<[2, 5, 16], f32>
    %wk = rec.param_ref @wk : !rec.tensor<[16, 16], f32>
    %k = rec.matmul %x, %wk : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[16, 16], f32>) -> !rec.tensor<[2, 5, 16], f32>
    %wv = rec.param_ref @wv : !rec.tensor<[16, 8], f32>
    %v = rec.matmul %x, %wv : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[16, 8], f32>) -> !rec.tensor<[2, 5, 8], f32>
    %a = rec.attention %q, %k, %v {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f64} : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[2, 5, 16], f32>, !rec.tensor<[2, 5, 8], f32>) -> !rec.tensor<[2, 5, 8], f32>
    return %a, %o : !rec.tensor<[2, 5, 8], f32>, !rec.tensor<[2, 5, 16], f32>
  }
}

// -----

// SwiGLU: only the product is written. In training the gate's pre-activation
// is needed by the backward pass, and the pair becomes a shared-lhs gemm.
// CHECK-LABEL: func.func @swiglu
// CHECK-NEXT: %[[H:.*]] = rec.gemm(%arg0) x(%arg1, %arg2) {epilogue = #rec<gemm_epilogue swiglu>}
// CHECK-NEXT: return %[[H]]
func.func @swiglu(%x: !rec.tensor<[8, 16], f32>, %wg: !rec.tensor<[16, 64], f32>, %wu: !rec.tensor<[16, 64], f32>) -> !rec.tensor<[8, 64], f32> {
  %g = rec.matmul %x, %wg : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 64], f32>) -> !rec.tensor<[8, 64], f32>
  %u = rec.matmul %x, %wu : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 64], f32>) -> !rec.tensor<[8, 64], f32>
  %s = rec.silu %g : !rec.tensor<[8, 64], f32>
  %h = rec.mul %s, %u : !rec.tensor<[8, 64], f32>, !rec.tensor<[8, 64], f32> -> !rec.tensor<[8, 64], f32>
  return %h : !rec.tensor<[8, 64], f32>
}

// CHECK-LABEL: func.func @swiglu_training
// CHECK-NEXT: %[[GU:.*]]:2 = rec.gemm(%arg0) x(%arg1, %arg2) :
// CHECK-NEXT: rec.silu %[[GU]]#0
func.func @swiglu_training(%x: !rec.tensor<[8, 16], f32>, %wg: !rec.tensor<[16, 64], f32>, %wu: !rec.tensor<[16, 64], f32>) -> (!rec.tensor<[8, 64], f32>, !rec.tensor<[8, 64], f32>) {
  %g = rec.matmul %x, %wg : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 64], f32>) -> !rec.tensor<[8, 64], f32>
  %u = rec.matmul %x, %wu : (!rec.tensor<[8, 16], f32>, !rec.tensor<[16, 64], f32>) -> !rec.tensor<[8, 64], f32>
  %s = rec.silu %g : !rec.tensor<[8, 64], f32>
  %h = rec.mul %s, %u : !rec.tensor<[8, 64], f32>, !rec.tensor<[8, 64], f32> -> !rec.tensor<[8, 64], f32>
  return %h, %g : !rec.tensor<[8, 64], f32>, !rec.tensor<[8, 64], f32>
}

// -----

// The data gradient of an input of three projections, added to the gradient
// that arrived before: one gemm accumulating into the earlier gradient. A
// product with other transposes ends the chain as its residual.
// CHECK-LABEL: func.func @data_grad_sum
// CHECK-NEXT: %[[M:.*]] = rec.gemm(%arg7) x(%arg8) residual %arg0 :
// CHECK-NEXT: %[[S:.*]] = rec.gemm(%arg1, %arg2, %arg3) x(%arg4, %arg5, %arg6) residual %[[M]] {transpose_b}
// CHECK-NEXT: return %[[S]]
func.func @data_grad_sum(%acc: !rec.tensor<[8, 16], f32>, %dq: !rec.tensor<[8, 4], f32>, %dk: !rec.tensor<[8, 4], f32>, %dv: !rec.tensor<[8, 6], f32>, %wq: !rec.tensor<[16, 4], f32>, %wk: !rec.tensor<[16, 4], f32>, %wv: !rec.tensor<[16, 6], f32>, %u: !rec.tensor<[8, 3], f32>, %wu: !rec.tensor<[3, 16], f32>) -> !rec.tensor<[8, 16], f32> {
  %m = rec.matmul %u, %wu : (!rec.tensor<[8, 3], f32>, !rec.tensor<[3, 16], f32>) -> !rec.tensor<[8, 16], f32>
  %a = rec.add %acc, %m : !rec.tensor<[8, 16], f32>, !rec.tensor<[8, 16], f32> -> !rec.tensor<[8, 16], f32>
  %0 = rec.matmul %dq, %wq {transpose_b} : (!rec.tensor<[8, 4], f32>, !rec.tensor<[16, 4], f32>) -> !rec.tensor<[8, 16], f32>
  %1 = rec.add %a, %0 : !rec.tensor<[8, 16], f32>, !rec.tensor<[8, 16], f32> -> !rec.tensor<[8, 16], f32>
  %2 = rec.matmul %dk, %wk {transpose_b} : (!rec.tensor<[8, 4], f32>, !rec.tensor<[16, 4], f32>) -> !rec.tensor<[8, 16], f32>
  %3 = rec.add %1, %2 : !rec.tensor<[8, 16], f32>, !rec.tensor<[8, 16], f32> -> !rec.tensor<[8, 16], f32>
  %4 = rec.matmul %dv, %wv {transpose_b} : (!rec.tensor<[8, 6], f32>, !rec.tensor<[16, 6], f32>) -> !rec.tensor<[8, 16], f32>
  %5 = rec.add %3, %4 : !rec.tensor<[8, 16], f32>, !rec.tensor<[8, 16], f32> -> !rec.tensor<[8, 16], f32>
  return %5 : !rec.tensor<[8, 16], f32>
}

// -----

// Weight gradients of one activation: one op at the last of them. The one
// of another activation stays.
// CHECK-LABEL: func.func @weight_grads
// CHECK: rec.weight_grad %arg3, %arg1
// CHECK: %[[G:.*]]:2 = rec.grouped_weight_grad %arg0, %arg1, %arg2 :
// CHECK-NEXT: return %[[G]]#0, %[[G]]#1
func.func @weight_grads(%x: !rec.tensor<[2, 5, 16], f32>, %d1: !rec.tensor<[2, 5, 8], f32>, %d2: !rec.tensor<[2, 5, 4], f32>, %y: !rec.tensor<[2, 5, 16], f32>) -> (!rec.tensor<[16, 8], f32>, !rec.tensor<[16, 4], f32>, !rec.tensor<[16, 8], f32>) {
  %0 = rec.weight_grad %x, %d1 : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[2, 5, 8], f32>) -> !rec.tensor<[16, 8], f32>
  %1 = rec.weight_grad %y, %d1 : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[2, 5, 8], f32>) -> !rec.tensor<[16, 8], f32>
  %2 = rec.weight_grad %x, %d2 : (!rec.tensor<[2, 5, 16], f32>, !rec.tensor<[2, 5, 4], f32>) -> !rec.tensor<[16, 4], f32>
  return %0, %2, %1 : !rec.tensor<[16, 8], f32>, !rec.tensor<[16, 4], f32>, !rec.tensor<[16, 8], f32>
}

// -----

// One launch covers one batch: products of one left operand whose results
// have different leading dims (a weight shared vs a weight per batch entry)
// stay apart.
// CHECK-LABEL: func.func @shared_lhs_other_batch
// CHECK-NOT: rec.gemm
module {
  func.func @shared_lhs_other_batch(%x: !rec.tensor<[5, 16], f32>, %w: !rec.tensor<[16, 8], f32>, %ws: !rec.tensor<[3, 16, 8], f32>) -> (!rec.tensor<[5, 8], f32>, !rec.tensor<[3, 5, 8], f32>) {
    %a = rec.matmul %x, %w : (!rec.tensor<[5, 16], f32>, !rec.tensor<[16, 8], f32>) -> !rec.tensor<[5, 8], f32>
    %b = rec.matmul %x, %ws : (!rec.tensor<[5, 16], f32>, !rec.tensor<[3, 16, 8], f32>) -> !rec.tensor<[3, 5, 8], f32>
    return %a, %b : !rec.tensor<[5, 8], f32>, !rec.tensor<[3, 5, 8], f32>
  }
}
