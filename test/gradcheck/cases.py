"""Gradient-check cases: one tiny model per differentiable rec op.

Each case is a loss `l = sum(EXPR * proj)` (or EXPR itself when it is already
a scalar loss) over `param`s, which get gradients, and `input`s, which do
not. `proj` is a fixed random input of EXPR's shape, so every output element
of the op matters. Parameter values are chosen by the driver (gradcheck.py)
and given to onerec-run with --weights; `gen` overrides the default normal
draw for a parameter or an input to stay away from non-differentiable points
(relu at 0, max ties, log of negatives).
"""
import numpy as np


class Case:
    def __init__(self, name, group, decls, expr, shape, gen=None, inputs=None, scalar=False,
                 fd_step=1e-6):
        self.name, self.group, self.decls, self.expr = name, group, decls, expr
        self.shape = shape            # EXPR's shape (the proj input), None for a scalar loss
        self.gen = gen or {}          # name -> fn(rng, shape) for params
        self.inputs = inputs or {}    # name -> fn(rng) for inputs other than proj
        self.scalar = scalar
        self.fd_step = fd_step

    def source(self):
        lines = [f"model gc_{self.name.replace('-', '_').replace('/', '_')} {{"]
        lines += ["  " + d for d in self.decls]
        if self.scalar:
            lines.append(f"  loss l = {self.expr}")
        else:
            shape = ", ".join(map(str, self.shape))
            lines.append(f"  input proj : f32[{shape}]")
            lines.append(f"  loss l = sum({self.expr} * proj)")
        lines += ["  train {", "    optimizer sgd(lr = 0.1)", "    stage s { minimize l }",
                  "  }", "}", ""]
        return "\n".join(lines)


def _away_from_zero(rng, shape, lo=0.2):
    x = rng.uniform(lo, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return x.astype(np.float32)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape).astype(np.float32)


def _distinct(rng, shape):
    """Values whose pairwise gaps are at least 0.05 (no ties for max/min)."""
    n = int(np.prod(shape))
    v = (np.arange(n) * 0.1 - n * 0.05 + rng.uniform(0, 0.04, n)).astype(np.float32)
    return rng.permutation(v).reshape(shape)


def _ids(vocab, shape):
    return lambda rng: rng.integers(0, vocab, size=shape, dtype=np.int64)


def _bool(shape, p=0.7):
    return lambda rng: rng.uniform(size=shape) < p


P = "param a : f32[3, 5] = normal(0.0, 1.0)"
PB = "param b : f32[5] = normal(0.0, 1.0)"


