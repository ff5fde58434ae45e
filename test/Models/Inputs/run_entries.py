#!/usr/bin/env python3
"""Runs every entry of a plan on a random batch (random_inputs.py) with
`onerec-run forward` and prints one line per entry: its outputs' names,
element counts, and whether every value is finite. Exits 1 on any failure.

usage: run_entries.py ONEREC_RUN PLAN WORKDIR [--batch N]
"""
import argparse
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def flatten(value):
    if isinstance(value, list):
        for item in value:
            yield from flatten(item)
    else:
        yield value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("onerec_run")
    parser.add_argument("plan")
    parser.add_argument("workdir")
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    described = os.path.join(args.workdir, "inspect.json")
    with open(described, "w") as f:
        subprocess.run([args.onerec_run, "inspect", args.plan, "--json"], stdout=f, check=True)
    with open(described) as f:
        entries = [e["name"] for e in json.load(f)["entries"]]
    failed = False
    for entry in entries:
        inputs = os.path.join(args.workdir, f"{entry}.in.json")
        outputs = os.path.join(args.workdir, f"{entry}.out.json")
        subprocess.run([sys.executable, os.path.join(HERE, "random_inputs.py"), described,
                        entry, inputs, "--batch", str(args.batch)], check=True)
        proc = subprocess.run([args.onerec_run, "forward", args.plan, "--entry", entry,
                               "--input", inputs, "--output", outputs],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            print(f"entry {entry}: FAILED\n{proc.stdout}")
            failed = True
            continue
        with open(outputs) as f:
            result = json.load(f)
        parts = []
        for name, value in result.items():
            values = list(flatten(value))
            finite = all(isinstance(v, bool) or math.isfinite(v) for v in values)
            parts.append(f"{name} {len(values)} {'finite' if finite else 'NOT FINITE'}")
            failed |= not finite
        print(f"entry {entry}: ok: {', '.join(parts)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
