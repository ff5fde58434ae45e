// RUN: onerec-opt %s --split-input-file --rec-fuse-elementwise | FileCheck %s
// RUN: onerec-opt %s --split-input-file --rec-fuse-elementwise="expand-composites=false" | FileCheck %s --check-prefix=NOEXPAND

!x = !rec.tensor<[B, 8], f32>
!row = !rec.tensor<[B, 1], f32>
!col = !rec.tensor<[8], f32>

// Bias + activation: one group reading the bias as a column.
// CHECK-LABEL: func.func @bias_gelu
// CHECK: %[[F:.*]] = rec.fused(%{{.*}}, %{{.*}}) : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>) -> !rec.tensor<[B, 8], f32> {
// CHECK: rec.add
// CHECK: rec.gelu
// CHECK: rec.yield
// CHECK: return %[[F]]
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @bias_gelu(%x: !x, %b: !col) -> !x {
  %0 = rec.add %x, %b : !x, !col -> !x
  %1 = rec.gelu %0 : !x
  return %1 : !x
}
}

// -----

!x = !rec.tensor<[B, 8], f32>
!col = !rec.tensor<[8], f32>

// Residual + rms_norm: the norm is expanded inside the group, which yields
// both the residual sum (used later) and the normalized value.
// CHECK-LABEL: func.func @residual_rms_norm
// CHECK: %[[F:.*]]:2 = rec.fused(%{{.*}}, %{{.*}}, %{{.*}}) : (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>, !rec.tensor<[8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>)
// CHECK: rec.add
// CHECK: rec.reduce_mean {{.*}}keepdim
// CHECK: rec.constant(9.99{{.*}}E-7)
// CHECK: rec.rsqrt
// CHECK: rec.yield
// CHECK-NOT: rec.rms_norm
// CHECK: rec.matmul %[[F]]#1
// CHECK: rec.add %[[F]]#0
// NOEXPAND-LABEL: func.func @residual_rms_norm
// NOEXPAND-NOT: rec.fused
// NOEXPAND: rec.rms_norm
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @residual_rms_norm(%x: !x, %r: !x, %g: !col, %w: !rec.tensor<[8, 8], f32>) -> !x {
  %s = rec.add %x, %r : !x, !x -> !x
  %n = rec.rms_norm %s, %g {eps = 1.0e-6 : f64} : (!x, !col) -> !x
  %h = rec.matmul %n, %w : (!x, !rec.tensor<[8, 8], f32>) -> !x
  %o = rec.add %s, %h : !x, !x -> !x
  return %o : !x
}
}

// -----

!s = !rec.tensor<[B, 4, 16], f32>
!m = !rec.tensor<[B, 4, 16], i1>

// Mask + scale + softmax: one group; the softmax is expanded.
// CHECK-LABEL: func.func @mask_scale_softmax
// CHECK: rec.fused(%{{.*}}, %{{.*}}) : (!rec.tensor<[B, 4, 16], f32>, !rec.tensor<[B, 4, 16], i1>) -> !rec.tensor<[B, 4, 16], f32>
// CHECK: rec.mul
// CHECK: rec.select
// CHECK: rec.reduce_max
// CHECK: rec.exp
// CHECK: rec.reduce_sum
// CHECK: rec.div
// CHECK-NOT: rec.softmax
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @mask_scale_softmax(%x: !s, %mask: !m) -> !s {
  %c = rec.constant(0.25) : !rec.tensor<[], f32>
  %ninf = rec.constant(-1.0e9) : !rec.tensor<[], f32>
  %0 = rec.mul %x, %c : !s, !rec.tensor<[], f32> -> !s
  %1 = rec.select %mask, %0, %ninf : !m, !s, !rec.tensor<[], f32> -> !s
  %2 = rec.softmax %1 {axis = -1 : i64} : (!s) -> !s
  return %2 : !s
}
}

// -----

!x = !rec.tensor<[B, 8], f32>

