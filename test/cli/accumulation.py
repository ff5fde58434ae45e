#!/usr/bin/env python3
# ===- accumulation.py - gradient accumulation equals one big batch ---------===#
#
# usage: accumulation.py ONERECC ONEREC_RUN WORK_DIR
#
# A small model with a mean-reduced loss, compiled twice: once with
# `accumulate = 2`, once without. From the same initial weights,
#   train_accumulate on half A, then train_step on half B (hparams[6] = 1/2)
# must update the weights as train_step does on A and B together: the
# accumulated gradient (g_A + g_B) / 2 is the full batch's mean gradient.
# Two updates each, so that the second uses the optimizer state the first
# left: SGD with momentum and weight decay (its update is proportional to
# the gradient, so a wrong scale shows), then AdamW with a large eps (which
# makes it scale-sensitive too) and clipping that engages. This runs the
# accumulators through a checkpoint too: the state train_accumulate leaves
# is saved with --save-weights and loaded with --weights by the next call.
#
# ===-----------------------------------------------------------------------===#
import json
import os
import struct
import subprocess
import sys

ONERECC, ONEREC_RUN, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)

MODEL = """model acc {{
  dim B <= 16
  input  x : f32[B, 6]
  target y : f32[B]
  param w1 : f32[6, 8] = normal(0.0, 0.5)
  param b1 : f32[8] = zeros
  param w2 : f32[8] = normal(0.0, 0.5)
  loss l = bce(sum(relu(matmul(x, w1) + b1) * w2, axis = -1), y)
  train {{
    optimizer {optimizer}
    grad_clip = {clip}{accumulate}
    stage fit {{ minimize l }}
  }}
}}
"""


def path(name):
    return os.path.join(WORK, name)


def run(*argv):
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        print("$", *argv)
        print(proc.stdout + proc.stderr)
        sys.exit("FAIL: a command failed")
    return proc


CONFIGS = {
    "sgd": {"optimizer": "sgd(lr = 0.1, momentum = 0.9, weight_decay = 0.1)",
            "clip": 100.0, "hparams": [0.1, 0.9, 0.0, 0.0, 0.1, 100.0]},
    "adamw": {"optimizer": "adamw(lr = 0.01, weight_decay = 0.1, eps = 1.0)",
              "clip": 0.05, "hparams": [0.01, 0.9, 0.999, 1.0, 0.1, 0.05]},
}


def compile_plan(name, config, accumulate):
    src = path(name + ".rdsl")
    with open(src, "w") as f:
        f.write(MODEL.format(
            optimizer=config["optimizer"], clip=config["clip"],
            accumulate=f", accumulate = {accumulate}" if accumulate > 1 else ""))
    run(ONERECC, src, "-o", path(name + ".fb"))
    return path(name + ".fb")


def read_safetensors(file):
    with open(file, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        raw = data[8 + n + begin:8 + n + end]
        tensors[name] = struct.unpack(f"<{len(raw) // 4}f", raw)
    return tensors


def batch(rows, hparams=None, scale=1.0, step=1):
    # Deterministic values, no randomness needed: rows of x and 0/1 labels.
    xs = [[((r * 7 + c * 3) % 11 - 5) / 5.0 for c in range(6)] for r in rows]
    ys = [float((r * 5) % 3 == 0) for r in rows]
    out = {"x": xs, "y": ys}
    if hparams:
        out["optimizer.step"] = step
        out["optimizer.hparams"] = hparams + [scale, 0.0]
    return out


def write(name, content):
    with open(path(name), "w") as f:
        json.dump(content, f)
    return path(name)


def check(label, config):
    full_plan = compile_plan(label + "-full", config, 1)
    acc_plan = compile_plan(label + "-acc", config, 2)
    init = path(label + "-init.safetensors")
    run(ONEREC_RUN, "weights", full_plan, "-o", init)
    # Two updates on all 12 rows, and two of two accumulated half batches,
    # each call starting from the weights and state the previous one saved.
    full_w, acc_w = init, init
    for step in (1, 2):
        tag = f"{label}-{step}"
        out = path(tag + "-full.safetensors")
        run(ONEREC_RUN, "forward", full_plan, "--entry", "train_step",
            "--weights", full_w,
            "--input", write(tag + "-full.json",
                             batch(range(12), config["hparams"], step=step)),
            "--output", path(tag + "-full-out.json"), "--save-weights", out)
        full_w = out
        half = path(tag + "-a.safetensors")
        run(ONEREC_RUN, "forward", acc_plan, "--entry", "train_accumulate",
            "--weights", acc_w, "--input", write(tag + "-a.json", batch(range(6))),
            "--output", path(tag + "-a-out.json"), "--save-weights", half)
        out = path(tag + "-acc.safetensors")
        run(ONEREC_RUN, "forward", acc_plan, "--entry", "train_step",
            "--weights", half,
            "--input", write(tag + "-b.json",
                             batch(range(6, 12), config["hparams"], 0.5, step)),
            "--output", path(tag + "-b-out.json"), "--save-weights", out)
        acc_w = out

    full = read_safetensors(full_w)
    acc = read_safetensors(acc_w)
    start = read_safetensors(init)
    worst = 0.0
    for name in ("w1", "b1", "w2"):
        moved = max(abs(a - b) for a, b in zip(full[name], start[name]))
        if moved == 0:
            sys.exit(f"FAIL: {label}: the full-batch step did not move {name}")
        err = max(abs(a - b) for a, b in zip(full[name], acc[name])) / moved
        worst = max(worst, err)
        print(f"{label} {name}: max |accumulated - full| / max |update| = {err:.2e}")
    left = max(abs(v) for v in acc["w1.grad_acc"])
    if left != 0:
        sys.exit(f"FAIL: {label}: train_step left the accumulator at {left}, not 0")
    if worst > 1e-4:
        sys.exit(f"FAIL: {label}: the accumulated update differs from the full "
                 f"batch's by {worst:.2e}")


for label, config in CONFIGS.items():
    check(label, config)
print("ok")
