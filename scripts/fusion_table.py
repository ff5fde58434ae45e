#!/usr/bin/env python3
"""The operator-count table of docs/fusion.md, for every model in models/.

Runs `onerecc MODEL [--config C] --stats=json` for each model at its default
settings and at each named config, and prints one Markdown row per entry
that trains or serves (the def entries, train_grad, train_step): operators
as written, after autodiff (primitive, as -O0 builds them), after fusion,
kernels launched per call, and the fusion ratio.

    scripts/fusion_table.py [--onerecc build/bin/onerecc] [--json out.json]
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def configs(model):
    """None (the defaults) and every `config NAME {` of the model."""
    text = model.read_text()
    names = re.findall(r'^\s*config\s+("?)([\w.]+)\1\s*\{', text, re.M)
    return [None] + [name for _, name in names]


def stats(onerecc, model, config):
    cmd = [onerecc, str(model), "--stats=json"]
    if config:
        cmd += ["--config", config]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"fusion_table: {' '.join(cmd)} failed:\n{run.stderr}")
    return json.loads(run.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onerecc", default=str(ROOT / "build/bin/onerecc"))
    parser.add_argument("--json", help="also write every row as JSON here")
    parser.add_argument("--models", nargs="*",
                        help="model files (default: every models/*.rdsl)")
    args = parser.parse_args()
    models = ([pathlib.Path(m) for m in args.models] if args.models else
              sorted((ROOT / "models").glob("*.rdsl")))
    rows = []
    print("| model | config | entry | as written | after autodiff | "
          "after fusion | kernels | ratio |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for model in models:
        for config in configs(model):
            result = stats(args.onerecc, model, config)
            for e in result["entries"]:
                if e["left_out"] or e["kind"] not in ("def", "grad", "train_step"):
                    continue
                written = e.get("ops_as_written", e.get("loss_ops_as_written"))
                row = {"model": model.stem, "config": config or "default",
                       "entry": e["entry"], "as_written": written,
                       "after_autodiff": e["ops_after_autodiff"],
                       "after_fusion": e["ops_after_fusion"],
                       "kernels": e["kernels"], "ratio": e["fusion_ratio"]}
                rows.append(row)
                print(f"| {row['model']} | {row['config']} | {row['entry']} | "
                      f"{written} | {row['after_autodiff']} | "
                      f"{row['after_fusion']} | {row['kernels']} | "
                      f"{row['ratio']:.1f}x |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
