#!/usr/bin/env python3
"""SASRec on Amazon Beauty (5-core, S3-Rec's file), leave-one-out, full
ranking: train with `onerec-run train`, report test HR@10 (= R@10) and
NDCG@10 next to the published full-ranking SASRec figures. Prints JSON.

  bench/beauty_sasrec.py --onerecc build/bin/onerecc --onerec-run build/bin/onerec-run \
      --onerec-data build/bin/onerec-data --out bench/results/beauty-sasrec-MACHINE.json

Needs /work/shared/data/amazon-beauty/Beauty.txt (`--beauty`); without it the
script prints SKIP and exits 77. The data is imported into --workdir (a
temporary directory by default), never into the repository.

Setting (the SASRec paper's Beauty setting, Kang & McAuley 2018): 2 blocks,
1 head, d 50, max_len 50, dropout 0.5, Adam lr 1e-3 (betas 0.9/0.98 as in
models/sasrec.rdsl), batch 128, one sampled negative per position (BCE);
models/sasrec.rdsl compiled with `-D d=50 -D dropout=0.5` (its default
items = 12101, max_len = 50). The paper trains for 200 epochs; here the number of epochs is
--epochs, or with --time-budget S the most whole epochs that fit S seconds by
a short timing probe (reported as such; nothing is extrapolated).

Evaluation: `onerec-run train`'s own leave-one-out evaluation (docs/training.md):
every item ranked, the user's other history items excluded, ties pessimistic;
valid every --eval-every-epochs epochs, with a checkpoint at each. The reported
test figure is the checkpoint with the best validation NDCG@10 (model
selection on the validation split, as the published re-runs do), evaluated by
`onerec-run eval --split test`; the last epoch's test figure is reported too.
"""
import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
import tempfile
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BEAUTY = "/work/shared/data/amazon-beauty/Beauty.txt"

# /work/shared/design/REFERENCE.md: full-ranking SASRec on Beauty, one public re-run.
PUBLISHED = {"source": "full-ranking SASRec on Beauty, one public re-run "
                       "(/work/shared/design/REFERENCE.md)",
             "hr@10": 0.0688, "ndcg@10": 0.0375}


def run(cmd, log, **kw):
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout}")
    return proc.stdout


def read_metrics(path):
    steps, evals = [], []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            (evals if "eval" in rec else steps).append(rec)
    return steps, evals


