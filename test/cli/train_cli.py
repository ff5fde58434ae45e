#!/usr/bin/python3
# ===- train_cli.py - onerec-run train and eval end to end -----------------===#
#
# usage: train_cli.py --onerec-run BIN --onerec-data BIN [--onerecc BIN]
#                     --model models/sasrec.rdsl --workdir DIR CASE
#
# The real binaries on real files: synthetic data from `onerec-data synth`,
# a small SASRec compiled by `onerecc`, trained by `onerec-run train`.
#
#   accuracy      training reaches close to the generator's Bayes-optimal
#                 accuracy, and `onerec-run eval` of the final checkpoint
#                 agrees with the trainer's final test metrics
#   resume        a run SIGKILLed while writing a checkpoint and between
#                 checkpoints, resumed each time, writes exactly the losses
#                 (and weights) of an uninterrupted run
#   errors        broken inputs that need no training plan: missing data, a
#                 plan without train_step, a dataset with more items than the
#                 plan, bad options, a damaged weights file
#   train-errors  with a training plan: too many items, a second run into a
#                 used checkpoint directory, damaged, truncated and foreign
#                 checkpoints, a non-finite loss: one clear error, exit 1
#   plot          scripts/plot_metrics.py draws a run's metrics.jsonl
#
# Cases that need a plan with a train_step entry exit 77 (CTest: skipped)
# with the reason when onerecc is missing or does not emit one yet.
#
# ===-----------------------------------------------------------------------===#
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

parser = argparse.ArgumentParser()
parser.add_argument("--onerec-run", required=True)
parser.add_argument("--onerec-data", required=True)
parser.add_argument("--onerecc")
parser.add_argument("--model", default=os.path.join(ROOT, "models",
                                                    "sasrec.rdsl"))
parser.add_argument("--corpus", default=os.path.join(ROOT, "test", "fuzz",
                                                     "plan-corpus"))
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


def synth(name, users, items, len_min, len_max, seed=1):
    out = path(name)
    run([ARGS.onerec_data, "synth", "--out", out, "--users", str(users),
         "--items", str(items), "--len-min", str(len_min), "--len-max",
         str(len_max), "--seed", str(seed)])
    with open(os.path.join(out, "dataset.json")) as f:
        manifest = json.load(f)
    return out, manifest["synthetic"]["bayes_optimal"]


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def compile_sasrec(name, items, max_len, d, model=None):
    """A SASRec plan with a train_step entry, or a skip with the reason."""
    if not ARGS.onerecc or not os.path.exists(ARGS.onerecc):
        skip("no onerecc (a runtime-only build): the training cases need a "
             "compiled SASRec")
    out = path(name)
    argv = [ARGS.onerecc, model or ARGS.model, "-D", f"items={items}", "-D",
            f"max_len={max_len}", "-D", f"d={d}", "-o", out]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        fail("onerecc failed", proc, argv)
    info = subprocess.run([ARGS.onerec_run, "inspect", out, "--json"],
                          capture_output=True, text=True)
    if info.returncode != 0:
        fail("the compiled plan does not load", info)
    entries = [e["name"] for e in json.loads(info.stdout)["entries"]]
    if "train_step" not in entries:
        skip(f"onerecc does not emit a train_step entry yet (entries: "
             f"{', '.join(entries)})")
    return out


def metrics(file):
    """(step records, eval records) of a metrics.jsonl, raw loss text kept."""
    steps, evals = [], []
    with open(file) as f:
        for line in f:
            record = json.loads(line)
            if "eval" in record:
                evals.append(record)
            else:
                # The loss exactly as printed (17 significant digits).
                raw = line.split('"loss": ', 1)[1].split(",", 1)[0]
                steps.append((record["step"], raw, record["grad_norm"]))
    return steps, evals


def final_eval(proc, split):
    """(HR, NDCG) from the summary `test  HR@10 0.9123  NDCG@10 ...`."""
    for line in proc.stdout.splitlines():
        words = line.split()
        if words and words[0] == split and words[1].startswith("HR@"):
            return float(words[2]), float(words[4])
    fail(f"no final {split} line", proc)


# ---------------------------------------------------------------------------


