#!/usr/bin/env python3
"""Whole-model parity: onerec (onerecc + onerec-run) against PyTorch eager.

  run_parity.py MODEL --onerecc BIN --onerec-run BIN --workdir DIR

MODEL is sasrec or onerec-tiny (see harness.MODELS). Two cases:
  1. plan weights: the plan's initial weights (`onerec-run weights`) are
     loaded into the torch model; every entry is run by both.
  2. torch weights: the torch model's own random initialization (norm gains,
     biases and the MoE gate bias perturbed so that none is trivially 1 or 0)
     is saved to safetensors and given to `onerec-run forward --weights`.
Each entry is also evaluated straight from the compiler's IR by a numpy
interpreter (ir_eval.py, fp64), both as lowered by the frontend
(`--emit=mlir`, column "IR vs fp64") and after the compiler passes
(`--emit=mlir-lowered`, "lowered vs fp64"), against torch fp64 (<= 1e-9
required): that tells a torch model drifted from the lowering, or a pass that
changed the computation, apart from a runtime bug.
Metric per entry output: max|onerec - torch| / max|torch| (fp32 torch); it
must be <= --tol (1e-4). The torch fp64 figure is printed as the float noise
floor. Exit 0 on success, 1 on a mismatch or a failing CLI, 77 (skip) when
torch is not installed.
"""
import argparse
import copy
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

if __name__ == "__main__":
    import require_torch  # noqa: F401  (exits 77 without torch)

import numpy as np  # noqa: E402
import harness  # noqa: E402
import ir_eval  # noqa: E402
import plan_reader  # noqa: E402
import safetensors_io  # noqa: E402

BATCH = {"sasrec": 8, "onerec": 4}
IR_TOL = 1e-9   # ir_eval (fp64) vs torch fp64: only summation order differs