// SwiGLU: silu(g) * u, and a reduction whose row feeds elementwise
// consumers (x - max(x)); a reduction without keepdim ends its group and is
// read through a reshape.
// CHECK-LABEL: func.func @swiglu_and_rows
// CHECK: rec.fused
// CHECK: rec.silu
// CHECK: rec.mul
// CHECK: rec.reduce_max {{.*}}keepdim
// CHECK: rec.sub
// CHECK: rec.exp
// CHECK: rec.reduce_sum %{{.*}} {axes = array<i64: -1>, keepdim} : (!rec.tensor<[B, 8], f32>) -> !rec.tensor<[B, 1], f32>
// CHECK: rec.yield %{{.*}} : !rec.tensor<[B, 1], f32>
// CHECK: rec.reshape %{{.*}} : !rec.tensor<[B, 1], f32> -> !rec.tensor<[B], f32>
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @swiglu_and_rows(%g: !x, %u: !x) -> !rec.tensor<[B], f32> {
  %0 = rec.silu %g : !x
  %1 = rec.mul %0, %u : !x, !x -> !x
  %2 = rec.reduce_max %1 {axes = array<i64: -1>, keepdim} : (!x) -> !rec.tensor<[B, 1], f32>
  %3 = rec.sub %1, %2 : !x, !rec.tensor<[B, 1], f32> -> !x
  %4 = rec.exp %3 : !x
  %5 = rec.reduce_sum %4 {axes = array<i64: -1>} : (!x) -> !rec.tensor<[B], f32>
  return %5 : !rec.tensor<[B], f32>
}
}

// -----

!x = !rec.tensor<[B, 4, 8], f32>
!b = !rec.tensor<[B, 1, 8], f32>

// Must not fuse: a single op stays itself; [B, 1, 8] against [B, 4, 8] is
// no kind of the domain; a reduction over a leading axis is not a group op.
// CHECK-LABEL: func.func @not_groups
// CHECK-NOT: rec.fused
// CHECK: rec.exp
// CHECK: rec.add
// CHECK: rec.reduce_sum
// CHECK: rec.neg
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @not_groups(%x: !x, %y: !b) -> (!x, !x, !rec.tensor<[4, 8], f32>) {
  %0 = rec.exp %x : !x
  %1 = rec.add %0, %y : !x, !b -> !x
  %2 = rec.reduce_sum %x {axes = array<i64: 0>} : (!x) -> !rec.tensor<[4, 8], f32>
  %3 = rec.neg %2 : !rec.tensor<[4, 8], f32>
  return %0, %1, %3 : !x, !x, !rec.tensor<[4, 8], f32>
}
}

// -----

!p = !rec.tensor<[8], f32>

// Must not fuse across a write: the group would run after rec.assign_add
// updated the parameter its first op read.
// CHECK-LABEL: func.func @write_between
// CHECK-NOT: rec.fused
// CHECK: rec.exp
// CHECK: rec.assign_add
// CHECK: rec.neg
module @m attributes {rec.model = "m"} {
rec.param @p : !rec.tensor<[8], f32> init <zeros>
func.func @write_between(%x: !p) -> !p {
  %w = rec.param_ref @p : !p
  %0 = rec.exp %w : !p
  rec.assign_add %w, %x : !p, !p
  %1 = rec.neg %0 : !p
  return %1 : !p
}
}

// -----

!x = !rec.tensor<[B, 8], f32>

// Must not fuse when an outside op needs an intermediate before the group's
// last member could run: %0 feeds the matmul that feeds %2.
// CHECK-LABEL: func.func @used_in_between
// CHECK-NOT: rec.fused
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @used_in_between(%x: !x, %w: !rec.tensor<[8, 8], f32>) -> !x {
  %0 = rec.exp %x : !x
  %1 = rec.matmul %0, %w : (!x, !rec.tensor<[8, 8], f32>) -> !x
  %2 = rec.mul %0, %1 : !x, !x -> !x
  return %2 : !x
}
}

// -----

!x = !rec.tensor<[B, 8], f32>
!row = !rec.tensor<[B, 1], f32>

// A broadcast keeps its operand's kind inside a group, so a row broadcast
// to full and then reduced stays outside: the group reduces the full tensor
// the broadcast materializes. (In the group, exp(broadcast(row)) would be a
// row register that a reduction cannot read.)
// CHECK-LABEL: func.func @reduce_of_broadcast
// CHECK: %[[B:.*]] = rec.broadcast %arg0
// CHECK: rec.fused(%[[B]], %arg1)
// CHECK: rec.exp
// CHECK: rec.reduce_sum
// CHECK: rec.mul
module @m attributes {rec.model = "m"} {
rec.dim @B max 16
func.func @reduce_of_broadcast(%r: !row, %z: !x) -> (!x, !row) {
  %b = rec.broadcast %r : !row -> !x
  %e = rec.exp %b : !x
  %s = rec.reduce_sum %e {axes = array<i64: -1>, keepdim} : (!x) -> !row
  %m = rec.mul %e, %z : !x, !x -> !x
  return %m, %s : !x, !row
}
}
