// REQUIRES: nvrtc
// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-generate-cuda="arch=sm_90" | FileCheck %s
// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-generate-cuda="arch=sm_80" | FileCheck %s --check-prefix=SM80
// RUN: not onerec-opt %s --split-input-file --rec-generate-cuda="arch=sm_1" -o /dev/null 2>&1 | FileCheck %s --check-prefix=LOG

// rec-generate-cuda with NVRTC: each group's kernel compiled at compile time
// into a cubin (an ELF) and PTX for the architecture. The source itself is
// tested in rec-generate-cuda.mlir.

// CHECK: module attributes {rec.cuda_arch = "sm_90"
// CHECK-LABEL: func.func @softmax
// CHECK: rec.cuda_cubin = "\7FELF
// CHECK-SAME: rec.cuda_kernel = "[[NAME:onerec_fused_[0-9a-f]+]]"
// CHECK-SAME: rec.cuda_ptx = "
// CHECK-SAME: .target sm_90
// CHECK-SAME: .entry [[NAME]](
// SM80: .target sm_80
module attributes {rec.model = "cuda"} {
rec.dim @B max 64
func.func @softmax(%a: !rec.tensor<[B, 200], f32>) -> !rec.tensor<[B, 200], f32> {
  %0 = rec.fused(%a) : (!rec.tensor<[B, 200], f32>) -> !rec.tensor<[B, 200], f32> {
  ^bb0(%x: !rec.tensor<[B, 200], f32>):
    %mx = rec.reduce_max %x {axes = array<i64: -1>, keepdim} : (!rec.tensor<[B, 200], f32>) -> !rec.tensor<[B, 1], f32>
    %d = rec.sub %x, %mx : !rec.tensor<[B, 200], f32>, !rec.tensor<[B, 1], f32> -> !rec.tensor<[B, 200], f32>
    %e = rec.exp %d : !rec.tensor<[B, 200], f32>
    %z = rec.reduce_sum %e {axes = array<i64: -1>, keepdim} : (!rec.tensor<[B, 200], f32>) -> !rec.tensor<[B, 1], f32>
    %p = rec.div %e, %z : !rec.tensor<[B, 200], f32>, !rec.tensor<[B, 1], f32> -> !rec.tensor<[B, 200], f32>
    rec.yield %p : !rec.tensor<[B, 200], f32>
  }
  return %0 : !rec.tensor<[B, 200], f32>
}
}

// -----

// NVRTC's errors are errors at the group, with its log (here it rejects the
// architecture; in the RUN lines above it compiles).
// LOG: error: rec-generate-cuda: NVRTC failed to compile this group's kernel onerec_fused_{{[0-9a-f]+}} for sm_1:
// LOG-NEXT: nvrtc: error: invalid value for --gpu-architecture
func.func @silu(%a: !rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f32>) -> !rec.tensor<[4, 8], f32> {
  ^bb0(%x: !rec.tensor<[4, 8], f32>):
    %e = rec.silu %x : !rec.tensor<[4, 8], f32>
    rec.yield %e : !rec.tensor<[4, 8], f32>
  }
  return %0 : !rec.tensor<[4, 8], f32>
}
