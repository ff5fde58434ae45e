#!/usr/bin/env python3
"""Gradient check of every differentiable rec op against finite differences.

  gradcheck.py --onerecc BIN --onerec-run BIN --workdir DIR [--only a,b] [-j N]

For each case of cases.py (a tiny model whose loss applies one op), the model
is compiled with onerecc and its `train_grad` entry (the compiler's gradient
rules, run by onerec-run's float32 kernels, once per --kernels set) gives the
loss and `grad.<param>` for every parameter. Each gradient is compared with
central finite differences of the loss entry evaluated *in float64* by the
numpy interpreter of the rec IR (test/parity/ir_eval.py, reading
`onerecc --emit=mlir`), on up to --samples elements per parameter:

  rel err = |analytic - fd| / max(|analytic|, |fd|, 1e-2 * max|analytic of that param|, 1e-6)

which must be <= --tol (1e-3). The loss itself must match the interpreter to
1e-4. Dropout cannot be reproduced by the interpreter (training draws a real
mask): its case checks that the gradient is the mask the loss used (every
grad/proj is 0 or 1/(1 - rate), loss == sum(a * grad.a), about half kept, the
same mask from both kernel sets and from a second run with the same --seed).

Prints one line per case (PASS/FAIL with the max rel err per parameter).
Exit 0 when all pass, 1 otherwise, 77 (skip) without numpy.
"""
import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "parity"))

if __name__ == "__main__":
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("SKIP: python3-numpy not installed")
        sys.exit(77)

import numpy as np  # noqa: E402

import cases as cases_mod  # noqa: E402
import ir_eval  # noqa: E402
import safetensors_io  # noqa: E402

LOSS_TOL = 1e-4


class CliError(RuntimeError):
    pass


def _run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise CliError(f"exit {p.returncode}: {' '.join(cmd)}\n{p.stdout}{p.stderr}".rstrip())
    return p.stdout


def _seed(name):
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) + 12345


def _param_values(case, init, rng):
    params = {}
    for name, arr in sorted(init.items()):
        short = name.rsplit(".", 1)[-1]
        gen = case.gen.get(name) or case.gen.get(short)
        if gen is not None:
            params[name] = np.asarray(gen(rng, arr.shape), np.float32)
        elif short == "gate_bias":          # MoE routing bias (a buffer): small
            params[name] = (0.05 * rng.standard_normal(arr.shape)).astype(np.float32)
        else:
            params[name] = rng.standard_normal(arr.shape).astype(np.float32)
    return params


def _train_grad(args, plan, workdir, inp, weights, kernels, seed=None, tag=""):
    out = os.path.join(workdir, f"out.{kernels}{tag}.safetensors")
    cmd = [args.onerec_run, "forward", plan, "--entry", "train_grad", "--input", inp,
           "--output", out, "--weights", weights]
    if kernels != "default":
        cmd += ["--kernels", kernels]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    _run(cmd)
    return safetensors_io.read(out)


def _prepare(args, case):
    workdir = os.path.join(args.workdir, case.name)
    os.makedirs(workdir, exist_ok=True)
    src = os.path.join(workdir, "model.rdsl")
    with open(src, "w") as f:
        f.write(case.source())
    plan = os.path.join(workdir, "plan.fb")
    _run([args.onerecc, src, "-o", plan])
    init_path = os.path.join(workdir, "init.safetensors")
    _run([args.onerec_run, "weights", plan, "-o", init_path])
    init = safetensors_io.read(init_path)
    rng = np.random.default_rng(_seed(case.name))
    params = _param_values(case, init, rng)
    inputs = {n: g(rng) for n, g in case.inputs.items()}
    if not case.scalar:
        inputs["proj"] = rng.standard_normal(case.shape).astype(np.float32)
    weights = os.path.join(workdir, "weights.safetensors")
    safetensors_io.write(weights, params)
    inp = os.path.join(workdir, "in.safetensors")
    safetensors_io.write(inp, inputs)
    return workdir, src, plan, params, inputs, weights, inp


