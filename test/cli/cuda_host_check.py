#!/usr/bin/env python3
"""The math of rec-generate-cuda's kernels, checked on the CPU.

usage: cuda_host_check.py ONEREC_OPT CXX WORK_DIR

Each case is a rec.fused group with a numpy reference. Its generated CUDA
source is compiled with the host C++ compiler against a small shim (a
std::thread per CUDA thread, a barrier for __syncthreads and for the warp
shuffles, which the generated code reaches in lockstep), run on a grid
smaller than the rows (so blocks stride over row tiles), and its outputs
compared with the reference. Exit 0: pass.
"""
import os
import re
import subprocess
import sys

import numpy as np

SHIM = r'''
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>
struct Dim3 { unsigned x = 0, y = 0, z = 0; };
thread_local Dim3 threadIdx, blockIdx;
static Dim3 gridDim, blockDim;
static std::barrier<> *onerec_barrier;
static unsigned long long onerec_slots[1024];
thread_local unsigned onerec_tid;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline void __syncthreads() { onerec_barrier->arrive_and_wait(); }
template <class T> T __shfl_xor_sync(unsigned, T v, int lane_mask, int) {
  std::memcpy(&onerec_slots[onerec_tid], &v, sizeof(T));
  onerec_barrier->arrive_and_wait();
  T r;
  std::memcpy(&r, &onerec_slots[onerec_tid ^ lane_mask], sizeof(T));
  onerec_barrier->arrive_and_wait();
  return r;
}
'''

MAIN = r'''
static std::vector<char> load(const char *path) {
  std::vector<char> b;
  FILE *f = std::fopen(path, "rb");
  char c[4096];
  size_t n;
  while ((n = std::fread(c, 1, sizeof c, f)) > 0) b.insert(b.end(), c, c + n);
  std::fclose(f);
  return b;
}
int main(int argc, char **argv) {
  std::vector<std::vector<char>> in, out;
  for (int i = 0; i < NUM_IN; ++i) in.push_back(load(argv[1 + i]));
  for (int i = 0; i < NUM_OUT; ++i) out.emplace_back(std::stoll(argv[1 + NUM_IN + 2 * i + 1]));
  gridDim.x = GRID;
  blockDim.x = TPR;
  blockDim.y = RPB;
  std::barrier<> barrier(TPR * RPB);
  onerec_barrier = &barrier;
  for (unsigned b = 0; b < GRID; ++b) {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < TPR * RPB; ++t)
      threads.emplace_back([&, b, t] {
        blockIdx.x = b;
        threadIdx.x = t % TPR;
        threadIdx.y = t / TPR;
        onerec_tid = t;
        KERNEL(CALL_ARGS);
      });
    for (auto &th : threads) th.join();
  }
  for (int i = 0; i < NUM_OUT; ++i) {
    FILE *f = std::fopen(argv[1 + NUM_IN + 2 * i], "wb");
    std::fwrite(out[i].data(), 1, out[i].size(), f);
    std::fclose(f);
  }
}
'''


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def softmax(x, mask):
    s = np.where(mask, x, -1e30)
    e = np.exp(s - s.max(-1, keepdims=True))
    z = e.sum(-1, keepdims=True)
    return e / z, z


