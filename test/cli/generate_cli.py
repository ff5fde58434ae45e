#!/usr/bin/env python3
# ===- generate_cli.py - onerec-run generate end to end ----------------------===#
#
# usage: generate_cli.py --onerecc ONERECC --onerec-run ONEREC_RUN
#            --workdir DIR
#
# Compiles TIGER (tiny) and a model without a generate section (SASRec),
# writes a 40-item catalog and perturbed weights (initial weights give flat
# logits), and checks `onerec-run generate` (docs/generation.md):
#
#   exhaustive  with a beam wider than the catalog's prefixes nothing is
#               pruned, so the answer must be the whole catalog ranked by
#               the model's log-probability, recomputed here without any
#               cache: `encode`, then the full `decode` entry on every
#               catalog item's tokens [BOS, c1, c2, c3], log-softmax over
#               each level's codes (items in the same order, scores within
#               1e-4);
#   batching    the same requests one at a time (--max-rows = --beam) and
#               batched give the same items (scores within 1e-5);
#   answers     one line per request, in order; every session item is a
#               catalog item with the catalog's codes, no item twice; the
#               summary reports legality 1 and no repeats;
#   errors      broken requests (not JSON, a missing, unknown or mistyped
#               field, an unknown item, a history too long, a negative
#               user) each get an error line naming the line, the others
#               are answered and the exit status is 0; a missing plan, a
#               plan without a generate section, a catalog of other levels
#               or not a catalog, or no --catalog are fatal (exit 1 / 2).
#
# Exit status: 0 pass, 1 fail, 77 skip (no numpy).
#
# ===-----------------------------------------------------------------------===#
import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
from cli_check import write_catalog  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))

try:
    import numpy as np
    import safetensors_io
except ImportError:
    print("SKIP: numpy (python3-numpy) is not installed")
    sys.exit(77)

LEVELS, CODEBOOK, HIST = 3, 256, 8  # tiger --config tiny


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


def run(cmd, status=0):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != status:
        raise Failure("%s: exit %d, expected %d:\n%s%s" % (
            " ".join(cmd), proc.returncode, status, proc.stdout, proc.stderr))
    return proc


