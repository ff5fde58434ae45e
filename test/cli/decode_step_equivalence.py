#!/usr/bin/env python3
# ===- decode_step_equivalence.py - KV-cached decoding = full recomputation -===#
#
# usage: decode_step_equivalence.py --onerecc ONERECC --onerec-run ONEREC_RUN
#            --workdir DIR [--models tiger:tiny,onerec:tiny] [--seed S]
#
# rec-derive-decode-step (docs/generation.md) derives `decode_init` and
# `decode_step` from a model's decoder def. Beam search runs them one token
# at a time with a key/value cache and cross-attention keys shared by a
# request's beams; training runs the decoder def over whole sequences. Both
# must compute the same logits. For each model this compiles the plan, takes
# its initial weights perturbed (no norm gain 1), and with `onerec-run
# forward`:
#
#   1. runs `decode` on R requests x W beams of random but well-formed token
#      sequences ([BOS, c1, c2, c3] per item) over per-request encoder
#      memory repeated for each beam: the logits of every position;
#   2. runs `decode_init` once per request (R rows, not R x W) and then
#      `decode_step` position by position, writing each step's
#      `cache.*.new` rows into numpy caches at that position; at every
#      position that predicts a code, the step's logits of that level must
#      equal the full decoder's (max relative error 1e-4);
#   3. runs one step with the contexts repeated per beam row (rows =
#      0..N-1) instead of shared (rows = request of the beam): shared
#      cross-attention must give bit-identical logits;
#   4. runs one step with every row at a different position (rows decoded
#      in lock-step is not required): each row's logits must equal the
#      full decoder's at its own position.
#
# Exit status: 0 pass, 1 fail, 77 skip (no numpy).
#
# ===-----------------------------------------------------------------------===#
import argparse
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))

try:
    import numpy as np
    import safetensors_io
except ImportError:
    print("SKIP: numpy (python3-numpy) is not installed")
    sys.exit(77)

TOL = 1e-4


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s%s" % (
            " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


class Plan:
    def __init__(self, args, model, config, workdir):
        self.args = args
        self.dir = os.path.join(workdir, "%s-%s" % (model, config))
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "plan.fb")
        run([args.onerecc, os.path.join(REPO, "models", model + ".rdsl"),
             "--config", config, "-o", self.path])
        init = os.path.join(self.dir, "init.safetensors")
        run([args.onerec_run, "weights", self.path, "-o", init])
        rng = np.random.default_rng(args.seed)
        weights = safetensors_io.read(init)
        perturbed = {name: (w + rng.normal(0, 0.05, w.shape)).astype(w.dtype)
                     for name, w in weights.items()}
        self.weights = os.path.join(self.dir, "weights.safetensors")
        safetensors_io.write(self.weights, perturbed)
        self.calls = 0

    def forward(self, entry, inputs):
        self.calls += 1
        src = os.path.join(self.dir, "in-%d.safetensors" % self.calls)
        dst = os.path.join(self.dir, "out-%d.safetensors" % self.calls)
        safetensors_io.write(src, inputs)
        run([self.args.onerec_run, "forward", self.path, "--entry", entry,
             "--input", src, "--output", dst, "--weights", self.weights])
        out = safetensors_io.read(dst)
        return out


def rel_err(a, b):
    scale = max(float(np.max(np.abs(b))), 1e-30)
    return float(np.max(np.abs(a.astype(np.float64) - b))) / scale


