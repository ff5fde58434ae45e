"""A slow numpy evaluator of the `rec` IR text (`onerecc --emit=mlir`),
following the op semantics of docs/plan-format.md, in float64.

It is a second, independent reading of what a plan computes: the parity tests
use it to check the hand-written torch models against the IR itself, and it
can report every intermediate value of an entry (`trace=True`) to narrow a
mismatch down to one op. Only the inference ops the parity models use are
implemented; an unknown op raises.
"""
import re

import numpy as np

_LINE = re.compile(r"^\s*(?P<res>%[\w#]+(?::\d+)?(?:\s*,\s*%[\w#]+)*)\s*=\s*rec\.(?P<op>\w+)(?P<rest>.*)$")
_TENSOR = re.compile(r"!rec\.tensor<\[([^\]]*)\],\s*([^>]+?)>+")


def _entries(text):
    """{entry name: (arg names, body lines)} for the top-level func.funcs."""
    funcs = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^  func\.func @([\w.]+)\((.*)\) -> ", lines[i])
        if m:
            args = re.findall(r'rec\.name = "(\w+)"', m.group(2))
            body = []
            i += 1
            while not re.match(r"^  \}", lines[i]):
                body.append(lines[i])
                i += 1
            funcs[m.group(1)] = (args, body)
        i += 1
    return funcs


def _shape(spec, dims):
    out = []
    for tok in [t.strip() for t in spec.split(",") if t.strip()]:
        out.append(int(tok) if tok.lstrip("-").isdigit() else dims[tok])
    return tuple(out)


def _result_types(rest):
    """Result tensor types [(shape spec, dtype)] of an op line."""
    tail = rest.rsplit("->", 1)[1] if "->" in rest else rest.rsplit(":", 1)[1]
    return _TENSOR.findall(tail)


def _attr(rest, name, default=None):
    arr = re.search(r"\b" + name + r"\s*=\s*array<i64(?::([^>]*))?>", rest)
    if arr:
        return [int(x) for x in (arr.group(1) or "").split(",") if x.strip()]
    m = re.search(r"\b" + name + r"\s*=\s*([^,}]+)", rest)
    if not m:
        return default
    v = m.group(1).strip()
    v = re.sub(r"\s*:\s*(i64|f64|i1)$", "", v)
    if v.startswith("#rec<"):
        return v[5:].rstrip(">").split()[-1]
    if v.startswith("array<i64:"):
        return [int(x) for x in v[len("array<i64:"):].rstrip(">").split(",") if x.strip()]
    try:
        return int(v)
    except ValueError:
        return float(v)


def _flag(rest, name):
    attrs = re.search(r"\{([^}]*)\}", rest)
    return bool(attrs and re.search(r"(^|[ ,])" + name + r"($|[ ,=])", attrs.group(1))
                and not re.search(name + r"\s*=", attrs.group(1)))


def _softmax(x, axis=-1):
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _silu(x):
    return x / (1.0 + np.exp(-x))


def _gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _attention(q, k, v, mask, H, Hkv, causal, scale, bias=None, silu=False):
    B, Lq, _ = q.shape
    Lk = k.shape[-2]
    qh = q.reshape(B, Lq, H, -1).transpose(0, 2, 1, 3)
    kh = np.broadcast_to(k, (B,) + k.shape[-2:]).reshape(B, Lk, Hkv, -1).transpose(0, 2, 1, 3)
    vh = np.broadcast_to(v, (B,) + v.shape[-2:]).reshape(B, Lk, Hkv, -1).transpose(0, 2, 1, 3)
    rep = H // Hkv
    kh = np.repeat(kh, rep, axis=1)
    vh = np.repeat(vh, rep, axis=1)
    s = scale * np.einsum("bhqd,bhkd->bhqk", qh, kh)
    if bias is not None:
        s = s + np.broadcast_to(bias if bias.ndim == 4 else bias[:, None], s.shape)
    allowed = np.ones((B, H, Lq, Lk), bool)
    if causal:
        allowed &= np.tril(np.ones((Lq, Lk), bool), Lk - Lq)
    if mask is not None:
        m = mask if mask.ndim == 4 else mask[:, None]
        allowed &= np.broadcast_to(m, allowed.shape)
    if silu:
        p = np.where(allowed, _silu(s) / Lk, 0.0)
        y = np.einsum("bhqk,bhkd->bhqd", p, vh)
        return y.transpose(0, 2, 1, 3).reshape(B, Lq, -1)
    s = np.where(allowed, s, -np.inf)
    any_ = allowed.any(-1, keepdims=True)
    s = np.where(any_, s, 0.0)
    p = np.where(allowed, _softmax(s), 0.0)
    y = np.einsum("bhqk,bhkd->bhqd", p, vh)
    return y.transpose(0, 2, 1, 3).reshape(B, Lq, -1)


