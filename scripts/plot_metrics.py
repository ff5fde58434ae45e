#!/usr/bin/python3
"""Plot a metrics.jsonl written by `onerec-run train --metrics` to a PNG.

    scripts/plot_metrics.py metrics.jsonl -o curves.png [--smooth N] [--title T]

The left panel is the training loss against the update (the raw values and a
moving average over --smooth updates), with a generative model's valid and
test losses (`--catalog` runs) as markers; the right panel the evaluations,
HR@K and NDCG@K of each split and protocol against the update. Several files
can be given to compare runs (one colour per file). Needs python3-matplotlib.
"""

import argparse
import json
import math
import os
import sys


def read_metrics(path):
    steps, evals = [], []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                # A run killed mid-write leaves a cut last line.
                print(f"{path}:{number}: skipped, not JSON ({e.msg})",
                      file=sys.stderr)
                continue
            if "eval" in record:
                evals.append(record)
            elif "loss" in record:
                steps.append(record)
    return steps, evals


def moving_average(values, window):
    out, total, kept = [], 0.0, []
    for v in values:
        if not math.isfinite(v):
            out.append(float("nan"))
            continue
        kept.append(v)
        total += v
        if len(kept) > window:
            total -= kept.pop(0)
        out.append(total / len(kept))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", nargs="+", help="metrics.jsonl file(s)")
    parser.add_argument("-o", "--output", default="curves.png",
                        help="the PNG to write (default curves.png)")
    parser.add_argument("--smooth", type=int, default=0,
                        help="moving-average window of the loss (default: "
                        "about 1/50 of the run)")
    parser.add_argument("--title", default=None)
    args = parser.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, eval_ax) = plt.subplots(1, 2, figsize=(13, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    any_eval = False
    for i, path in enumerate(args.metrics):
        steps, evals = read_metrics(path)
        if not steps and not evals:
            sys.exit(f"{path}: no metrics records")
        colour = colours[i % len(colours)]
        label = os.path.basename(path) if len(args.metrics) > 1 else None
        if steps:
            x = [r["step"] for r in steps]
            y = [float(r["loss"]) for r in steps]
            window = args.smooth or max(1, len(y) // 50)
            loss_ax.plot(x, y, color=colour, alpha=0.25, linewidth=0.8)
            loss_ax.plot(x, moving_average(y, window), color=colour,
                         label=(label or "loss") + f" (avg {window})")
        series, held_out = {}, {}
        for r in evals:
            if "loss" in r and "hr" not in r:
                # A generative model's validation/test loss: on the loss axis.
                held_out.setdefault(r["eval"], []).append((r["step"], r["loss"]))
                continue
            k = r.get("k", 10)
            for metric in ("hr", "ndcg"):
                key = (r["eval"], r.get("protocol", "full"), metric, k)
                series.setdefault(key, []).append((r["step"], r[metric]))
        for split, points in sorted(held_out.items()):
            points.sort()
            loss_ax.plot([p[0] for p in points], [p[1] for p in points],
                         marker="o" if split == "valid" else "*",
                         linestyle="--", color=colour,
                         label=f"{label + ': ' if label else ''}{split} loss")
        for j, ((split, protocol, metric, k), points) in enumerate(
                sorted(series.items())):
            any_eval = True
            # One colour per run when comparing runs, else per series.
            series_colour = colour if label else colours[(j // 2 + 1) %
                                                         len(colours)]
            points.sort()
            name = f"{split} {'HR' if metric == 'hr' else 'NDCG'}@{k}"
            if protocol != "full":
                name += f" ({protocol})"
            if label:
                name = f"{label}: {name}"
            style = "-" if metric == "hr" else "--"
            marker = "o" if split == "valid" else "*"
            eval_ax.plot([p[0] for p in points], [p[1] for p in points],
                         linestyle=style, marker=marker, color=series_colour,
                         label=name, markersize=5 if split == "valid" else 10)

    loss_ax.set_xlabel("update")
    loss_ax.set_ylabel("loss")
    loss_ax.set_title("loss")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    eval_ax.set_xlabel("update")
    eval_ax.set_title("evaluation")
    eval_ax.grid(alpha=0.3)
    if any_eval:
        eval_ax.legend(fontsize=8)
        eval_ax.set_ylim(bottom=0)
    else:
        eval_ax.text(0.5, 0.5, "no evaluation records", ha="center",
                     va="center", transform=eval_ax.transAxes)
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