def check_accuracy():
    data, best = synth("syn", users=2000, items=300, len_min=10, len_max=30)
    plan = compile_sasrec("sasrec.fb", items=300, max_len=20, d=32)
    ckpt = path("ckpt")
    start = time.time()
    proc = onerec_run("train", plan, "--data", data, "--epochs", "30",
                      "--batch", "128", "--lr", "0.005", "--ckpt-dir", ckpt,
                      "--metrics", path("metrics.jsonl"), "--eval-every",
                      "100", "--seed", "1")
    seconds = time.time() - start
    hr, ndcg = final_eval(proc, "test")
    print(proc.stdout, end="")
    print(f"trained in {seconds:.1f} s; Bayes-optimal HR@10 {best['hr@10']:.4f} "
          f"NDCG@10 {best['ndcg@10']:.4f} HR@1 {best['hr@1']:.4f}")
    if hr < 0.95 * best["hr@10"] or ndcg < 0.95 * best["ndcg@10"]:
        fail(f"test HR@10 {hr:.4f} / NDCG@10 {ndcg:.4f} are not near the "
             f"achievable {best['hr@10']:.4f} / {best['ndcg@10']:.4f}", proc)
    # eval of the last checkpoint gives the trainer's numbers.
    weights = sorted(f for f in os.listdir(ckpt) if f.endswith(".safetensors"))
    evaluated = onerec_run("eval", plan, "--data", data, "--weights",
                           os.path.join(ckpt, weights[-1]), "--split", "test",
                           "--json")
    result = json.loads(evaluated.stdout)
    if abs(result["hr"] - hr) > 5e-5 or abs(result["ndcg"] - ndcg) > 5e-5:
        fail(f"onerec-run eval gives HR@10 {result['hr']}, NDCG@10 "
             f"{result['ndcg']}; the trainer reported {hr}, {ndcg}")
    # HR@1 against the generator's (its Bayes-optimal is the dominant
    # successor's probability).
    top1 = json.loads(onerec_run("eval", plan, "--data", data, "--weights",
                                 os.path.join(ckpt, weights[-1]), "--k", "1",
                                 "--json").stdout)
    print(f"test HR@1 {top1['hr']:.4f}")
    if top1["hr"] < 0.95 * best["hr@1"]:
        fail(f"test HR@1 {top1['hr']:.4f} is not near the achievable "
             f"{best['hr@1']:.4f}")
    sampled = json.loads(onerec_run("eval", plan, "--data", data, "--weights",
                                    os.path.join(ckpt, weights[-1]),
                                    "--protocol", "sampled", "--json").stdout)
    if not sampled["hr"] >= hr - 1e-9:
        fail(f"sampled-100 HR@10 {sampled['hr']} is below full-ranking {hr}")


def check_hstu():
    """HSTU (pointwise attention, a relative position bias, a sampled
    softmax over negatives shared by the batch, `neg : i64[N]`) trains on
    the same planted data to near the achievable accuracy."""
    data, best = synth("syn", users=1000, items=200, len_min=10, len_max=30)
    plan = compile_sasrec("hstu.fb", items=200, max_len=20, d=32,
                          model=os.path.join(ROOT, "models", "hstu.rdsl"))
    proc = onerec_run("train", plan, "--data", data, "--epochs", "10",
                      "--batch", "64", "--lr", "0.005", "--seed", "1")
    hr, ndcg = final_eval(proc, "test")
    print(proc.stdout, end="")
    if hr < 0.9 * best["hr@10"] or ndcg < 0.9 * best["ndcg@10"]:
        fail(f"HSTU test HR@10 {hr:.4f} / NDCG@10 {ndcg:.4f} are not near the "
             f"achievable {best['hr@10']:.4f} / {best['ndcg@10']:.4f}", proc)


def check_bert4rec():
    """BERT4Rec (bidirectional attention, a cloze objective: items of each
    training sequence masked, a mask appended to the history when scoring)
    trains on the planted data to near the achievable accuracy."""
    data, best = synth("syn", users=1000, items=200, len_min=10, len_max=30)
    plan = compile_sasrec("bert4rec.fb", items=200, max_len=20, d=32,
                          model=os.path.join(ROOT, "models", "bert4rec.rdsl"))
    proc = onerec_run("train", plan, "--data", data, "--epochs", "100",
                      "--batch", "64", "--lr", "0.003", "--mask-prob", "0.3",
                      "--seed", "1")
    hr, ndcg = final_eval(proc, "test")
    print(proc.stdout, end="")
    if hr < 0.9 * best["hr@10"] or ndcg < 0.9 * best["ndcg@10"]:
        fail(f"BERT4Rec test HR@10 {hr:.4f} / NDCG@10 {ndcg:.4f} are not near "
             f"the achievable {best['hr@10']:.4f} / {best['ndcg@10']:.4f}", proc)