def _moe(x, gate, gate_bias, up, gate_proj, down, top_k, act):
    t = x.reshape(-1, x.shape[-1])
    p = _softmax(t @ gate)
    score = p + gate_bias
    # top_k largest, ties to the lower index: stable sort of -score.
    chosen = np.argsort(-score, axis=-1, kind="stable")[:, :top_k]
    w = np.take_along_axis(p, chosen, -1)
    w = w / w.sum(-1, keepdims=True)
    y = np.zeros_like(t)
    load = np.zeros(gate.shape[1])
    for n in range(t.shape[0]):
        for j in range(top_k):
            e = chosen[n, j]
            load[e] += 1
            if act == "swiglu":
                h = _silu(t[n] @ gate_proj[e]) * (t[n] @ up[e])
            elif act == "silu":
                h = _silu(t[n] @ up[e])
            elif act == "relu":
                h = np.maximum(t[n] @ up[e], 0)
            else:
                u = t[n] @ up[e]
                h = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
            y[n] += w[n, j] * (h @ down[e])
    return y.reshape(x.shape), load / (t.shape[0] * top_k)


def _cast(x, dtype):
    if dtype in ("f32", "f64", "f16", "bf16"):
        return x.astype(np.float64)
    if dtype == "i1":
        return x.astype(bool)
    return np.trunc(x).astype(np.int64) if x.dtype.kind == "f" else x.astype(np.int64)


