#!/usr/bin/env python3
"""Training parity: one training step of onerec against PyTorch autograd and
torch.optim on identical weights and an identical batch.

  run_train_parity.py MODEL --onerecc BIN --onerec-run BIN --workdir DIR

MODEL is sasrec (compiled with -D dropout=0: the runtime's dropout RNG is not
torch's) or onerec-tiny. The weights are the plan's initial ones with every
norm gain / bias and the MoE gate bias perturbed (so none is trivially 1 or
0), given to onerec-run with --weights; the batch is run_parity's.

  (a) `train_grad`: the loss and EVERY `grad.<param>` against
      `loss.backward()` of the torch model (test/parity/models.py), in eval
      mode (dropout off). A torch parameter with a gradient that onerec does
      not output, or an onerec gradient no torch parameter maps to, fails.
  (b) `train_step` with optimizer.step = 1 and optimizer.hparams built from
      the plan's TrainConfig (read from the plan file; docs/training.md):
      the loss and grad_norm against torch's (pre-clipping) global norm, and
      when onerec-run can write the updated weights (`forward
      --save-weights`), every updated weight against one step of
      torch.optim.{SGD, Adam, AdamW} with the same settings, weight decay only
      on parameters the plan does not mark no_decay, clipping with
      clip_grad_norm_. For OneRec the aux-free MoE routing bias update
      (bias += rate * sign(mean(load) - load), rate 1e-3, the load recomputed
      from the torch forward's routing) is checked too.

Metric: max|onerec - torch| / max|torch| per tensor (fp32 torch), <= --tol
(1e-4); the figure against torch fp64 is printed too. Exit 0 pass, 1
mismatch or failing CLI, 77 skip without torch/numpy.
"""
import argparse
import copy
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

if __name__ == "__main__":
    import require_torch  # noqa: F401  (exits 77 without torch)

import numpy as np  # noqa: E402
import harness  # noqa: E402
import plan_reader  # noqa: E402
import safetensors_io  # noqa: E402

BATCH = {"sasrec": 8, "onerec": 4}
DEFINES = {"sasrec": ["dropout=0"], "onerec-tiny": []}
LOSS_ENTRY = {"sasrec": "bce_loss", "onerec": "ntp"}
MOE_BIAS_RATE = 1e-3
SAVE_FLAG = "--save-weights"


def read_train_config(path):
    """The plan's TrainConfig (runtime/schema/plan.fbs, Plan field 12) and
    {param name: (buffer, no_decay)}."""
    with open(path, "rb") as f:
        blob = f.read()
    import struct
    (size,) = struct.unpack_from("<I", blob, 0)
    buf = memoryview(blob)[4:4 + size]
    plan = plan_reader._Table(buf, struct.unpack_from("<I", buf, 0)[0])
    flags = {p.string(0): (bool(p.scalar(4, "B")), bool(p.scalar(5, "B")))
             for p in plan.tables(8)}
    pos = plan._field(12)
    if pos is None:
        return None, flags
    t = plan_reader._Table(buf, plan._indirect(pos))
    cfg = {"optimizer": ["sgd", "adam", "adamw"][t.scalar(0, "B")],
           "lr": t.scalar(1, "d"), "beta1": t.scalar(2, "d", 0.9),
           "beta2": t.scalar(3, "d", 0.999), "eps": t.scalar(4, "d", 1e-8),
           "weight_decay": t.scalar(5, "d"), "momentum": t.scalar(6, "d"),
           "nesterov": bool(t.scalar(7, "B")), "grad_clip": t.scalar(12, "d"),
           "accumulate": t.scalar(13, "q", 1)}
    return cfg, flags


def hparams_of(cfg):
    """optimizer.hparams as docs/training.md lays it out, for step 1."""
    h = np.zeros(8, np.float32)
    h[0] = cfg["lr"]
    if cfg["optimizer"] == "sgd":
        h[1], h[2] = cfg["momentum"], float(cfg["nesterov"])
    else:
        h[1], h[2], h[3] = cfg["beta1"], cfg["beta2"], cfg["eps"]
    h[4] = cfg["weight_decay"]
    h[5] = cfg["grad_clip"]
    h[6] = 1.0
    return h


