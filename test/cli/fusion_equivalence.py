#!/usr/bin/env python3
# ===- fusion_equivalence.py - fused plans compute what -O0 plans compute ---===#
#
# usage: fusion_equivalence.py --onerecc ONERECC --onerec-run ONEREC_RUN
#            --workdir DIR [--fused-flags=FLAGS] [--baseline-flags=FLAGS]
#            [--fused-run-flags=FLAGS] [--baseline-run-flags=FLAGS]
#            [--models sasrec,onerec] [--batch N] [--seed S] [--threads N]
#
# Fusion may change a model's results only by floating-point reassociation
# (issue 5, docs/fusion.md). For every model in models/ (its smallest
# configuration) this compiles two plans, one with --fused-flags (default:
# none, the -O2 pipeline) and one with --baseline-flags (default -O0: no
# fusion, one kernel per primitive op), and runs every entry of both with
# `onerec-run forward` on the same seeded random batch and the same weights:
# the plan's initial weights, perturbed so that no norm gain is 1 and no bias
# 0. It compares
#
#   - every output of every Def, Loss and Reward entry;
#   - train_grad: the loss and every grad.<param>;
#   - train_step, twice (optimizer.step 1 then 2, the second from the
#     weights and optimizer state the first saved with --save-weights): the
#     loss, grad_norm, every parameter's update (new - old) and every
#     optimizer-state tensor.
#
# Tolerances (max |fused - baseline| / scale, per tensor):
#
#   1e-4 for values: outputs, losses, rewards, gradients, grad_norm, Adam
#     moments. Reassociating a float32 sum of n terms moves it by at most
#     n*u*sum|terms| (u = 6e-8) and in practice by ~sqrt(n)*u; across a small
#     model that is 1e-7..1e-6 of the largest value: test/parity compares a
#     completely different summation order (PyTorch) with these models and
#     sees 6e-7 on outputs and 1.1e-6 on gradients (docs/parity.md). 1e-4
#     leaves 100x headroom and still catches semantic slips (parity: a
#     dropped MoE gate bias gives 5e-3, a norm gain off by 1e-4 gives 1e-4).
#   1e-3 for weight updates: Adam's step is lr * m / (sqrt(v) + eps), about
#     lr * sign(g) where |g| >> eps, so a gradient element near the float32
#     noise of its tensor can move by a visibly different fraction of lr
#     (parity against torch: 2.1e-5).
#   Integer and boolean outputs must be equal.
#
# scale = max |baseline| of the tensor, but for gradients, updates and
# optimizer state at least 1e-3 of the largest such tensor of the entry: a
# reassociation error is relative to the terms summed, and a gradient
# tensor that is itself small (a cancellation) is computed from the same
# terms as the large ones. A NaN/Inf or a shape difference is inf.
#
# Dropout stays on: a fused dropout must draw the same mask (the masks are a
# function of the seed, the RNG step and the op's stream, docs/runtime.md).
# A model that fails to compile at either level, a plan whose entries,
# signatures, parameters or initial weights differ from the baseline's, or
# an entry that fails to run, fails the test with the tool's message.
# Exit status: 0 pass, 1 fail, 77 skip (no numpy).
#
# ===-----------------------------------------------------------------------===#
import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))
sys.path.insert(0, os.path.join(REPO, "test", "Models", "Inputs"))

try:
    import numpy as np
    import safetensors_io
except ImportError:
    print("SKIP: numpy (python3-numpy) is not installed")
    sys.exit(77)
import random_inputs  # noqa: E402  (test/Models/Inputs: batches from a signature)

TOL_VALUE = 1e-4
TOL_UPDATE = 1e-3
FLOOR = 1e-3   # scale floor for gradients/updates/state, of the entry's largest

# The smallest configuration of each model (its `config` presets or the
# default); a model of models/ missing here runs at its default config.
SMALLEST = {
    "onerec": ["--config=tiny"],
    "onerec_v2": ["--config=tiny"],
    "tiger": ["--config=tiny"],
}

