#!/usr/bin/env python3
"""Generation benchmark: onerec's constrained beam search (`onerec-run
generate`) against two PyTorch references on the same TIGER plan, weights,
catalog, requests, thread count and machine, in one run. Prints JSON.

  bench/beam_bench.py --onerecc build/bin/onerecc --onerec-run build/bin/onerec-run \\
    --out bench/results/beam-epyc-2vcpu.json          # --quick: tiny TIGER, a minute

Per model config (`models/tiger.rdsl`, default: the paper's 4+4 layers,
d 128, 6 heads of 64, FFN 1024, 3 levels x 256 codes, 20-item histories;
`tiny` with --quick) and beam width (8, 128, 512), one item per session:

- onerec: `onerec-run generate PLAN --ckpt W --catalog C --requests in.jsonl
  --out out.jsonl --beam WIDTH --items 1 --top WIDTH --threads T`, timed by
  the runtime's own clock from its summary line (latency: the median
  admission-to-answer time with --max-rows WIDTH, one request at a time;
  throughput: the run's seconds for all requests at once, loading
  excluded); with a runtime without that line, process wall time minus that
  of a run on an empty request file (see time_onerec).
- torch: bench/generation_reference.py, `UncachedBeamSearch` (the decoder
  over every beam's whole prefix each step, the encoder memory repeated per
  beam, cross-attention K/V recomputed: a naive implementation) and
  `CachedBeamSearch` (encoder and cross-attention K/V once per request,
  shared by the beams; a self-attention KV cache), eval, no_grad,
  torch.set_num_threads(T), time.perf_counter.

Two measurements per side and width: the latency of one request at a time
(median over --requests requests and --rounds rounds) and the throughput of
--batch-requests requests given at once (requests/s, median over rounds; the
torch references batch the beams of up to --batch-rows / width requests per
call). Rounds alternate onerec, uncached, cached. Ratios are onerec's speed
over each reference (above 1: onerec faster). Agreement on the throughput
batch of the last round: the fraction of requests whose top item is the same,
whose whole beam lists are identical, or equivalent up to near-ties
(generation_reference.compare), and the largest score differences: onerec vs
the cached reference, and the two references against each other (they must
agree: exit 1 otherwise).

Requests: users of Amazon Beauty (--beauty, the raw `user item item ...`
file): a user's history is their items but the last, the most recent
`hist` of them (shorter histories are padded as onerec pads them). The
catalog: --catalog, or distinct random codes for Beauty's 12,101 items (a
stand-in until the tokenizer's catalog exists). Weights: --ckpt, or the
plan's initial weights (`onerec-run weights`): timing does not depend on
training, but untrained scores are close together, so near-ties are common.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
import harness  # noqa: E402

BEAUTY = "/work/shared/data/amazon-beauty/Beauty.txt"
BEAUTY_ITEMS = 12101
SIDES = ("onerec", "uncached", "cached")


def log(msg):
    print(f"[beam_bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Inputs: plan, weights, catalog, requests
# ----------------------------------------------------------------------------

def compile_plan(args, config, workdir):
    plan = os.path.join(workdir, f"tiger-{config}.fb")
    cmd = [args.onerecc, os.path.join(REPO, "models", "tiger.rdsl")]
    if config != "default":
        cmd += [f"--config={config}"]
    harness.run(cmd + ["-o", plan], "onerecc")
    return plan


def read_beauty(path):
    """[(user id, [item ids oldest first])] from `user item item ...` lines."""
    users = []
    with open(path) as f:
        for line in f:
            ids = [int(x) for x in line.split()]
            if len(ids) >= 2:
                users.append((ids[0], ids[1:]))
    return users


def make_requests(args, catalog, hist, count):
    """`count` requests, deterministic: Beauty users (history = items but the
    last, the last `hist` of them) when --beauty exists, else random users
    with `hist` random catalog items."""
    rng = np.random.default_rng(args.seed)
    reqs = []
    if os.path.exists(args.beauty):
        users = read_beauty(args.beauty)
        known = [u for u in users if all(int(i) in catalog.row_of for i in u[1])]
        for k, j in enumerate(rng.choice(len(known), size=count, replace=False)):
            user, items = known[int(j)]
            reqs.append({"id": k, "user": user, "history": items[:-1][-hist:]})
        source = f"Amazon Beauty users ({args.beauty}), history = items but the last"
    else:
        for k in range(count):
            reqs.append({"id": k, "user": int(rng.integers(0, 1 << 31)),
                         "history": [int(x) for x in rng.choice(catalog.item_ids, hist,
                                                                 replace=False)]})
        source = f"synthetic: random users, {hist} random catalog items each"
    return reqs, source


def write_jsonl(path, reqs):
    with open(path, "w") as f:
        for q in reqs:
            f.write(json.dumps(q) + "\n")


def read_answers(path):
    """onerec's answers -> {id: sessions best first}."""
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                out[a["id"]] = sorted(a["sessions"], key=lambda s: -s["score"])
    return out


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------