def torch_optimizer(cfg, decay_params, no_decay_params):
    import torch
    groups = [{"params": decay_params, "weight_decay": cfg["weight_decay"]},
              {"params": no_decay_params, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if cfg["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"],
                               nesterov=cfg["nesterov"])
    cls = torch.optim.Adam if cfg["optimizer"] == "adam" else torch.optim.AdamW
    return cls(groups, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["sasrec", "onerec-tiny"])
    ap.add_argument("--onerecc", required=True)
    ap.add_argument("--onerec-run", required=True, dest="onerec_run")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--kernels", default="optimized,reference")
    args = ap.parse_args()

    import torch
    import models

    torch.set_num_threads(args.threads or 2)
    os.makedirs(args.workdir, exist_ok=True)
    _, kind, config, _ = harness.MODELS[args.model]
    cfgm = (models.SASREC_CONFIGS if kind == "sasrec" else models.ONEREC_CONFIGS)[config]
    t0 = time.time()
    failures, rows, notes = [], [], []

    plan = os.path.join(args.workdir, "plan.fb")
    try:
        harness.compile_plan(args.onerecc, args.model, plan, defines=DEFINES[args.model])
        init = harness.export_weights(args.onerec_run, plan,
                                      os.path.join(args.workdir, "init.safetensors"))
    except harness.CliError as e:
        print(f"FAIL: {e}")
        return 1
    train_cfg, flags = read_train_config(plan)
    if train_cfg is None:
        print(f"FAIL: {plan} has no train table")
        return 1

    # Weights: the plan's, norms and the routing bias perturbed.
    torch.manual_seed(args.seed)
    model = models.build(kind, config)
    extra = models.load_onerec_weights(model, init)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, models.RMSNorm)):
                module.weight.copy_(1.0 + 0.1 * torch.randn_like(module.weight))
                if getattr(module, "bias", None) is not None:
                    module.bias.copy_(0.1 * torch.randn_like(module.bias))
            if isinstance(module, models.MoE):
                module.gate_bias.copy_(0.05 * torch.randn_like(module.gate_bias))
    weights = models.export_onerec_weights(model)
    for n in extra:
        weights[n] = init[n]
    weights_path = os.path.join(args.workdir, "weights.safetensors")
    safetensors_io.write(weights_path, weights)
    model.eval()   # dropout off (the plan is compiled with rate 0 where it has any)

    rng = np.random.default_rng(args.seed)
    data = (harness.sasrec_batch(cfgm, BATCH[kind], rng) if kind == "sasrec"
            else harness.onerec_batch(cfgm, BATCH[kind], rng))
    entry = LOSS_ENTRY[kind]
    in_names = model.entries()[entry][0]
    inputs = {n: data[n] for n in in_names}

    names = model.onerec_names()
    params = dict(model.named_parameters())

    def torch_grads(m, dtype):
        m.zero_grad(set_to_none=True)
        t_in = {n: torch.from_numpy(v) for n, v in inputs.items()}
        t_in = {n: (v.to(dtype) if v.is_floating_point() else v) for n, v in t_in.items()}
        loss = m.entries()[entry][2](*t_in.values())
        loss.backward()
        mp = dict(m.named_parameters())
        g = {}
        for oname, (key, tr) in m.onerec_names().items():
            if key in mp and mp[key].grad is not None:
                a = mp[key].grad.detach().numpy()
                g[oname] = a.T if tr else a
        return float(loss.detach()), g

    # The routing load of each MoE in the forward pass, for the bias update.
    moe_inputs = {}
    for mname, module in model.named_modules():
        if isinstance(module, models.MoE):
            module.register_forward_pre_hook(
                lambda mod, inp, mname=mname: moe_inputs.__setitem__(mname, inp[0].detach()))
    moe_prefix = {key.rsplit(".", 1)[0]: oname.rsplit(".", 1)[0]
                  for oname, (key, _) in names.items() if oname.endswith("gate_bias")}
    model64 = copy.deepcopy(model).double()
    loss32, g32 = torch_grads(model, torch.float32)
    expected_bias = {}
    for mname, x in moe_inputs.items():
        mod = dict(model.named_modules())[mname]
        with torch.no_grad():
            t = x.reshape(-1, x.shape[-1])
            score = torch.softmax(t @ mod.gate, -1) + mod.gate_bias
            chosen = torch.topk(score, mod.top_k, -1).indices.reshape(-1).numpy()
        load = np.bincount(chosen, minlength=mod.gate.shape[1]) / (t.shape[0] * mod.top_k)
        expected_bias[moe_prefix[mname] + ".gate_bias"] = (
            MOE_BIAS_RATE * np.sign(load.mean() - load), load)
    loss64, g64 = torch_grads(model64, torch.float64)
    gap = model.moe_min_gap() if hasattr(model, "moe_min_gap") else None
    if gap is not None and gap < 1e-5:
        notes.append(f"MoE routing near-tie (min gap {gap:.1e}): a rounding difference may "
                     f"pick another expert")

    def err_row(label, what, out, ref, ref64):
        e = harness.rel_err(out, ref)
        e64 = harness.rel_err(out, ref64)
        ok = e <= args.tol
        rows.append((label, what, f"{e:.2e}", f"{e64:.2e}", "ok" if ok else "MISMATCH"))
        if not ok:
            failures.append(f"{label} {what}: rel err {e:.3e} > {args.tol:.0e}")
        return e

    # (a) train_grad.
    summary = {}
    kernel_sets = args.kernels.split(",")
    for kernels in kernel_sets:
        kflag = None if kernels == "default" else kernels
        label = f"train_grad [{kernels}]"
        try:
            outs = harness.forward(args.onerec_run, plan, "train_grad", inputs, args.workdir,
                                   weights=weights_path, threads=args.threads, kernels=kflag,
                                   tag=f"grad.{kernels}")
        except harness.CliError as e:
            failures.append(f"{label}: {e}")
            continue
        worst = err_row(label, "loss", outs["loss"], np.float32(loss32), np.float64(loss64))
        onerec_grads = {n[5:] for n in outs if n.startswith("grad.")}
        for n in sorted(set(g32) - onerec_grads):
            if np.any(g32[n] != 0):
                failures.append(f"{label}: torch has a nonzero gradient for {n}, onerec "
                                f"outputs no grad.{n}")
        for n in sorted(onerec_grads - set(g32)):
            failures.append(f"{label}: grad.{n} has no torch counterpart "
                            f"(not compared)")
        gmax, gname = 0.0, None
        for n in sorted(onerec_grads & set(g32)):
            e = harness.rel_err(outs[f"grad.{n}"], g32[n])
            e64 = harness.rel_err(outs[f"grad.{n}"], g64[n])
            if e > gmax:
                gmax, gname = e, n
            if not e <= args.tol:
                failures.append(f"{label} grad.{n}: rel err {e:.3e} > {args.tol:.0e} "
                                f"(vs fp64 {e64:.2e}, max|torch| "
                                f"{float(np.max(np.abs(g32[n]))):.3g})")
        rows.append((label, f"{len(onerec_grads & set(g32))} grads (worst {gname})",
                     f"{gmax:.2e}", "", "ok" if gmax <= args.tol else "MISMATCH"))
        summary[kernels] = (worst, gmax)

    # (b) train_step, step 1.
    step_inputs = dict(inputs)
    step_inputs["optimizer.step"] = np.array(1, np.int64)
    step_inputs["optimizer.hparams"] = hparams_of(train_cfg)
    help_text = subprocess.run([args.onerec_run, "forward", "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True).stdout
    can_save = SAVE_FLAG in help_text
    # torch: clip, one optimizer step, in fp32 and fp64.
    total32 = float(torch.sqrt(sum((torch.from_numpy(np.ascontiguousarray(g)).double() ** 2)
                                   .sum() for g in g32.values())))
    total64 = float(np.sqrt(sum(float((g ** 2).sum()) for g in g64.values())))

    def torch_step(m):
        mp = dict(m.named_parameters())
        keys = {key: oname for oname, (key, _) in m.onerec_names().items()}
        dec = [p for k, p in mp.items() if p.grad is not None and not flags[keys[k]][1]]
        nod = [p for k, p in mp.items() if p.grad is not None and flags[keys[k]][1]]
        if train_cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(dec + nod, train_cfg["grad_clip"])
        opt = torch_optimizer(train_cfg, dec, nod)
        opt.step()
        sd = m.state_dict()
        return {o: (sd[k].detach().numpy().T if tr else sd[k].detach().numpy())
                for o, (k, tr) in m.onerec_names().items()}

    new32 = torch_step(model)
    new64 = torch_step(model64)
    # The aux-free routing bias: bias += rate * sign(mean(load) - load), from
    # the load of the forward pass (torch model has no load; recomputed here).
    for kernels in kernel_sets:
        kflag = None if kernels == "default" else kernels
        label = f"train_step [{kernels}]"
        saved = os.path.join(args.workdir, f"updated.{kernels}.safetensors")
        try:
            out = os.path.join(args.workdir, f"step.{kernels}.out.safetensors")
            inp = os.path.join(args.workdir, f"step.{kernels}.in.safetensors")
            safetensors_io.write(inp, step_inputs)
            cmd = [args.onerec_run, "forward", plan, "--entry", "train_step", "--input", inp,
                   "--output", out, "--weights", weights_path]
            if kflag:
                cmd += ["--kernels", kflag]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            if can_save:
                cmd += [SAVE_FLAG, saved]
            harness.run(cmd, "onerec-run forward --entry train_step")
            outs = safetensors_io.read(out)
        except harness.CliError as e:
            failures.append(f"{label}: {e}")
            continue
        err_row(label, "loss", outs["loss"], np.float32(loss32), np.float64(loss64))
        err_row(label, "grad_norm", outs["grad_norm"], np.float32(total32),
                np.float64(total64))
        if not can_save:
            continue
        upd = safetensors_io.read(saved)
        wmax, wname = 0.0, None
        for n in sorted(new32):
            if n not in upd:
                failures.append(f"{label}: updated weights lack {n}")
                continue
            if n.endswith("gate_bias"):
                continue
            e = harness.rel_err(upd[n], new32[n])
            if e > wmax:
                wmax, wname = e, n
            if not e <= args.tol:
                e64 = harness.rel_err(upd[n], new64[n])
                failures.append(f"{label} updated {n}: rel err {e:.3e} > {args.tol:.0e} "
                                f"(vs fp64 {e64:.2e})")
        rows.append((label, f"updated weights (worst {wname})", f"{wmax:.2e}", "",
                     "ok" if wmax <= args.tol else "MISMATCH"))
        for n in sorted(x for x in new32 if x.endswith("gate_bias")):
            if n not in upd:
                continue
            delta = upd[n].astype(np.float64) - weights[n].astype(np.float64)
            want, load = expected_bias[n]
            e = float(np.max(np.abs(delta - want))) / MOE_BIAS_RATE
            ok = e <= 1e-3
            rows.append((label, f"{n} update (load {np.round(load, 3).tolist()})",
                         f"{e:.2e}", "", "ok" if ok else "MISMATCH"))
            if not ok:
                failures.append(f"{label} {n}: update {delta.tolist()}, expected "
                                f"rate*sign(mean(load) - load) = {want.tolist()} "
                                f"(load {load.tolist()})")
    if not can_save:
        notes.append(f"updated weights NOT compared: `onerec-run forward` has no "
                     f"{SAVE_FLAG} (it runs train_step but cannot write the updated "
                     f"parameters); loss and grad_norm of train_step are compared")

    print(f"training parity {args.model} (entry {entry}, batch {BATCH[kind]}, optimizer "
          f"{train_cfg['optimizer']} lr {train_cfg['lr']:g} wd {train_cfg['weight_decay']:g} "
          f"clip {train_cfg['grad_clip']:g}; tol {args.tol:.0e}; metric max|onerec - torch| "
          f"/ max|torch|)")
    head = ("run", "compared", "rel err", "vs torch fp64", "status")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    for n in notes:
        print(f"  note: {n}")
    print(f"  {time.time() - t0:.1f} s")
    for f in failures:
        print(f"FAIL: {f}")
    print("PASS" if not failures else "FAILED")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
