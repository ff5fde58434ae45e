#!/usr/bin/python3
# ===- generative_train_cli.py - onerec-run train of a generative model ----===#
#
# usage: generative_train_cli.py --onerec-run BIN --onerec-data BIN
#                                [--onerecc BIN] --workdir DIR CASE
#
# TIGER (models/tiger.rdsl --config tiny) trained by `onerec-run train
# --catalog` on synthetic data from `onerec-data synth`, with a catalog
# written here (the onerec-catalog safetensors layout, trie included):
#
#   train    the training loss falls, the validation loss (`ntp` on the
#            valid targets) is logged to metrics.jsonl and falls too, and
#            the summary prints the valid and test losses
#   resume   a run resumed from its middle checkpoint writes exactly the
#            losses of the uninterrupted run; another catalog is refused
#   errors   no --catalog, a catalog of other levels, of a larger codebook,
#            lacking items, not a catalog; a plan with inputs the driver
#            cannot feed (OneRec): one clear error each, exit 1
#
# Without onerecc (a runtime-only build) the cases exit 77 (CTest: skipped).
#
# ===-----------------------------------------------------------------------===#
import argparse
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from cli_check import write_catalog  # noqa: E402

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

parser = argparse.ArgumentParser()
parser.add_argument("--onerec-run", required=True)
parser.add_argument("--onerec-data", required=True)
parser.add_argument("--onerecc")
parser.add_argument("--workdir", required=True)
parser.add_argument("case")
ARGS = parser.parse_args()
WORK = os.path.join(ARGS.workdir, ARGS.case)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def path(*parts):
    return os.path.join(WORK, *parts)


def fail(message, proc=None, argv=None):
    if argv:
        print("$", " ".join(argv))
    if proc is not None:
        print("--- stdout\n" + (proc.stdout or "") + "--- stderr\n" +
              (proc.stderr or ""))
    sys.exit("FAIL: " + message)


def run(argv, exit=0, stdout=(), stderr=(), timeout=600):
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout)
    problems = []
    if proc.returncode != exit:
        problems.append(f"exit status {proc.returncode}, expected {exit}")
    problems += [f"stdout lacks {s!r}" for s in stdout if s not in proc.stdout]
    problems += [f"stderr lacks {s!r}" for s in stderr if s not in proc.stderr]
    if exit == 1 and "error: " not in proc.stderr:
        problems.append("stderr has no 'error: ' line")
    if problems:
        fail("; ".join(problems), proc, argv)
    return proc


def onerec_run(*args, **kw):
    return run([ARGS.onerec_run, *args], **kw)


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def compile_model(name, model, *flags):
    if not ARGS.onerecc or not os.path.exists(ARGS.onerecc):
        skip("no onerecc (a runtime-only build): these cases need a compiled "
             "TIGER")
    out = path(name)
    argv = [ARGS.onerecc, os.path.join(ROOT, "models", model), *flags,
            "-o", out]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        fail("onerecc failed", proc, argv)
    return out


def synth(name="syn", users=400, items=120):
    out = path(name)
    run([ARGS.onerec_data, "synth", "--out", out, "--users", str(users),
         "--items", str(items), "--len-min", "5", "--len-max", "14",
         "--seed", "3"])
    return out