def all_cases():
    cases = []
    add = cases.append
    # --- unary elementwise
    for op, gen in [("neg", None), ("abs", _away_from_zero), ("exp", None), ("log", _positive),
                    ("sqrt", _positive), ("rsqrt", _positive), ("tanh", None),
                    ("sigmoid", None), ("silu", None), ("gelu", None),
                    ("relu", _away_from_zero)]:
        expr = "-a" if op == "neg" else f"{op}(a)"
        add(Case(op, "unary", [P], expr, [3, 5], gen={"a": gen} if gen else None))
    # --- binary elementwise with broadcasting ([3, 5] with [5], and [3, 1] with [1, 5])
    for op, expr in [("add", "a + b"), ("sub", "a - b"), ("mul", "a * b"), ("div", "a / b"),
                     ("pow", "pow(a, b)"), ("maximum", "maximum(a, b)"),
                     ("minimum", "minimum(a, b)")]:
        gen = {}
        if op == "div":
            gen["b"] = _away_from_zero
        if op == "pow":
            gen["a"] = _positive
        if op in ("maximum", "minimum"):
            gen["a"] = lambda rng, s: _distinct(rng, s)
            gen["b"] = lambda rng, s: _distinct(rng, s) + np.float32(0.025)
        add(Case(op, "binary", [P, PB], expr, [3, 5], gen=gen))
        add(Case(op + "-bcast2", "binary",
                 ["param a : f32[3, 1] = normal(0.0, 1.0)",
                  "param b : f32[1, 5] = normal(0.0, 1.0)"], expr, [3, 5], gen=gen))
    add(Case("select", "binary", [P, PB, "input c : bool[3, 5]"], "where(c, a, b)", [3, 5],
             inputs={"c": _bool([3, 5])}))
    add(Case("cast", "shape", [P, "input m : bool[3, 5]"],
             "cast(a, f32) * cast(m, f32)", [3, 5], inputs={"m": _bool([3, 5])}))
    # --- shapes
    add(Case("reshape", "shape", [P], "reshape(a, [5, 3])", [5, 3]))
    add(Case("broadcast", "shape", [PB], "broadcast(b, [3, 5])", [3, 5]))
    add(Case("unsqueeze-broadcast", "shape", [P], "a * unsqueeze(sum(a, axis = 0), 0)",
             [3, 5]))
    add(Case("transpose", "shape", ["param a : f32[2, 3, 4] = normal(0.0, 1.0)"],
             "transpose(a, [2, 0, 1])", [4, 2, 3]))
    add(Case("concat", "shape", [P, "param c : f32[2, 5] = normal(0.0, 1.0)"],
             "concat([a, c, a], axis = 0)", [8, 5]))
    add(Case("slice", "shape", [P], "slice(a, 1, 1, 4)", [3, 3]))
    add(Case("gather", "shape", [P, "input idx : i64[6]"], "gather(a, idx, axis = 1)", [3, 6],
             inputs={"idx": lambda rng: np.array([4, 0, 4, 2, 2, 1], np.int64)}))
    add(Case("scatter_add", "shape",
             [P, "param src : f32[3, 4] = normal(0.0, 1.0)", "input idx : i64[4]"],
             "scatter_add(a, idx, src, axis = 1)", [3, 5],
             inputs={"idx": lambda rng: np.array([3, 0, 3, 1], np.int64)}))
    # --- embeddings
    add(Case("embedding", "embedding", ["param t : f32[6, 4] = normal(0.0, 1.0)",
                                        "input ids : id<6>[3, 4]"],
             "embed(ids, table = t)", [3, 4, 4],
             inputs={"ids": lambda rng: np.array([[1, 1, 0, 5], [2, 5, 5, 5], [0, 3, 1, 1]],
                                                 np.int64)}))
    for comb, shape in [("sum", [3, 2, 5]), ("mean", [3, 2, 5]), ("concat", [3, 2, 15])]:
        add(Case(f"embedding-sid-{comb}", "embedding",
                 ["param t : f32[12, 5] = normal(0.0, 1.0)", "input s : sid<4>[3, 2, 3]"],
                 f"embed(s, table = t, combine = {comb})", shape,
                 inputs={"s": _ids(4, [3, 2, 3])}))
    # --- reductions and normalizations
    add(Case("reduce_sum", "reduce", [P], "sum(a, axis = 1)", [3]))
    add(Case("reduce_mean", "reduce", ["param a : f32[2, 3, 4] = normal(0.0, 1.0)"],
             "mean(a, axis = [0, 2], keepdim = true)", [1, 3, 1]))
    add(Case("reduce_max", "reduce", [P], "max(a, axis = 1)", [3], gen={"a": _distinct}))
    add(Case("reduce_min", "reduce", [P], "min(a, axis = 0, keepdim = true)", [1, 5],
             gen={"a": _distinct}))
    add(Case("reduce_max_all", "reduce", [P, PB], "max(a) * b", [5], gen={"a": _distinct}))
    add(Case("softmax", "reduce", [P], "softmax(a, axis = -1)", [3, 5]))
    add(Case("log_softmax", "reduce", [P], "log_softmax(a, axis = 0)", [3, 5]))
    add(Case("rms_norm", "norm", ["param a : f32[3, 8] = normal(0.0, 1.0)"], "rmsnorm(a)",
             [3, 8]))
    add(Case("layer_norm", "norm", ["param a : f32[2, 3, 8] = normal(0.0, 1.0)"],
             "layernorm(a)", [2, 3, 8]))
    # --- matmul
    add(Case("matmul", "matmul", ["param a : f32[3, 4] = normal(0.0, 1.0)",
                                  "param b : f32[4, 5] = normal(0.0, 1.0)"],
             "matmul(a, b)", [3, 5]))
    add(Case("matmul-transpose_a", "matmul", ["param a : f32[4, 3] = normal(0.0, 1.0)",
                                              "param b : f32[4, 5] = normal(0.0, 1.0)"],
             "matmul(transpose(a), b)", [3, 5]))
    add(Case("matmul-transpose_b", "matmul", ["param a : f32[3, 4] = normal(0.0, 1.0)",
                                              "param b : f32[5, 4] = normal(0.0, 1.0)"],
             "matmul(a, b, transpose_b = true)", [3, 5]))
    add(Case("matmul-batched", "matmul", ["param a : f32[2, 3, 4] = normal(0.0, 1.0)",
                                          "param b : f32[2, 4, 5] = normal(0.0, 1.0)"],
             "matmul(a, b)", [2, 3, 5]))
    add(Case("matmul-3d-x-2d", "matmul", ["param a : f32[2, 3, 4] = normal(0.0, 1.0)",
                                          "param b : f32[4, 5] = normal(0.0, 1.0)"],
             "matmul(a, b)", [2, 3, 5]))
    add(Case("matmul-bcast-batch", "matmul", ["param a : f32[2, 3, 4] = normal(0.0, 1.0)",
                                              "param b : f32[1, 4, 5] = normal(0.0, 1.0)"],
             "matmul(a, b, transpose_b = false)", [2, 3, 5]))
    # --- attention: q [2, 4, H*dk], k/v [2, 5, Hkv*dk]
    qkv = ["param q : f32[2, 4, 8] = normal(0.0, 1.0)",
           "param k : f32[2, 5, 8] = normal(0.0, 1.0)",
           "param v : f32[2, 5, 8] = normal(0.0, 1.0)"]
    add(Case("attention", "attention", qkv, "attention(q, k, v, 2)", [2, 4, 8]))
    add(Case("attention-causal", "attention", qkv, "attention(q, k, v, 2, mask = causal)",
             [2, 4, 8]))
    add(Case("attention-padding", "attention", qkv + ["input pad : bool[2, 5]"],
             "attention(q, k, v, 2, mask = causal, padding = pad)", [2, 4, 8],
             inputs={"pad": lambda rng: np.array([[0, 1, 1, 0, 1], [0, 0, 0, 0, 1]], bool)}))
    add(Case("attention-gqa", "attention",
             ["param q : f32[2, 4, 16] = normal(0.0, 1.0)",
              "param k : f32[2, 5, 8] = normal(0.0, 1.0)",
              "param v : f32[2, 5, 8] = normal(0.0, 1.0)"],
             "attention(q, k, v, 4, kv_heads = 2)", [2, 4, 16]))
    add(Case("attention-bias", "attention", qkv + ["param bias : f32[2, 4, 5] = normal(0.0, 1.0)"],
             "attention(q, k, v, 2, bias = bias)", [2, 4, 8]))
    add(Case("attention-bias-heads", "attention",
             qkv + ["param bias : f32[1, 2, 4, 5] = normal(0.0, 1.0)"],
             "attention(q, k, v, 2, mask = causal, bias = bias)", [2, 4, 8]))
    add(Case("attention-silu", "attention", qkv + ["input pad : bool[2, 5]"],
             "attention(q, k, v, 2, padding = pad, norm = silu)", [2, 4, 8],
             inputs={"pad": lambda rng: np.array([[1, 1, 1, 0, 1], [0, 1, 1, 1, 1]], bool)}))
    # --- mixture of experts (x is a parameter so that dx is checked too)
    for act in ("gelu", "swiglu"):
        for k in (1, 2):
            add(Case(f"moe-{act}-top{k}", "moe",
                     ["param x : f32[2, 3, 8] = normal(0.0, 1.0)"],
                     f"moe(x, 4, {k}, 6, act = {act})", [2, 3, 8]))
    # --- losses
    add(Case("cross_entropy", "loss", ["param z : f32[3, 4, 6] = normal(0.0, 1.0)",
                                      "input y : id<6>[3, 4]", "input m : bool[3, 4]"],
             "cross_entropy(z, y, mask = m, label_smoothing = 0.1)", None, scalar=True,
             inputs={"y": _ids(6, [3, 4]), "m": _bool([3, 4])}))
    add(Case("cross_entropy-sum", "loss", ["param z : f32[5, 6] = normal(0.0, 1.0)",
                                          "input y : id<6>[5]"],
             "cross_entropy(z, y, reduction = sum)", None, scalar=True,
             inputs={"y": _ids(6, [5])}))
    add(Case("cross_entropy-none", "loss", ["param z : f32[5, 6] = normal(0.0, 1.0)",
                                           "input y : id<6>[5]"],
             "cross_entropy(z, y, reduction = none, label_smoothing = 0.2)", [5],
             inputs={"y": _ids(6, [5])}))
    add(Case("bce_with_logits", "loss", ["param z : f32[3, 4] = normal(0.0, 2.0)",
                                        "input y : f32[3, 4]", "input m : bool[3, 4]"],
             "bce(z, y, mask = m)", None, scalar=True,
             inputs={"y": lambda rng: rng.uniform(size=(3, 4)).astype(np.float32),
                     "m": _bool([3, 4])}))
    add(Case("sampled_softmax", "loss",
             ["param h : f32[3, 4, 5] = normal(0.0, 1.0)",
              "param t : f32[10, 5] = normal(0.0, 1.0)",
              "input pos : id<10>[3, 4]", "input neg : id<10>[3, 4, 3]",
              "input m : bool[3, 4]"],
             "sampled_softmax(h, t, pos, neg, mask = m)", None, scalar=True,
             inputs={"pos": _ids(10, [3, 4]), "neg": _ids(10, [3, 4, 3]),
                     "m": _bool([3, 4])}))
    add(Case("sampled_softmax-shared", "loss",
             ["param h : f32[3, 5] = normal(0.0, 1.0)",
              "param t : f32[10, 5] = normal(0.0, 1.0)",
              "input pos : id<10>[3]", "input neg : id<10>[4]"],
             "sampled_softmax(h, t, pos, neg, reduction = sum)", None, scalar=True,
             inputs={"pos": _ids(10, [3]), "neg": _ids(10, [4])}))
    # Accidental hits: shared negatives from a 3-item catalog cover every
    # positive (the default remove_hits leaves them out), per-position ones
    # mostly do.
    add(Case("sampled_softmax-hits-shared", "loss",
             ["param h : f32[4, 5] = normal(0.0, 1.0)",
              "param t : f32[3, 5] = normal(0.0, 1.0)",
              "input pos : id<3>[4]", "input neg : id<3>[4]"],
             "sampled_softmax(h, t, pos, neg)", None, scalar=True,
             inputs={"pos": _ids(3, [4]),
                     "neg": lambda rng: rng.permutation([0, 1, 2, 1]).astype(np.int64)}))
    add(Case("sampled_softmax-hits", "loss",
             ["param h : f32[2, 3, 5] = normal(0.0, 1.0)",
              "param t : f32[3, 5] = normal(0.0, 1.0)",
              "input pos : id<3>[2, 3]", "input neg : id<3>[2, 3, 4]"],
             "sampled_softmax(h, t, pos, neg, reduction = sum)", None, scalar=True,
             inputs={"pos": _ids(3, [2, 3]), "neg": _ids(3, [2, 3, 4])}))
    return cases


# Dropout is checked apart (gradcheck.py): training entries draw a real mask,
# which the numpy interpreter cannot reproduce.
DROPOUT = Case("dropout", "dropout", ["param a : f32[4, 16] = normal(0.0, 1.0)"],
               "dropout(a, 0.5)", [4, 16])
