#!/usr/bin/env python3
"""Fusion benchmark: fused (default, -O2) vs unfused (-O0) onerec plans, and
PyTorch eager, on the same model, weights, batch, thread count and machine,
in one run. Prints JSON.

  bench/fusion_bench.py --onerecc build/bin/onerecc --onerec-run build/bin/onerec-run \\
    --out bench/results/fusion-epyc-2vcpu.json

Per case (MODEL:BATCH, the models and batches of train_bench.py: SASRec
ML-1M at 128, OneRec 0.015B with -D users=100000 at 32):

- two plans of the same source and -D: `onerecc --fused-flags` (default:
  none, the -O2 pipeline) and `onerecc --baseline-flags` (default -O0: no
  fusion, one kernel per primitive op); their kernels per call of every
  entry from `onerecc --stats=json`;
- the forward pass: SASRec `forward` (scores of every item), OneRec
  `encode` and `decode` (on encode's memory) and their sum, timed as
  bench/forward_bench.py does (onerec-run --repeat/--timing-json; torch
  eval() under no_grad);
- one training step: `train_step`, timed as bench/train_bench.py does
  (onerec-run forward --weights INIT --entry train_step --repeat; torch
  train(), zero_grad + loss + backward (+ clip) + the plan's optimizer).

Both onerec plans start from the baseline plan's initial weights (one file),
torch from the same weights (test/parity/models.py). Each round runs the
fused plan, the baseline plan, then torch (--warmup calls dropped per round
and side); figures are medians over all rounds with the quartiles and the
minimum as the spread. Ratios: `fused_over_baseline` (time, below 1 means
fusion is faster; `speedup_fused_vs_baseline` is its inverse, the issue's
target is >= 1.5) and `fused_over_torch` (below 1: onerec faster than torch
eager). `max_rel_err_fused_vs_baseline` and `..._vs_torch` compare the last
call's outputs, so a fast wrong answer shows (SASRec's train_step loss
differs from torch by its dropout masks).
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
import forward_bench  # noqa: E402
import harness  # noqa: E402
import safetensors_io  # noqa: E402
import train_bench  # noqa: E402

SIDES = ("fused", "baseline")


def spread(times):
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return {"median_ms": round(statistics.median(times), 3),
            "p25_ms": round(q[0], 3), "p75_ms": round(q[2], 3),
            "min_ms": round(min(times), 3), "calls": len(times)}


def ratios(entry):
    f, b, t = (entry.get(s, {}).get("median_ms") for s in ("fused", "baseline", "torch"))
    out = {}
    if f and b:
        out["fused_over_baseline"] = round(f / b, 3)
        out["speedup_fused_vs_baseline"] = round(b / f, 3)
    if f and t:
        out["fused_over_torch"] = round(f / t, 3)
    return out


def compile_side(args, key, defines, flags, plan):
    source, _, _, config_args = harness.MODELS[key]
    cmd = [args.onerecc, os.path.join(REPO, source), *config_args, *flags]
    for d in defines:
        cmd += ["-D", d]
    harness.run(cmd + ["-o", plan], f"onerecc {shlex.join(flags) or '(default flags)'}")
    stats = json.loads(harness.run(cmd + ["--stats=json"], "onerecc --stats=json").stdout)
    return {e["entry"]: e.get("kernels") for e in stats["entries"]}


def bench_case(args, key, batch, workdir, log):
    import torch
    import models
    kind, cfg, defines, dropout = train_bench.case_settings(args, key)

    plans, kernels = {}, {}
    for side, flags in (("fused", args.fused_flags), ("baseline", args.baseline_flags)):
        plans[side] = os.path.join(workdir, f"{key}.{side}.fb")
        log(f"{key}: compiling {side} ({shlex.join(flags) or 'default flags'})")
        kernels[side] = compile_side(args, key, defines, flags, plans[side])
    init_path = os.path.join(workdir, f"{key}.init.safetensors")
    init = harness.export_weights(args.onerec_run, plans["baseline"], init_path)

    if kind == "sasrec":
        model = models.SASRec(**cfg, dropout=dropout)
        data = harness.sasrec_batch(cfg, batch, np.random.default_rng(batch))
        fwd_entries, loss_names, loss_fn = ["forward"], ["seq", "pos", "neg"], model.bce_loss
    else:
        model = models.OneRec(**cfg)
        data = harness.onerec_batch(cfg, batch, np.random.default_rng(batch))
        fwd_entries = ["encode", "decode"]
        loss_names = ["uid", "age", "gender", "short", "positive", "lifelong", "items"]
        loss_fn = model.ntp
    models.load_onerec_weights(model, init)
    torch_entries = model.entries()
    per_round = -(-args.iters // args.rounds)
    case = {"model": key, "batch": batch, "threads": args.threads, "defines": defines,
            "dropout": dropout, "kernels_per_call": kernels, "entries": {}}

    # Forward: eval mode, no grad.
    model.eval()
    for entry in fwd_entries:
        in_names, out_name, fn = torch_entries[entry]
        if entry == "decode":   # decode the memory encode produced
            with torch.no_grad():
                data["memory"] = torch_entries["encode"][2](
                    *[torch.from_numpy(data[n]) for n in torch_entries["encode"][0]]).numpy()
        inputs = {n: data[n] for n in in_names}
        tensors = [torch.from_numpy(inputs[n]) for n in in_names]
        times = {s: [] for s in (*SIDES, "torch")}
        outs = {}
        log(f"{key}: batch {batch} {entry}: fused, baseline, torch; {args.rounds} rounds")
        for _ in range(args.rounds):
            for side in SIDES:
                t, outs[side] = forward_bench.time_onerec(
                    args, plans[side], entry, inputs, workdir,
                    f"{key}.{batch}.{entry}.{side}", iters=per_round)
                times[side] += t
            if not args.no_torch:
                t, outs["torch"] = forward_bench.time_torch(args, fn, tensors, iters=per_round)
                times["torch"] += t
        res = {s: spread(v) for s, v in times.items() if v}
        res.update(ratios(res))
        res["max_rel_err_fused_vs_baseline"] = float(
            f"{harness.rel_err(outs['fused'][out_name], outs['baseline'][out_name]):.3e}")
        if "torch" in outs:
            res["max_rel_err_fused_vs_torch"] = float(
                f"{harness.rel_err(outs['fused'][out_name], outs['torch']):.3e}")
        case["entries"][entry] = res
        log(f"{key}: {entry}: " + ", ".join(f"{s} {r['median_ms']} ms" for s, r in res.items()
                                            if isinstance(r, dict)))
    if len(fwd_entries) > 1:
        total = {}
        for s in (*SIDES, "torch"):
            if all(s in case["entries"][e] for e in fwd_entries):
                total[s] = {"median_ms": round(sum(case["entries"][e][s]["median_ms"]
                                                   for e in fwd_entries), 3)}
        total.update(ratios(total))
        case["entries"]["+".join(fwd_entries)] = total

    # One training step: train mode, the plan's optimizer.
    model.train()
    o = train_bench.OPTIM[key]
    opt = train_bench.make_optimizer(model, o)
    inputs = {n: data[n] for n in loss_names}
    tensors = [torch.from_numpy(inputs[n]) for n in loss_names]
    inputs["optimizer.step"] = np.array(1, np.int64)
    inputs["optimizer.hparams"] = train_bench.hparams(o)
    times = {s: [] for s in (*SIDES, "torch")}
    losses = {}
    log(f"{key}: batch {batch} train_step: fused, baseline, torch; {args.rounds} rounds")
    for _ in range(args.rounds):
        for side in SIDES:
            t, outs, _ = train_bench.time_onerec(
                args, plans[side], init_path, inputs, workdir,
                f"{key}.{batch}.train.{side}", args.warmup + per_round)
            times[side] += t[args.warmup:]
            losses.setdefault(side, float(np.asarray(outs["loss"])))
        if not args.no_torch:
            t, torch_losses = train_bench.time_torch(args, model, loss_fn, tensors, opt,
                                                     o["grad_clip"], args.warmup + per_round)
            times["torch"] += t[args.warmup:]
            losses.setdefault("torch", torch_losses[0])
    res = {s: spread(v) for s, v in times.items() if v}
    res.update(ratios(res))
    # Every onerec call starts from INIT with optimizer.step 1, so its loss
    # is the first step's; torch's first step is the same objective.
    res["first_step_loss"] = {
        s: round(v, 6) for s, v in losses.items()}
    case["entries"]["train_step"] = res
    case["optimizer"] = dict(o)
    log(f"{key}: train_step: " + ", ".join(f"{s} {r['median_ms']} ms" for s, r in res.items()
                                           if isinstance(r, dict) and "median_ms" in r))
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", default=os.path.join(REPO, "build/bin/onerecc"))
    ap.add_argument("--onerec-run", dest="onerec_run",
                    default=os.path.join(REPO, "build/bin/onerec-run"))
    ap.add_argument("--workdir", default=None, help="default: a temporary directory")
    ap.add_argument("--cases", default="sasrec-ml1m:128,onerec-0.015B:32",
                    help="comma-separated MODEL:BATCH (test/parity/harness.py's models)")
    ap.add_argument("--fused-flags", default="",
                    help="onerecc flags of the fused plan (default: none, -O2)")
    ap.add_argument("--baseline-flags", default="-O0",
                    help="onerecc flags of the baseline plan (write --baseline-flags=-O0; "
                         "--baseline-flags= compares default with default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--onerec-users", type=int, default=100000)
    ap.add_argument("--sasrec-dropout", type=float, default=None,
                    help="compile SASRec with -D dropout=X and use X in torch "
                         "(default: the model's 0.2 on both sides)")
    ap.add_argument("--no-torch", action="store_true", help="time only the onerec plans")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    if args.iters < 10:
        ap.error("--iters must be >= 10 (medians of at least 10 calls)")
    args.fused_flags = shlex.split(args.fused_flags)
    args.baseline_flags = shlex.split(args.baseline_flags)
    try:
        import torch
    except ImportError:
        print("SKIP: python3-torch not installed")
        return 77
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    log = lambda m: print(f"[fusion-bench] {m}", file=sys.stderr, flush=True)
    workdir = args.workdir or tempfile.mkdtemp(prefix="onerec-fusion-bench-")
    os.makedirs(workdir, exist_ok=True)
    report = {
        "benchmark": "fusion",
        "fused_flags": shlex.join(args.fused_flags),
        "baseline_flags": shlex.join(args.baseline_flags),
        "threads": args.threads,
        "warmup": args.warmup,
        "iters": args.iters,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu": benchlib.cpu_name(),
        "repo_head": benchlib.git_head(),
        "onerecc_version": subprocess.run([args.onerecc, "--version"], capture_output=True,
                                          text=True).stdout.strip().splitlines()[-1:],
        "loadavg_at_start": benchlib.loadavg(),
        "results": [],
    }
    for case in args.cases.split(","):
        key, batch = case.rsplit(":", 1)
        report["results"].append(bench_case(args, key, int(batch), workdir, log))
    report["onerec_timing"] = ("onerec-run forward --repeat N --timing-json: per-call wall "
                               "time in one process (plan loading not timed); train_step "
                               "with --weights INIT, optimizer.step 1 in every call")
    report["torch_timing"] = ("forward: eager, eval(), torch.no_grad(), time.perf_counter "
                              "per call; train_step: " + train_bench.TORCH_TIMING)
    benchlib.finish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