class Setup:
    def __init__(self, args):
        self.args = args
        self.dir = args.workdir
        os.makedirs(self.dir, exist_ok=True)
        self.plan = self.compile("tiger", "tiny")
        self.sasrec = self.compile("sasrec", None)
        init = self.path("init.safetensors")
        run([args.onerec_run, "weights", self.plan, "-o", init])
        rng = np.random.default_rng(5)
        weights = safetensors_io.read(init)
        self.ckpt = self.path("weights.safetensors")
        safetensors_io.write(self.ckpt, {
            name: (w + rng.normal(0, 0.3, w.shape)).astype(w.dtype)
            for name, w in weights.items()})
        # 40 items: 3 first codes, 4 second codes under each, so beams meet
        # shared prefixes at every level.
        self.ids = [1000 + 7 * i for i in range(40)]
        self.codes = [[i % 3, (i // 3) % 4, 10 + i] for i in range(40)]
        self.code_of = dict(zip(self.ids, self.codes))
        self.catalog = write_catalog(self.path("catalog.safetensors"),
                                     self.ids, self.codes, LEVELS, CODEBOOK)
        self.calls = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def compile(self, model, config):
        out = self.path(model + ".fb")
        cmd = [self.args.onerecc, os.path.join(REPO, "models", model + ".rdsl"),
               "-o", out]
        if config:
            cmd += ["--config", config]
        run(cmd)
        return out

    def generate(self, requests, *extra, status=0, plan=None, catalog=None,
                 ckpt=True):
        """Runs generate on `requests` (dicts or raw lines); returns the
        answer lines and the process."""
        self.calls += 1
        src = self.path("requests-%d.jsonl" % self.calls)
        dst = self.path("answers-%d.jsonl" % self.calls)
        with open(src, "w") as f:
            for r in requests:
                f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
        weights = ["--ckpt", self.ckpt] if ckpt else []
        proc = run([self.args.onerec_run, "generate", plan or self.plan,
                    *weights, "--catalog", catalog or self.catalog,
                    "--requests", src, "--out", dst, *extra], status)
        if status != 0:
            return None, proc
        with open(dst) as f:
            return [json.loads(line) for line in f], proc

    def forward(self, entry, inputs):
        self.calls += 1
        src = self.path("in-%d.safetensors" % self.calls)
        dst = self.path("out-%d.safetensors" % self.calls)
        safetensors_io.write(src, inputs)
        run([self.args.onerec_run, "forward", self.plan, "--entry", entry,
             "--input", src, "--output", dst, "--weights", self.ckpt])
        return safetensors_io.read(dst)

    def history_codes(self, history):
        codes = np.zeros((1, HIST, LEVELS), np.int64)
        for slot, item in enumerate(history[::-1]):
            codes[0, HIST - 1 - slot] = self.code_of[item]
        return codes


def check_exhaustive(s):
    request = {"id": "u", "user": 17, "history": s.ids[3:9]}
    answers, _ = s.generate([request], "--beam", "64", "--top", "40")
    expect(len(answers) == 1 and "items" in answers[0],
           "exhaustive: no answer: %s" % answers)
    got = answers[0]["items"]

    memory = s.forward("encode", {
        "user": np.array([17], np.int64),
        "history": s.history_codes(request["history"])})
    memory = next(iter(memory.values()))
    n = len(s.ids)
    tokens = np.zeros((n, LEVELS + 1), np.int64)
    tokens[:, 0] = LEVELS * CODEBOOK
    for r, codes in enumerate(s.codes):
        for level, code in enumerate(codes):
            tokens[r, level + 1] = level * CODEBOOK + code
    logits = next(iter(s.forward("decode", {
        "tokens": tokens,
        "memory": np.repeat(memory, n, axis=0)}).values())).astype(np.float64)
    scores = np.zeros(n)
    for level in range(LEVELS):
        x = logits[:, 0, level]
        most = x.max(axis=1, keepdims=True)
        lse = most[:, 0] + np.log(np.exp(x - most).sum(axis=1))
        scores += x[np.arange(n), [c[level] for c in s.codes]] - lse
    order = np.argsort(-scores, kind="stable")
    expected = [(s.ids[r], scores[r]) for r in order]
    expect(len(got) == n, "exhaustive: %d items answered, expected %d" %
           (len(got), n))
    worst = max(abs(g["score"] - e[1]) for g, e in zip(got, expected))
    expect([g["item"] for g in got] == [e[0] for e in expected],
           "exhaustive: beam order %s != exhaustive order %s" % (
               [g["item"] for g in got], [e[0] for e in expected]))
    expect(worst < 1e-4, "exhaustive: scores differ by %.3g" % worst)
    expect(scores.max() - scores.min() > 0.5,
           "exhaustive: the model scores items almost alike; the check "
           "would prove little")
    print("exhaustive: 40 catalog items ranked as the full decoder ranks "
          "them (scores within %.2e)" % worst)


def check_batching_and_answers(s):
    rng = np.random.default_rng(3)
    requests = []
    for u in range(12):
        length = int(rng.integers(0, HIST + 1))
        history = [int(x) for x in rng.choice(s.ids, length, replace=False)]
        requests.append({"id": u, "user": 100 + u, "history": history})
    alone, _ = s.generate(requests, "--beam", "8", "--max-rows", "8",
                          "--top", "8")
    batched, proc = s.generate(requests, "--beam", "8", "--max-rows", "40",
                               "--top", "8")
    expect(len(alone) == len(batched) == len(requests), "answer count")
    for a, b, r in zip(alone, batched, requests):
        expect(a["id"] == b["id"] == r["id"], "answers out of order")
        expect([x["item"] for x in a["items"]] ==
               [x["item"] for x in b["items"]],
               "request %s: batched items differ from alone" % r["id"])
        for x, y in zip(a["items"], b["items"]):
            expect(abs(x["score"] - y["score"]) < 1e-5,
                   "request %s: batched score differs" % r["id"])
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    expect(summary["legality"] == 1 and summary["repeated_items"] == 0,
           "summary: %s" % summary)

    # Sessions of several items: legal, no repeats (tiny TIGER writes one
    # item per session; --items beyond it is refused).
    for answer in batched:
        for session in answer["sessions"]:
            for item, codes in zip(session["items"], session["codes"]):
                expect(s.code_of.get(item) == codes,
                       "item %s with codes %s is not the catalog's" % (
                           item, codes))
            expect(len(set(session["items"])) == len(session["items"]),
                   "a session repeats an item")
        items = [x["item"] for x in answer["items"]]
        expect(len(set(items)) == len(items), "items list repeats an item")
    print("batching: 12 requests five at a time = one at a time; every "
          "item legal, no repeats")


def check_errors(s):
    good = {"id": "ok", "user": 1, "history": s.ids[:3]}
    lines = [
        good,
        '{"id": "broken", "user": 1, "history": [',
        {"id": "missing", "user": 1},
        {"id": "unknown-field", "user": 1, "history": [], "colour": "red"},
        {"id": "type", "user": "one", "history": []},
        {"id": "item", "user": 1, "history": [99999]},
        {"id": "long", "user": 1, "history": s.ids[:HIST + 1]},
        {"id": "negative", "user": -3, "history": []},
        {"id": "nested", "user": 1, "history": [[1000]]},
        good,
    ]
    answers, _ = s.generate(lines, "--beam", "4")
    expect(len(answers) == len(lines), "one answer per line")
    expect("items" in answers[0] and "items" in answers[-1],
           "good requests answered")
    # The same request in another batch: the same items; the scores may
    # differ in rounding (the GEMMs see other rows), never more than 1e-5.
    first, last = answers[0]["items"], answers[-1]["items"]
    expect([x["item"] for x in first] == [x["item"] for x in last] and
           all(abs(x["score"] - y["score"]) < 1e-5
               for x, y in zip(first, last)),
           "the same request gives another answer: %s vs %s" % (first, last))
    for number, answer in enumerate(answers[1:-1], start=2):
        expect("error" in answer and answer.get("line") == number,
               "line %d: expected an error line, got %s" % (number, answer))
    expect("99999" in answers[5]["error"], answers[5]["error"])
    expect(answers[2]["id"] == "missing" and "history" in answers[2]["error"],
           answers[2])

    missing = s.path("no-such-plan.fb")
    _, proc = s.generate([good], plan=missing, status=1)
    expect("no-such-plan" in proc.stderr, proc.stderr)
    _, proc = s.generate([good], plan=s.sasrec, ckpt=False, status=1)
    expect("generate" in proc.stderr, proc.stderr)
    two = write_catalog(s.path("two-levels.safetensors"), s.ids,
                        [[c[0], c[2]] for c in s.codes], 2,
                        CODEBOOK)
    _, proc = s.generate([good], catalog=two, status=1)
    expect("catalog" in proc.stderr, proc.stderr)
    _, proc = s.generate([good], catalog=s.ckpt, status=1)
    _, proc = s.generate([good], "--items", "2", status=1)
    proc = run([s.args.onerec_run, "generate", s.plan, "--requests", "x",
                "--out", "y"], 2)
    print("errors: 8 broken requests answered with their line, the rest "
          "answered; fatal errors exit 1")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--onerecc", required=True)
    parser.add_argument("--onerec-run", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    try:
        s = Setup(args)
        check_exhaustive(s)
        check_batching_and_answers(s)
        check_errors(s)
    except Failure as error:
        print("FAIL: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
