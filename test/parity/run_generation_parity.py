#!/usr/bin/env python3
"""Generation parity: onerec's constrained beam search (`onerec-run generate`)
against the PyTorch reference (bench/generation_reference.py) on tiny TIGER.

  run_generation_parity.py --onerecc BIN --onerec-run BIN --workdir DIR

1. Weights: the plan's initial weights with the norm gains perturbed and the
   session head scaled by 30 (untrained logits are nearly uniform, and the
   near-ties would make the beams' order depend on float rounding); saved
   with onerec's names and used by both sides.
2. The torch model against `onerec-run forward --entry encode/decode` on
   those weights (max|diff| / max|ref| <= 1e-5).
3. A small catalog (300 items, few first-level codes so that beams share
   prefixes and the trie prunes at every level) and requests with histories
   of 0 to `hist` items and user ids up to 2^62.
4. The two references (uncached and cached beam search) must return the same
   sessions in the same order at widths 1, 8, 64, 512 (scores within 5e-5;
   they reach -50); at 512, more than the catalog, beam search ranks every
   item, which must equal the exhaustive ranking by the decoder's
   full-sequence score.
5. `onerec-run generate --beam W --items 1` at the same widths must return
   the cached reference's sessions in the same order (items and codes) with
   scores within 1e-4, every session a catalog item.

Exit 0 on success, 1 on a mismatch or a failing CLI, 77 (skip) when torch is
not installed, or when the given onerec-run has no `generate` command (steps
1-4 have then passed; the message says so).
"""
import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

if __name__ == "__main__":
    import require_torch  # noqa: F401  (exits 77 without torch)

import numpy as np  # noqa: E402
import harness  # noqa: E402
import safetensors_io  # noqa: E402

WIDTHS = (1, 8, 64, 512)
FORWARD_TOL = 1e-5
REF_TOL = 5e-5    # scores reach -50: float32 sums of 3 log-softmaxes
ONEREC_TOL = 1e-4


def parity_weights(plan_weights, rng):
    """Plan weights without optimizer state, gains perturbed, head x30."""
    w = {k: v.copy() for k, v in plan_weights.items() if not k.endswith((".adam_m", ".adam_v"))}
    for k in w:
        if k.endswith(".gain"):
            w[k] = (w[k] * rng.uniform(0.5, 1.5, w[k].shape)).astype(np.float32)
    w["decode.session_head0.w"] = (w["decode.session_head0.w"] * 30).astype(np.float32)
    return w


def small_catalog(gr, levels, codebook, rng, items=300):
    """Distinct codes; level 0 from 6 codes, level 1 from 10: shared prefixes."""
    seen, rows = set(), []
    while len(rows) < items:
        c = (int(rng.integers(0, 6)), int(rng.integers(0, 10)),
             *[int(x) for x in rng.integers(0, codebook, levels - 2)])
        if c not in seen:
            seen.add(c)
            rows.append(c)
    ids = rng.choice(np.arange(1000, 100000), size=items, replace=False)
    return gr.Catalog(ids, np.asarray(rows), levels, codebook)


def requests(catalog, hist, rng):
    users = [0, 1, 17, 123456789, (1 << 62) + 5, 42]
    lengths = [hist, 0, 1, hist, 3, hist - 1]
    return [{"id": f"r{i}", "user": u,
             "history": [int(x) for x in rng.choice(catalog.item_ids, n, replace=False)]}
            for i, (u, n) in enumerate(zip(users, lengths))]


def exhaustive(model, catalog, request, search):
    """Every catalog item's full-sequence score (sum of its levels' log-softmax
    from one decode of [BOS, c1, .., c_levels]), best first."""
    import torch
    user, hist = search.inputs([request])
    with torch.no_grad():
        memory = model.encode(user, hist)
        codes = torch.from_numpy(catalog.codes)
        tokens = torch.cat([torch.full((len(codes), 1), model.bos), codes + model.level_offset], 1)
        logp = torch.log_softmax(model.decode(tokens, memory.expand(len(codes), -1, -1)), -1)[:, 0]
        score = logp.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(-1)
    order = sorted(range(len(codes)), key=lambda i: (-float(score[i]), i))
    return [(int(catalog.item_ids[i]), float(score[i])) for i in order]


def has_generate(onerec_run):
    proc = subprocess.run([onerec_run, "--help"], capture_output=True, text=True)
    return any(line.strip().startswith("generate ") or line.strip() == "generate"
               for line in (proc.stdout + proc.stderr).splitlines())