rng = np.random.default_rng(7)
R, C = 37, 200   # rows not a multiple of rows per block
CASES = {
    # name: (mlir, inputs, reference outputs)
    "bias_gelu": (
        """
func.func @f(%a: !rec.tensor<[37, 64], f32>, %b: !rec.tensor<[64], f32>) -> !rec.tensor<[37, 64], f32> {
  %0 = rec.fused(%a, %b) : (!rec.tensor<[37, 64], f32>, !rec.tensor<[64], f32>) -> !rec.tensor<[37, 64], f32> {
  ^bb0(%x: !rec.tensor<[37, 64], f32>, %bias: !rec.tensor<[64], f32>):
    %s = rec.add %x, %bias : !rec.tensor<[37, 64], f32>, !rec.tensor<[64], f32> -> !rec.tensor<[37, 64], f32>
    %g = rec.gelu %s : !rec.tensor<[37, 64], f32>
    %t = rec.silu %g : !rec.tensor<[37, 64], f32>
    rec.yield %t : !rec.tensor<[37, 64], f32>
  }
  return %0 : !rec.tensor<[37, 64], f32>
}""",
        lambda: [rng.normal(size=(37, 64)).astype(np.float32) * 3,
                 rng.normal(size=(64,)).astype(np.float32)],
        lambda a, b: [(lambda g: g / (1 + np.exp(-g)))(gelu(a.astype(np.float64) + b))],
    ),
    "residual_rms_norm": (
        """
func.func @f(%a: !rec.tensor<[37, 8], f32>, %r: !rec.tensor<[37, 8], f32>, %g: !rec.tensor<[8], f32>) -> (!rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32>) {
  %0:2 = rec.fused(%a, %r, %g) : (!rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32>, !rec.tensor<[8], f32>) -> (!rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32>) {
  ^bb0(%x: !rec.tensor<[37, 8], f32>, %res: !rec.tensor<[37, 8], f32>, %gain: !rec.tensor<[8], f32>):
    %s = rec.add %x, %res : !rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32> -> !rec.tensor<[37, 8], f32>
    %sq = rec.mul %s, %s : !rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32> -> !rec.tensor<[37, 8], f32>
    %ms = rec.reduce_mean %sq {axes = array<i64: -1>, keepdim} : (!rec.tensor<[37, 8], f32>) -> !rec.tensor<[37, 1], f32>
    %eps = rec.constant(1.0e-6) : !rec.tensor<[], f32>
    %v = rec.add %ms, %eps : !rec.tensor<[37, 1], f32>, !rec.tensor<[], f32> -> !rec.tensor<[37, 1], f32>
    %inv = rec.rsqrt %v : !rec.tensor<[37, 1], f32>
    %n = rec.mul %s, %inv : !rec.tensor<[37, 8], f32>, !rec.tensor<[37, 1], f32> -> !rec.tensor<[37, 8], f32>
    %y = rec.mul %n, %gain : !rec.tensor<[37, 8], f32>, !rec.tensor<[8], f32> -> !rec.tensor<[37, 8], f32>
    rec.yield %s, %y : !rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32>
  }
  return %0#0, %0#1 : !rec.tensor<[37, 8], f32>, !rec.tensor<[37, 8], f32>
}""",
        lambda: [rng.normal(size=(37, 8)).astype(np.float32),
                 rng.normal(size=(37, 8)).astype(np.float32),
                 rng.normal(size=(8,)).astype(np.float32)],
        lambda a, r, g: (lambda s: [s, s / np.sqrt((s * s).mean(-1, keepdims=True) + 1e-6) * g])(
            a.astype(np.float64) + r),
    ),
    # 256 threads per row: the shared-memory combine across 8 warps.
    "masked_softmax_long": (
        """
func.func @f(%a: !rec.tensor<[3, 3000], f32>, %m: !rec.tensor<[3, 3000], i1>) -> (!rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 1], f32>) {
  %0:2 = rec.fused(%a, %m) : (!rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 3000], i1>) -> (!rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 1], f32>) {
  ^bb0(%x: !rec.tensor<[3, 3000], f32>, %mask: !rec.tensor<[3, 3000], i1>):
    %ninf = rec.constant(-1.0e30) : !rec.tensor<[], f32>
    %s = rec.select %mask, %x, %ninf : !rec.tensor<[3, 3000], i1>, !rec.tensor<[3, 3000], f32>, !rec.tensor<[], f32> -> !rec.tensor<[3, 3000], f32>
    %mx = rec.reduce_max %s {axes = array<i64: -1>, keepdim} : (!rec.tensor<[3, 3000], f32>) -> !rec.tensor<[3, 1], f32>
    %d = rec.sub %s, %mx : !rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 1], f32> -> !rec.tensor<[3, 3000], f32>
    %e = rec.exp %d : !rec.tensor<[3, 3000], f32>
    %z = rec.reduce_sum %e {axes = array<i64: -1>, keepdim} : (!rec.tensor<[3, 3000], f32>) -> !rec.tensor<[3, 1], f32>
    %p = rec.div %e, %z : !rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 1], f32> -> !rec.tensor<[3, 3000], f32>
    rec.yield %p, %z : !rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 1], f32>
  }
  return %0#0, %0#1 : !rec.tensor<[3, 3000], f32>, !rec.tensor<[3, 1], f32>
}""",
        lambda: [rng.normal(size=(3, 3000)).astype(np.float32) * 4,
                 rng.random(size=(3, 3000)) < 0.7],
        lambda a, m: list(softmax(a.astype(np.float64), m)),
    ),
}


