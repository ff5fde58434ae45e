// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-select-kernels --rec-plan-memory | FileCheck %s
// RUN: not onerec-opt %s --split-input-file --rec-plan-memory 2>&1 | FileCheck %s --check-prefix=UNSELECTED
// RUN: not onerec-opt %s --split-input-file --rec-select-kernels --rec-plan-memory="alignment=48" 2>&1 | FileCheck %s --check-prefix=ALIGN

// UNSELECTED: error: rec-plan-memory: op has no rec.kernel; run rec-select-kernels first
// ALIGN: error: rec-plan-memory: alignment must be a power of two

// Sizes are taken at the maxima (B = 4): x [B, 8] f32 is 128 bytes, the
// matmul result [B, 16] 256, the sum [B] 16 (64 aligned). exp's bytes are
// reused in place by neg (same type, dies there), matmul's by relu; the sum
// cannot overlap relu's result, which it reads, so it takes the bytes of neg,
// dead by then. Peak 384 bytes, 832 without reuse.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: rec.arena_bytes = 384 : i64, rec.arena_naive_bytes = 832 : i64
// CHECK: rec.exp {{.*}}rec.offsets = array<i64: 256>
// CHECK: rec.neg {{.*}}rec.offsets = array<i64: 256>
// CHECK: rec.matmul {{.*}}rec.offsets = array<i64: 0>
// CHECK: rec.relu {{.*}}rec.offsets = array<i64: 0>
// CHECK: rec.reduce_sum {{.*}}rec.offsets = array<i64: 256>
module @chain attributes {rec.model = "chain"} {
  rec.dim @B max 4
  rec.param @w : !rec.tensor<[8, 16], f32> init <zeros>
  func.func @chain(%x: !rec.tensor<[B, 8], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[B], f32> attributes {rec.entry = #rec<entry def>} {
    %0 = rec.exp %x : !rec.tensor<[B, 8], f32>
    %1 = rec.neg %0 : !rec.tensor<[B, 8], f32>
    %w = rec.param_ref @w : !rec.tensor<[8, 16], f32>
    %2 = rec.matmul %1, %w : (!rec.tensor<[B, 8], f32>, !rec.tensor<[8, 16], f32>) -> !rec.tensor<[B, 16], f32>
    %3 = rec.relu %2 : !rec.tensor<[B, 16], f32>
    %4 = rec.reduce_sum %3 {axes = array<i64: -1>} : (!rec.tensor<[B, 16], f32>) -> !rec.tensor<[B], f32>
    return %4 : !rec.tensor<[B], f32>
  }
}

// -----

// A view keeps the bytes it aliases alive: exp's result is reshaped and the
// reshape is used after neg, so neg cannot take exp's bytes in place.
// CHECK-LABEL: func.func @view
// CHECK-SAME: rec.arena_bytes = 128 : i64
// CHECK: rec.exp {{.*}}rec.offsets = array<i64: 0>
// CHECK: rec.reshape {{.*}}rec.kernel = "view"
// CHECK-NOT: rec.offsets
// CHECK: rec.neg {{.*}}rec.offsets = array<i64: 64>
module @view attributes {rec.model = "view"} {
  rec.dim @B max 4
  func.func @view(%x: !rec.tensor<[B, 4], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> (!rec.tensor<[B, 4], f32>, !rec.tensor<[B, 2, 2], f32>) attributes {rec.entry = #rec<entry def>} {
    %0 = rec.exp %x : !rec.tensor<[B, 4], f32>
    %1 = rec.reshape %0 : !rec.tensor<[B, 4], f32> -> !rec.tensor<[B, 2, 2], f32>
    %2 = rec.neg %0 : !rec.tensor<[B, 4], f32>
    return %2, %1 : !rec.tensor<[B, 4], f32>, !rec.tensor<[B, 2, 2], f32>
  }
}

// -----

// Every result of a multi-result op gets its own bytes.
// CHECK-LABEL: func.func @topk
// CHECK: rec.topk {{.*}}rec.offsets = array<i64: {{[0-9]+}}, {{[0-9]+}}>
module @topk attributes {rec.model = "topk"} {
  rec.dim @B max 4
  func.func @topk(%x: !rec.tensor<[B, 8], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> (!rec.tensor<[B, 2], f32>, !rec.tensor<[B, 2], i64>) attributes {rec.entry = #rec<entry def>} {
    %v, %i = rec.topk %x {k = 2 : i64} : (!rec.tensor<[B, 8], f32>) -> (!rec.tensor<[B, 2], f32>, !rec.tensor<[B, 2], i64>)
    return %v, %i : !rec.tensor<[B, 2], f32>, !rec.tensor<[B, 2], i64>
  }
}

// -----

// No in-place reuse when another operand reads the same bytes under another
// shape: the add's result gets bytes of its own.
// CHECK-LABEL: func.func @aliased
// CHECK: rec.exp {{.*}}rec.offsets = array<i64: [[EXP:[0-9]+]]>
// CHECK: rec.add {{.*}}rec.offsets = array<i64: [[ADD:[0-9]+]]>
// CHECK-NOT: array<i64: [[EXP]]>
module @aliased attributes {rec.model = "aliased"} {
  rec.dim @B max 4
  func.func @aliased(%x: !rec.tensor<[B, 3], f32> {rec.role = #rec<role input>, rec.name = "x"}) -> !rec.tensor<[1, B, 3], f32> attributes {rec.entry = #rec<entry def>} {
    %0 = rec.exp %x : !rec.tensor<[B, 3], f32>
    %1 = rec.reshape %0 : !rec.tensor<[B, 3], f32> -> !rec.tensor<[1, B, 3], f32>
    %2 = rec.add %0, %1 : !rec.tensor<[B, 3], f32>, !rec.tensor<[1, B, 3], f32> -> !rec.tensor<[1, B, 3], f32>
    return %2 : !rec.tensor<[1, B, 3], f32>
  }
}