# Optimizer state carried by --save-weights (docs/runtime.md, "Weights").
STATE_SUFFIXES = (".adam_m", ".adam_v", ".momentum", ".grad_acc")


class Failure(Exception):
    pass


def run(cmd, what):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise Failure(f"{what}: cannot run {cmd[0]}: {e}")
    if proc.returncode != 0:
        raise Failure(f"{what} failed (exit {proc.returncode}):\n$ {shlex.join(cmd)}\n"
                      f"{(proc.stdout + proc.stderr).rstrip()}")
    return proc


# ----------------------------------------------------------------------------
# Comparing
# ----------------------------------------------------------------------------

def max_abs(a):
    a = np.asarray(a, np.float64)
    return float(np.max(np.abs(a))) if a.size else 0.0


def rel_err(out, ref, floor=0.0, allowance=None):
    """max |out - ref| / max(max |ref|, floor); inf on a shape difference or
    a NaN/Inf in either; integer/bool tensors: 0 if equal, else inf. With an
    allowance array, max(|out - ref| - allowance, 0) instead."""
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return float("inf")
    if out.size == 0:
        return 0.0
    if out.dtype.kind in "iub" or ref.dtype.kind in "iub":
        return 0.0 if np.array_equal(out, ref) else float("inf")
    out, ref = out.astype(np.float64), ref.astype(np.float64)
    if not (np.all(np.isfinite(out)) and np.all(np.isfinite(ref))):
        return float("inf")
    scale = max(max_abs(ref), floor, 1e-30)
    diff = np.abs(out - ref)
    if allowance is not None:
        diff = np.maximum(diff - allowance, 0.0)
    return float(np.max(diff)) / scale


class Report:
    """Per entry: every tensor's error, the worst, and what failed."""

    def __init__(self, label):
        self.label = label
        self.worst = {}       # group -> (err, name, tol)
        self.failures = []

    def compare(self, group, fused, base, tol, floor_group=False, allowance=None):
        """Compares {name: array} dicts; with floor_group, each tensor's
        scale is at least FLOOR x the largest |baseline| of the group.
        allowance: {name: array} of per-element differences explained
        otherwise (adam_allowance), taken off |fused - baseline| first."""
        if set(fused) != set(base):
            self.failures.append(
                f"{group}: tensors differ: only fused {sorted(set(fused) - set(base))}, "
                f"only baseline {sorted(set(base) - set(fused))}")
        names = sorted(set(fused) & set(base))
        floor = FLOOR * max([max_abs(base[n]) for n in names
                             if np.asarray(base[n]).dtype.kind == "f"] + [0.0]) \
            if floor_group else 0.0
        for name in names:
            err = rel_err(fused[name], base[name], floor,
                          (allowance or {}).get(name))
            if err > self.worst.get(group, (-1.0,))[0]:
                self.worst[group] = (err, name, tol)
            if not err <= tol:
                self.failures.append(f"{group} '{name}': rel err {err:.3e} > {tol:g}")

    def lines(self):
        parts = [f"{g} {e:.2e} ({n})" for g, (e, n, _) in self.worst.items()]
        status = "FAIL" if self.failures else "ok"
        out = [f"  {self.label:<26} {status:<4} worst: " + "; ".join(parts)]
        out += [f"    {f}" for f in self.failures[:8]]
        if len(self.failures) > 8:
            out.append(f"    ... {len(self.failures) - 8} more")
        return out


# ----------------------------------------------------------------------------
# One model
# ----------------------------------------------------------------------------

