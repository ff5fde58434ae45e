#!/usr/bin/env python3
# ===- onerec_data_cli.py - onerec-data on real files, good and broken -----===#
#
# usage: onerec_data_cli.py ONEREC_DATA WORK_DIR CASE
#
# Each CASE runs the real binary on small sequence files and logs written to
# WORK_DIR (or damaged copies of the datasets it makes) and checks the exit
# status (0 ok, 1 error, 2 usage) and what stdout/stderr contain. CTest runs
# one test per case (test/cli/CMakeLists.txt).
#
# ===-----------------------------------------------------------------------===#
import json
import os
import shutil
import subprocess

import cli_check
import sys

BIN, WORK, CASE = sys.argv[1:4]
WORK = os.path.join(WORK, CASE)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

SEQUENCES = "1 1 2 3 4 5\n2 3 2 1\n3 5 4 2\n4 2 3 4 5 1 2\n"
LOG = ("user,item,timestamp,watch_time\n"
       "a,x,10,1.5\na,y,20,0\na,z,30,2\nb,y,5,1\nb,z,25,3\nb,x,40,1\n")


work = cli_check.writer(WORK)


run = cli_check.runner(BIN, "onerec-data")


def dataset(name="ds", text=SEQUENCES, *extra):
    out = work(name)
    run("import", work(name + ".txt", text), "--out", out, *extra)
    return out


def leftovers():
    """Anything an import left behind besides the inputs."""
    return [n for n in os.listdir(WORK) if not n.endswith((".txt", ".csv"))]


def check_help():
    run("--help", stdout=["usage: onerec-data", "import INPUT --out DIR"])
    run("import", "--help", stdout=["--skip-bad"])


def check_no_arguments():
    run(exit=2, stderr=["no command", "usage: onerec-data"])


def check_unknown_command():
    run("export", exit=2, stderr=["unknown command 'export'"])


def check_unknown_option():
    run("import", work("s.txt", SEQUENCES), "--out", work("o"), "--shards", "3",
        exit=2, stderr=["import: unknown option '--shards'"])
    run("import", work("s.txt"), "--out", work("o"), "--shard-users", "zero",
        exit=2, stderr=["--shard-users 'zero' is not an integer"])
    run("import", work("s.txt"), "--out", work("o"), "--split", "time",
        exit=2, stderr=["--split time needs --valid-from T1 and --test-from T2"])
    assert leftovers() == [], leftovers()


def check_import_sequences():
    out = work("ds")
    run("import", work("s.txt", SEQUENCES), "--out", out, "--shard-users", "2",
        stdout=["4 users, 5 items, 17 interactions", "2 shards, split loo"])
    proc = run("info", out, stdout=[
        "users 4, items 5", "sequence length: min 3, median 4, mean 4.25, max 6",
        "split loo: train 9 interactions", "shard-00000.bin  users 0..1",
        "shard-00001.bin  users 2..3", "checksums and contents verified"])
    info = json.loads(run("info", out, "--json").stdout)
    assert info["users"] == 4 and info["items"] == 5, info
    assert info["split"]["test_rows"] == 4, info
    assert [s["users"] for s in info["shards"]] == [2, 2], info
    with open(os.path.join(out, "items.tsv")) as f:
        assert f.read().splitlines()[:2] == ["id\traw", "1\t1"]
    with open(os.path.join(out, "dataset.json")) as f:
        manifest = json.load(f)
    assert manifest["shards"][0]["checksum"].startswith("fnv1a64:"), manifest


def check_import_log():
    out = work("ds")
    run("import", work("log.csv", LOG), "--out", out, "--split", "time",
        "--valid-from", "25", "--test-from", "40",
        stdout=["(log): 2 users, 3 items, 6 interactions", "split time"])
    info = json.loads(run("info", out, "--json").stdout)
    names = [c["name"] for c in info["schema"]]
    assert names == ["item", "timestamp", "watch_time"], names
    # a: 10 20 | 30 | -; b: 5 | 25 | 40.
    assert info["split"]["train_interactions"] == 3, info
    assert info["split"]["valid_rows"] == 2, info
    assert info["split"]["test_rows"] == 1, info
    run("info", out, stdout=["watch_time float32 (label)"])


def check_import_non_numeric():
    bad = work("bad.txt", "1 1 2 3\n2 4 x 6\n")
    run("import", bad, "--out", work("ds"), exit=1,
        stderr=[bad + ":2: field 3: item 'x' is not a non-negative integer",
                "--skip-bad"])
    assert leftovers() == [], leftovers()


def check_import_short_line():
    bad = work("bad.txt", "1 1 2 3\n2\n")
    run("import", bad, "--out", work("ds"), exit=1,
        stderr=[bad + ":2: user '2' has no items"])
    assert leftovers() == [], leftovers()


def check_import_wrong_columns():
    bad = work("bad.csv", "user,item,time\n1,2,3\n1,2\n")
    run("import", bad, "--out", work("ds"), exit=1,
        stderr=[bad + ":3: 2 fields, the header has 3"])
    bad = work("bad2.csv", "who,item,time\n1,2,3\n")
    run("import", bad, "--out", work("ds"), exit=1,
        stderr=[bad + ":1: no user column in the header (who, item, time)",
                "--user-col"])
    run("import", bad, "--out", work("ds"), "--user-col", "who",
        stdout=["1 users, 1 items"])


