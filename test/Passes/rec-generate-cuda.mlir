// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-generate-cuda="compile=false print-source" -o /dev/null | FileCheck %s
// RUN: onerec-opt %s --split-input-file --verify-diagnostics --rec-generate-cuda="compile=false" | FileCheck %s --check-prefix=ATTR

// rec-generate-cuda writes one CUDA kernel per rec.fused group: the source
// (FileCheck'd here), the iteration domain and the launch shape. The second
// file (rec-generate-cuda-nvrtc.mlir) compiles them with NVRTC.

module attributes {rec.model = "cuda"} {
rec.dim @B max 64

// An elementwise group: bias + GELU, column and full operands; one pass over
// each row, no combine.
// CHECK: // onerec fused group at rec-generate-cuda.mlir
// CHECK: // domain f32[B, 64]; block of 256 threads: 32 per row, 8 rows
// CHECK: extern "C" __global__ void __launch_bounds__(256)
// CHECK-NEXT: onerec_fused_[[NAME:[0-9a-f]+]](
// CHECK-NEXT: const float *__restrict__ in0,
// CHECK-NEXT: const float *__restrict__ in1,
// CHECK-NEXT: float *__restrict__ out0,
// CHECK-NEXT: long long d0,
// CHECK-NEXT: long long /*d1*/) {
// CHECK-NEXT: const long long cols = 64LL;
// CHECK-NEXT: const long long rows = d0;
// CHECK: for (long long c = threadIdx.x; c < cols; c += 32) {
// CHECK-NEXT: const float a0 = in0[r * cols + c];
// CHECK-NEXT: const float a1 = in1[0LL + c];
// CHECK-NEXT: const float v1 = a0 + a1;
// CHECK-NEXT: const float v0 = onerec_gelu(v1);
// CHECK-NEXT: if (active)
// CHECK-NEXT: out0[r * cols + c] = v0;
// CHECK-NOT: onerec_row_reduce<
// ATTR-LABEL: func.func @bias_gelu
// ATTR: rec.fused
// ATTR: rec.cuda_domain = !rec.tensor<[B, 64], f32>, rec.cuda_kernel = "onerec_fused_{{[0-9a-f]+}}", rec.cuda_launch = array<i64: 32, 8>, rec.cuda_source = "// onerec fused group
func.func @bias_gelu(%a: !rec.tensor<[B, 64], f32>, %b: !rec.tensor<[64], f32>) -> !rec.tensor<[B, 64], f32> {
  %0 = rec.fused(%a, %b) : (!rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32>) -> !rec.tensor<[B, 64], f32> {
  ^bb0(%x: !rec.tensor<[B, 64], f32>, %bias: !rec.tensor<[64], f32>):
    %s = rec.add %x, %bias : !rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32> -> !rec.tensor<[B, 64], f32>
    %g = rec.gelu %s : !rec.tensor<[B, 64], f32>
    rec.yield %g : !rec.tensor<[B, 64], f32>
  }
  return %0 : !rec.tensor<[B, 64], f32>
}

// A reduction group with two results (residual + RMS norm): one pass for the
// mean of squares, a warp combine, the row scalars, then the results.
// CHECK: // onerec fused group at rec-generate-cuda.mlir
// CHECK: // domain f32[B, 8]; block of 256 threads: 8 per row, 32 rows
// CHECK: float *__restrict__ out0,
// CHECK-NEXT: float *__restrict__ out1,
// CHECK: float [[ACC:v[0-9]+]] = float(0);
// CHECK-NEXT: for (long long c = threadIdx.x; c < cols; c += 8) {
// CHECK-NEXT: const float a0 = in0[r * cols + c];
// CHECK-NEXT: const float a1 = in1[r * cols + c];
// CHECK-NEXT: const float [[S:v[0-9]+]] = a0 + a1;
// CHECK-NEXT: const float [[SQ:v[0-9]+]] = [[S]] * [[S]];
// CHECK-NEXT: [[ACC]] = onerec_sum_op()([[ACC]], [[SQ]]);
// CHECK-NEXT: }
// CHECK-NEXT: [[ACC]] = onerec_row_reduce<8>([[ACC]], onerec_sum_op(), nullptr);
// CHECK-NEXT: [[ACC]] = [[ACC]] / float(cols);
// CHECK-NEXT: const float [[EPS:v[0-9]+]] = 9.99999997e-07f;
// CHECK-NEXT: const float [[V:v[0-9]+]] = [[ACC]] + [[EPS]];
// CHECK-NEXT: const float [[INV:v[0-9]+]] = 1.0f / sqrtf([[V]]);
// CHECK-NEXT: for (long long c = threadIdx.x; c < cols; c += 8) {
// CHECK: out0[r * cols + c] = [[S2:v[0-9]+]];
// CHECK-NEXT: const float [[N:v[0-9]+]] = [[S2]] * [[INV]];
// CHECK-NEXT: const float a2 = in2[0LL + c];
// CHECK-NEXT: const float [[Y:v[0-9]+]] = [[N]] * a2;
// CHECK: out1[r * cols + c] = [[Y]];
func.func @residual_rms_norm(%a: !rec.tensor<[B, 8], f32>, %r: !rec.tensor<[B, 8], f32>, %g: !rec.tensor<[8], f32>) -> (!rec.tensor<[B, 8], f32>, !rec.tensor<[B, 8], f32>) {
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

// Softmax over long rows (4096): two reduction depths (max, then the sum of
// exponentials), 256 threads per row combined through shared memory, a
// per-row result ([B, 4, 1]) written once per row, boolean masks.
// CHECK: // onerec fused group at rec-generate-cuda.mlir
// CHECK: // domain f32[B, 4, 4096]; block of 256 threads: 256 per row, 1 rows
// CHECK: const unsigned char *__restrict__ in1,
// CHECK: const long long rows = d0 * 4LL;
// CHECK-NEXT: __shared__ unsigned long long onerec_scratch[1][8];
// CHECK: float [[MAX:v[0-9]+]] = -__int_as_float(0x7f800000);
// CHECK: const bool a1 = (in1[r * cols + c] != 0);
// CHECK: [[MAX]] = onerec_max_op()([[MAX]], {{v[0-9]+}});
// CHECK: [[MAX]] = onerec_row_reduce<256>([[MAX]], onerec_max_op(), onerec_scratch[threadIdx.y]);
// CHECK: float [[SUM:v[0-9]+]] = float(0);
// CHECK: onerec_exp(
// CHECK: [[SUM]] = onerec_row_reduce<256>([[SUM]], onerec_sum_op(), onerec_scratch[threadIdx.y]);
// CHECK: out0[r * cols + c] =
// CHECK: if (active && threadIdx.x == 0) {
// CHECK-NEXT: out1[r] = [[SUM]];
// ATTR-LABEL: func.func @masked_softmax
// ATTR: rec.cuda_launch = array<i64: 256, 1>
func.func @masked_softmax(%a: !rec.tensor<[B, 4, 4096], f32>, %m: !rec.tensor<[B, 4, 4096], i1>) -> (!rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 1], f32>) {
  %0:2 = rec.fused(%a, %m) : (!rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 4096], i1>) -> (!rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 1], f32>) {
  ^bb0(%x: !rec.tensor<[B, 4, 4096], f32>, %mask: !rec.tensor<[B, 4, 4096], i1>):
    %ninf = rec.constant(-1.0e30) : !rec.tensor<[], f32>
    %s = rec.select %mask, %x, %ninf : !rec.tensor<[B, 4, 4096], i1>, !rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[], f32> -> !rec.tensor<[B, 4, 4096], f32>
    %mx = rec.reduce_max %s {axes = array<i64: 2>, keepdim} : (!rec.tensor<[B, 4, 4096], f32>) -> !rec.tensor<[B, 4, 1], f32>
    %d = rec.sub %s, %mx : !rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 1], f32> -> !rec.tensor<[B, 4, 4096], f32>
    %e = rec.exp %d : !rec.tensor<[B, 4, 4096], f32>
    %z = rec.reduce_sum %e {axes = array<i64: -1>, keepdim} : (!rec.tensor<[B, 4, 4096], f32>) -> !rec.tensor<[B, 4, 1], f32>
    %p = rec.div %e, %z : !rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 1], f32> -> !rec.tensor<[B, 4, 4096], f32>
    rec.yield %p, %z : !rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 1], f32>
  }
  return %0#0, %0#1 : !rec.tensor<[B, 4, 4096], f32>, !rec.tensor<[B, 4, 1], f32>
}