class Side:
    """One plan of a model (fused or baseline) and how to run it."""

    def __init__(self, args, name, source, config, flags, run_flags, workdir):
        self.args, self.name, self.workdir = args, name, workdir
        self.run_flags = run_flags
        self.plan = os.path.join(workdir, f"{name}.fb")
        base = [args.onerecc, source, *config, *flags]
        what = f"onerecc {shlex.join(flags) or '(default flags)'}"
        run(base + ["-o", self.plan], what)
        self.kernels = {}
        proc = subprocess.run(base + ["--stats=json"], capture_output=True, text=True)
        if proc.returncode == 0:
            try:
                self.kernels = {e["entry"]: e.get("kernels")
                                for e in json.loads(proc.stdout)["entries"]}
            except (ValueError, KeyError):
                pass
        self.inspect_path = os.path.join(workdir, f"{name}.inspect.json")
        with open(self.inspect_path, "w") as f:
            f.write(run([args.onerec_run, "inspect", self.plan, "--json"],
                        "onerec-run inspect").stdout)
        with open(self.inspect_path) as f:
            self.inspect = json.load(f)
        self.entries = {e["name"]: e for e in self.inspect["entries"]}

    def forward(self, entry, inputs, weights, tag, save=None):
        out = os.path.join(self.workdir, f"{self.name}.{tag}.out.safetensors")
        cmd = [self.args.onerec_run, "forward", self.plan, "--entry", entry,
               "--input", inputs, "--output", out, "--weights", weights,
               "--threads", str(self.args.threads), "--seed", str(self.args.seed),
               *self.run_flags]
        if save:
            cmd += ["--save-weights", save]
        run(cmd, f"{self.name}: onerec-run forward --entry {entry}")
        return safetensors_io.read(out)


def signature(entry):
    return ([(i["name"], i["type"], i.get("role"), i.get("index_bound"))
             for i in entry["inputs"]],
            [(o["name"], o["type"]) for o in entry["outputs"]])


def perturbed_weights(weights, rng):
    """Every float tensor moved by noise: constant tensors (norm gains of 1,
    zero biases, zero-initialized tables) by N(0, 0.1), the others by 10% of
    their spread, so no gain is trivially 1 and no bias trivially 0."""
    out = {}
    for name, w in weights.items():
        if w.dtype.kind != "f" or name.endswith(STATE_SUFFIXES):
            out[name] = w
            continue
        spread = float(np.std(w)) if w.size > 1 else 0.0
        sigma = 0.1 * spread if spread > 0 else 0.1
        out[name] = (w + rng.normal(0.0, sigma, w.shape)).astype(w.dtype)
    return out


def adam_allowance(hparams, step, state_f, state_b):
    """Per parameter with Adam moments: how far the two updates may differ
    because the moments differ. Adam moves a weight by lr * u, u = m^ /
    (sqrt(v^) + eps); where |g| is near eps (an expert that saw few tokens,
    a gradient at the noise level of its tensor) u amplifies a moment's
    difference up to 1/eps times, so the updates cannot be held to a
    relative tolerance there. The moments themselves are compared (state,
    1e-4); the update only has to agree with the direction each side's own
    moments give: allowance = 2 lr |u_fused - u_baseline|."""
    lr, beta1, beta2, eps = (float(x) for x in hparams[:4])
    out = {}
    for key in state_b:
        if not key.endswith(".adam_m") or key not in state_f:
            continue
        name = key[:-len(".adam_m")]
        v_key = name + ".adam_v"
        if v_key not in state_b or v_key not in state_f:
            continue

        def direction(state):
            m = state[key].astype(np.float64) / (1 - beta1 ** step)
            v = state[v_key].astype(np.float64) / (1 - beta2 ** step)
            return m / (np.sqrt(np.maximum(v, 0.0)) + eps)
        if state_f[key].shape == state_b[key].shape:
            out[name] = 2 * lr * np.abs(direction(state_f) - direction(state_b))
    return out


def split_state(tensors):
    state = {n: t for n, t in tensors.items() if n.endswith(STATE_SUFFIXES)}
    params = {n: t for n, t in tensors.items() if n not in state}
    return params, state