def check_case(args, case):
    """Returns (ok, message)."""
    t0 = time.time()
    workdir, src, plan, params, inputs, weights, inp = _prepare(args, case)
    ir = _run([args.onerecc, src, "--emit=mlir"])
    p64 = {n: v.astype(np.float64) for n, v in params.items()}

    def loss64(pp):
        return float(ir_eval.evaluate(ir, "l", inputs, pp))

    base = loss64(p64)
    outs = {k: _train_grad(args, plan, workdir, inp, weights, k)
            for k in args.kernels.split(",")}
    problems = []
    grads = sorted(n[len("grad."):] for n in next(iter(outs.values())) if n.startswith("grad."))
    declared = [d.split()[1] for d in case.decls if d.startswith("param ")]
    for n in declared:
        if n not in grads:
            problems.append(f"no grad.{n} output (outputs: {sorted(next(iter(outs.values())))})")
    rng = np.random.default_rng(_seed(case.name) + 1)
    worst = {}
    for k, out in outs.items():
        lerr = abs(float(out["loss"]) - base) / max(abs(base), 1e-6)
        if not lerr <= LOSS_TOL:
            problems.append(f"[{k}] loss {float(out['loss']):.7g} vs f64 interpreter "
                            f"{base:.7g} (rel {lerr:.1e})")
    samples = {}
    for n in grads:
        size = params[n].size
        ga = next(iter(outs.values()))[f"grad.{n}"]
        idx = set(rng.choice(size, size=min(args.samples, size), replace=False).tolist())
        idx.add(int(np.argmax(np.abs(ga))))
        samples[n] = sorted(idx)
    fd = {}
    for n in grads:
        flat = p64[n].reshape(-1)
        vals = []
        for i in samples[n]:
            h = case.fd_step * max(1.0, abs(flat[i]))
            old = flat[i]
            flat[i] = old + h
            up = loss64(p64)
            flat[i] = old - h
            down = loss64(p64)
            flat[i] = old
            vals.append((up - down) / (2 * h))
        fd[n] = np.array(vals)
    for k, out in outs.items():
        for n in grads:
            g = np.asarray(out[f"grad.{n}"], np.float64)
            if g.shape != params[n].shape:
                problems.append(f"[{k}] grad.{n} shape {list(g.shape)}, param "
                                f"{list(params[n].shape)}")
                continue
            if not np.all(np.isfinite(g)):
                problems.append(f"[{k}] grad.{n} has NaN/Inf")
                continue
            a = g.reshape(-1)[samples[n]]
            floor = max(1e-2 * float(np.max(np.abs(g))), 1e-6)
            err = np.abs(a - fd[n]) / np.maximum(np.maximum(np.abs(a), np.abs(fd[n])), floor)
            e = float(np.max(err))
            worst[n] = max(worst.get(n, 0.0), e)
            if e > args.tol:
                j = int(np.argmax(err))
                flat_i = samples[n][j]
                problems.append(f"[{k}] grad.{n}: rel err {e:.2e} at flat index {flat_i} "
                                f"{np.unravel_index(flat_i, g.shape)}: analytic {a[j]:.6g}, "
                                f"fd {fd[n][j]:.6g}")
    errs = " ".join(f"{n}={e:.1e}" for n, e in sorted(worst.items()))
    msg = f"{case.group}/{case.name}: max rel err {errs or '-'} ({time.time() - t0:.2f} s)"
    return (not problems), msg + "".join(f"\n    {p}" for p in problems)


def check_dropout(args, case):
    t0 = time.time()
    workdir, src, plan, params, inputs, weights, inp = _prepare(args, case)
    rate = 0.5
    problems = []
    masks = []
    for k in args.kernels.split(","):
        for tag in ("", ".again"):
            out = _train_grad(args, plan, workdir, inp, weights, k, seed=7, tag=tag)
            g = np.asarray(out["grad.a"], np.float64)
            ratio = g / inputs["proj"].astype(np.float64)
            kept = np.abs(ratio - 1 / (1 - rate)) < 1e-5
            dropped = np.abs(ratio) < 1e-6
            if not np.all(kept | dropped):
                problems.append(f"[{k}] grad/proj not in {{0, {1 / (1 - rate)}}}")
            frac = float(kept.mean())
            if not 0.3 <= frac <= 0.7:
                problems.append(f"[{k}] kept fraction {frac:.2f} for rate {rate}")
            ref = float(np.sum(params["a"].astype(np.float64) * g))
            if abs(float(out["loss"]) - ref) > 1e-4 * max(1.0, abs(ref)):
                problems.append(f"[{k}] loss {float(out['loss']):.7g} != sum(a * grad.a) "
                                f"{ref:.7g}: the gradient's mask is not the loss's")
            masks.append((k + tag, kept))
    for name, m in masks[1:]:
        if not np.array_equal(m, masks[0][1]):
            problems.append(f"mask of {name} differs from {masks[0][0]} (same --seed)")
    msg = (f"{case.group}/{case.name}: mask consistency, kept "
           f"{float(masks[0][1].mean()):.2f} ({time.time() - t0:.2f} s)")
    return (not problems), msg + "".join(f"\n    {p}" for p in problems)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", required=True)
    ap.add_argument("--onerec-run", required=True, dest="onerec_run")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--kernels", default="optimized,reference")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--only", default=None, help="comma-separated case names or groups")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.time()
    todo = cases_mod.all_cases() + [cases_mod.DROPOUT]
    if args.only:
        want = set(args.only.split(","))
        todo = [c for c in todo if c.name in want or c.group in want]

    def one(case):
        try:
            if case is cases_mod.DROPOUT:
                return check_dropout(args, case)
            return check_case(args, case)
        except (CliError, NotImplementedError, ValueError, KeyError) as e:
            return False, f"{case.group}/{case.name}: {type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, todo))
    failed = 0
    for ok, msg in results:
        print(("PASS " if ok else "FAIL ") + msg)
        failed += not ok
    print(f"{len(results) - failed}/{len(results)} cases pass (kernels {args.kernels}, "
          f"tol {args.tol:.0e}, {time.time() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
