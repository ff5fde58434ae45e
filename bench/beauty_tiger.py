#!/usr/bin/env python3
"""TIGER on Amazon Beauty (5-core, S3-Rec's file), leave-one-out, generative
retrieval by beam search over semantic IDs: the whole pipeline, each stage
skipped when its artifact is already in --workdir. Prints JSON next to
TIGER's published Beauty row.

  bench/beauty_tiger.py --workdir /tmp/tiger-pipeline \\
      --onerecc build/bin/onerecc --onerec-run build/bin/onerec-run \\
      --onerec-data build/bin/onerec-data --onerec-tokenize build/bin/onerec-tokenize \\
      --out bench/results/beauty-tiger-MACHINE.json

Stages (artifacts under --workdir; a stage whose artifact exists is reused):

  1. import     onerec-data import Beauty.txt --split loo     -> beauty/
                (or --dataset DIR, an imported Beauty)
  2. sasrec     SASRec trained as bench/beauty_sasrec.py does   -> sasrec/ckpt/
                (or --sasrec-ckpt CKPT): its item embeddings are what the
                tokenizer clusters
  3. tokenize   onerec-tokenize --ckpt CKPT --tensor item_emb --first-row 1
                --data beauty -o catalog.safetensors (RQ-KMeans, 3 x 256)
                (or --catalog FILE)
  4. compile    onerecc models/tiger.rdsl [-D ...]             -> tiger.fb
  5. train      onerec-run train tiger.fb --catalog ... --epochs N, a
                checkpoint and the validation loss every epoch, resumed when
                tiger/ckpt holds checkpoints                   -> tiger/
                (or --tiger-ckpt CKPT)
  6. eval       onerec-run eval tiger.fb --data beauty --catalog ... --weights
                CKPT --split valid|test --beam 20: Recall@5/10, NDCG@5/10 of
                the last checkpoint on both splits

Needs /work/shared/data/amazon-beauty/Beauty.txt (--beauty); without it the
script prints SKIP and exits 77.

Setting: TIGER's paper sizes are models/tiger.rdsl's defaults (4 + 4 layers,
d_model 128, 6 heads of 64, FFN 1024, dropout 0.1, history 20 items, 3 x 256
codes, 2,000 user buckets); --define KEY=VALUE overrides them (onerecc -D).
The paper trains 200k steps of batch 256 with Adagrad (lr 0.01, inverse
square-root decay); here AdamW (the plan's) with a cosine schedule over
--epochs and --warmup updates. All figures in the JSON are measured on this
machine; nothing is extrapolated.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BEAUTY = "/work/shared/data/amazon-beauty/Beauty.txt"

# /work/shared/design/REFERENCE.md: TIGER (Rajput et al. 2023), Beauty,
# leave-one-out over all items.
PUBLISHED = {"source": "TIGER, Rajput et al. 2023, Amazon Beauty 5-core "
                       "(/work/shared/design/REFERENCE.md)",
             "recall@5": 0.0454, "ndcg@5": 0.0321,
             "recall@10": 0.0648, "ndcg@10": 0.0384}

SASREC_DEFINES = ["d=50", "max_len=50", "dropout=0.5"]


def run(cmd, log, **kw):
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                           f"{proc.stdout}")
    return proc.stdout


def read_metrics(path):
    steps, evals = [], []
    if not os.path.exists(path):
        return steps, evals
    with open(path) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                break  # a line cut by a kill
            (evals if "eval" in rec else steps).append(rec)
    return steps, evals


def newest(pattern):
    files = sorted(glob.glob(pattern))
    return files[-1] if files else None


def train_examples(beauty):
    """TIGER's training examples per epoch: every position t >= 1 of each
    user's train part (leave-one-out: all but the last two items)."""
    n = 0
    with open(beauty) as f:
        for line in f:
            items = line.split()[1:]
            if len(items) >= 3:
                n += max(0, len(items) - 3)
    return n