def popularity_baseline(path, k=10):
    """HR@10 of recommending the most popular train-part items (the user's
    other history items excluded, as in onerec's evaluation) on the valid and
    test targets: how much harder the test targets are, independent of the
    model."""
    seqs = []
    with open(path) as f:
        for line in f:
            items = [int(t) for t in line.split()[1:]]
            if items:
                seqs.append(items)
    counts = {}
    for s in seqs:
        for i in (s[:-2] if len(s) >= 3 else s):
            counts[i] = counts.get(i, 0) + 1
    top = sorted(counts, key=lambda i: (-counts[i], i))[:k + 200]
    result = {}
    for split, cut in (("valid", 2), ("test", 1)):
        hits = users = 0
        for s in seqs:
            if len(s) < 3:
                continue
            target, history = s[-cut], set(s[:-cut])
            history.discard(target)
            ranked = [i for i in top if i not in history][:k]
            hits += target in ranked
            users += 1
        result[split] = round(hits / users, 4)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", default=os.path.join(REPO, "build/bin/onerecc"))
    ap.add_argument("--onerec-run", dest="onerec_run",
                    default=os.path.join(REPO, "build/bin/onerec-run"))
    ap.add_argument("--onerec-data", dest="onerec_data",
                    default=os.path.join(REPO, "build/bin/onerec-data"))
    ap.add_argument("--beauty", default=BEAUTY)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--time-budget", type=float, default=0,
                    help="seconds: cap --epochs to the whole epochs that fit (0: no cap)")
    ap.add_argument("--eval-every-epochs", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    log = lambda m: print(f"[beauty] {m}", file=sys.stderr, flush=True)

    if not os.path.exists(args.beauty):
        print(f"SKIP: {args.beauty} not found (Amazon Beauty 5-core, S3-Rec's Beauty.txt)")
        return 77
    work = args.workdir or tempfile.mkdtemp(prefix="onerec-beauty-")
    os.makedirs(work, exist_ok=True)
    ds = os.path.join(work, "beauty")
    plan = os.path.join(work, "sasrec-beauty.fb")
    t0 = time.time()
    run([args.onerec_data, "import", args.beauty, "--out", ds, "--split", "loo", "--force"], log)
    info = json.loads(run([args.onerec_data, "info", ds, "--json"], log))
    defines = [f"d={args.d}", f"max_len={args.max_len}", f"dropout={args.dropout}"]
    cmd = [args.onerecc, os.path.join(REPO, "models/sasrec.rdsl")]
    for d in defines:
        cmd += ["-D", d]
    run(cmd + ["-o", plan], log)
    train_rows = info["split"]["train_rows"]
    steps_per_epoch = -(-int(train_rows) // args.batch)

    common = [args.onerec_run, "train", plan, "--data", ds, "--batch", str(args.batch),
              "--lr", str(args.lr), "--seed", str(args.seed), "--threads", str(args.threads)]
    epochs, probe = args.epochs, None
    if args.time_budget > 0:
        # A short probe (no evaluation) for the time of an update.
        pm = os.path.join(work, "probe.jsonl")
        probe_steps = 40
        run(common + ["--steps", str(probe_steps), "--no-eval", "--metrics", pm, "--quiet"], log)
        steps, _ = read_metrics(pm)
        dt = (steps[-1]["wall_s"] - steps[9]["wall_s"]) / (len(steps) - 10)
        eval_s = 3.0   # a full-ranking valid evaluation of 22k users, measured ~1-3 s
        fit = int(args.time_budget / (steps_per_epoch * dt + eval_s / args.eval_every_epochs))
        epochs = max(1, min(args.epochs, fit))
        probe = {"steps": probe_steps, "seconds_per_update": round(dt, 4),
                 "epochs_fitting_budget": fit}
        log(f"probe: {dt * 1e3:.1f} ms/update, {steps_per_epoch} updates/epoch -> {epochs} epochs")

    metrics = os.path.join(work, "metrics.jsonl")
    ckpt = os.path.join(work, "ckpt")
    t_train = time.time()
    every = steps_per_epoch * args.eval_every_epochs
    out = run(common + ["--epochs", str(epochs), "--eval-every", str(every),
                        "--metrics", metrics, "--ckpt-dir", ckpt,
                        "--ckpt-every", str(every), "--keep", "1000"], log)
    train_wall = time.time() - t_train
    with open(os.path.join(work, "train.log"), "w") as f:
        f.write(out)
    steps, evals = read_metrics(metrics)
    valid = [e for e in evals if e["eval"] == "valid"]
    test = [e for e in evals if e["eval"] == "test"]
    best = max(valid, key=lambda e: e["ndcg"]) if valid else None
    final_test = test[-1] if test else None
    # Model selection: the test figure of the best validation checkpoint.
    selected = None
    if best:
        weights = os.path.join(ckpt, f"ckpt-{best['step']:010d}.safetensors")
        if os.path.exists(weights):
            selected = json.loads(run([args.onerec_run, "eval", plan, "--data", ds,
                                       "--weights", weights, "--split", "test",
                                       "--threads", str(args.threads), "--json"], log))
    report = {
        "benchmark": "beauty-sasrec",
        "data": {"file": args.beauty, "split": "loo", "info": {
            k: info[k] for k in ("users", "items", "interactions") if k in info}},
        "model": "models/sasrec.rdsl",
        "defines": defines,
        "setting": {"blocks": 2, "heads": 1, "d": args.d, "max_len": args.max_len,
                    "dropout": args.dropout, "optimizer": "Adam(beta1 0.9, beta2 0.98)",
                    "lr": args.lr, "batch": args.batch, "negatives": "1 per position, BCE",
                    "seed": args.seed},
        "protocol": "leave-one-out, full ranking over all items, the user's other "
                    "history items excluded, ties pessimistic; test on the checkpoint "
                    "with the best validation NDCG@10 (and on the final weights)",
        "threads": args.threads,
        "epochs": epochs,
        "epochs_requested": args.epochs,
        "updates": steps[-1]["step"] if steps else 0,
        "updates_per_epoch": steps_per_epoch,
        "probe": probe,
        "train_wall_s": round(train_wall, 1),
        "total_wall_s": round(time.time() - t0, 1),
        "examples_per_s_median": sorted(s["examples_per_s"] for s in steps)[len(steps) // 2]
        if steps else None,
        "final_loss": steps[-1]["loss"] if steps else None,
        "test": {"hr@10": selected["hr"], "ndcg@10": selected["ndcg"],
                 "users": selected["users"], "epoch": best["epoch"],
                 "selected_by": "best validation NDCG@10"}
        if selected else None,
        "test_final": {"hr@10": final_test["hr"], "ndcg@10": final_test["ndcg"],
                       "users": final_test["users"], "epoch": final_test["epoch"]}
        if final_test else None,
        "valid_final": {"hr@10": valid[-1]["hr"], "ndcg@10": valid[-1]["ndcg"],
                        "epoch": valid[-1]["epoch"]} if valid else None,
        "valid_best": {"hr@10": best["hr"], "ndcg@10": best["ndcg"], "epoch": best["epoch"],
                       "step": best["step"]} if best else None,
        "valid_curve": [{"epoch": e["epoch"], "hr@10": round(e["hr"], 4),
                         "ndcg@10": round(e["ndcg"], 4), "wall_s": round(e["wall_s"], 1)}
                        for e in valid],
        "published": PUBLISHED,
        "most_popular_hr@10": popularity_baseline(args.beauty),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "workdir": work,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