def generate_help(onerec_run):
    proc = subprocess.run([onerec_run, "generate", "--help"], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    if proc.returncode not in (0, 2) or "generate" not in text:
        return None
    return text


def onerec_cmd(args, plan, ckpt, catalog, reqs_path, out_path, width, extra=()):
    cmd = [args.onerec_run, "generate", plan, "--ckpt", ckpt, "--catalog", catalog,
           "--requests", reqs_path, "--out", out_path, "--beam", str(width), "--items", "1"]
    if "--threads" in args.generate_help:
        cmd += ["--threads", str(args.threads)]
    if "--top" in args.generate_help:
        cmd += ["--top", str(width)]             # every finished beam, as the references
    return cmd + list(extra)


def run_onerec(args, cmd):
    """Wall time (ms) of one `onerec-run generate` process."""
    return run_onerec_summary(args, cmd)[0]


def run_onerec_summary(args, cmd):
    """Wall time (ms) of one `onerec-run generate` process and the summary
    JSON it prints last on stdout ({} when none): "seconds" (the run, loading
    excluded), "latency_p50_ms" (admission to answer per request), ..."""
    t = time.perf_counter()
    proc = harness.run(cmd, "onerec-run generate")
    wall = (time.perf_counter() - t) * 1e3
    summary = {}
    for line in reversed(proc.stdout.splitlines()):
        try:
            summary = json.loads(line)
            break
        except ValueError:
            continue
    return wall, summary if isinstance(summary, dict) else {}


def time_onerec(args, ctx, width, reqs, tag, batch):
    """Per-request ms (batch False) or the whole batch's ms (batch True),
    start-up excluded, and the answers {id: sessions}.

    The one function that knows how onerec-run generate is timed: with
    the runtime's own clock when its summary line has it
    (args.onerec_summary, see below); otherwise one process per request
    (latency) or per batch, the figure its wall time minus the median wall
    time of runs on an empty request file (plan, weights and catalog
    loading): a cold process, which only disfavours onerec."""
    wd = ctx["workdir"]
    times, answers = [], {}
    if args.onerec_summary:
        # The runtime's own clock (its summary line). Latency: one process,
        # --max-rows WIDTH so that one request is active at a time, a warm-up
        # request first; the figure is its median admission-to-answer time.
        # Throughput: every request at once (dynamic batching) with as many
        # beam rows per step as the torch reference batches (--batch-rows),
        # the run's seconds (loading excluded, a fresh process).
        rp, op = os.path.join(wd, f"{tag}.in.jsonl"), os.path.join(wd, f"{tag}.out.jsonl")
        group = reqs if batch else [dict(reqs[0], id="warm-up")] + reqs
        write_jsonl(rp, group)
        extra = ["--max-rows", str(max(width, args.batch_rows) if batch else width)]
        _, summary = run_onerec_summary(args, onerec_cmd(
            args, ctx["plan"], ctx["ckpt"], ctx["catalog_path"], rp, op, width, extra))
        if summary.get("answered") != len(group):
            raise RuntimeError(f"{tag}: onerec-run generate answered {summary.get('answered')} "
                               f"of {len(group)} requests: {summary}")
        times = [summary["seconds"] * 1e3] if batch else [summary["latency_p50_ms"]]
        ctx.setdefault("onerec_summaries", []).append(dict(summary, tag=tag))
        return times, read_answers(op)
    groups = [[q] for q in reqs] if not batch else [reqs]
    for i, group in enumerate(groups):
        rp = os.path.join(wd, f"{tag}.{i}.in.jsonl")
        op = os.path.join(wd, f"{tag}.{i}.out.jsonl")
        write_jsonl(rp, group)
        wall = run_onerec(args, onerec_cmd(args, ctx["plan"], ctx["ckpt"], ctx["catalog_path"],
                                           rp, op, width))
        times.append(wall - ctx["onerec_start_ms"][width])
        answers.update(read_answers(op))
    return times, answers


def onerec_start_ms(args, ctx, width):
    """Median wall time of `generate` on an empty request file (3 runs)."""
    rp = os.path.join(ctx["workdir"], "empty.in.jsonl")
    op = os.path.join(ctx["workdir"], "empty.out.jsonl")
    write_jsonl(rp, [])
    cmd = onerec_cmd(args, ctx["plan"], ctx["ckpt"], ctx["catalog_path"], rp, op, width)
    return statistics.median(run_onerec(args, cmd) for _ in range(3))


def time_torch(search, reqs, width, batch, batch_rows):
    """Per-request ms (batch False) or the batch's ms (batch True, the beams of
    up to batch_rows // width requests per call), and the results in order."""
    per_call = max(1, batch_rows // width) if batch else 1
    times, results = [], []
    search(reqs[:1], width)                       # warm-up (not timed)
    if batch:
        t = time.perf_counter()
        for i in range(0, len(reqs), per_call):
            results += search(reqs[i:i + per_call], width)
        times.append((time.perf_counter() - t) * 1e3)
    else:
        for q in reqs:
            t = time.perf_counter()
            results += search([q], width)
            times.append((time.perf_counter() - t) * 1e3)
    return times, results


# ----------------------------------------------------------------------------
# One config
# ----------------------------------------------------------------------------

def bench_config(args, config, workdir):
    import torch
    import generation_reference as gr

    cfg = gr.TIGER_CONFIGS[config]
    wd = os.path.join(workdir, config)
    os.makedirs(wd, exist_ok=True)
    ctx = {"workdir": wd}
    ctx["plan"] = compile_plan(args, config, wd)
    if args.ckpt:
        ctx["ckpt"] = args.ckpt
    else:
        ctx["ckpt"] = os.path.join(wd, "init.safetensors")
        harness.run([args.onerec_run_weights, "weights", ctx["plan"], "-o", ctx["ckpt"]],
                    "onerec-run weights")
    model = gr.load(config, ctx["ckpt"])
    if args.catalog:
        catalog, ctx["catalog_path"] = gr.Catalog.load(args.catalog), args.catalog
        catalog_source = args.catalog
    else:
        ctx["catalog_path"] = os.path.join(wd, "catalog.safetensors")
        catalog = gr.Catalog.synthetic(np.arange(1, BEAUTY_ITEMS + 1), cfg["levels"],
                                       cfg["codebook"], seed=args.seed)
        catalog.save(ctx["catalog_path"], {"source": "beam_bench.py synthetic codes"})
        catalog_source = (f"synthetic: distinct random codes for items 1..{BEAUTY_ITEMS} "
                          f"(Beauty's item ids), seed {args.seed}")
    count = max(args.requests, args.batch_requests)
    reqs, req_source = make_requests(args, catalog, cfg["hist"], count)
    lat_reqs, batch_reqs = reqs[:args.requests], reqs[:args.batch_requests]
    searches = {"uncached": gr.UncachedBeamSearch(model, catalog),
                "cached": gr.CachedBeamSearch(model, catalog)}
    sides = [s for s in SIDES if s != "onerec" or not args.torch_only]
    if args.torch_alt_threads and args.torch_alt_threads != args.threads:
        sides += [f"uncached_{args.torch_alt_threads}_threads",
                  f"cached_{args.torch_alt_threads}_threads"]
    if "onerec" in sides:
        ctx["onerec_start_ms"] = {}
        rp = os.path.join(wd, "probe.in.jsonl")
        write_jsonl(rp, [])
        _, summary = run_onerec_summary(args, onerec_cmd(
            args, ctx["plan"], ctx["ckpt"], ctx["catalog_path"], rp,
            os.path.join(wd, "probe.out.jsonl"), 8))
        args.onerec_summary = "seconds" in summary and "latency_p50_ms" in summary

    out = {"config": config, "model": cfg, "catalog": catalog_source,
           "catalog_items": len(catalog.item_ids), "requests_source": req_source,
           "mean_history_items": round(float(np.mean([len(q["history"]) for q in reqs])), 2),
           "weights": args.ckpt or "the plan's initial weights (onerec-run weights)",
           "widths": {}}
    for width in args.widths:
        lat = {s: [] for s in sides}
        thr = {s: [] for s in sides}
        last = {}
        if "onerec" in sides and not args.onerec_summary:
            ctx["onerec_start_ms"][width] = onerec_start_ms(args, ctx, width)
        for rnd in range(args.rounds):
            for side in sides:
                if side == "onerec":
                    t, _ = time_onerec(args, ctx, width, lat_reqs, f"w{width}.r{rnd}.lat", False)
                    lat[side] += t
                    t, ans = time_onerec(args, ctx, width, batch_reqs, f"w{width}.r{rnd}.thr", True)
                    thr[side] += t
                    last[side] = [ans.get(q["id"], []) for q in batch_reqs]
                    continue
                kind = side.split("_")[0]
                torch.set_num_threads(args.threads if side == kind else args.torch_alt_threads)
                t, _ = time_torch(searches[kind], lat_reqs, width, False, args.batch_rows)
                lat[side] += t
                t, res = time_torch(searches[kind], batch_reqs, width, True, args.batch_rows)
                thr[side] += t
                last[side] = res
            torch.set_num_threads(args.threads)
            log(f"{config} width {width} round {rnd + 1}/{args.rounds}: " + ", ".join(
                f"{s} {statistics.median(lat[s]):.1f} ms/request" for s in sides))
        w = {}
        for side in sides:
            w[side] = {
                "latency_median_ms": round(statistics.median(lat[side]), 3),
                "latency_min_ms": round(min(lat[side]), 3),
                "latency_samples": len(lat[side]),
                "batch_ms_median": round(statistics.median(thr[side]), 3),
                "requests_per_s": round(len(batch_reqs) * 1e3 / statistics.median(thr[side]), 3),
            }
        for ref in ("uncached", "cached"):
            if "onerec" not in sides:
                continue
            w[f"speedup_latency_vs_{ref}"] = round(
                w[ref]["latency_median_ms"] / w["onerec"]["latency_median_ms"], 3)
            w[f"speedup_throughput_vs_{ref}"] = round(
                w["onerec"]["requests_per_s"] / w[ref]["requests_per_s"], 3)
            # Against torch's better thread count (on a loaded 2-core machine
            # torch at 2 threads can be far slower than at 1).
            best_lat = min(w[s]["latency_median_ms"] for s in sides if s.split("_")[0] == ref)
            best_rps = max(w[s]["requests_per_s"] for s in sides if s.split("_")[0] == ref)
            w[f"speedup_latency_vs_{ref}_best_threads"] = round(
                best_lat / w["onerec"]["latency_median_ms"], 3)
            w[f"speedup_throughput_vs_{ref}_best_threads"] = round(
                w["onerec"]["requests_per_s"] / best_rps, 3)
        w["speedup_cached_over_uncached_latency"] = round(
            w["uncached"]["latency_median_ms"] / w["cached"]["latency_median_ms"], 3)
        w["references_agree"] = gr.compare(last["uncached"], last["cached"], args.tol)
        if "onerec" in sides:
            # Without --top, generate answers its default number of sessions:
            # compare those with the reference's best as many.
            cut = [ref[:len(got)] for got, ref in zip(last["onerec"], last["cached"])]
            w["onerec_sessions_per_request"] = statistics.median(len(r) for r in last["onerec"])
            w["onerec_vs_cached"] = gr.compare(last["onerec"], cut, args.tol)
            w["onerec_answered"] = sum(1 for r in last["onerec"] if r)
            w["target_3x_uncached"] = (w["speedup_latency_vs_uncached_best_threads"] >= 3 and
                                       w["speedup_throughput_vs_uncached_best_threads"] >= 3)
            w["ahead_of_cached"] = (w["speedup_latency_vs_cached_best_threads"] > 1 and
                                    w["speedup_throughput_vs_cached_best_threads"] > 1)
        out["widths"][str(width)] = w
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", default=os.path.join(REPO, "build/bin/onerecc"),
                    help="a compiler whose TIGER plan has the generation entries")
    ap.add_argument("--onerec-run", dest="onerec_run",
                    default=os.path.join(REPO, "build/bin/onerec-run"),
                    help="a runtime with the `generate` command")
    ap.add_argument("--configs", default="default", help="TIGER configs: default, tiny")
    ap.add_argument("--widths", default="8,128,512")
    ap.add_argument("--requests", type=int, default=8,
                    help="requests timed one at a time per round (latency)")
    ap.add_argument("--batch-requests", type=int, default=16, dest="batch_requests",
                    help="requests given at once per round (throughput)")
    ap.add_argument("--batch-rows", type=int, default=2048, dest="batch_rows",
                    help="torch: at most this many beams (requests x width) per call")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch-alt-threads", type=int, default=1, dest="torch_alt_threads",
                    help="also time the references at this thread count (0: no); the "
                         "targets are judged against torch's better one")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--tol", type=float, default=1e-4, help="score tolerance for agreement")
    ap.add_argument("--beauty", default=BEAUTY)
    ap.add_argument("--catalog", default=None, help="an onerec catalog safetensors")
    ap.add_argument("--ckpt", default=None, help="TIGER weights (safetensors, onerec names)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny TIGER, widths 8,128, 4 + 8 requests, 1 round")
    ap.add_argument("--torch-only", action="store_true", dest="torch_only",
                    help="only the two references (no onerec-run generate needed; "
                         "onerec-run still exports the plan's weights)")
    ap.add_argument("--workdir", default=None, help="default: a temporary directory")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    if args.quick:
        args.configs, args.widths = "tiny", "8,128"
        args.requests, args.batch_requests, args.rounds = 4, 8, 1
    args.widths = [int(w) for w in args.widths.split(",")]

    try:
        import torch
    except ImportError:
        print("SKIP: python3-torch not installed")
        return 77
    torch.set_num_threads(args.threads)
    args.onerec_run_weights = args.onerec_run
    args.generate_help = ""
    args.onerec_summary = False
    if not args.torch_only:
        args.generate_help = generate_help(args.onerec_run)
        if args.generate_help is None:
            print(f"error: {args.onerec_run} has no `generate` command (build the runtime "
                  f"with it, or pass --torch-only)", file=sys.stderr)
            return 1

    workdir = args.workdir or tempfile.mkdtemp(prefix="onerec-beam-bench-")
    report = {
        "benchmark": "beam",
        "threads": args.threads,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "requests_latency": args.requests,
        "requests_batch": args.batch_requests,
        "torch_batch_rows": args.batch_rows,
        "items_per_session": 1,
        "cpu": benchlib.cpu_name(),
        "commit": benchlib.git_head(),
        "onerecc": args.onerecc,
        "onerec_run": args.onerec_run,
        "onerec_timing": (None if args.torch_only else
                          "process wall time minus the median of 3 runs on an empty "
                          "request file (start-up: plan, weights, catalog loading)"),
        "torch_timing": "eager, no_grad, time.perf_counter per call, one warm-up call per "
                        "round and side",
        "loadavg_at_start": benchlib.loadavg(),
        "results": [],
    }
    failed = False
    for config in args.configs.split(","):
        r = bench_config(args, config, workdir)
        if args.onerec_summary:
            report["onerec_timing"] = (
                "the runtime's clock, from generate's summary line: latency = its "
                "latency_p50_ms (admission to answer) over a warm-up request and the "
                "requests in one process with --max-rows WIDTH (one request active at a "
                "time); throughput = the requests / its `seconds` for all of them at once "
                "(dynamic batching, default --max-rows), loading excluded")
        report["results"].append(r)
        for w, res in r["widths"].items():
            agree = res["references_agree"]
            if agree["top1_fraction"] < 1 or agree["equivalent_fraction"] < 1:
                failed = True
                log(f"{config} width {w}: the uncached and cached references disagree: {agree}")
    benchlib.finish(report, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
