#!/usr/bin/env python3
"""onerecc --target=cuda:sm_90 on a real model: the plan holds a cubin and PTX
for every fused kernel, and onerec-run's loader accepts it.

usage: cuda_plan.py ONERECC ONEREC_RUN MODELS_DIR WORK_DIR NVRTC(ON|OFF)

Without NVRTC (no CUDA toolkit at configure time) it checks that
--target=cuda:sm_90 fails with one clear message, and that --emit=cuda (which
needs no NVRTC) still prints source. Exit 0: pass.
"""
import json
import os
import re
import subprocess
import sys
import time


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=kw.pop("text", True), **kw)


def main():
    onerecc, onerec_run, models, work, nvrtc = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    model = [os.path.join(models, "onerec.rdsl"), "--config", "tiny"]

    source = run([onerecc, *model, "--emit=cuda"])
    if source.returncode != 0:
        sys.exit(f"--emit=cuda failed: {source.stderr}")
    sources = len(re.findall(r'^extern "C" __global__', source.stdout, re.M))

    plan = os.path.join(work, "onerec-tiny-sm90.fb")
    start = time.monotonic()
    built = run([onerecc, *model, "--target=cuda:sm_90", "-o", plan])
    seconds = time.monotonic() - start
    if nvrtc != "ON":
        if built.returncode == 0 or "NVRTC" not in built.stderr:
            sys.exit(f"expected a clear NVRTC error, got {built.returncode}: {built.stderr}")
        print("no NVRTC in this build: --target=cuda fails clearly (checked)")
        return
    if built.returncode != 0:
        sys.exit(f"--target=cuda:sm_90 failed: {built.stderr}")

    inspect = run([onerec_run, "inspect", "--json", plan])
    if inspect.returncode != 0:
        sys.exit(f"onerec-run rejected the CUDA plan: {inspect.stderr}")
    info = json.loads(inspect.stdout)
    if "Cuda" not in info["requirements"]:
        sys.exit(f"requirements are {info['requirements']}, expected Cuda")
    kernels = info.get("cuda_kernels", [])
    if len(kernels) != sources:
        sys.exit(f"{len(kernels)} CUDA kernels in the plan, {sources} generated")
    for k in kernels:
        if k["arch"] != "sm_90" or k["cubin_bytes"] == 0 or k["ptx_bytes"] == 0:
            sys.exit(f"kernel without code: {k}")
    # Every fused kernel of every entry names one.
    for e in info["entries"]:
        fused = e["kernels"]["by_op"].get("Fused", 0)
        with_cuda = e["kernels"].get("with_cuda", 0)
        if fused != with_cuda:
            sys.exit(f"entry {e['name']}: {fused} fused kernels, {with_cuda} with CUDA code")
    data = open(plan, "rb").read()
    for k in kernels:
        if f".entry {k['name']}(".encode() not in data:
            sys.exit(f"no PTX entry for {k['name']}")
    if data.count(b"\x7fELF") < len(kernels):
        sys.exit("fewer cubins (ELF images) than kernels")

    cpu = os.path.join(work, "onerec-tiny-cpu.fb")
    if run([onerecc, *model, "-o", cpu]).returncode != 0:
        sys.exit("the CPU plan failed to compile")
    growth = os.path.getsize(plan) - os.path.getsize(cpu)
    print(f"{len(kernels)} CUDA kernels (of {sum(e['kernels'].get('with_cuda', 0) for e in info['entries'])} "
          f"fused kernel launches); plan {os.path.getsize(cpu)} -> {os.path.getsize(plan)} bytes "
          f"(+{growth}); onerecc took {seconds:.2f} s")


if __name__ == "__main__":
    main()