def generate_help(onerec_run):
    proc = subprocess.run([onerec_run, "generate", "--help"], capture_output=True, text=True)
    return proc.stdout + proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onerecc", required=True)
    ap.add_argument("--onerec-run", required=True, dest="onerec_run")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import generation_reference as gr

    torch.set_num_threads(args.threads)
    os.makedirs(args.workdir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    failures = []

    def check(ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    # 1. Plan and weights.
    plan = os.path.join(args.workdir, "tiger-tiny.fb")
    harness.run([args.onerecc, os.path.join(REPO, "models", "tiger.rdsl"), "--config=tiny",
                 "-o", plan], "onerecc")
    init = harness.export_weights(args.onerec_run, plan,
                                  os.path.join(args.workdir, "init.safetensors"))
    ckpt = os.path.join(args.workdir, "weights.safetensors")
    weights = parity_weights(init, rng)
    safetensors_io.write(ckpt, weights)
    model = gr.load("tiny", weights)
    cfg = gr.TIGER_CONFIGS["tiny"]

    # 2. encode / decode against onerec-run forward.
    B = 5
    user = np.array([0, 1, 17, 123456789, (1 << 62) + 5], np.int64)
    hist = rng.integers(0, cfg["codebook"], (B, cfg["hist"], cfg["levels"])).astype(np.int64)
    got = harness.forward(args.onerec_run, plan, "encode", {"user": user, "history": hist},
                          args.workdir, weights=ckpt, threads=args.threads)["output"]
    with torch.no_grad():
        ref = model.encode(torch.from_numpy(user), torch.from_numpy(hist)).numpy()
    check(harness.rel_err(got, ref) <= FORWARD_TOL,
          f"encode vs onerec-run forward: rel err {harness.rel_err(got, ref):.1e}")
    codes = rng.integers(0, cfg["codebook"], (B, cfg["levels"]))
    tokens = np.concatenate([np.full((B, 1), model.bos),
                             codes + np.arange(cfg["levels"]) * cfg["codebook"]], 1)
    got = harness.forward(args.onerec_run, plan, "decode",
                          {"tokens": tokens.astype(np.int64), "memory": ref}, args.workdir,
                          weights=ckpt, threads=args.threads)["output"]
    with torch.no_grad():
        ref_logits = model.decode(torch.from_numpy(tokens), torch.from_numpy(ref)).numpy()
    check(harness.rel_err(got, ref_logits) <= FORWARD_TOL,
          f"decode vs onerec-run forward: rel err {harness.rel_err(got, ref_logits):.1e}")

    # 3. Catalog and requests.
    catalog = small_catalog(gr, cfg["levels"], cfg["codebook"], rng)
    catalog_path = os.path.join(args.workdir, "catalog.safetensors")
    catalog.save(catalog_path)
    catalog = gr.Catalog.load(catalog_path)
    reqs = requests(catalog, cfg["hist"], rng)
    req_path = os.path.join(args.workdir, "requests.jsonl")
    with open(req_path, "w") as f:
        for q in reqs:
            f.write(json.dumps(q) + "\n")

    # 4. The references against each other and against exhaustive ranking.
    uncached, cached = gr.UncachedBeamSearch(model, catalog), gr.CachedBeamSearch(model, catalog)
    expected = {}
    for width in WIDTHS:
        a, b = uncached(reqs, width), cached(reqs, width)
        c = gr.compare(a, b, REF_TOL)
        check(c["identical_fraction"] == 1.0,
              f"width {width}: uncached == cached reference (max score diff "
              f"{c['max_common_score_diff']:.1e})")
        expected[width] = b
    full = expected[WIDTHS[-1]]
    for q, res in zip(reqs, full):
        ex = exhaustive(model, catalog, q, cached)
        same = (len(res) == len(catalog.item_ids) and
                [s["items"][0] for s in res] == [i for i, _ in ex] and
                max(abs(s["score"] - e) for s, (_, e) in zip(res, ex)) <= REF_TOL)
        check(same, f"request {q['id']}: width {WIDTHS[-1]} beam search == exhaustive ranking "
                    f"of all {len(catalog.item_ids)} items")

    # 5. onerec-run generate.
    if not has_generate(args.onerec_run):
        print(f"SKIP: {args.onerec_run} has no `generate` command; steps 1-4 "
              f"{'passed' if not failures else 'FAILED'}; the onerec side runs once the "
              f"runtime has it (branch gen-beam)")
        return 1 if failures else 77
    has_top = "--top" in generate_help(args.onerec_run)
    for width in WIDTHS:
        out = os.path.join(args.workdir, f"generate-{width}.jsonl")
        # --top WIDTH: every finished beam, as the reference answers.
        harness.run([args.onerec_run, "generate", plan, "--ckpt", ckpt, "--catalog",
                     catalog_path, "--requests", req_path, "--out", out, "--beam", str(width),
                     "--items", "1", "--threads", str(args.threads)] +
                    (["--top", str(width)] if has_top else []), "onerec-run generate")
        answers = {}
        with open(out) as f:
            for line in f:
                if line.strip():
                    a = json.loads(line)
                    answers[a["id"]] = a
        got = []
        for q, ref in zip(reqs, expected[width]):
            a = answers.get(q["id"])
            if a is None:
                check(False, f"width {width}: no answer for request {q['id']}")
                got.append([])
                continue
            sessions = a["sessions"]
            got.append(sessions)
            if has_top:
                check(len(sessions) == len(ref),
                      f"width {width} request {q['id']}: {len(sessions)} sessions, the "
                      f"reference {len(ref)}")
            real = all(len(s["items"]) == 1 and s["items"][0] in catalog.row_of and
                       list(s["codes"][0]) ==
                       [int(x) for x in catalog.codes[catalog.row_of[s["items"][0]]]]
                       for s in sessions)
            check(real, f"width {width} request {q['id']}: every session is a catalog item "
                        f"with its codes")
            ranked = [x["item"] for x in a.get("items", [])]
            check(ranked == [s["items"][0] for s in sessions],
                  f"width {width} request {q['id']}: `items` lists the sessions' items")
        # Without --top, the runtime's default number of sessions: compare
        # them with as many of the reference's best.
        c = gr.compare(got, [ref[:max(len(g), 1)] for g, ref in zip(got, expected[width])],
                       ONEREC_TOL)
        check(c["identical_fraction"] == 1.0,
              f"width {width}: onerec generate == torch reference (identical "
              f"{c['identical_fraction']:.2f}, top-1 {c['top1_fraction']:.2f}, max score diff "
              f"{c['max_common_score_diff']:.1e})")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except harness.CliError as e:
        print(f"FAIL {e}")
        sys.exit(1)
