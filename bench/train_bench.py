#!/usr/bin/env python3
"""Training-step benchmark: onerec `train_step` vs PyTorch eager, same model,
initial weights, batch, thread count and machine, in one run. Prints JSON.

  bench/train_bench.py --onerecc build/bin/onerecc --onerec-run build/bin/onerec-run

One training step = forward + loss + backward + optimizer update of every
trainable parameter (in place):

- onerec: the plan's `train_step` entry (`TrainStep`), run by
  `onerec-run forward PLAN --weights INIT --entry train_step --repeat N
  --timing-json F` (per-call wall times in one process; plan loading not
  timed). `--weights` makes the parameter store writable, which a TrainStep
  entry needs; the control inputs `optimizer.step` (i64[], 1 in every call)
  and `optimizer.hparams` (f32[8], docs/training.md) are in the input file.
- torch: the `test/parity/models.py` module with the plan's initial weights,
  `train()` mode, per step `opt.zero_grad(set_to_none=True)`, the loss,
  `loss.backward()`, (`clip_grad_norm_` where the plan clips) and
  `opt.step()`, with the optimizer the plan's `train` section names:
  SASRec Adam(lr 1e-3, betas (0.9, 0.98), eps 1e-8), OneRec AdamW(lr 2e-4,
  betas (0.9, 0.999), eps 1e-8, weight decay 0.1 except biases and norm
  gains, as onerecc's `no_decay`) with the global gradient norm clipped to 1.

Models: SASRec ML-1M (`--config ml1m`: 3,416 items, length 200, d 50, 2
blocks, 1 head; loss `bce_loss`: BCE on the next item and one sampled
negative per position; dropout: the model's 0.2 on both sides, or
`--sasrec-dropout X` compiled in with `-D dropout=X` and given to torch) and
OneRec 0.015B (the default config, `-D users=100000` as forward_bench.py;
loss `ntp`, next-token cross-entropy over the session's semantic-id tokens).
Inputs are random valid ids (test/parity/harness.py's batches).

Rounds alternate the two sides (each round: warm-up steps dropped, then
iters/rounds timed steps); the figures are medians over all rounds.
`--profile` also runs onerec's step with `--profile` and reports its kernel
time per op kind (the top ones in the JSON).
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import tempfile
import time

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))
import harness  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import safetensors_io  # noqa: E402

ONEREC_TIMING = ("onerec-run forward --weights INIT --entry train_step --repeat N "
                 "--timing-json: per-call wall time in one process (plan loading not timed)")
TORCH_TIMING = ("eager, train() mode, time.perf_counter around zero_grad + loss + "
                "backward (+ clip_grad_norm_) + optimizer.step")

# Per model: the torch optimizer matching the plan's `train` section.
OPTIM = {
    "sasrec-ml1m": dict(kind="adam", lr=1e-3, betas=(0.9, 0.98), eps=1e-8,
                        weight_decay=0.0, grad_clip=0.0),
    "onerec-0.015B": dict(kind="adamw", lr=2e-4, betas=(0.9, 0.999), eps=1e-8,
                          weight_decay=0.1, grad_clip=1.0),
}


def hparams(o):
    """optimizer.hparams as docs/training.md lays it out."""
    return np.array([o["lr"], o["betas"][0], o["betas"][1], o["eps"],
                     o["weight_decay"], o["grad_clip"], 1.0, 0.0], np.float32)


def time_onerec(args, plan, init, inputs, workdir, tag, repeat, profile=False):
    """Per-call wall times (ms) of train_step and its outputs (of the last
    call); with `profile`, also the parsed --profile table."""
    inp = os.path.join(workdir, f"{tag}.in.safetensors")
    out = os.path.join(workdir, f"{tag}.out.safetensors")
    timing = os.path.join(workdir, f"{tag}.timing.json")
    safetensors_io.write(inp, inputs)
    cmd = [args.onerec_run, "forward", plan, "--weights", init, "--entry", "train_step",
           "--input", inp, "--output", out, "--threads", str(args.threads),
           "--repeat", str(repeat), "--timing-json", timing]
    if profile:
        cmd.append("--profile")
    proc = harness.run(cmd, "onerec-run forward --entry train_step")
    with open(timing) as f:
        times = json.load(f)["times_ms"]
    if len(times) < repeat:
        raise RuntimeError(f"{tag}: onerec-run reported {len(times)} times, asked for {repeat}")
    outs = safetensors_io.read(out)
    return times, outs, (parse_profile(proc.stderr, repeat) if profile else None)


def parse_profile(text, runs):
    """onerec-run --profile's table -> [{op, calls_per_step, ms_per_step, share}]."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)%$", line.strip())
        if m and m.group(1) not in ("op", "total"):
            rows.append({"op": m.group(1), "calls_per_step": int(m.group(2)) // runs,
                         "ms_per_step": round(float(m.group(3)) / runs, 3),
                         "share_pct": float(m.group(4))})
    return rows