// Two identical groups share one kernel (the name hashes the code).
// CHECK-NOT: // domain f32[B, 64];
// ATTR-LABEL: func.func @shared
// ATTR: rec.cuda_kernel = "[[SHARED:onerec_fused_[0-9a-f]+]]"
// ATTR: rec.cuda_kernel = "[[SHARED]]"
func.func @shared(%a: !rec.tensor<[B, 64], f32>, %b: !rec.tensor<[64], f32>) -> !rec.tensor<[B, 64], f32> {
  %0 = rec.fused(%a, %b) : (!rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32>) -> !rec.tensor<[B, 64], f32> {
  ^bb0(%x: !rec.tensor<[B, 64], f32>, %bias: !rec.tensor<[64], f32>):
    %s = rec.add %x, %bias : !rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32> -> !rec.tensor<[B, 64], f32>
    %g = rec.gelu %s : !rec.tensor<[B, 64], f32>
    rec.yield %g : !rec.tensor<[B, 64], f32>
  }
  %1 = rec.fused(%0, %b) : (!rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32>) -> !rec.tensor<[B, 64], f32> {
  ^bb0(%x: !rec.tensor<[B, 64], f32>, %bias: !rec.tensor<[64], f32>):
    %s = rec.add %x, %bias : !rec.tensor<[B, 64], f32>, !rec.tensor<[64], f32> -> !rec.tensor<[B, 64], f32>
    %g = rec.gelu %s : !rec.tensor<[B, 64], f32>
    rec.yield %g : !rec.tensor<[B, 64], f32>
  }
  return %1 : !rec.tensor<[B, 64], f32>
}
}