def check_threads():
    """The losses do not depend on the thread count: 1, 2 and 3 threads
    give bit-identical losses and gradient norms (the kernels split work
    without changing any sum's order)."""
    data, _ = synth("syn", users=600, items=150, len_min=8, len_max=30)
    plan = compile_sasrec("sasrec.fb", items=150, max_len=20, d=32)
    runs = {}
    for threads in (1, 2, 3):
        out = path(f"threads{threads}.jsonl")
        onerec_run("train", plan, "--data", data, "--steps", "40", "--batch",
                   "64", "--seed", "3", "--no-eval", "--threads", str(threads),
                   "--metrics", out)
        runs[threads] = metrics(out)[0]
    for threads in (2, 3):
        if runs[threads] != runs[1]:
            first = next(a for a, b in zip(runs[1], runs[threads]) if a != b)
            fail(f"{threads} threads differ from 1 thread from step {first[0]}")
    print(f"{len(runs[1])} losses identical with 1, 2 and 3 threads")


STEPS = 240


def train_args(plan, data, ckpt, metrics_file):
    return ["train", plan, "--data", data, "--steps", str(STEPS), "--batch",
            "64", "--ckpt-dir", ckpt, "--ckpt-every", "20", "--keep", "2",
            "--metrics", metrics_file, "--eval-every", "50", "--seed", "5",
            "--threads", "2", "--lr", "0.003", "--schedule", "cosine",
            "--warmup", "10"]


def listing(directory):
    return set(os.listdir(directory)) if os.path.isdir(directory) else set()


def run_until_killed(argv, ckpt, when):
    """Runs argv and SIGKILLs it `when` "saving" (a checkpoint file is being
    written) or "between" (a while after a new checkpoint is complete).
    Returns the latest complete step after the kill, or None when the run
    ended before it could be killed."""
    seen = listing(ckpt)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    killed = False
    while proc.poll() is None and time.time() < deadline:
        new = listing(ckpt) - seen
        if when == "saving" and any(".partial" in f for f in new):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        if when == "between" and any(f.endswith(".json") for f in new):
            time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.001)
    proc.wait()
    if not killed:
        return None
    steps = [int(f[5:15]) for f in listing(ckpt) if f.endswith(".json")]
    return max(steps) if steps else 0


def check_resume():
    data, _ = synth("syn", users=1000, items=200, len_min=8, len_max=30)
    plan = compile_sasrec("sasrec.fb", items=200, max_len=20, d=32)
    start = time.time()
    onerec_run(*train_args(plan, data, path("a"), path("a.jsonl")))
    print(f"uninterrupted: {STEPS} updates in {time.time() - start:.1f} s")
    expected_steps, expected_evals = metrics(path("a.jsonl"))
    if [s for s, _, _ in expected_steps] != list(range(1, STEPS + 1)):
        fail(f"the uninterrupted run did not write steps 1..{STEPS}")

    # SIGKILL between two checkpoints, while one is being written (a
    # complete one exists), and between again, resuming each time; then let
    # it finish.
    argv = [ARGS.onerec_run, *train_args(plan, data, path("b"),
                                         path("b.jsonl"))]
    for attempt, when in enumerate(["between", "saving", "between"]):
        latest = run_until_killed(argv + (["--resume"] if attempt else []),
                                  path("b"), when)
        print(f"killed {when}: latest complete checkpoint "
              f"{'(run had finished)' if latest is None else latest}")
        leftovers = [f for f in listing(path("b")) if ".partial" in f]
        if leftovers:
            print(f"  left behind: {sorted(leftovers)}")
    run(argv + ["--resume"])
    got_steps, got_evals = metrics(path("b.jsonl"))
    if [s for s, _, _ in got_steps] != list(range(1, STEPS + 1)):
        fail(f"the resumed metrics hold steps {[s for s, _, _ in got_steps]}, "
             f"not 1..{STEPS} once each")
    for (step, want, want_norm), (_, got, got_norm) in zip(expected_steps,
                                                           got_steps):
        if want != got or want_norm != got_norm:
            fail(f"step {step}: loss {got} (grad_norm {got_norm}) after "
                 f"resuming, {want} ({want_norm}) uninterrupted")
    strip = [{k: v for k, v in e.items() if k != "wall_s"}
             for e in expected_evals]
    if strip != [{k: v for k, v in e.items() if k != "wall_s"}
                 for e in got_evals]:
        fail(f"evaluations differ: {got_evals} vs {expected_evals}")
    # keep = 2: the last two checkpoints, nothing half-written.
    left = sorted(listing(path("b")))
    want = [f"ckpt-{s:010d}.{ext}" for s in (STEPS - 20, STEPS)
            for ext in ("json", "safetensors")]
    if left != want:
        fail(f"checkpoint directory holds {left}, expected {want}")
    # The final checkpoints are the same bytes.
    for name in want:
        with open(path("a", name), "rb") as f, open(path("b", name), "rb") as g:
            if name.endswith(".safetensors") and f.read() != g.read():
                fail(f"{name} differs between the runs")
    print(f"{STEPS} losses, grad norms and evaluations identical to the "
          f"uninterrupted run")