def evaluate(ir_text, entry, inputs, params, trace=False):
    """Evaluates `entry` on {arg name: array} with {param name: array}.
    Returns the result array, or (result, [(ssa name, op, value)]) with trace."""
    funcs = _entries(ir_text)
    arg_names, body = funcs[entry]
    env = {}
    dims = {}
    sig = re.search(r"^  func\.func @" + re.escape(entry) + r"\((.*)\) -> ", ir_text, re.M).group(1)
    arg_types = _TENSOR.findall(sig)
    for i, (name, (spec, _)) in enumerate(zip(arg_names, arg_types)):
        val = np.asarray(inputs[name])
        for tok, size in zip([t.strip() for t in spec.split(",")], val.shape):
            if not tok.lstrip("-").isdigit():
                dims[tok] = size
        env[f"%arg{i}"] = val.astype(np.float64) if val.dtype.kind == "f" else val
    steps = []
    for line in body:
        line = line.strip()
        if line.startswith("return"):
            out = env[re.match(r"return\s+(%[\w#]+)", line).group(1)]
            return (out, steps) if trace else out
        m = _LINE.match(line)
        if not m:
            continue
        res = [r.strip() for r in m.group("res").split(",")]
        if ":" in res[0]:  # `%7:3 = ...` names its results %7#0, %7#1, %7#2
            name, count = res[0].split(":")
            res = [f"{name}#{i}" for i in range(int(count))]
        op, rest = m.group("op"), m.group("rest")
        head = rest.split(":", 1)[0] if op != "constant" else rest
        ops = [env[o] for o in re.findall(r"%[\w#]+", head.split("{")[0])]
        rtypes = _result_types(rest)
        rshape = _shape(rtypes[0][0], dims) if rtypes else None
        rdtype = rtypes[0][1].strip() if rtypes else None
        if op == "constant":
            v = float(re.match(r"\(([^)]*)\)", rest).group(1))
            y = np.full(rshape, v, np.float64 if rdtype.startswith("f") else np.int64)
        elif op == "param_ref":
            # @name, or @module::@name for an imported model's parameter.
            ref = re.match(r"\s*(@[\w.]+(?:::@[\w.]+)*)", rest).group(1)
            y = np.asarray(params[ref.replace("::@", ".").lstrip("@")], np.float64)
        elif op == "iota":
            ax = _attr(rest, "axis")
            y = np.broadcast_to(np.arange(rshape[ax]).reshape(
                [-1 if i == ax else 1 for i in range(len(rshape))]), rshape).astype(np.int64)
        elif op == "cmp":
            pred = re.match(r"\s*(\w+)", rest).group(1)
            a, b = ops
            y = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                 "gt": np.greater, "ge": np.greater_equal}[pred](a, b)
        elif op in ("add", "sub", "mul", "div", "maximum", "minimum", "pow"):
            a, b = ops
            y = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                 "maximum": np.maximum, "minimum": np.minimum, "pow": np.power}[op](a, b)
            if op == "div" and a.dtype.kind == "i":
                y = np.trunc(a / b).astype(np.int64)
        elif op in ("neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid",
                    "silu", "gelu", "relu", "not"):
            x = ops[0]
            y = {"neg": lambda: -x, "abs": lambda: np.abs(x), "exp": lambda: np.exp(x),
                 "log": lambda: np.log(x), "sqrt": lambda: np.sqrt(x),
                 "rsqrt": lambda: 1 / np.sqrt(x), "tanh": lambda: np.tanh(x),
                 "sigmoid": lambda: 1 / (1 + np.exp(-x)), "silu": lambda: _silu(x), "gelu": lambda: _gelu(x),
                 "relu": lambda: np.maximum(x, 0), "not": lambda: ~x}[op]()
        elif op == "select":
            y = np.where(*ops)
        elif op == "cast":
            y = _cast(ops[0], rdtype)
        elif op in ("reshape", "broadcast"):
            y = (ops[0].reshape(rshape) if op == "reshape"
                 else np.broadcast_to(ops[0], rshape).copy())
        elif op == "dropout":
            y = ops[0]
        elif op == "transpose":
            y = ops[0].transpose(_attr(rest, "permutation"))
        elif op == "concat":
            y = np.concatenate(ops, axis=_attr(rest, "axis"))
        elif op == "slice":
            ax = _attr(rest, "axis")
            idx = [slice(None)] * ops[0].ndim
            idx[ax] = slice(_attr(rest, "start"), _attr(rest, "end"))
            y = ops[0][tuple(idx)]
        elif op == "gather":
            x, ind = ops
            y = np.take(x, ind.astype(np.int64), axis=_attr(rest, "axis"))
        elif op == "scatter_add":
            x, ind, src = ops
            ax = _attr(rest, "axis")
            y = np.moveaxis(x.copy(), ax, 0)
            s = np.moveaxis(src, ax, 0)
            s = s.reshape((-1,) + y.shape[1:]) if ind.ndim != 1 else s
            np.add.at(y, ind.reshape(-1).astype(np.int64), s)
            y = np.moveaxis(y, 0, ax)
        elif op == "embedding":
            table, ids = ops
            ids_type = _TENSOR.findall(rest.split("->")[0])[1][1]
            m2 = re.match(r"!rec\.sid<(\d+)", ids_type.strip())
            if m2:
                K = int(m2.group(1))
                rows = ids + np.arange(ids.shape[-1]) * K
                e = table[rows]
                comb = _attr(rest, "combine", "sum")
                y = (e.sum(-2) if comb == "sum" else e.mean(-2) if comb == "mean"
                     else e.reshape(e.shape[:-2] + (-1,)))
            else:
                y = table[ids]
        elif op in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min"):
            axes = tuple(_attr(rest, "axes", []) or range(ops[0].ndim))
            fn = {"reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max,
                  "reduce_min": np.min}[op]
            y = fn(ops[0], axis=axes, keepdims=_flag(rest, "keepdim"))
        elif op in ("softmax", "log_softmax"):
            ax = _attr(rest, "axis")
            y = _softmax(ops[0], ax)
            if op == "log_softmax":
                y = np.log(y)
        elif op == "layer_norm":
            x, g, b = ops
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            y = (x - mu) / np.sqrt(var + _attr(rest, "eps")) * g + b
        elif op == "rms_norm":
            x, g = ops
            y = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + _attr(rest, "eps")) * g
        elif op == "matmul":
            a, b = ops
            if _flag(rest, "transpose_a"):
                a = np.swapaxes(a, -1, -2)
            if _flag(rest, "transpose_b"):
                b = np.swapaxes(b, -1, -2)
            y = np.matmul(a, b)
        elif op == "gemm":
            # rec.gemm (lhs...) x (rhs...) [bias %b] [residual %r] (rec-fuse-gemm).
            groups = re.findall(r"\(([^)]*)\)", head.split("{")[0])
            lhs = [env[n] for n in re.findall(r"%[\w#]+", groups[0])]
            rhs = [env[n] for n in re.findall(r"%[\w#]+", groups[1])]
            ta, tb = _flag(rest, "transpose_a"), _flag(rest, "transpose_b")
            prods = [np.matmul(np.swapaxes(a, -1, -2) if ta else a,
                               np.swapaxes(b, -1, -2) if tb else b)
                     for a, b in zip(lhs * len(rhs) if len(lhs) == 1 else lhs, rhs)]
            epi = _attr(rest, "epilogue", "none")
            if len(lhs) == 1 and len(rhs) > 1 and epi != "swiglu":
                for r, p in zip(res[1:], prods[1:]):
                    env[r] = p
                y = prods[0]
            elif epi == "swiglu":
                y = _silu(prods[0]) * prods[1]
            else:
                y = sum(prods)
                mb = re.search(r"\bbias\s+(%[\w#]+)", head)
                if mb:
                    y = y + env[mb.group(1)]
                y = {"none": lambda v: v, "relu": lambda v: np.maximum(v, 0),
                     "gelu": _gelu, "silu": _silu, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
                     "tanh": np.tanh}[epi](y)
                mr = re.search(r"\bresidual\s+(%[\w#]+)", head)
                if mr:
                    y = y + env[mr.group(1)]
        elif op == "attention":
            q, k, v = ops[:3]
            mask = None
            mm = re.search(r"\bmask\s+(%[\w#]+)", head)
            if mm:
                mask = env[mm.group(1)]
            bias = None
            mb = re.search(r"\bbias\s+(%[\w#]+)", head)
            if mb:
                bias = env[mb.group(1)]
            norm = _attr(rest, "score_norm", "softmax")
            if norm not in ("softmax", "silu"):
                raise NotImplementedError(f"attention score_norm {norm}")
            y = _attention(q, k, v, mask, _attr(rest, "num_heads"), _attr(rest, "num_kv_heads"),
                           _flag(rest, "causal"), _attr(rest, "scale"), bias, norm == "silu")
        elif op == "moe":
            names = re.findall(r"%[\w#]+", head.split("{")[0])
            x, gate, gbias, up = (env[n] for n in names[:4])
            gp = None
            mg = re.search(r"gate_proj\s+(%[\w#]+)", head)
            if mg:
                gp = env[mg.group(1)]
            down = env[names[-1]]
            y, load = _moe(x, gate, gbias, up, gp, down, _attr(rest, "top_k"),
                           _attr(rest, "activation"))
            env[res[1]] = load
        elif op == "bce_with_logits":
            x, t = ops[:2]
            mk = ops[2] if len(ops) > 2 else np.ones_like(x, bool)
            l = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
            red = _attr(rest, "reduction")
            y = (np.where(mk, l, 0).sum() / max(mk.sum(), 1) if red == "mean" and mk.sum()
                 else np.array(0.0) if red == "mean" else
                 np.where(mk, l, 0).sum() if red == "sum" else np.where(mk, l, 0))
        elif op == "sampled_softmax":
            h, table, pos, neg = ops[:4]
            mk = ops[4] if len(ops) > 4 else np.ones(pos.shape, bool)
            ps = np.sum(h * table[pos], -1)
            ns = (np.einsum("...d,...nd->...n", h, table[neg]) if neg.ndim == pos.ndim + 1
                  else h @ table[neg].T)
            if _flag(rest, "remove_hits"):
                # Accidental hits: a negative equal to the position's positive
                # is left out of that position's softmax.
                negs = neg if neg.ndim == pos.ndim + 1 else np.broadcast_to(
                    neg, pos.shape + neg.shape)
                ns = np.where(negs == pos[..., None], -np.inf, ns)
            sc = np.concatenate([ps[..., None], ns], -1)
            m = sc.max(-1, keepdims=True)
            l = (np.log(np.exp(sc - m).sum(-1)) + m[..., 0]) - ps
            red = _attr(rest, "reduction")
            y = (np.where(mk, l, 0).sum() / mk.sum() if red == "mean" and mk.sum()
                 else np.array(0.0) if red == "mean" else
                 np.where(mk, l, 0).sum() if red == "sum" else np.where(mk, l, 0))
        elif op == "cross_entropy":
            logits, labels = ops[:2]
            mk = ops[2] if len(ops) > 2 else np.ones(labels.shape, bool)
            ls = _attr(rest, "label_smoothing", 0.0) or 0.0
            lp = logits - logits.max(-1, keepdims=True)
            lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
            nll = -np.take_along_axis(lp, labels[..., None].astype(np.int64), -1)[..., 0]
            l = (1 - ls) * nll - ls * lp.mean(-1)
            red = _attr(rest, "reduction")
            y = (np.where(mk, l, 0).sum() / mk.sum() if red == "mean" and mk.sum()
                 else np.array(0.0) if red == "mean" else
                 np.where(mk, l, 0).sum() if red == "sum" else np.where(mk, l, 0))
        else:
            raise NotImplementedError(f"ir_eval: op rec.{op}")
        y = np.asarray(y)
        if rshape is not None and op != "moe" and y.shape != rshape:
            raise ValueError(f"ir_eval: {res[0]} = rec.{op}: shape {y.shape}, IR says {rshape}")
        env[res[0]] = y
        if trace:
            steps.append((res[0], op, y))
    raise ValueError(f"entry {entry}: no return")
