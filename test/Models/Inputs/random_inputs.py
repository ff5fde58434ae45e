#!/usr/bin/env python3
"""Writes a JSON input batch for one entry of a plan, from the entry's
signature as `onerec-run inspect --json` describes it: ids uniform in their
vocabulary, integers without one below --batch (they index rows, as a
decode_step's `rows` do), floats standard normal, booleans fair coins;
symbolic dims bound to --batch. A training step's control inputs are a first update with the
plan's own hyperparameters (docs/training.md). Standard library only.

usage: random_inputs.py INSPECT.json ENTRY OUT.json [--batch N] [--seed S]
"""
import argparse
import json
import random
import re
import sys


def parse_type(text):
    match = re.fullmatch(r"(\w+)\[(.*)\]", text)
    if not match:
        sys.exit(f"random_inputs: cannot read the type '{text}'")
    dims = [d.strip() for d in match.group(2).split(",") if d.strip()]
    return match.group(1), dims


def fill(dtype, shape, bound, rng, rows):
    if not shape:
        if dtype == "bool":
            return rng.random() < 0.5
        if dtype in ("i64", "i32"):
            return rng.randrange(bound if bound > 0 else rows)
        return rng.gauss(0.0, 1.0)
    return [fill(dtype, shape[1:], bound, rng, rows) for _ in range(shape[0])]


def control_inputs(plan):
    """optimizer.step and optimizer.hparams of a first update."""
    train = plan.get("train", {})
    adam = train.get("optimizer", "AdamW") != "Sgd"
    hparams = [train.get("lr", 1e-3),
               train.get("beta1", 0.9) if adam else train.get("momentum", 0.0),
               train.get("beta2", 0.999) if adam else float(train.get("nesterov", False)),
               train.get("eps", 1e-8), train.get("weight_decay", 0.0),
               train.get("grad_clip", 0.0), 1.0, 0.0]
    return {"optimizer.step": 1, "optimizer.hparams": hparams}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("inspect")
    parser.add_argument("entry")
    parser.add_argument("out")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.inspect) as f:
        plan = json.load(f)
    entries = {e["name"]: e for e in plan["entries"]}
    if args.entry not in entries:
        sys.exit(f"random_inputs: no entry '{args.entry}' (have {', '.join(entries)})")
    batch = {}
    controls = control_inputs(plan)
    for binding in entries[args.entry]["inputs"]:
        if binding.get("role") == "Control" and binding["name"] in controls:
            batch[binding["name"]] = controls[binding["name"]]
            continue
        dtype, dims = parse_type(binding["type"])
        shape = [int(d) if d.isdigit() else args.batch for d in dims]
        batch[binding["name"]] = fill(dtype, shape, binding.get("index_bound", 0), rng,
                                      args.batch)
    with open(args.out, "w") as f:
        json.dump(batch, f)


if __name__ == "__main__":
    main()