def check_import_skip_bad():
    bad = work("bad.txt", "1 1 2 3\n2 4 x 6\n3\n4 4 5 6\n1 7 8\n")
    proc = run("import", bad, "--out", work("ds"), "--skip-bad",
               stdout=["2 users"],
               stderr=["warning: " + bad + ": skipped 3 of 5 records "
                       "(1 duplicate user, 1 non-numeric id, "
                       "1 user without items)",
                       bad + ":2: field 3", bad + ":3: user '3' has no items",
                       bad + ":5: user '1' already has a line (1)"])
    with open(os.path.join(work("ds"), "dataset.json")) as f:
        assert json.load(f)["source"]["skipped"] == 3


def check_import_nothing_valid():
    bad = work("bad.txt", "x y z\n")
    run("import", bad, "--out", work("ds"), "--skip-bad", exit=1,
        stderr=["no valid records (skipped 1 of 1 records"])
    assert leftovers() == [], leftovers()


def check_import_exists():
    out = dataset()
    run("import", work("ds.txt"), "--out", out, exit=1,
        stderr=["already exists (use --force to replace it)"])
    run("import", work("other.txt", "9 1 2 3\n"), "--out", out, "--force")
    run("info", out, stdout=["users 1, items 3"])
    assert sorted(leftovers()) == ["ds"], leftovers()


def check_import_missing_input():
    run("import", work("nope.txt"), "--out", work("ds"), exit=1,
        stderr=["nope.txt: cannot open"])


def shard(out, index=0):
    return os.path.join(out, f"shard-{index:05d}.bin")


def check_info_checksum():
    out = dataset()
    with open(shard(out), "rb") as f:
        data = bytearray(f.read())
    items_offset = int.from_bytes(data[64 + 2 * 24 : 64 + 2 * 24 + 8], "little")
    data[items_offset + 6] ^= 0x40
    work("ds/shard-00000.bin", bytes(data))
    run("info", out, exit=1, stderr=[
        f"{shard(out)}: offset {items_offset}: checksum mismatch in the Items "
        "section"])
    # --no-verify skips the checksums (the header is still checked).
    run("info", out, "--no-verify", stdout=["checksums not verified"])


def check_info_truncated():
    out = dataset()
    with open(shard(out), "rb") as f:
        data = f.read()
    work("ds/shard-00000.bin", data[: len(data) - 64])
    run("info", out, exit=1, stderr=[
        f"{shard(out)}: offset {len(data) - 64}: truncated or extended: the "
        f"header says {len(data)} bytes, the file has {len(data) - 64}"])
    work("ds/shard-00000.bin", data[:10])
    run("info", out, exit=1, stderr=[f"{shard(out)}: truncated (10 bytes"])
    work("ds/shard-00000.bin", b"")
    run("info", out, exit=1, stderr=[f"{shard(out)}: truncated (0 bytes"])


def check_info_missing_field():
    out = dataset()
    path = os.path.join(out, "dataset.json")
    with open(path) as f:
        manifest = json.load(f)
    del manifest["counts"]["items"]
    work("ds/dataset.json", json.dumps(manifest))
    run("info", out, exit=1,
        stderr=[f"{path}: missing field 'counts/items'"])
    work("ds/dataset.json", "[1, 2")
    run("info", out, exit=1, stderr=[f"{path}: not a JSON object"])
    os.remove(path)
    run("info", out, exit=1, stderr=[f"{path}: cannot open"])
    run("info", work("nowhere"), exit=1, stderr=["cannot open"])


def check_info_garbage_shards():
    out = dataset()
    with open(shard(out), "rb") as f:
        good = f.read()
    # Every single-byte flip in the header and many in the payload: an error
    # or (never) a crash.
    for i in list(range(0, 256)) + list(range(256, len(good), 97)):
        data = bytearray(good)
        data[i] ^= 0xFF
        work("ds/shard-00000.bin", bytes(data))
        proc = subprocess.run([BIN, "info", out], capture_output=True, text=True)
        if proc.returncode != 1 or "onerec-data: error: " not in proc.stderr:
            sys.exit(f"FAIL: flip at {i}: status {proc.returncode}\n{proc.stderr}")


def check_synth():
    out = work("syn")
    text = work("syn.txt")
    run("synth", "--out", out, "--users", "500", "--items", "100",
        "--len-min", "10", "--len-max", "20", "--seed", "3", "--branching", "3",
        "--text", text,
        stdout=["synthesized 500 users, 100 items", "Bayes-optimal",
                "HR@1 0.8000 HR@10 1.0000"])
    info = json.loads(run("info", out, "--json").stdout)
    bayes = info["synthetic"]["bayes_optimal"]
    assert bayes["hr@1"] == 0.8 and bayes["test_targets"] == 500, bayes
    run("info", out, stdout=["synthetic: Bayes-optimal HR@1 0.8000"])
    run("import", text, "--out", work("again"), stdout=["500 users"])
    # Deterministic: the same seed writes the same shard bytes.
    run("synth", "--out", work("syn2"), "--users", "500", "--items", "100",
        "--len-min", "10", "--len-max", "20", "--seed", "3", "--branching", "3")
    with open(shard(out), "rb") as a, open(shard(work("syn2")), "rb") as b:
        assert a.read() == b.read(), "synth is not deterministic"
    run("synth", "--out", work("bad"), "--len-min", "30", "--len-max", "20",
        exit=2, stderr=["--len-min"])
    run("synth", "--out", work("bad"), "--dominant", "1.5", exit=2,
        stderr=["--dominant '1.5'"])


CASES = {name[len("check_"):].replace("_", "-"): fn
         for name, fn in globals().items() if name.startswith("check_")}

if __name__ == "__main__":
    if CASE not in CASES:
        sys.exit(f"unknown case {CASE!r}; cases: {' '.join(CASES)}")
    CASES[CASE]()
    print("PASS", CASE)
