#!/usr/bin/env python3
"""Forward-pass benchmark: onerec-run vs PyTorch eager, same model, weights,
data, thread count and machine, in one run. Prints JSON.

  bench/forward_bench.py --onerecc build/bin/onerecc --onerec-run build/bin/onerec-run

Models: SASRec ML-1M (`--config ml1m`: 2 blocks, d 50, length 200; entry
`forward`) and OneRec 0.015B (the default config; entries `encode` and
`decode`, and their sum). onerec is timed inside one process
(`onerec-run forward --repeat N --timing-json F`, per-call wall times), torch
with time.perf_counter around each eager call under torch.no_grad(); the first
--warmup calls of each are dropped, the figure is the median of the rest.
Each case also checks that the two outputs agree (max rel err).
"""
import argparse
import json
import os
import statistics
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


ONEREC_TIMING = ("onerec-run forward --repeat N --timing-json: per-call wall time in "
                 "one process (plan loading not timed)")


def time_onerec(args, plan, entry, inputs, workdir, tag, iters=None):
    """Per-call wall times (ms) of `entry`, warm-up dropped, and the outputs.

    The only place that knows how onerec-run reports timings: it runs
    warmup + iters calls in one process and reads {"times_ms": [...]}."""
    iters = iters or args.iters
    timing = os.path.join(workdir, f"{tag}.timing.json")
    outs = harness.forward(args.onerec_run, plan, entry, inputs, workdir,
                           threads=args.threads, repeat=args.warmup + iters,
                           timing_json=timing, tag=tag)
    with open(timing) as f:
        times = json.load(f)["times_ms"]
    if len(times) < args.warmup + iters:
        raise RuntimeError(f"{tag}: onerec-run reported {len(times)} times, "
                           f"asked for {args.warmup + iters}")
    return times[args.warmup:], outs


def time_torch(args, fn, tensors, iters=None):
    import torch
    times = []
    with torch.no_grad():
        for i in range(args.warmup + (iters or args.iters)):
            t = time.perf_counter()
            out = fn(*tensors)
            times.append((time.perf_counter() - t) * 1e3)
    return times[args.warmup:], out.numpy()


def summarize(batch, onerec_ms, torch_ms):
    o, t = statistics.median(onerec_ms), statistics.median(torch_ms)
    return {
        "onerec_median_ms": round(o, 3),
        "torch_median_ms": round(t, 3),
        "speedup_torch_over_onerec": round(t / o, 3),
        "onerec_examples_per_s": round(batch / o * 1e3, 1),
        "torch_examples_per_s": round(batch / t * 1e3, 1),
        "onerec_min_ms": round(min(onerec_ms), 3),
        "torch_min_ms": round(min(torch_ms), 3),
    }