def check_errors():
    data, _ = synth("syn", users=200, items=60, len_min=5, len_max=12)
    big, _ = synth("big", users=200, items=500, len_min=5, len_max=12)
    forward_only = os.path.join(ARGS.corpus, "sasrec-small.fb")  # 50 items
    # Runtime-only errors (no training entry needed).
    onerec_run("train", forward_only, "--data", path("missing"), "--steps",
               "1", exit=1, stderr=["no such dataset directory"])
    onerec_run("train", forward_only, "--data", data, "--steps", "1",
               exit=1, stderr=["the plan has no training entry 'train_step'",
                               "compile a model with a `train` section"])
    onerec_run("eval", forward_only, "--data", big, exit=1,
               stderr=["has 500 items, but plan", "-D items=500"])
    onerec_run("train", forward_only, "--data", data, "--epochs", "1",
               "--steps", "1", exit=2, stderr=["not both"])
    onerec_run("train", forward_only, "--data", data, "--schedule", "linear",
               exit=2, stderr=["expected constant, warmup or cosine"])
    with open(path("garbage.safetensors"), "wb") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    onerec_run("eval", forward_only, "--data", data, "--weights",
               path("garbage.safetensors"), exit=1,
               stderr=["garbage.safetensors"])



def check_train_errors():
    data, _ = synth("syn", users=200, items=60, len_min=5, len_max=12)
    big, _ = synth("big", users=200, items=500, len_min=5, len_max=12)
    plan = compile_sasrec("sasrec.fb", items=60, max_len=10, d=16)
    onerec_run("train", plan, "--data", big, "--steps", "1", exit=1,
               stderr=["has 500 items, but plan", "-D items=500"])
    ckpt = path("ckpt")
    args = ["train", plan, "--data", data, "--steps", "6", "--batch", "16",
            "--ckpt-dir", ckpt, "--ckpt-every", "3", "--no-eval"]
    onerec_run(*args)
    # A second fresh run into the same directory is refused.
    onerec_run(*args, exit=1, stderr=["already holds checkpoints",
                                      "--resume"])
    # Resuming a finished run does nothing and succeeds.
    onerec_run(*args, "--resume")
    # A damaged latest checkpoint is refused, naming the file.
    latest = os.path.join(ckpt, "ckpt-0000000006.safetensors")
    with open(latest, "r+b") as f:
        f.seek(-4, os.SEEK_END)
        f.write(b"\xff\xff\xff\xff")
    onerec_run(*args, "--resume", exit=1,
               stderr=["ckpt-0000000006.safetensors", "does not match",
                       "damaged"])
    with open(latest, "r+b") as f:
        f.truncate(100)
    onerec_run(*args, "--resume", exit=1,
               stderr=["ckpt-0000000006.safetensors: is 100 bytes"])
    with open(os.path.join(ckpt, "ckpt-0000000006.json"), "w") as f:
        f.write("{\"format\": \"onerec-checkpoint\", \"vers")
    onerec_run(*args, "--resume", exit=1,
               stderr=["ckpt-0000000006.json: not a valid onerec checkpoint"])
    # Removing the damaged one falls back to the previous checkpoint.
    os.remove(os.path.join(ckpt, "ckpt-0000000006.json"))
    onerec_run(*args, "--resume", stdout=["resumed from step 3"])
    # A resume without --steps keeps the checkpoint's run length (6), not
    # the plan's epochs; an explicit other length is warned about.
    os.remove(os.path.join(ckpt, "ckpt-0000000006.json"))
    short = ["train", plan, "--data", data, "--batch", "16", "--ckpt-dir",
             ckpt, "--ckpt-every", "3", "--no-eval", "--resume"]
    onerec_run(*short, stdout=["resumed from step 3"])
    steps = sorted(int(f[5:15]) for f in listing(ckpt) if f.endswith(".json"))
    if steps[-1] != 6:
        fail(f"a resume without --steps ended at step {steps[-1]}, not 6")
    onerec_run(*short, "--steps", "9", stdout=["resumed from step 6"],
               stderr=["the run was started for 6 updates; --steps makes "
                       "it 9"])
    # A fresh run from --weights of a checkpoint starts a fresh optimizer.
    onerec_run("train", plan, "--data", data, "--steps", "1", "--batch", "16",
               "--no-eval", "--weights",
               os.path.join(ckpt, "ckpt-0000000009.safetensors"),
               stderr=["is not used; a fresh run starts a fresh optimizer"])
    # Another dataset with the same counts (fixed lengths, another seed) is
    # told apart by its content.
    same_a, _ = synth("same-a", users=200, items=60, len_min=8, len_max=8)
    same_b, _ = synth("same-b", users=200, items=60, len_min=8, len_max=8,
                      seed=2)
    ds_ckpt = path("ds")
    ds_args = ["train", plan, "--batch", "16", "--ckpt-dir", ds_ckpt,
               "--no-eval"]
    onerec_run(*ds_args, "--data", same_a, "--steps", "2")
    onerec_run(*ds_args, "--data", same_b, "--steps", "3", "--resume", exit=1,
               stderr=["was trained on a dataset with content",
                       "resume with the same data"])
    # A checkpoint of another plan (another source: another source hash).
    with open(ARGS.model) as f:
        source = f.read()
    with open(path("other.rdsl"), "w") as f:
        f.write(source + "\n// another model\n")
    other = compile_sasrec("other.fb", items=60, max_len=10, d=16,
                           model=path("other.rdsl"))
    onerec_run("train", other, "--data", data, "--steps", "9", "--batch",
               "16", "--ckpt-dir", ckpt, "--resume", exit=1,
               stderr=["source hash", "resume with the plan it was trained"])
    onerec_run("eval", other, "--data", data, "--weights", latest, exit=1,
               stderr=["source hash"])
    # A non-finite loss stops the run at its step, naming entry and tensor,
    # and keeps the last good checkpoint.
    nan_ckpt = path("nan")
    proc = onerec_run("train", plan, "--data", data, "--steps", "40",
                      "--batch", "16", "--lr", "1e30", "--ckpt-dir", nan_ckpt,
                      "--ckpt-every", "1", "--no-eval", exit=1,
                      stderr=["entry 'train_step' produced a non-finite"])
    step = int(proc.stderr.split("error: step ", 1)[1].split(":", 1)[0])
    names = sorted(os.listdir(nan_ckpt)) if os.path.isdir(nan_ckpt) else []
    if step > 1 and f"ckpt-{step - 1:010d}.json" not in names:
        fail(f"stopped at step {step} but the checkpoints are {names}")
    if f"ckpt-{step:010d}.json" in names:
        fail(f"a checkpoint of the non-finite step {step} was written")


def check_plot():
    data, _ = synth("syn", users=200, items=60, len_min=5, len_max=12)
    plan = compile_sasrec("sasrec.fb", items=60, max_len=10, d=16)
    onerec_run("train", plan, "--data", data, "--steps", "20", "--batch", "16",
               "--metrics", path("m.jsonl"), "--eval-every", "10")
    run([sys.executable, os.path.join(ROOT, "scripts", "plot_metrics.py"),
         path("m.jsonl"), "-o", path("curves.png")], stdout=["wrote"])
    with open(path("curves.png"), "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            fail("curves.png is no PNG")


CASES = {"accuracy": check_accuracy, "resume": check_resume,
         "errors": check_errors, "train-errors": check_train_errors,
         "plot": check_plot, "hstu": check_hstu, "threads": check_threads,
         "bert4rec": check_bert4rec}
if ARGS.case not in CASES:
    sys.exit(f"unknown case {ARGS.case!r}; cases: {', '.join(CASES)}")
CASES[ARGS.case]()
print("ok")