def check_model(args, path):
    model = os.path.splitext(os.path.basename(path))[0]
    config = SMALLEST.get(model, [])
    workdir = os.path.join(args.workdir, model)
    os.makedirs(workdir, exist_ok=True)
    title = f"{model} ({' '.join(config) or 'default config'})"
    reports = []
    try:
        base = Side(args, "baseline", path, config, args.baseline_flags,
                    args.baseline_run_flags, workdir)
        fused = Side(args, "fused", path, config, args.fused_flags,
                     args.fused_run_flags, workdir)
    except Failure as e:
        return title, [], [str(e)]

    problems = []
    if list(base.entries) != list(fused.entries):
        problems.append(f"entries differ: fused {list(fused.entries)}, "
                        f"baseline {list(base.entries)}")
    for name in base.entries:
        if name in fused.entries and signature(base.entries[name]) != \
                signature(fused.entries[name]):
            problems.append(f"entry '{name}': signatures differ: fused "
                            f"{signature(fused.entries[name])}, baseline "
                            f"{signature(base.entries[name])}")
    try:
        init_b = os.path.join(workdir, "baseline.init.safetensors")
        init_f = os.path.join(workdir, "fused.init.safetensors")
        run([args.onerec_run, "weights", base.plan, "-o", init_b], "onerec-run weights")
        run([args.onerec_run, "weights", fused.plan, "-o", init_f], "onerec-run weights")
    except Failure as e:
        return title, [], problems + [str(e)]
    wb, wf = safetensors_io.read(init_b), safetensors_io.read(init_f)
    init_report = Report("initial weights")
    init_report.compare("weights", wf, wb, 0.0)
    if init_report.failures:
        problems.append("the plans' initial weights differ: "
                        + "; ".join(init_report.failures[:4]))
    if problems:
        return title, [], problems

    rng = np.random.default_rng(args.seed)
    weights = os.path.join(workdir, "weights.safetensors")
    safetensors_io.write(weights, perturbed_weights(wb, rng))

    for n, (name, entry) in enumerate(base.entries.items()):
        kind = entry.get("kind", "")
        inputs = os.path.join(workdir, f"{name}.in.json")
        run([sys.executable, os.path.join(REPO, "test", "Models", "Inputs",
                                          "random_inputs.py"),
             base.inspect_path, name, inputs, "--batch", str(args.batch),
             "--seed", str(args.seed + n)], "random_inputs.py")
        try:
            if kind == "TrainStep":
                reports += check_train_step(base, fused, name, inputs, weights, workdir)
                continue
            report = Report(name)
            outs_b = base.forward(name, inputs, weights, name)
            outs_f = fused.forward(name, inputs, weights, name)
            grads = lambda o: {k: v for k, v in o.items() if k.startswith("grad.")}
            rest = lambda o: {k: v for k, v in o.items() if not k.startswith("grad.")}
            report.compare("out", rest(outs_f), rest(outs_b), TOL_VALUE)
            if grads(outs_b) or grads(outs_f):
                report.compare("grad", grads(outs_f), grads(outs_b), TOL_VALUE,
                               floor_group=True)
            reports.append(report)
        except Failure as e:
            report = Report(name)
            report.failures.append(str(e))
            reports.append(report)
    for r in reports:
        r.kernels = (fused.kernels.get(r.label.split()[0]),
                     base.kernels.get(r.label.split()[0]))
    return title, reports, []


