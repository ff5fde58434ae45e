#!/usr/bin/env python3
# ===- onerec_tokenize_cli.py - onerec-tokenize on real files ------------===#
#
# usage: onerec_tokenize_cli.py ONEREC_TOKENIZE ONEREC_DATA WORK_DIR CASE
#
# Each CASE runs the real binary on .npy files and checkpoints written here
# (no numpy needed: the formats are written by hand), good and broken, and
# checks the exit status (0 ok, 1 error, 2 usage), the messages and the
# catalog it writes. CTest runs one test per case (test/cli/CMakeLists.txt).
#
# ===-----------------------------------------------------------------------===#
import json
import os
import random
import shutil
import struct
import sys

import cli_check

BIN, DATA_BIN, WORK, CASE = sys.argv[1:5]
WORK = os.path.join(WORK, CASE)
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

work = cli_check.writer(WORK)
run = cli_check.runner(BIN, "onerec-tokenize")
run_data = cli_check.runner(DATA_BIN, "onerec-data")


def matrix(rows, cols, seed=1):
    """rows x cols floats exactly representable in float32."""
    rng = random.Random(seed)
    return [[struct.unpack("<f", struct.pack("<f", rng.gauss(0, 1)))[0]
             for _ in range(cols)] for _ in range(rows)]