def main():
    opt, cxx, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    for name, (body, make_inputs, reference) in CASES.items():
        mlir = os.path.join(work, name + ".mlir")
        with open(mlir, "w") as f:
            f.write('module attributes {rec.model = "check"} {' + body + "\n}\n")
        gen = subprocess.run([opt, mlir, "--rec-generate-cuda=compile=false print-source",
                              "-o", os.devnull], capture_output=True, text=True)
        if gen.returncode:
            sys.exit(f"{name}: onerec-opt failed: {gen.stderr}")
        source = gen.stdout.split("// -----")[0]
        kernel = re.search(r"^(onerec_fused_[0-9a-f]+)\(", source, re.M).group(1)
        m = re.search(r"block of 256 threads: (\d+) per row, (\d+) rows", source)
        tpr, rpb = int(m.group(1)), int(m.group(2))
        m = re.search(r"// domain \w+\[([^\]]*)\]", source)
        domain = [int(d) for d in m.group(1).split(",")]
        inputs = make_inputs()
        expected = reference(*inputs)
        params = re.findall(r"^\s+(const )?(float|unsigned char) \*__restrict__ (in|out)(\d+)",
                            source, re.M)
        args = []
        for const, ctype, kind, idx in params:
            args.append(f"({const}{ctype} *){kind}[{idx}].data()")
        args += [str(d) + "LL" for d in domain]
        rows = int(np.prod(domain[:-1]))
        grid = max(1, min(2, (rows + rpb - 1) // rpb))  # blocks stride over tiles
        main_src = MAIN
        for key, value in {"NUM_IN": len(inputs), "NUM_OUT": len(expected), "GRID": grid,
                           "TPR": tpr, "RPB": rpb, "KERNEL": kernel,
                           "CALL_ARGS": ", ".join(args)}.items():
            main_src = main_src.replace(key, str(value))
        cpp = os.path.join(work, name + ".cpp")
        with open(cpp, "w") as f:
            f.write(SHIM + source.replace('extern "C" ', "") + main_src)
        exe = os.path.join(work, name)
        built = subprocess.run([cxx, "-std=c++20", "-O1", "-pthread", "-w", cpp, "-o", exe],
                               capture_output=True, text=True)
        if built.returncode:
            sys.exit(f"{name}: the host build failed:\n{built.stderr[:3000]}")
        files = []
        for i, x in enumerate(inputs):
            p = os.path.join(work, f"{name}.in{i}")
            (x.astype(np.uint8) if x.dtype == bool else x).tofile(p)
            files.append(p)
        outs = []
        for i, e in enumerate(expected):
            p = os.path.join(work, f"{name}.out{i}")
            files += [p, str(e.size * 4)]
            outs.append((p, e))
        ran = subprocess.run([exe, *files], capture_output=True, text=True)
        if ran.returncode:
            sys.exit(f"{name}: the kernel failed: {ran.stderr}")
        for i, (p, e) in enumerate(outs):
            got = np.fromfile(p, dtype=np.float32).reshape(e.shape)
            err = np.max(np.abs(got - e) / (np.abs(e) + 1e-6))
            if not err < 2e-5:
                sys.exit(f"{name}: result {i} differs from the reference by {err:.3g} (relative)")
        print(f"{name}: {len(outs)} result(s) match the reference "
              f"({tpr} threads per row, {rpb} rows per block, grid {grid})")


if __name__ == "__main__":
    main()