def catalog(name, items, levels=3, codebook=256, skip_item=None):
    """Item i's codes: (i // 16, i % 16, 0, ...): items 16 apart share the
    second code, items of a block of 16 the first."""
    ids = [i for i in range(1, items + 1) if i != skip_item]
    codes = [([i // 16 % codebook, i % 16] + [0] * levels)[:levels]
             for i in ids]
    if codebook > 256:
        codes[0][0] = codebook - 1  # a code only a larger codebook holds
    return write_catalog(path(name), ids, codes, levels, codebook)


def tiger():
    return compile_model("tiger.fb", "tiger.rdsl", "--config", "tiny")


def records(file):
    steps, evals = [], []
    with open(file) as f:
        for line in f:
            record = json.loads(line)
            if "eval" in record:
                evals.append(record)
            else:
                raw = line.split('"loss": ', 1)[1].split(",", 1)[0]
                steps.append((record["step"], raw))
    return steps, evals


TRAIN = ["--batch", "32", "--lr", "0.003", "--schedule", "constant",
         "--seed", "7", "--threads", "1"]


def check_train():
    plan = tiger()
    data = synth()
    cat = catalog("cat.safetensors", 120)
    proc = onerec_run("train", plan, "--data", data, "--catalog", cat,
                      "--steps", "120", "--eval-every", "40", "--metrics",
                      path("m.jsonl"), *TRAIN,
                      stdout=["trained updates 1..120 of 120", "valid loss",
                              "test  loss", "(entry 'ntp', 400 examples)"],
                      stderr=["step 40: valid loss"])
    steps, evals = records(path("m.jsonl"))
    if len(steps) != 120:
        fail(f"{len(steps)} step records, expected 120", proc)
    first = sum(float(l) for _, l in steps[:10]) / 10
    last = sum(float(l) for _, l in steps[-10:]) / 10
    if not last < 0.7 * first:
        fail(f"the training loss did not fall: {first:.4f} -> {last:.4f}")
    valid = [e for e in evals if e["eval"] == "valid"]
    if [e["step"] for e in valid] != [40, 80, 120]:
        fail(f"validation at steps {[e['step'] for e in valid]}, expected "
             f"40, 80, 120")
    if not all(e["entry"] == "ntp" and e["examples"] == 400 for e in valid):
        fail(f"unexpected validation records {valid}")
    if not valid[-1]["loss"] < valid[0]["loss"]:
        fail(f"the validation loss did not fall: {valid}")
    if not any(e["eval"] == "test" for e in evals):
        fail("no final test loss in metrics.jsonl")


def check_resume():
    plan = tiger()
    data = synth()
    cat = catalog("cat.safetensors", 120)
    common = ["train", plan, "--data", data, "--catalog", cat, "--steps",
              "40", "--ckpt-every", "20", "--keep", "0", "--no-eval", *TRAIN]
    onerec_run(*common, "--ckpt-dir", path("a"), "--metrics", path("a.jsonl"))
    # The run as if stopped after step 20: its checkpoint and metrics.
    shutil.copytree(path("a"), path("b"))
    for name in os.listdir(path("b")):
        if "0000040" in name:
            os.remove(path("b", name))
    shutil.copy(path("a.jsonl"), path("b.jsonl"))
    onerec_run(*common, "--ckpt-dir", path("b"), "--metrics", path("b.jsonl"),
               "--resume", stdout=["(resumed from step 20)"])
    a, _ = records(path("a.jsonl"))
    b, _ = records(path("b.jsonl"))
    if a != b:
        fail(f"the resumed run's losses differ:\n{a}\n{b}")
    # Other semantic IDs: refused.
    other = catalog("other.safetensors", 121)
    argv = [x if x != cat else other for x in common]
    onerec_run(*argv, "--ckpt-dir", path("b"), "--resume", exit=1,
               stderr=["other semantic IDs; resume with the same catalog"])


def check_errors():
    plan = tiger()
    data = synth()
    onerec_run("train", plan, "--data", data, "--steps", "1", exit=1,
               stderr=["entry 'train_step' takes semantic IDs (input "
                       "'history'", "--catalog CATALOG.safetensors"])
    two = catalog("two-levels.safetensors", 120, levels=2)
    onerec_run("train", plan, "--data", data, "--catalog", two, "--steps", "1",
               exit=1, stderr=["two-levels.safetensors: has 2 levels of "
                               "codes, but plan", "semantic IDs of 3 levels"])
    wide = catalog("wide.safetensors", 120, codebook=512)
    onerec_run("train", plan, "--data", data, "--catalog", wide, "--steps",
               "1", exit=1, stderr=["has codes below 512", "below 256"])
    partial = catalog("partial.safetensors", 120, skip_item=7)
    onerec_run("train", plan, "--data", data, "--catalog", partial, "--steps",
               "1", exit=1, stderr=["partial.safetensors: has no semantic ID "
                                    "for 1 of the 120 items", "item 7"])
    with open(path("not-a-catalog.safetensors"), "wb") as f:
        f.write(b"garbage")
    onerec_run("train", plan, "--data", data, "--catalog",
               path("not-a-catalog.safetensors"), "--steps", "1", exit=1,
               stderr=["not-a-catalog.safetensors"])
    good = catalog("cat.safetensors", 120)
    onerec = compile_model("onerec.fb", "onerec.rdsl", "--config", "tiny")
    onerec_run("train", onerec, "--data", data, "--catalog", good, "--steps",
               "1", exit=1,
               stderr=["entry 'train_step' needs inputs", "that onerec-run "
                       "train cannot feed"])


CASES = {"train": check_train, "resume": check_resume,
         "errors": check_errors}
if ARGS.case not in CASES:
    sys.exit(f"unknown case {ARGS.case!r}; cases: {', '.join(CASES)}")
CASES[ARGS.case]()
print("ok")