def parse_eval(text):
    """The JSON line of `onerec-run eval --catalog` ({"split", "beam",
    "users", "recall@5", "ndcg@5", "recall@10", "ndcg@10", "seconds"});
    None when the output has none."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and "recall@" in line:
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    bin_dir = os.path.join(REPO, "build/bin")
    ap.add_argument("--onerecc", default=os.path.join(bin_dir, "onerecc"))
    ap.add_argument("--onerec-run", dest="onerec_run", default=os.path.join(bin_dir, "onerec-run"))
    ap.add_argument("--onerec-data", dest="onerec_data", default=os.path.join(bin_dir, "onerec-data"))
    ap.add_argument("--onerec-tokenize", dest="onerec_tokenize",
                    default=os.path.join(bin_dir, "onerec-tokenize"))
    ap.add_argument("--beauty", default=BEAUTY)
    ap.add_argument("--workdir", default=None,
                    help="where every stage's artifact goes (reused when present)")
    ap.add_argument("--dataset", help="an imported Beauty (skips the import)")
    ap.add_argument("--sasrec-ckpt", help="a trained SASRec checkpoint (skips its training)")
    ap.add_argument("--sasrec-epochs", type=int, default=100)
    ap.add_argument("--tensor", default="item_emb",
                    help="the item-embedding tensor of the SASRec checkpoint")
    ap.add_argument("--catalog", help="a catalog of Beauty's items (skips tokenizing)")
    ap.add_argument("--config", help="a config of models/tiger.rdsl (e.g. tiny, for a smoke run)")
    ap.add_argument("--define", "-D", action="append", default=[],
                    help="KEY=VALUE for onerecc (TIGER's size; default: the paper's)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tiger-ckpt", help="a trained TIGER checkpoint (skips its training)")
    ap.add_argument("--tiger-metrics",
                    help="the metrics.jsonl of that run (default: --workdir's tiger/metrics.jsonl)")
    ap.add_argument("--beam", type=int, default=20)
    ap.add_argument("--eval-users", type=int, default=0,
                    help="evaluate the first N users only (0: all)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    log = lambda m: print(f"[beauty-tiger] {m}", file=sys.stderr, flush=True)

    if not os.path.exists(args.beauty):
        print(f"SKIP: {args.beauty} not found (Amazon Beauty 5-core, S3-Rec's Beauty.txt)")
        return 77
    work = args.workdir or tempfile.mkdtemp(prefix="onerec-beauty-tiger-")
    os.makedirs(work, exist_ok=True)
    walls, reused = {}, []
    t0 = time.time()

    # 1. The dataset.
    ds = args.dataset or os.path.join(work, "beauty")
    t = time.time()
    if os.path.exists(os.path.join(ds, "dataset.json")):
        reused.append("import")
    else:
        run([args.onerec_data, "import", args.beauty, "--out", ds, "--split", "loo",
             "--force"], log)
    walls["import_s"] = round(time.time() - t, 1)
    info = json.loads(run([args.onerec_data, "info", ds, "--json"], log))

    # 2. SASRec, whose item embeddings the tokenizer clusters.
    t = time.time()
    sasrec_ckpt = args.sasrec_ckpt or newest(os.path.join(work, "sasrec", "ckpt",
                                                          "ckpt-*.safetensors"))
    if sasrec_ckpt:
        reused.append("sasrec")
    else:
        plan = os.path.join(work, "sasrec", "sasrec-beauty.fb")
        os.makedirs(os.path.dirname(plan), exist_ok=True)
        cmd = [args.onerecc, os.path.join(REPO, "models/sasrec.rdsl")]
        for d in SASREC_DEFINES:
            cmd += ["-D", d]
        run(cmd + ["-o", plan], log)
        run([args.onerec_run, "train", plan, "--data", ds, "--batch", "128",
             "--lr", "0.001", "--seed", "42", "--threads", str(args.threads),
             "--epochs", str(args.sasrec_epochs), "--no-eval",
             "--ckpt-dir", os.path.join(work, "sasrec", "ckpt"), "--keep", "1",
             "--metrics", os.path.join(work, "sasrec", "metrics.jsonl"), "--quiet"], log)
        sasrec_ckpt = newest(os.path.join(work, "sasrec", "ckpt", "ckpt-*.safetensors"))
    walls["sasrec_s"] = round(time.time() - t, 1)

    # 3. The catalog: semantic IDs of every item.
    t = time.time()
    catalog = args.catalog or os.path.join(work, "catalog.safetensors")
    if os.path.exists(catalog):
        reused.append("tokenize")
    else:
        run([args.onerec_tokenize, "--ckpt", sasrec_ckpt, "--tensor", args.tensor,
             "--first-row", "1", "--data", ds, "-o", catalog], log)
    walls["tokenize_s"] = round(time.time() - t, 1)

    # 4. TIGER's plan.
    plan = os.path.join(work, "tiger.fb")
    cmd = [args.onerecc, os.path.join(REPO, "models/tiger.rdsl")]
    if args.config:
        cmd += ["--config", args.config]
    for d in args.define:
        cmd += ["-D", d]
    run(cmd + ["-o", plan], log)

    # 5. Training: a checkpoint and the validation loss every epoch; resumed.
    tiger_dir = os.path.join(work, "tiger")
    ckpt_dir = os.path.join(tiger_dir, "ckpt")
    metrics = args.tiger_metrics or os.path.join(tiger_dir, "metrics.jsonl")
    examples = train_examples(args.beauty)
    per_epoch = -(-examples // args.batch)
    t = time.time()
    if args.tiger_ckpt:
        reused.append("train")
        tiger_ckpt = args.tiger_ckpt
    else:
        os.makedirs(tiger_dir, exist_ok=True)
        resume = newest(os.path.join(ckpt_dir, "ckpt-*.safetensors")) is not None
        cmd = [args.onerec_run, "train", plan, "--data", ds, "--catalog", catalog,
               "--epochs", str(args.epochs), "--batch", str(args.batch),
               "--lr", str(args.lr), "--schedule", "cosine", "--warmup", str(args.warmup),
               "--threads", str(args.threads), "--ckpt-dir", ckpt_dir, "--keep", "0",
               "--metrics", metrics, "--eval-every", str(per_epoch),
               "--log-every", "50"]
        if resume:
            reused.append("train (resumed)")
            cmd.append("--resume")
        else:
            cmd += ["--seed", str(args.seed)]
        out = run(cmd, log)
        with open(os.path.join(tiger_dir, "train.log"), "a") as f:
            f.write(out)
        tiger_ckpt = newest(os.path.join(ckpt_dir, "ckpt-*.safetensors"))
    walls["train_s"] = round(time.time() - t, 1)

    # 6. Beam search over the catalog on the valid and test targets.
    t = time.time()
    evaluation = {}
    for split in ("valid", "test"):
        cmd = [args.onerec_run, "eval", plan, "--data", ds, "--catalog", catalog,
               "--weights", tiger_ckpt, "--split", split, "--beam", str(args.beam),
               "--threads", str(args.threads)]
        if args.eval_users:
            cmd += ["--users", str(args.eval_users)]
        try:
            text = run(cmd, log)
            evaluation[split] = parse_eval(text) or {"error": "no result line",
                                                     "output": text[-2000:]}
        except RuntimeError as e:
            evaluation[split] = {"error": str(e)[-2000:]}
    walls["eval_s"] = round(time.time() - t, 1)

    steps, evals = read_metrics(metrics)
    epochs = {}
    for s in steps:
        epochs.setdefault(s["epoch"], []).append(s["loss"])
    valid = [e for e in evals if e["eval"] == "valid" and "loss" in e]
    report = {
        "benchmark": "beauty-tiger",
        "data": {"file": args.beauty, "split": "loo", "dataset": ds, "info": {
            k: info[k] for k in ("users", "items", "interactions") if k in info}},
        "model": "models/tiger.rdsl",
        "config": args.config,
        "defines": args.define,
        "setting": {"optimizer": "AdamW (the plan's betas and weight decay)",
                    "lr": args.lr, "schedule": f"cosine, warmup {args.warmup}",
                    "batch": args.batch, "seed": args.seed, "beam": args.beam},
        "sasrec_ckpt": sasrec_ckpt,
        "catalog": catalog,
        "tiger_ckpt": tiger_ckpt,
        "threads": args.threads,
        "reused": reused,
        "train_examples_per_epoch": examples,
        "updates_per_epoch": per_epoch,
        "epochs": max(epochs) if epochs else 0,
        "epochs_requested": args.epochs,
        "updates": steps[-1]["step"] if steps else 0,
        "examples_per_s_median": sorted(s["examples_per_s"] for s in steps)[len(steps) // 2]
        if steps else None,
        "train_loss_by_epoch": {str(k): round(sum(v) / len(v), 4) for k, v in sorted(epochs.items())},
        "valid_loss_by_epoch": [{"epoch": e["epoch"], "step": e["step"],
                                 "loss": round(e["loss"], 4), "wall_s": round(e["wall_s"], 1)}
                                for e in valid],
        "eval": evaluation,
        "published": PUBLISHED,
        "wall": walls,
        "total_wall_s": round(time.time() - t0, 1),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "workdir": work,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0 if all("error" not in e for e in evaluation.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