def check_train_step(base, fused, name, inputs, weights, workdir):
    """Two chained updates on each plan from the same weights; compares the
    outputs, the updates and the optimizer state after each."""
    with open(inputs) as f:
        batch = json.load(f)
    reports = []
    prev_b = prev_f = weights
    start = safetensors_io.read(weights)
    old_b = old_f = split_state(start)[0]
    for step in (1, 2):
        batch["optimizer.step"] = step
        step_inputs = os.path.join(workdir, f"{name}.step{step}.in.json")
        with open(step_inputs, "w") as f:
            json.dump(batch, f)
        save_b = os.path.join(workdir, f"baseline.step{step}.safetensors")
        save_f = os.path.join(workdir, f"fused.step{step}.safetensors")
        report = Report(f"{name} (step {step})")
        outs_b = base.forward(name, step_inputs, prev_b, f"step{step}", save_b)
        outs_f = fused.forward(name, step_inputs, prev_f, f"step{step}", save_f)
        report.compare("out", outs_f, outs_b, TOL_VALUE)
        new_b, state_b = split_state(safetensors_io.read(save_b))
        new_f, state_f = split_state(safetensors_io.read(save_f))
        moved = lambda new, old: {k: new[k].astype(np.float64) - old[k] for k in new
                                  if k in old and new[k].dtype.kind == "f"}
        delta_b, delta_f = moved(new_b, old_b), moved(new_f, old_f)
        if not any(max_abs(d) > 0 for d in delta_b.values()):
            report.failures.append("the baseline's step moved no parameter")
        hp = batch["optimizer.hparams"]
        report.compare("update", delta_f, delta_b, TOL_UPDATE, floor_group=True,
                       allowance=adam_allowance(hp, step, state_f, state_b))
        report.compare("state", state_f, state_b, TOL_VALUE, floor_group=True)
        reports.append(report)
        prev_b, prev_f, old_b, old_f = save_b, save_f, new_b, new_f
    return reports


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--onerecc", required=True)
    ap.add_argument("--onerec-run", dest="onerec_run", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--fused-flags", default="",
                    help="onerecc flags of the fused plan (default: none, -O2)")
    ap.add_argument("--baseline-flags", default="-O0",
                    help="onerecc flags of the baseline plan; write --baseline-flags=-O0 "
                         "(an = keeps argparse from reading it as an option)")
    ap.add_argument("--fused-run-flags", default="",
                    help="extra onerec-run forward flags of the fused side, e.g. "
                         "--fused-run-flags='--kernels reference' to see float noise "
                         "between two plans that are the same")
    ap.add_argument("--baseline-run-flags", default="",
                    help="extra onerec-run forward flags of the baseline side")
    ap.add_argument("--models", default="",
                    help="comma-separated model names (default: every models/*.rdsl)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    args.fused_flags = shlex.split(args.fused_flags)
    args.baseline_flags = shlex.split(args.baseline_flags)
    args.fused_run_flags = shlex.split(args.fused_run_flags)
    args.baseline_run_flags = shlex.split(args.baseline_run_flags)
    os.makedirs(args.workdir, exist_ok=True)

    paths = sorted(glob.glob(os.path.join(REPO, "models", "*.rdsl")))
    if args.models:
        wanted = args.models.split(",")
        paths = [p for p in paths if os.path.splitext(os.path.basename(p))[0] in wanted]
        if len(paths) != len(wanted):
            sys.exit(f"FAIL: unknown model in --models {args.models}")
    print(f"fused flags: {shlex.join(args.fused_flags) or '(none)'}; baseline flags: "
          f"{shlex.join(args.baseline_flags) or '(none)'}; batch {args.batch}, seed "
          f"{args.seed}; tolerances {TOL_VALUE:g} (values), {TOL_UPDATE:g} (updates)")
    failed = []
    start = time.time()
    for path in paths:
        t0 = time.time()
        title, reports, problems = check_model(args, path)
        print(f"{title}: {time.time() - t0:.1f} s")
        for p in problems:
            print("  FAIL: " + p.replace("\n", "\n    "))
        for r in reports:
            for line in r.lines():
                print(line)
            k = getattr(r, "kernels", (None, None))
            if k != (None, None) and "step 2" not in r.label:
                print(f"    kernels per call: fused {k[0]}, baseline {k[1]}")
        if problems or any(r.failures for r in reports):
            failed.append(title)
    print(f"{len(paths)} models in {time.time() - start:.1f} s")
    if failed:
        sys.exit("FAIL: fused and baseline plans differ (or did not build/run): "
                 + ", ".join(failed))
    print("ok")


if __name__ == "__main__":
    main()
