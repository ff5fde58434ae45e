#!/usr/bin/env python3
"""The real onerec-run on damaged plans: N random mutations of each given
plan (bit flips, truncations, boundary values written over fields, spliced
ranges), each run through `inspect` and `forward` on a valid batch. Every
run must either succeed or fail with exit status 1 and one
`onerec-run: error:` line on stderr: never a signal, never another status.

usage: mutated_plans.py ONEREC_RUN WORKDIR PLAN... [--mutations N] [--seed S]
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RANDOM_INPUTS = os.path.join(HERE, "..", "Models", "Inputs", "random_inputs.py")
BOUNDARY = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x00\x00\x80",
            b"\x01\x00\x00\x00", b"\xff\xff\xff\x7f"]


def mutate(plan, table_end, rng):
    data = bytearray(plan)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(table_end)] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del data[rng.randrange(len(data)):]
    elif kind == 2:
        at = rng.randrange(max(1, table_end - 4))
        data[at:at + 4] = rng.choice(BOUNDARY)
    else:
        at, src, n = rng.randrange(table_end), rng.randrange(table_end), rng.randint(1, 64)
        data[at:at + n] = plan[src:src + n]
    return bytes(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("onerec_run")
    parser.add_argument("workdir")
    parser.add_argument("plans", nargs="+")
    parser.add_argument("--mutations", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rng = random.Random(args.seed)
    tally = {"succeeded": 0, "rejected": 0}
    failures = []
    for plan_path in args.plans:
        name = os.path.basename(plan_path)
        described = os.path.join(args.workdir, name + ".json")
        with open(described, "w") as f:
            subprocess.run([args.onerec_run, "inspect", plan_path, "--json"], stdout=f, check=True)
        with open(described) as f:
            entry = json.load(f)["entries"][0]["name"]
        batch = os.path.join(args.workdir, name + ".in.json")
        subprocess.run([sys.executable, RANDOM_INPUTS, described, entry, batch], check=True)
        with open(plan_path, "rb") as f:
            plan = f.read()
        table_end = min(len(plan), 4 + int.from_bytes(plan[:4], "little"))
        damaged = os.path.join(args.workdir, name + ".mutated.fb")
        for m in range(args.mutations):
            with open(damaged, "wb") as f:
                f.write(mutate(plan, table_end, rng))
            for command in (["inspect", damaged],
                            ["forward", damaged, "--entry", entry, "--input", batch,
                             "--output", os.path.join(args.workdir, "out.json")]):
                proc = subprocess.run([args.onerec_run] + command, capture_output=True)
                stderr = proc.stderr.decode("utf-8", "replace")
                if proc.returncode == 0:
                    tally["succeeded"] += 1
                elif proc.returncode == 1 and stderr.startswith("onerec-run: error:") \
                        and stderr.count("\n") == 1:
                    tally["rejected"] += 1
                else:
                    failures.append(f"{name} mutation {m} (--seed {args.seed}) {command[0]}: "
                                    f"exit {proc.returncode}: {stderr[-300:]}")
    for failure in failures:
        print("FAIL:", failure)
    runs = tally["succeeded"] + tally["rejected"] + len(failures)
    print(f"{runs} runs on mutated plans: {tally['succeeded']} succeeded, "
          f"{tally['rejected']} rejected with one error line, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
