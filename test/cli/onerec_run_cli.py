#!/usr/bin/env python3
# ===- onerec_run_cli.py - onerec-run on real files, good and broken -------===#
#
# usage: onerec_run_cli.py ONEREC_RUN CORPUS_DIR WORK_DIR CASE
#
# Each CASE runs the real binary on plans from CORPUS_DIR (written by
# onerec-plan-corpus-gen) or on damaged copies made in WORK_DIR, and checks
# the exit status (0 ok, 1 error, 2 usage) and what stdout/stderr contain.
# CTest runs one test per case (test/cli/CMakeLists.txt); no compiler needed.
#
# ===-----------------------------------------------------------------------===#
import json
import os
import struct
import subprocess

import cli_check
import sys

BIN, CORPUS, WORK, CASE = sys.argv[1:5]
os.makedirs(WORK, exist_ok=True)
LINEAR = os.path.join(CORPUS, "linear.fb")
SEMANTIC = os.path.join(CORPUS, "semantic-attention.fb")


work = cli_check.writer(WORK, CASE + "-")


def damaged(transform):
    with open(LINEAR, "rb") as f:
        return work("plan.fb", transform(bytearray(f.read())))


run = cli_check.runner(BIN, "onerec-run")


def truncated(b):
    return bytes(b[:100])


def wrong_identifier(b):
    b[8:12] = b"ONNX"
    return bytes(b)


def check_forward_roundtrip():
    inp = work("in.json", '{"x": [[0, 1, 2, 3], [1, 1, 1, 1]]}')
    out = work("out.safetensors")
    run("forward", LINEAR, "--input", inp, "--output", out, "--threads", "1")
    with open(out, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert header["y"]["shape"] == [2, 3], header
    # The safetensors output reads back as a forward input of the same shape.
    again = run("forward", LINEAR, "--input", work("in.json"), "--output", work("out.json"))
    with open(work("out.json")) as f:
        assert json.load(f)["y"][0] == [5.8, 7.4, 9], "unexpected forward output"


def check_weights_roundtrip():
    ckpt = work("w.safetensors")
    run("weights", LINEAR, "-o", ckpt)
    run("forward", LINEAR, "--weights", ckpt, "-i", work("in.json", '{"x": [[1, 0, 0, 0]]}'),
        stdout=['"y": [[1.1, 2.2, 3.3]]'])
    run("forward", SEMANTIC, "--weights", ckpt, "-i", work("in.json"), exit=1,
        stderr=["does not match the plan's parameters", "parameter 'sid.table' f32[24, 16] is missing",
                "2 tensors the plan does not have: 'linear.w', 'linear.b'"])


CASES = {
    "help": lambda: run("--help", stdout=["inspect PLAN [--json]", "forward PLAN"]),
    "command-help": lambda: run("forward", "--help", stdout=["usage: onerec-run forward PLAN"]),
    "no-arguments": lambda: subprocess.run([BIN]).returncode == 2 or sys.exit("FAIL: exit"),
    "unknown-command": lambda: run("frobnicate", exit=2, stderr=["unknown command 'frobnicate'"]),
    "inspect-text": lambda: run("inspect", SEMANTIC, stdout=[
        "dims      B <= 4, L <= 16", "input  history  i64[B, L, 3] (id < 8)",
        "kernels 6: Attention 1, CrossEntropy 1, Embedding 1, Matmul 1, RmsNorm 1, TopK 1"]),
    "inspect-json": lambda: json.loads(run("inspect", LINEAR, "--json").stdout)["entries"][0]
    ["inputs"][0]["type"] == "f32[B, 4]" or sys.exit("FAIL: json"),
    "inspect-missing-file": lambda: run("inspect", work("absent.fb"), exit=1,
                                        stderr=["absent.fb: cannot open: No such file"]),
    "inspect-directory": lambda: run("inspect", WORK, exit=1, stderr=["not a regular file"]),
    "inspect-empty": lambda: run("inspect", work("empty.fb", b""), exit=1,
                                 stderr=["truncated: 0 bytes, a plan has at least 8"]),
    "inspect-truncated": lambda: run("inspect", damaged(truncated), exit=1,
                                     stderr=["truncated: the FlatBuffer needs"]),
    "inspect-wrong-identifier": lambda: run("inspect", damaged(wrong_identifier), exit=1, stderr=[
        "not a onerec plan: file identifier 'ONNX', expected 'ORPL'"]),
    "inspect-text-file": lambda: run("inspect", work("model.rdsl", "model m { }\n" * 4), exit=1,
                                     stderr=["model.rdsl: "]),
    "inspect-unknown-option": lambda: run("inspect", LINEAR, "--verbose", exit=2,
                                          stderr=["unknown option '--verbose'"]),
    "forward-roundtrip": check_forward_roundtrip,
    "forward-needs-input": lambda: run("forward", LINEAR, exit=2, stderr=["forward needs --input"]),
    "forward-bad-kernels": lambda: run("forward", LINEAR, "-i", "x.json", "--kernels", "fast",
                                       exit=2, stderr=["expected optimized or reference"]),
    "forward-ragged-input": lambda: run(
        "forward", LINEAR, "-i", work("in.json", '{"x": [[0, 1, 2, 3], [1, 1]]}'), exit=1,
        stderr=["tensor 'x'[1]: is ragged"]),
    "forward-id-out-of-range": lambda: run(
        "forward", SEMANTIC, "-i",
        work("in.json", '{"history": [[[0, 1, 9]]], "labels": [[1]], "mask": [[true]]}'), exit=1,
        stderr=["input 'history' element [0, 0, 2] is 9, outside the ids [0, 8)"]),
    "forward-missing-input": lambda: run(
        "forward", SEMANTIC, "-i", work("in.json", '{"history": [[[0, 1, 2]]]}'), exit=1,
        stderr=["input 'labels' i64[B, L] is missing"]),
    "forward-unknown-entry": lambda: run(
        "forward", LINEAR, "--entry", "train", "-i", "x.json", exit=1,
        stderr=["no entry 'train' (the plan has 'forward')"]),
    "forward-bad-output-format": lambda: run(
        "forward", LINEAR, "-i", work("in.json", '{"x": [[0, 1, 2, 3]]}'), "-o", "out.npy",
        exit=1, stderr=["out.npy: unknown tensor file format"]),
    "weights-roundtrip": check_weights_roundtrip,
    "weights-needs-output": lambda: run("weights", LINEAR, exit=2, stderr=["weights needs -o"]),
}

if CASE not in CASES:
    sys.exit(f"unknown case {CASE!r}; cases: {', '.join(CASES)}")
CASES[CASE]()
print("ok:", CASE)
