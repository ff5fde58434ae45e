"""Shared helpers for the parity tests and the benchmarks: the onerec CLIs,
deterministic input batches, and the error metric. numpy only (no torch), so
that a missing torch can be reported as a skip by the callers."""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import safetensors_io  # noqa: E402

# model key -> (source, torch model kind, torch config, onerecc arguments)
MODELS = {
    "sasrec": ("models/sasrec.rdsl", "sasrec", "default", []),
    "sasrec-ml1m": ("models/sasrec.rdsl", "sasrec", "ml1m", ["--config=ml1m"]),
    "onerec-tiny": ("models/onerec.rdsl", "onerec", "tiny", ["--config=tiny"]),
    "onerec-0.015B": ("models/onerec.rdsl", "onerec", "0.015B", []),
}


class CliError(RuntimeError):
    pass


def run(cmd, what):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise CliError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                       f"{proc.stdout}{proc.stderr}".rstrip())
    return proc


def compile_plan(onerecc, model_key, out, defines=()):
    source, _, _, args = MODELS[model_key]
    cmd = [onerecc, os.path.join(REPO, source), *args]
    for d in defines:
        cmd += ["-D", d]
    cmd += ["-o", out]
    run(cmd, "onerecc")
    return out


def emit_mlir(onerecc, model_key, defines=(), lowered=False):
    source, _, _, args = MODELS[model_key]
    cmd = [onerecc, os.path.join(REPO, source), *args]
    for d in defines:
        cmd += ["-D", d]
    emit = "--emit=mlir-lowered" if lowered else "--emit=mlir"
    return run(cmd + [emit], f"onerecc {emit}").stdout


def export_weights(onerec_run, plan, out):
    run([onerec_run, "weights", plan, "-o", out], "onerec-run weights")
    return safetensors_io.read(out)


def forward(onerec_run, plan, entry, inputs, workdir, weights=None, threads=None,
            repeat=None, timing_json=None, tag=None, kernels=None):
    """Runs `onerec-run forward --entry ENTRY` on {name: array}; returns
    {name: array} of its outputs. With `repeat`/`timing_json` the runtime
    times `repeat` calls in one process (see bench/forward_bench.py)."""
    tag = tag or entry
    inp = os.path.join(workdir, f"{tag}.in.safetensors")
    out = os.path.join(workdir, f"{tag}.out.safetensors")
    safetensors_io.write(inp, inputs)
    if os.path.exists(out):
        os.remove(out)
    cmd = [onerec_run, "forward", plan, "--entry", entry, "--input", inp, "--output", out]
    if weights:
        cmd += ["--weights", weights]
    if threads:
        cmd += ["--threads", str(threads)]
    if kernels:
        cmd += ["--kernels", kernels]
    if repeat:
        cmd += ["--repeat", str(repeat)]
    if timing_json:
        cmd += ["--timing-json", timing_json]
    run(cmd, f"onerec-run forward --entry {entry}")
    return safetensors_io.read(out)


# ----------------------------------------------------------------------------
# Deterministic batches (valid ids only)
# ----------------------------------------------------------------------------

def sasrec_batch(cfg, batch, rng):
    """seq/pos/neg [B, max_len] int64, left-padded with 0. Row 0 is full, row
    1 has one item, row 2 is empty (all padding); the rest random lengths.
    pos is the sequence shifted by one (the next item), neg a random item."""
    L, items = cfg["max_len"], cfg["items"]
    seq = np.zeros((batch, L), np.int64)
    pos = np.zeros((batch, L), np.int64)
    neg = np.zeros((batch, L), np.int64)
    for b in range(batch):
        n = [L, 1, 0][b] if b < 3 else int(rng.integers(2, L + 1))
        if n == 0:
            continue
        s = rng.integers(1, items + 1, size=n + 1)
        seq[b, L - n:] = s[:-1]
        pos[b, L - n:] = s[1:]
        neg[b, L - n:] = rng.integers(1, items + 1, size=n)
    return {"seq": seq, "pos": pos, "neg": neg}


def onerec_batch(cfg, batch, rng):
    K, lv = cfg["codebook"], cfg["levels"]
    sid = lambda n: rng.integers(0, K, size=(batch, n, lv), dtype=np.int64)
    items = sid(cfg["session"])
    offset = np.arange(lv, dtype=np.int64) * K
    bos = np.full((batch, cfg["session"], 1), lv * K, np.int64)
    tokens = np.concatenate([bos, items + offset], 2).reshape(batch, -1)
    enc_len = 1 + cfg["short_len"] + cfg["pos_len"] + cfg["queries"]
    return {
        "uid": rng.integers(0, cfg["users"], size=batch, dtype=np.int64),
        "age": rng.integers(0, cfg["ages"], size=batch, dtype=np.int64),
        "gender": rng.integers(0, cfg["genders"], size=batch, dtype=np.int64),
        "short": sid(cfg["short_len"]),
        "positive": sid(cfg["pos_len"]),
        "lifelong": sid(cfg["lifelong_len"]),
        "items": items,
        "sessions": sid(cfg["session"]),
        "tokens": tokens,
        "memory": rng.standard_normal((batch, enc_len, cfg["d"])).astype(np.float32),
    }


# ----------------------------------------------------------------------------
# Error metric
# ----------------------------------------------------------------------------

def rel_err(out, ref):
    """max |out - ref| / max |ref| over all elements (a scalar loss: |out -
    ref| / |ref|). inf when shapes differ or out has a NaN/Inf."""
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    if out.shape != ref.shape or not np.all(np.isfinite(out)):
        return float("inf")
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
    return float(np.max(np.abs(out - ref))) / scale if ref.size else 0.0