def npy(name, rows, descr="<f4", fortran=False, shape=None, cut=0,
        magic=b"\x93NUMPY"):
    """Writes a .npy file of `rows` (a list of lists) and returns its path."""
    shape = shape if shape is not None else (len(rows), len(rows[0]))
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False",
        "".join("%d, " % d for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    fmt = {"<f4": "<f", "<f8": "<d", ">f4": ">f", "<i4": "<i"}[descr]
    body = b"".join(struct.pack(fmt, v) for row in rows for v in row)
    data = magic + b"\x01\x00" + struct.pack("<H", len(header)) + \
        header.encode() + body
    return work(name, data[:len(data) - cut] if cut else data)


def safetensors(name, tensors, metadata=None):
    """Writes F32 tensors {name: rows} as a safetensors file."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for tname, rows in tensors.items():
        blob = b"".join(struct.pack("<f", v) for row in rows for v in row)
        header[tname] = {"dtype": "F32", "shape": [len(rows), len(rows[0])],
                         "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    return work(name, struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """(header, {name: list of values}) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    fmts = {"F32": "f", "I32": "i", "I64": "q"}
    values = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        code = fmts[entry["dtype"]]
        blob = raw[8 + n + begin:8 + n + end]
        values[name] = list(struct.unpack(
            "<%d%s" % (len(blob) // struct.calcsize(code), code), blob))
    return header, values


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def check_help():
    run("--help", stdout=["usage: onerec-tokenize EMB.npy -o CATALOG",
                          "--ckpt CKPT.safetensors --tensor NAME",
                          "--first-row F"])


def check_no_arguments():
    run(exit=2, stderr=["no embeddings: give EMB.npy or --ckpt FILE",
                        "usage: onerec-tokenize"])


def check_bad_options():
    emb = npy("e.npy", matrix(40, 4))
    out = work("c.safetensors")
    run(emb, "-o", out, "--levels", "0", exit=2,
        stderr=["--levels '0' is not an integer in 1..64"])
    run(emb, "-o", out, "--codebok", "4", exit=2,
        stderr=["unknown option '--codebok'"])
    run(emb, exit=2, stderr=["no output: give -o CATALOG"])
    run(emb, "-o", out, "--ckpt", emb, "--tensor", "x", exit=2,
        stderr=["give either EMB.npy or --ckpt, not both"])
    run("--ckpt", emb, "-o", out, exit=2, stderr=["--ckpt needs --tensor"])
    run(emb, "-o", out, "--codebook", "41", exit=1,
        stderr=["--codebook 41 is larger than the 40 items", "use at most 40"])
    run(emb, "-o", out, "--first-row", "40", exit=1,
        stderr=["--first-row 40 leaves no rows: " + emb + " has 40"])
    # One level of 8 codes cannot give 40 items distinct IDs.
    run(emb, "-o", out, "--levels", "1", "--codebook", "8", "--quiet", exit=1,
        stderr=[emb + ": the code prefix () holds 40 items but the last "
                "level has only 8 codes", "more levels"])
    assert not os.path.exists(out)


def check_npy_roundtrip():
    # 2 levels of 16 codes hold at most 16 * 16 items (a level-1 code's
    # items need distinct level-2 codes).
    rows = matrix(200, 8)
    emb = npy("e.npy", rows)
    out, stats = work("c.safetensors"), work("stats.json")
    proc = run(emb, "-o", out, "--levels", "2", "--codebook", "16",
               "--iters", "5", "--stats", stats,
               stderr=["level 1/2 iteration 1: loss", "level 2/2 iteration",
                       "onerec-tokenize: wrote " + out])
    printed = json.loads(proc.stdout)
    with open(stats) as f:
        assert json.load(f) == printed
    assert printed["items"] == 200 and printed["levels"] == 2, printed
    assert printed["collision_rate_after"] == 0, printed
    assert [lv["utilisation"] for lv in printed["per_level"]] == [1.0, 1.0]
    assert 0 < printed["relative_reconstruction_mse"] < 1, printed

    header, values = read_safetensors(out)
    meta = header["__metadata__"]
    assert meta["format"] == "onerec-catalog" and meta["version"] == "1"
    assert meta["levels"] == "2" and meta["codebook"] == "16", meta
    assert json.loads(meta["stats"])["items"] == 200
    assert header["codes"]["shape"] == [200, 2]
    assert header["codebook.1"]["shape"] == [16, 8]
    assert values["item_ids"] == list(range(200))
    codes = values["codes"]
    pairs = {(codes[2 * i], codes[2 * i + 1]) for i in range(200)}
    assert len(pairs) == 200, "codes are not unique"
    # Level 1 is balanced: 200 = 12 * 16 + 8.
    counts = sorted(codes[0::2].count(c) for c in range(16))
    assert counts == [12] * 8 + [13] * 8, counts
    # The trie: the root's edges are the 16 level-1 codes, in order.
    offsets = values["trie.offsets"]
    assert values["trie.codes"][offsets[0]:offsets[1]] == list(range(16))
    assert len(offsets) == 1 + 16 + 200 + 1

    # Deterministic: the same bytes again, with 1 or 2 threads, quiet.
    again = work("again.safetensors")
    run(emb, "-o", again, "--levels", "2", "--codebook", "16", "--iters", "5",
        "--threads", "1", "--quiet")
    assert read_bytes(again) == read_bytes(out)
    run(emb, "-o", again, "--levels", "2", "--codebook", "16", "--iters", "5",
        "--threads", "2", "--quiet")
    assert read_bytes(again) == read_bytes(out)
    # float64 input with the same values: the same catalog.
    run(npy("e8.npy", rows, descr="<f8"), "-o", again, "--levels", "2",
        "--codebook", "16", "--iters", "5", "--quiet")
    assert read_bytes(again) == read_bytes(out)
    # Another seed: other codes.
    run(emb, "-o", again, "--levels", "2", "--codebook", "16", "--iters", "5",
        "--seed", "1", "--quiet")
    assert read_safetensors(again)[1]["codes"] != codes


def check_npy_broken():
    rows = matrix(20, 4)
    out = work("c.safetensors")
    cases = [
        (npy("magic.npy", rows, magic=b"\x93NUMPX"),
         "not a .npy file (no \\x93NUMPY magic)"),
        (npy("cut.npy", rows, cut=5),
         "truncated: a [20, 4] float32 array needs more than the 315 data "
         "bytes the file has"),
        (npy("fortran.npy", rows, fortran=True),
         "the array is in Fortran order"),
        (npy("int.npy", [[1, 2], [3, 4]], descr="<i4"),
         "dtype '<i4' is not supported"),
        (npy("big.npy", rows, descr=">f4"), "dtype '>f4' is not supported"),
        (npy("rank3.npy", rows, shape=(20, 2, 2)),
         "the array has rank 3, expected 2"),
        (work("header.npy", b"\x93NUMPY\x01\x00\x40\x00{'descr': "),
         "truncated header"),
        (work("empty.npy", b""), "not a .npy file"),
        (work("missing.npy"), "missing.npy"),
    ]
    for path, message in cases:
        run(path, "-o", out, "--codebook", "3", exit=1,
            stderr=[path, message])
    assert not os.path.exists(out)


def check_checkpoint():
    table = [[0.0] * 6] + matrix(64, 6)  # row 0: padding
    ckpt = safetensors("ckpt.safetensors",
                       {"item_table": table, "pos_emb": matrix(8, 6, 2)},
                       {"format": "pt"})
    out = work("c.safetensors")
    run("--ckpt", ckpt, "--tensor", "item_tabel", "-o", out, exit=1,
        stderr=[ckpt + ": no tensor 'item_tabel'; did you mean "
                "'item_table' [65, 6], 'pos_emb' [8, 6]?"])
    proc = run("--ckpt", ckpt, "--tensor", "item_table", "--first-row", "1",
               "-o", out, "--levels", "2", "--codebook", "8", "--quiet")
    assert json.loads(proc.stdout)["items"] == 64
    values = read_safetensors(out)[1]
    assert values["item_ids"] == list(range(1, 65))


def check_dataset():
    # 5 items: a checkpoint-like table needs rows 0..5.
    seq = work("seq.txt", "1 1 2 3\n2 4 5 1\n3 2 3 4 5\n")
    ds = work("ds")
    run_data("import", seq, "--out", ds)
    out = work("c.safetensors")
    good = npy("good.npy", matrix(6, 4))
    proc = run(good, "--first-row", "1", "--data", ds, "-o", out, "--levels",
               "2", "--codebook", "3", "--quiet")
    assert json.loads(proc.stdout)["items"] == 5
    run(good, "--data", ds, "-o", out, "--levels", "2", "--codebook", "3",
        exit=1, stderr=["row 0 is item 0, the padding id", "--first-row 1"])
    run(good, "--first-row", "2", "--data", ds, "-o", out, "--codebook", "3",
        exit=1, stderr=["--first-row 2 skips items 1..1 of " + ds])
    short = npy("short.npy", matrix(5, 4))
    run(short, "--first-row", "1", "--data", ds, "-o", out, "--codebook", "3",
        exit=1, stderr=[short + " has rows for items 1..4 but " + ds +
                        " has items 1..5"])
    run(good, "--first-row", "1", "--data", work("nope"), "-o", out,
        "--codebook", "3", exit=1, stderr=["nope"])


CASES = {
    "help": check_help,
    "no-arguments": check_no_arguments,
    "bad-options": check_bad_options,
    "npy-roundtrip": check_npy_roundtrip,
    "npy-broken": check_npy_broken,
    "checkpoint": check_checkpoint,
    "dataset": check_dataset,
}

if CASE not in CASES:
    sys.exit(f"unknown case {CASE!r}; cases: {', '.join(CASES)}")
CASES[CASE]()
print("PASS", CASE)