def _fmt(x):
    return "-" if x is None else f"{x:.1e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(harness.MODELS))
    ap.add_argument("--onerecc", required=True)
    ap.add_argument("--onerec-run", required=True, dest="onerec_run")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--entries", default=None, help="comma-separated subset")
    ap.add_argument("--kernels", default="default",
                    help="comma-separated onerec-run --kernels variants to run "
                         "(optimized, reference; default: the runtime's default)")
    args = ap.parse_args()

    import torch
    import models

    torch.set_num_threads(args.threads or 2)
    os.makedirs(args.workdir, exist_ok=True)
    _, kind, config, _ = harness.MODELS[args.model]
    cfg = (models.SASREC_CONFIGS if kind == "sasrec" else models.ONEREC_CONFIGS)[config]
    batch = args.batch or BATCH[kind]
    t0 = time.time()

    plan = os.path.join(args.workdir, "plan.fb")
    init_path = os.path.join(args.workdir, "init.safetensors")
    try:
        harness.compile_plan(args.onerecc, args.model, plan)
        ir_text = harness.emit_mlir(args.onerecc, args.model)
        lowered_text = harness.emit_mlir(args.onerecc, args.model, lowered=True)
        init = harness.export_weights(args.onerec_run, plan, init_path)
    except harness.CliError as e:
        print(f"FAIL: {e}")
        return 1

    # `onerec-run weights` must export exactly the plan's own initial values.
    failures = []
    try:
        plan_params, _ = plan_reader.read_params(plan)
    except Exception as e:  # a plan this reader cannot walk is not a parity failure
        plan_params = None
        print(f"note: plan_reader could not read {plan}: {e}")
    if plan_params is not None:
        if sorted(plan_params) != sorted(init):
            failures.append("onerec-run weights: names differ from the plan's parameters: "
                            f"only in export {sorted(set(init) - set(plan_params))[:5]}, "
                            f"only in plan {sorted(set(plan_params) - set(init))[:5]}")
        else:
            bad = [n for n in init if init[n].shape != plan_params[n].shape
                   or init[n].dtype != plan_params[n].dtype
                   or init[n].tobytes() != plan_params[n].tobytes()]
            if bad:
                failures.append(f"onerec-run weights: {len(bad)} parameter(s) differ from "
                                f"the plan's bytes: {bad[:5]}")

    rng = np.random.default_rng(args.seed)
    data = (harness.sasrec_batch(cfg, batch, rng) if kind == "sasrec"
            else harness.onerec_batch(cfg, batch, rng))

    rows = []

    def run_case(case, model, weights_path):
        model.eval()
        ref64 = copy.deepcopy(model).double().eval()
        w64 = {n: v.astype(np.float64) for n, v in models.export_onerec_weights(model).items()}
        entries = model.entries()
        wanted = args.entries.split(",") if args.entries else list(entries)
        for entry in wanted:
            in_names, out_name, _ = entries[entry]
            inputs = {n: data[n] for n in in_names}
            with torch.no_grad():
                t_in = {n: torch.from_numpy(v) for n, v in inputs.items()}
                ref = entries[entry][2](*t_in.values()).numpy()
                t64 = {n: (v.double() if v.is_floating_point() else v)
                       for n, v in t_in.items()}
                ref_d = ref64.entries()[entry][2](*t64.values()).numpy()
            # The IR itself, evaluated in numpy (ir_eval.py), against torch fp64:
            # checks models.py against the compiler's lowering, runtime aside.
            ir_err = low_err = None
            for which, text in (("IR", ir_text), ("lowered IR", lowered_text)):
                try:
                    e = harness.rel_err(ir_eval.evaluate(text, entry, inputs, w64), ref_d)
                except NotImplementedError as exc:
                    print(f"note: {case} {entry}: {which} not evaluated ({exc})")
                    continue
                if which == "IR":
                    ir_err = e
                else:
                    low_err = e
                if e > IR_TOL:
                    failures.append(
                        f"{case} {entry}: the {which} evaluated by ir_eval differs from the "
                        f"torch model (fp64 rel err {e:.3e}): " +
                        ("models.py does not match the compiler's lowering" if which == "IR"
                         else "the compiler passes changed what the entry computes"))
            gap = model.moe_min_gap() if hasattr(model, "moe_min_gap") else None
            for kernels in args.kernels.split(","):
                kflag = None if kernels == "default" else kernels
                label = f"{case}" + ("" if kflag is None else f" [{kernels}]")
                try:
                    outs = harness.forward(args.onerec_run, plan, entry, inputs, args.workdir,
                                           weights=weights_path, threads=args.threads,
                                           kernels=kflag,
                                           tag=f"{case.split()[0]}.{kernels}.{entry}")
                except harness.CliError as e:
                    failures.append(f"{label} {entry}: {e}")
                    rows.append((label, entry, "-", "-", "-", "-", _fmt(ir_err), _fmt(low_err),
                                 "CLI FAILED"))
                    continue
                if out_name not in outs:
                    failures.append(f"{label} {entry}: output '{out_name}' missing "
                                    f"(got {sorted(outs)})")
                    rows.append((label, entry, "-", "-", "-", "-", _fmt(ir_err), _fmt(low_err),
                                 "NO OUTPUT"))
                    continue
                out = outs[out_name]
                err = harness.rel_err(out, ref)
                err64 = harness.rel_err(out, ref_d)
                noise = harness.rel_err(ref, ref_d)
                ok = err <= args.tol
                status = "ok" if ok else "MISMATCH"
                if gap is not None and gap < 1e-5:
                    status += f" (MoE routing near-tie {gap:.1e})"
                if not ok:
                    failures.append(f"{label} {entry}: rel err {err:.3e} > {args.tol:.0e} "
                                    f"(shape onerec {list(np.shape(out))}, torch "
                                    f"{list(ref.shape)})")
                rows.append((label, entry, "x".join(map(str, ref.shape)) or "scalar",
                             f"{float(np.max(np.abs(ref))):.4g}", f"{err:.3e}",
                             f"{err64:.3e} (torch32 {noise:.1e})", _fmt(ir_err), _fmt(low_err),
                             status))

    # Case 1: the plan's initial weights in the torch model.
    torch.manual_seed(0)
    model = models.build(kind, config)
    extra = models.load_onerec_weights(model, init)
    run_case("plan weights", model, None)

    # Case 2: torch's own random weights, given to onerec-run with --weights.
    torch.manual_seed(args.seed)
    model = models.build(kind, config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, models.RMSNorm)):
                module.weight.copy_(1.0 + 0.1 * torch.randn_like(module.weight))
                if getattr(module, "bias", None) is not None:
                    module.bias.copy_(0.1 * torch.randn_like(module.bias))
            if isinstance(module, models.MoE):
                module.gate_bias.copy_(0.05 * torch.randn_like(module.gate_bias))
    tw = models.export_onerec_weights(model)
    for n in extra:              # parameters of other parts of the plan, unchanged
        tw[n] = init[n]
    tw_path = os.path.join(args.workdir, "torch_weights.safetensors")
    safetensors_io.write(tw_path, tw)
    run_case("torch weights", model, tw_path)

    # Report.
    print(f"parity {args.model} (batch {batch}, tol {args.tol:.0e}; "
          f"metric max|onerec - torch| / max|torch|)")
    if extra:
        print(f"  plan parameters outside the torch model (not compared): "
              f"{len(extra)} ({', '.join(extra[:4])}{', ...' if len(extra) > 4 else ''})")
    head = ("case", "entry", "shape", "max|ref|", "rel err", "vs torch fp64",
            "IR vs fp64", "lowered vs fp64", "status")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if plan_params is not None:
        print(f"  onerec-run weights: {len(init)} parameters exported, checked against "
              f"the plan's segments")
    print(f"  {time.time() - t0:.1f} s")
    for f in failures:
        print(f"FAIL: {f}")
    print("PASS" if not failures else "FAILED")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