// -----

// A per-row operand of a 3-d domain, a cast from booleans and a scalar;
// what does not vary along a row is read once per row.
// CHECK: // onerec fused group at rec-generate-cuda.mlir
// CHECK: // domain f32[2, 3, 5]; block of 256 threads: 8 per row, 32 rows
// CHECK: const long long rows = 2LL * 3LL;
// CHECK: const float a1 = in1[r];
// CHECK-NEXT: const float a3 = in3[0LL];
// CHECK-NEXT: for (long long c = threadIdx.x; c < cols; c += 8) {
// CHECK: const bool a2 = (in2[r * cols + c] != 0);
// CHECK-NEXT: const float {{v[0-9]+}} = static_cast<float>(a2);
func.func @row_operand(%a: !rec.tensor<[2, 3, 5], f32>, %r: !rec.tensor<[2, 3, 1], f32>, %m: !rec.tensor<[2, 3, 5], i1>, %s: !rec.tensor<[], f32>) -> !rec.tensor<[2, 3, 5], f32> {
  %0 = rec.fused(%a, %r, %m, %s) : (!rec.tensor<[2, 3, 5], f32>, !rec.tensor<[2, 3, 1], f32>, !rec.tensor<[2, 3, 5], i1>, !rec.tensor<[], f32>) -> !rec.tensor<[2, 3, 5], f32> {
  ^bb0(%x: !rec.tensor<[2, 3, 5], f32>, %row: !rec.tensor<[2, 3, 1], f32>, %mask: !rec.tensor<[2, 3, 5], i1>, %scale: !rec.tensor<[], f32>):
    %d = rec.sub %x, %row : !rec.tensor<[2, 3, 5], f32>, !rec.tensor<[2, 3, 1], f32> -> !rec.tensor<[2, 3, 5], f32>
    %f = rec.cast %mask : !rec.tensor<[2, 3, 5], i1> -> !rec.tensor<[2, 3, 5], f32>
    %p = rec.mul %d, %f : !rec.tensor<[2, 3, 5], f32>, !rec.tensor<[2, 3, 5], f32> -> !rec.tensor<[2, 3, 5], f32>
    %y = rec.mul %p, %scale : !rec.tensor<[2, 3, 5], f32>, !rec.tensor<[], f32> -> !rec.tensor<[2, 3, 5], f32>
    rec.yield %y : !rec.tensor<[2, 3, 5], f32>
  }
  return %0 : !rec.tensor<[2, 3, 5], f32>
}

// -----

// Half precision has no CUDA code yet: an error at the op that needs it.
func.func @half(%a: !rec.tensor<[4, 8], f16>) -> !rec.tensor<[4, 8], f16> {
  // expected-error @+1 {{rec-generate-cuda: operand 0 has element type f16[4, 8], which CUDA code generation does not support}}
  %0 = rec.fused(%a) : (!rec.tensor<[4, 8], f16>) -> !rec.tensor<[4, 8], f16> {
  ^bb0(%x: !rec.tensor<[4, 8], f16>):
    %e = rec.exp %x : !rec.tensor<[4, 8], f16>
    rec.yield %e : !rec.tensor<[4, 8], f16>
  }
  return %0 : !rec.tensor<[4, 8], f16>
}

// -----

// RUN: not onerec-opt %s --split-input-file --rec-generate-cuda="arch=gfx90a compile=false" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ARCH
// ARCH: error: rec-generate-cuda: arch 'gfx90a' is not a GPU architecture such as sm_90
func.func @empty() {
  return
}