def make_optimizer(model, o):
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    if o["kind"] == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=o["betas"], eps=o["eps"],
                                weight_decay=o["weight_decay"])
    # onerecc's no_decay: parameters initialized to zeros or ones (biases, norm gains).
    names = {key: oname for oname, (key, _) in model.onerec_names().items()}
    decay, no_decay = [], []
    for key, p in model.named_parameters():
        oname = names.get(key, key)
        (no_decay if re.search(r"\.(b|bias|gain)$", oname) else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=o["lr"], betas=o["betas"], eps=o["eps"])


def time_torch(args, model, loss_fn, tensors, opt, clip, steps):
    import torch
    params = [p for g in opt.param_groups for p in g["params"]]
    times, losses = [], []
    for _ in range(steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(*tensors)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        times.append((time.perf_counter() - t) * 1e3)
        losses.append(float(loss.detach()))
    return times, losses


def case_settings(args, key):
    """(kind, torch config, onerecc -D defines, dropout) of one case."""
    import models
    _, kind, config, _ = harness.MODELS[key]
    cfg = dict((models.SASREC_CONFIGS if kind == "sasrec" else models.ONEREC_CONFIGS)[config])
    defines = []
    if kind == "onerec" and args.onerec_users:
        defines.append(f"users={args.onerec_users}")
        cfg["users"] = args.onerec_users
    dropout = None
    if kind == "sasrec":
        dropout = 0.2 if args.sasrec_dropout is None else args.sasrec_dropout
        if args.sasrec_dropout is not None:
            defines.append(f"dropout={args.sasrec_dropout}")
    return kind, cfg, defines, dropout


def bench_model(args, key, batch, workdir, log):
    import torch
    import models
    kind, cfg, defines, dropout = case_settings(args, key)
    plan = os.path.join(workdir, f"{key}.plan.fb")
    log(f"{key}: compiling ({' '.join('-D ' + d for d in defines) or 'no -D'})")
    harness.compile_plan(args.onerecc, key, plan, defines)
    init_path = os.path.join(workdir, f"{key}.init.safetensors")
    init = harness.export_weights(args.onerec_run, plan, init_path)

    if kind == "sasrec":
        model = models.SASRec(**cfg, dropout=dropout)
        data = harness.sasrec_batch(cfg, batch, np.random.default_rng(batch))
        in_names, loss_fn = ["seq", "pos", "neg"], model.bce_loss
    else:
        model = models.OneRec(**cfg)
        data = harness.onerec_batch(cfg, batch, np.random.default_rng(batch))
        in_names = ["uid", "age", "gender", "short", "positive", "lifelong", "items"]
        loss_fn = model.ntp
    models.load_onerec_weights(model, init)
    model.train()
    o = OPTIM[key]
    opt = make_optimizer(model, o)
    inputs = {n: data[n] for n in in_names}
    tensors = [torch.from_numpy(inputs[n]) for n in in_names]
    inputs["optimizer.step"] = np.array(1, np.int64)
    inputs["optimizer.hparams"] = hparams(o)

    # First-step loss on both sides from the same initial weights (a sanity
    # check that both compute the same objective; with dropout > 0 the masks
    # differ, so only approximately).
    _, first, _ = time_onerec(args, plan, init_path, inputs, workdir, f"{key}.{batch}.first", 1)
    onerec_loss1 = float(np.asarray(first["loss"]))
    log(f"{key}: batch {batch}: onerec and torch, {args.rounds} rounds")
    per_round = -(-args.iters // args.rounds)
    o_ms, t_ms, torch_losses = [], [], []
    for r in range(args.rounds):
        times, _, _ = time_onerec(args, plan, init_path, inputs, workdir,
                                  f"{key}.{batch}", args.warmup + per_round)
        o_ms += times[args.warmup:]
        times, losses = time_torch(args, model, loss_fn, tensors, opt, o["grad_clip"],
                                   args.warmup + per_round)
        t_ms += times[args.warmup:]
        torch_losses += losses
        log(f"{key}: round {r + 1}: onerec {statistics.median(o_ms):.1f} ms, "
            f"torch {statistics.median(t_ms):.1f} ms")
    om, tm = statistics.median(o_ms), statistics.median(t_ms)
    res = {
        "model": key, "batch": batch, "threads": args.threads,
        "defines": defines,
        "dropout": dropout,
        "optimizer": {k: v for k, v in o.items()},
        "onerec_median_ms": round(om, 3),
        "torch_median_ms": round(tm, 3),
        "speedup_torch_over_onerec": round(tm / om, 3),
        "onerec_examples_per_s": round(batch / om * 1e3, 1),
        "torch_examples_per_s": round(batch / tm * 1e3, 1),
        "onerec_min_ms": round(min(o_ms), 3),
        "torch_min_ms": round(min(t_ms), 3),
        "onerec_steps_timed": len(o_ms),
        "torch_steps_timed": len(t_ms),
        "first_step_loss": {"onerec": round(onerec_loss1, 6),
                            "torch": round(torch_losses[0], 6)},
    }
    if args.torch_alt_threads and args.torch_alt_threads != args.threads:
        torch.set_num_threads(args.torch_alt_threads)
        alt, _ = time_torch(args, model, loss_fn, tensors, opt, o["grad_clip"],
                            args.warmup + args.iters)
        torch.set_num_threads(args.threads)
        res[f"torch_{args.torch_alt_threads}_threads_median_ms"] = round(
            statistics.median(alt[args.warmup:]), 3)
    if args.profile:
        steps = max(3, args.iters // 2)
        _, _, prof = time_onerec(args, plan, init_path, inputs, workdir,
                                 f"{key}.{batch}.profile", steps, profile=True)
        res["onerec_profile_steps"] = steps
        res["onerec_profile_top"] = prof[:args.profile_top]
        res["onerec_profile_kernel_ms_per_step"] = round(
            sum(p["ms_per_step"] for p in prof), 3)
    log(f"{key}: batch {batch}: onerec {om:.1f} ms, torch {tm:.1f} ms, "
        f"torch/onerec {tm / om:.2f}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", default=os.path.join(REPO, "build/bin/onerecc"))
    ap.add_argument("--onerec-run", dest="onerec_run",
                    default=os.path.join(REPO, "build/bin/onerec-run"))
    ap.add_argument("--workdir", default=None, help="default: a temporary directory")
    ap.add_argument("--cases", default="sasrec-ml1m:128,onerec-0.015B:32",
                    help="comma-separated MODEL:BATCH")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--onerec-users", type=int, default=100000)
    ap.add_argument("--sasrec-dropout", type=float, default=None,
                    help="compile SASRec with -D dropout=X and use X in torch "
                         "(default: the model's 0.2 on both sides)")
    ap.add_argument("--torch-alt-threads", type=int, default=1,
                    help="also time torch at this thread count (0: no)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile onerec's train_step per op kind")
    ap.add_argument("--profile-top", type=int, default=8)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    if args.iters < 10:
        ap.error("--iters must be >= 10 (medians of at least 10 steps)")
    try:
        import torch
    except ImportError:
        print("SKIP: python3-torch not installed")
        return 77
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    log = lambda m: print(f"[train-bench] {m}", file=sys.stderr, flush=True)
    workdir = args.workdir or tempfile.mkdtemp(prefix="onerec-train-bench-")
    os.makedirs(workdir, exist_ok=True)
    report = {
        "benchmark": "train_step",
        "threads": args.threads,
        "warmup": args.warmup,
        "iters": args.iters,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu": benchlib.cpu_name(),
        "repo_head": benchlib.git_head(),
        "loadavg_at_start": benchlib.loadavg(),
        "results": [],
    }
    for case in args.cases.split(","):
        key, batch = case.rsplit(":", 1)
        report["results"].append(bench_model(args, key, int(batch), workdir, log))
    report["onerec_timing"] = ONEREC_TIMING
    report["torch_timing"] = TORCH_TIMING
    benchlib.finish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