def check_model(args, model, config, workdir):
    plan = Plan(args, model, config, workdir)
    text = run([args.onerec_run, "inspect", plan.path])
    if "entry 'decode_step'" not in text:
        raise RuntimeError("%s has no decode_step entry:\n%s" % (model, text))
    # The decoder's signature from `inspect`: tokens [B, T], memory [B, ...].
    decode_inputs = dict(
        (n, s) for n, s in parse_entry(text, "decode")["input"])
    tokens_t = decode_inputs["tokens"][1]
    logits_shape = parse_entry(text, "decode")["output"][0][1]
    _, items, levels, codebook = logits_shape
    assert tokens_t == items * (levels + 1), (tokens_t, logits_shape)
    rng = np.random.default_rng(args.seed + 1)
    requests, width = 2, 3
    rows = requests * width
    contexts_in = [(n, s) for n, s in decode_inputs.items() if n != "tokens"]
    memory = {n: rng.normal(0, 1, [requests] + s[1:]).astype(np.float32)
              for n, s in contexts_in}

    # Well-formed sessions: BOS, then one code per level, per item.
    bos = levels * codebook
    tokens = np.zeros((rows, tokens_t), np.int64)
    for p in range(tokens_t):
        level = p % (levels + 1)
        tokens[:, p] = bos if level == 0 else (
            (level - 1) * codebook + rng.integers(0, codebook, rows))
    request_of_row = np.repeat(np.arange(requests), width)
    full = plan.forward("decode", dict(
        tokens=tokens, **{n: m[request_of_row] for n, m in memory.items()}))
    full = next(iter(full.values()))  # [rows, items, levels, K]

    contexts = plan.forward("decode_init", memory)
    step_sig = parse_entry(text, "decode_step")
    caches = {n: np.zeros([rows] + s[1:], np.float32)
              for n, s in step_sig["input"] if n.startswith("cache.")}
    worst = 0.0
    checked = 0
    for p in range(tokens_t):
        out = plan.forward("decode_step", dict(
            tokens=tokens[:, p:p + 1], positions=np.full(rows, p, np.int64),
            rows=request_of_row.astype(np.int64), **contexts, **caches))
        for name in caches:
            caches[name][:, p] = out[name + ".new"][:, 0]
        level = p % (levels + 1)
        if level < levels:
            worst = max(worst, rel_err(out["logits"][:, level],
                                       full[:, p // (levels + 1), level]))
            checked += 1
    if worst > TOL:
        raise RuntimeError("%s: cached decoding differs from the full decoder "
                           "by %.3g (tolerance %g)" % (model, worst, TOL))

    # Shared cross-attention keys vs a copy per beam row, at the last step.
    p = tokens_t - 1
    step_in = dict(tokens=tokens[:, p:p + 1],
                   positions=np.full(rows, p, np.int64), **caches)
    shared = plan.forward("decode_step", dict(
        step_in, rows=request_of_row.astype(np.int64), **contexts))
    copied = plan.forward("decode_step", dict(
        step_in, rows=np.arange(rows, dtype=np.int64),
        **{n: c[request_of_row] for n, c in contexts.items()}))
    if not np.array_equal(shared["logits"], copied["logits"]):
        raise RuntimeError("%s: shared cross-attention keys give other logits "
                           "than a copy per beam (max diff %.3g)" % (
                               model, np.max(np.abs(shared["logits"] -
                                                    copied["logits"]))))

    # Every row at its own position, in one step.
    positions = np.array([(3 * n + 1) % tokens_t for n in range(rows)])
    positions[positions % (levels + 1) == levels] -= 1
    mixed = plan.forward("decode_step", dict(
        tokens=tokens[np.arange(rows), positions][:, None],
        positions=positions.astype(np.int64),
        rows=request_of_row.astype(np.int64), **contexts, **caches))
    mixed_worst = 0.0
    for n, p in enumerate(positions):
        level = p % (levels + 1)
        mixed_worst = max(mixed_worst, rel_err(
            mixed["logits"][n, level], full[n, p // (levels + 1), level]))
    if mixed_worst > TOL:
        raise RuntimeError("%s: rows at different positions differ from the "
                           "full decoder by %.3g" % (model, mixed_worst))
    print("%s:%s  %d positions x %d rows: cached vs full %.2e, per-row "
          "positions %.2e, shared = copied cross-attention keys" % (
              model, config, checked, rows, worst, mixed_worst))


def parse_entry(text, entry):
    """Inputs and outputs (name, dims) of `entry` in `inspect`'s text; a
    symbolic dim is its name."""
    sig = {"input": [], "output": []}
    inside = False
    for line in text.splitlines():
        if line.startswith("entry "):
            inside = line.split("'")[1] == entry
            continue
        match = re.match(r"\s+(input|output)\s+(\S+)\s+\w+\[([^\]]*)\]", line)
        if inside and match:
            dims = [int(x) if x.isdigit() else x
                    for x in match.group(3).split(", ")]
            sig[match.group(1)].append((match.group(2), dims))
    return sig


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--onerecc", required=True)
    parser.add_argument("--onerec-run", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--models", default="tiger:tiny,onerec:tiny")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    failed = False
    for spec in args.models.split(","):
        model, config = spec.split(":")
        try:
            check_model(args, model, config, args.workdir)
        except (RuntimeError, AssertionError, KeyError) as error:
            print("FAIL %s: %s" % (spec, error))
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