def bench_model(args, key, defines, workdir, log):
    import torch
    import models
    _, kind, config, _ = harness.MODELS[key]
    cfg = dict((models.SASREC_CONFIGS if kind == "sasrec" else models.ONEREC_CONFIGS)[config])
    for d in defines:
        name, value = d.split("=", 1)
        cfg[name] = int(value)
    plan = os.path.join(workdir, f"{key}.plan.fb")
    log(f"{key}: compiling ({' '.join('-D ' + d for d in defines) or 'no -D'})")
    model = models.build(kind, config) if not defines else (
        models.SASRec(**cfg) if kind == "sasrec" else models.OneRec(**cfg))
    if not args.torch_only:
        harness.compile_plan(args.onerecc, key, plan, defines)
        init = harness.export_weights(args.onerec_run, plan,
                                      os.path.join(workdir, f"{key}.init.safetensors"))
        models.load_onerec_weights(model, init)
    model.eval()
    entries = model.entries()
    results = []
    for batch in args.batches:
        rng = np.random.default_rng(batch)
        if kind == "sasrec":
            data = harness.sasrec_batch(cfg, batch, rng)
            names = ["forward"]
        else:
            data = harness.onerec_batch(cfg, batch, rng)
            names = ["encode", "decode"]
        case = {"model": key, "batch": batch, "threads": args.threads, "entries": {}}
        for entry in names:
            in_names, out_name, fn = entries[entry]
            if entry == "decode":   # decode the memory encode produced
                with torch.no_grad():
                    data["memory"] = entries["encode"][2](
                        *[torch.from_numpy(data[n]) for n in entries["encode"][0]]).numpy()
            inputs = {n: data[n] for n in in_names}
            tensors = [torch.from_numpy(inputs[n]) for n in in_names]
            if args.torch_only:
                log(f"{key}: batch {batch} {entry}: torch")
                t_ms, ref = time_torch(args, fn, tensors)
                t = statistics.median(t_ms)
                case["entries"][entry] = {"torch_median_ms": round(t, 3),
                                          "torch_examples_per_s": round(batch / t * 1e3, 1)}
                log(f"{key}: batch {batch} {entry}: torch {t:.3f} ms")
                continue
            log(f"{key}: batch {batch} {entry}: onerec and torch")
            # Rounds alternate onerec and torch so both see the same load;
            # each round has its own warm-up, medians are over all rounds.
            per_round = -(-args.iters // args.rounds)
            o_ms, t_ms = [], []
            for _ in range(args.rounds):
                o, outs = time_onerec(args, plan, entry, inputs, workdir,
                                      f"{key}.{batch}.{entry}", iters=per_round)
                o_ms += o
                t, ref = time_torch(args, fn, tensors, iters=per_round)
                t_ms += t
            r = summarize(batch, o_ms, t_ms)
            if args.torch_alt_threads and args.torch_alt_threads != args.threads:
                # torch's own scaling: the same calls at another thread count.
                torch.set_num_threads(args.torch_alt_threads)
                alt, _ = time_torch(args, fn, tensors)
                torch.set_num_threads(args.threads)
                r[f"torch_{args.torch_alt_threads}_threads_median_ms"] = round(
                    statistics.median(alt), 3)
            r["max_rel_err"] = float(f"{harness.rel_err(outs.get(out_name), ref):.3e}") \
                if out_name in outs else None
            case["entries"][entry] = r
            log(f"{key}: batch {batch} {entry}: onerec {r['onerec_median_ms']} ms, "
                f"torch {r['torch_median_ms']} ms")
        if len(names) > 1 and not args.torch_only:
            o = sum(case["entries"][e]["onerec_median_ms"] for e in names)
            t = sum(case["entries"][e]["torch_median_ms"] for e in names)
            case["entries"]["+".join(names)] = {
                "onerec_median_ms": round(o, 3), "torch_median_ms": round(t, 3),
                "speedup_torch_over_onerec": round(t / o, 3),
                "onerec_examples_per_s": round(batch / o * 1e3, 1),
                "torch_examples_per_s": round(batch / t * 1e3, 1)}
        results.append(case)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", default=os.path.join(REPO, "build/bin/onerecc"))
    ap.add_argument("--onerec-run", dest="onerec_run",
                    default=os.path.join(REPO, "build/bin/onerec-run"))
    ap.add_argument("--workdir", default=None, help="default: a temporary directory")
    ap.add_argument("--models", default="sasrec-ml1m,onerec-0.015B")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate onerec and torch this many times; --iters is split "
                         "over the rounds, each round has its own warm-up")
    ap.add_argument("--onerec-users", type=int, default=100000,
                    help="-D users=N for OneRec: the uid table is users x 64 floats "
                         "(1M users = 256 MB); it is a gather, so the timing hardly "
                         "depends on it (0: keep the model's 1,000,000)")
    ap.add_argument("--torch-alt-threads", type=int, default=1,
                    help="also time torch at this thread count (0: no), to show torch's "
                         "own scaling next to the same-threads comparison")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument("--torch-only", action="store_true",
                    help="time only the torch side (no onerec binaries needed)")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.iters < 10:
        ap.error("--iters must be >= 10 (medians of at least 10 calls)")

    try:
        import torch
    except ImportError:
        print("SKIP: python3-torch not installed")
        return 77
    torch.set_num_threads(args.threads)
    log = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)

    workdir = args.workdir or tempfile.mkdtemp(prefix="onerec-bench-")
    os.makedirs(workdir, exist_ok=True)
    report = {
        "benchmark": "forward",
        "threads": args.threads,
        "warmup": args.warmup,
        "iters": args.iters,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_timing": "eager, torch.no_grad(), time.perf_counter per call",
        "cpu": benchlib.cpu_name(),
        "loadavg_at_start": benchlib.loadavg(),
        "results": [],
    }
    for key in args.models.split(","):
        defines = []
        if key.startswith("onerec") and args.onerec_users:
            defines.append(f"users={args.onerec_users}")
        report.setdefault("defines", {})[key] = defines
        report["results"] += bench_model(args, key, defines, workdir, log)
    report["onerec_timing"] = ONEREC_TIMING
    benchlib.finish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
