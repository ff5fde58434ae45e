"""PyTorch reference implementations of the onerec models, for parity tests.

Written the way a PyTorch user would write them (nn.Module, nn.Linear,
nn.Embedding, nn.LayerNorm), independently of the runtime. They follow the
lowering in the compiler's IR (`onerecc MODEL --emit=mlir`) op by op:
scales, epsilons, which tensor is normalized, which weight multiplies what.

Parameters are loaded from / exported to onerec's names
(`encode.layer0.0.attn0.wq`) through `onerec_names()`: a map from the onerec
name to (torch state_dict key, transpose). onerec stores a linear weight as
[in, out] (y = x @ W); nn.Linear stores [out, in], hence the transposes.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------
# Configurations, mirroring the `const` blocks / `config` presets of the .rdsl
# sources. The loader checks every name and shape against the plan's weights,
# so a drift between these and the .rdsl is caught, not silently absorbed.
# ----------------------------------------------------------------------------

SASREC_CONFIGS = {
    "default": dict(items=12101, max_len=50, d=64, blocks=2, heads=1),
    "ml1m": dict(items=3416, max_len=200, d=50, blocks=2, heads=1),
}

ONEREC_CONFIGS = {
    "tiny": dict(d=32, ffn_hidden=64, heads=2, enc_layers=1, dec_layers=1,
                 experts=4, top_k=2, levels=3, codebook=256, session=5,
                 short_len=20, pos_len=32, lifelong_len=64, queries=8,
                 users=1000, ages=128, genders=4, static_dim=64),
    "0.015B": dict(d=128, ffn_hidden=256, heads=4, enc_layers=2, dec_layers=2,
                   experts=0, top_k=2, levels=3, codebook=256, session=5,
                   short_len=20, pos_len=256, lifelong_len=2000, queries=128,
                   users=1000000, ages=128, genders=4, static_dim=64),
}

LAYERNORM_EPS = 1e-5   # rec.layer_norm eps in the IR
RMSNORM_EPS = 1e-6     # rec.rms_norm eps in the IR


# ----------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------

def packed_attention(q, k, v, num_heads, scale, causal=False, key_mask=None):
    """rec.attention with heads packed in the last axis.

    q [B, Lq, H*dk], k [B, Lk, H*dk], v [B, Lk, H*dv] -> [B, Lq, H*dv].
    Scores scale * q.k; with `causal`, key j is allowed for query i iff
    j <= i + (Lk - Lq); key_mask [B, Lk] (True = keep) excludes keys. A query
    with no allowed key gets zeros (not NaN).
    """
    B, Lq, _ = q.shape
    Lk = k.shape[1]
    qh = q.reshape(B, Lq, num_heads, -1).transpose(1, 2)   # [B, H, Lq, dk]
    kh = k.reshape(B, Lk, num_heads, -1).transpose(1, 2)
    vh = v.reshape(B, Lk, num_heads, -1).transpose(1, 2)
    scores = torch.matmul(qh, kh.transpose(-1, -2)) * scale
    if not causal and key_mask is None:
        probs = torch.softmax(scores, dim=-1)
    elif key_mask is None and Lk >= Lq:
        # Causal only, Lk >= Lq: key 0 is allowed for every query, no empty row.
        allowed = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device).tril(Lk - Lq)
        probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    else:
        allowed = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device)
        if causal:
            allowed = torch.tril(allowed, diagonal=Lk - Lq)
        allowed = allowed & key_mask[:, None, None, :]      # [B, 1, Lq, Lk]
        probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        probs = torch.where(allowed.any(dim=-1, keepdim=True), probs,
                            torch.zeros_like(probs))
    out = torch.matmul(probs, vh)                           # [B, H, Lq, dv]
    return out.transpose(1, 2).reshape(B, Lq, -1)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=RMSNORM_EPS):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MultiHeadAttention(nn.Module):
    """attn / cross_attn: bias-free q, k, v, o projections around rec.attention."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)

    def forward(self, x, memory=None, causal=False, key_mask=None):
        kv = x if memory is None else memory
        scale = 1.0 / math.sqrt(x.shape[-1] // self.heads)
        y = packed_attention(self.q(x), self.k(kv), self.v(kv), self.heads,
                             scale, causal=causal, key_mask=key_mask)
        return self.o(y)

    def names(self, onerec_prefix, torch_prefix):
        return {f"{onerec_prefix}.w{p}": (f"{torch_prefix}.{p}.weight", True)
                for p in "qkvo"}


class SwiGLU(nn.Module):
    """ffn(act = swiglu): (silu(x @ gate) * (x @ up)) @ down, no biases."""

    def __init__(self, d, hidden):
        super().__init__()
        self.up = nn.Linear(d, hidden, bias=False)
        self.gate = nn.Linear(d, hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))

    def names(self, onerec_prefix, torch_prefix):
        return {f"{onerec_prefix}.{p}.w": (f"{torch_prefix}.{p}.weight", True)
                for p in ("up", "gate", "down")}


class MoE(nn.Module):
    """rec.moe, swiglu experts, top-k routing with an (aux-free) gate bias.

    p = softmax(x @ gate); experts chosen by the top_k of p + gate_bias; their
    weights are their p renormalized to sum to 1.
    """

    def __init__(self, d, hidden, experts, top_k):
        super().__init__()
        self.top_k = top_k
        self.gate = nn.Parameter(torch.empty(d, experts))
        self.up = nn.Parameter(torch.empty(experts, d, hidden))
        self.gate_proj = nn.Parameter(torch.empty(experts, d, hidden))
        self.down = nn.Parameter(torch.empty(experts, hidden, d))
        self.register_buffer("gate_bias", torch.zeros(experts))
        for p in (self.gate, self.up, self.gate_proj, self.down):
            nn.init.normal_(p, 0.0, 0.02)
        self.last_min_gap = None   # smallest routing margin seen (tie check)

    def forward(self, x):
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        probs = torch.softmax(tokens @ self.gate, dim=-1)
        biased = probs + self.gate_bias
        top = torch.topk(biased, self.top_k + (1 if self.top_k < biased.shape[-1] else 0),
                         dim=-1)
        if self.top_k < biased.shape[-1]:
            self.last_min_gap = float((top.values[:, self.top_k - 1] -
                                       top.values[:, self.top_k]).min())
        chosen = top.indices[:, :self.top_k]
        weights = probs.gather(-1, chosen)
        weights = weights / weights.sum(-1, keepdim=True)
        out = torch.zeros_like(tokens)
        for e in range(self.up.shape[0]):
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            xe = tokens[rows]
            he = F.silu(xe @ self.gate_proj[e]) * (xe @ self.up[e])
            out.index_add_(0, rows, (he @ self.down[e]) * weights[rows, slot, None])
        return out.reshape(shape)

    def names(self, onerec_prefix, torch_prefix):
        return {f"{onerec_prefix}.{p}": (f"{torch_prefix}.{p}", False)
                for p in ("gate", "gate_bias", "up", "gate_proj", "down")}


# ----------------------------------------------------------------------------
# SASRec (models/sasrec.rdsl)
# ----------------------------------------------------------------------------

class SASRecBlock(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.ln_attn = nn.LayerNorm(d, eps=LAYERNORM_EPS)
        self.attn = MultiHeadAttention(d, heads)
        self.drop_attn = nn.Dropout(dropout)
        self.ln_ffn = nn.LayerNorm(d, eps=LAYERNORM_EPS)
        self.ff_up = nn.Linear(d, d)
        self.ff_down = nn.Linear(d, d)
        self.drop_ffn = nn.Dropout(dropout)

    def forward(self, x, mask):
        # As in the SASRec reference code: the residual adds the normed h.
        h = self.ln_attn(x)
        x = h + self.drop_attn(self.attn(h, causal=True, key_mask=mask))
        return x + self.drop_ffn(self.ff_down(F.relu(self.ff_up(self.ln_ffn(x)))))

    def names(self, p, t):
        m = {f"{p}.layernorm0.gain": (f"{t}.ln_attn.weight", False),
             f"{p}.layernorm0.bias": (f"{t}.ln_attn.bias", False),
             f"{p}.layernorm1.gain": (f"{t}.ln_ffn.weight", False),
             f"{p}.layernorm1.bias": (f"{t}.ln_ffn.bias", False),
             f"{p}.ffn0.up.w": (f"{t}.ff_up.weight", True),
             f"{p}.ffn0.up.b": (f"{t}.ff_up.bias", False),
             f"{p}.ffn0.down.w": (f"{t}.ff_down.weight", True),
             f"{p}.ffn0.down.b": (f"{t}.ff_down.bias", False)}
        m.update(self.attn.names(f"{p}.attn0", f"{t}.attn"))
        return m


class SASRec(nn.Module):
    def __init__(self, items, max_len, d, blocks, heads, dropout=0.2):
        super().__init__()
        self.d = d
        self.item_emb = nn.Embedding(items + 1, d)
        self.pos_emb = nn.Parameter(torch.empty(max_len, d))
        nn.init.normal_(self.pos_emb, 0.0, 0.02)
        self.emb_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(SASRecBlock(d, heads, dropout) for _ in range(blocks))
        self.ln_final = nn.LayerNorm(d, eps=LAYERNORM_EPS)

    def encode(self, seq):
        mask = seq != 0
        x = self.item_emb(seq) * math.sqrt(self.d) + self.pos_emb
        x = self.emb_drop(x) * mask.unsqueeze(-1).to(x.dtype)
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_final(x)

    def forward(self, seq):
        return self.encode(seq)[:, -1] @ self.item_emb.weight.t()

    def bce_loss(self, seq, pos, neg):
        h = self.encode(seq)
        valid = pos != 0
        pos_logit = (h * self.item_emb(pos)).sum(-1)
        neg_logit = (h * self.item_emb(neg)).sum(-1)
        return (F.binary_cross_entropy_with_logits(
                    pos_logit[valid], torch.ones_like(pos_logit[valid])) +
                F.binary_cross_entropy_with_logits(
                    neg_logit[valid], torch.zeros_like(neg_logit[valid])))

    def onerec_names(self):
        m = {"item_emb": ("item_emb.weight", False), "pos_emb": ("pos_emb", False),
             "encode.layernorm0.gain": ("ln_final.weight", False),
             "encode.layernorm0.bias": ("ln_final.bias", False)}
        for i, block in enumerate(self.blocks):
            m.update(block.names(f"encode.layer0.{i}", f"blocks.{i}"))
        return m

    # entry name -> (input names, output name, callable)
    def entries(self):
        return {
            "encode": (["seq"], "output", self.encode),
            "forward": (["seq"], "output", self.forward),
            "bce_loss": (["seq", "pos", "neg"], "loss", self.bce_loss),
        }


# ----------------------------------------------------------------------------
# OneRec (models/onerec.rdsl)
# ----------------------------------------------------------------------------

class SemanticIdEmbedding(nn.Module):
    """embed(sid, table = item_table): level l's code c is row l*K + c; the
    levels are summed (combine = sum, the default)."""

    def __init__(self, levels, codebook, d):
        super().__init__()
        self.codebook = codebook
        self.table = nn.Embedding(levels * codebook, d)
        nn.init.normal_(self.table.weight, 0.0, 0.02)
        self.register_buffer("level_offset",
                             torch.arange(levels, dtype=torch.long) * codebook,
                             persistent=False)

    def forward(self, sid):                       # [..., levels]
        return self.table(sid + self.level_offset).sum(-2)


class QFormer(nn.Module):
    """qformer(x, queries, heads): learned queries cross-attend to x (keys and
    values are NOT normalized), then a swiglu FFN of hidden 4*d, pre-RMSNorm."""

    def __init__(self, d, queries, heads):
        super().__init__()
        self.queries = nn.Parameter(torch.empty(queries, d))
        nn.init.normal_(self.queries, 0.0, 0.02)
        self.norm_attn = RMSNorm(d)
        self.attn = MultiHeadAttention(d, heads)
        self.norm_ffn = RMSNorm(d)
        self.ffn = SwiGLU(d, 4 * d)

    def forward(self, x):
        q = self.queries.expand(x.shape[0], -1, -1)
        q = q + self.attn(self.norm_attn(q), memory=x)
        return q + self.ffn(self.norm_ffn(q))

    def names(self, p, t):
        m = {f"{p}.queries": (f"{t}.queries", False),
             f"{p}.0.rmsnorm0.gain": (f"{t}.norm_attn.weight", False),
             f"{p}.0.rmsnorm1.gain": (f"{t}.norm_ffn.weight", False)}
        m.update(self.attn.names(f"{p}.0.cross_attn0", f"{t}.attn"))
        m.update(self.ffn.names(f"{p}.0.ffn0", f"{t}.ffn"))
        return m


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn_hidden):
        super().__init__()
        self.norm_attn = RMSNorm(d)
        self.attn = MultiHeadAttention(d, heads)
        self.norm_ffn = RMSNorm(d)
        self.ffn = SwiGLU(d, ffn_hidden)

    def forward(self, x):
        x = x + self.attn(self.norm_attn(x))
        return x + self.ffn(self.norm_ffn(x))

    def names(self, p, t):
        m = {f"{p}.rmsnorm0.gain": (f"{t}.norm_attn.weight", False),
             f"{p}.rmsnorm1.gain": (f"{t}.norm_ffn.weight", False)}
        m.update(self.attn.names(f"{p}.attn0", f"{t}.attn"))
        m.update(self.ffn.names(f"{p}.ffn0", f"{t}.ffn"))
        return m


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ffn_hidden, experts, top_k):
        super().__init__()
        self.norm_self = RMSNorm(d)
        self.self_attn = MultiHeadAttention(d, heads)
        self.norm_cross = RMSNorm(d)
        self.cross_attn = MultiHeadAttention(d, heads)
        self.norm_ffn = RMSNorm(d)
        self.ffn = MoE(d, ffn_hidden, experts, top_k) if experts > 0 else SwiGLU(d, ffn_hidden)

    def forward(self, y, memory):
        y = y + self.self_attn(self.norm_self(y), causal=True)
        y = y + self.cross_attn(self.norm_cross(y), memory=memory)   # memory not normed
        return y + self.ffn(self.norm_ffn(y))

    def names(self, p, t):
        m = {f"{p}.rmsnorm0.gain": (f"{t}.norm_self.weight", False),
             f"{p}.rmsnorm1.gain": (f"{t}.norm_cross.weight", False),
             f"{p}.rmsnorm2.gain": (f"{t}.norm_ffn.weight", False)}
        m.update(self.self_attn.names(f"{p}.attn0", f"{t}.self_attn"))
        m.update(self.cross_attn.names(f"{p}.cross_attn0", f"{t}.cross_attn"))
        if isinstance(self.ffn, MoE):
            m.update(self.ffn.names(f"{p}.moe0", f"{t}.ffn"))
        else:
            m.update(self.ffn.names(f"{p}.ffn0", f"{t}.ffn"))
        return m


class PScore(nn.Module):
    """P-Score preference reward model (models/pscore.rdsl), as imported by
    OneRec: target-aware items (item * mean of the history), post-residual
    session layers with pre-LayerNorm (the residual adds the un-normed x), one
    relu tower per objective, an MLP fusing the towers, mean over the session."""

    def __init__(self, levels, codebook, d=64, heads=2, layers=1, objectives=4):
        super().__init__()
        self.item_emb = SemanticIdEmbedding(levels, codebook, d)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = nn.Module()
            layer.ln_attn = nn.LayerNorm(d, eps=LAYERNORM_EPS)
            layer.attn = MultiHeadAttention(d, heads)
            layer.ln_ffn = nn.LayerNorm(d, eps=LAYERNORM_EPS)
            layer.ffn_up = nn.Linear(d, 2 * d, bias=False)
            layer.ffn_down = nn.Linear(2 * d, d, bias=False)
            self.layers.append(layer)
        self.towers = nn.ModuleList(nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))
                                    for _ in range(objectives))
        self.fuse = nn.Sequential(nn.Linear(objectives, d), nn.ReLU(), nn.Linear(d, 1))

    def logits(self, sessions, history):
        user = self.item_emb(history).mean(1)
        x = self.item_emb(sessions) * user.unsqueeze(1)
        for layer in self.layers:
            x = x + layer.attn(layer.ln_attn(x))
            x = x + layer.ffn_down(F.relu(layer.ffn_up(layer.ln_ffn(x))))
        per_objective = torch.cat([tower(x) for tower in self.towers], -1)
        return per_objective, self.fuse(per_objective).squeeze(-1).mean(1)

    def score(self, sessions, history):
        return torch.sigmoid(self.logits(sessions, history)[1])

    def names(self, p, t):
        m = {f"{p}.item_table": (f"{t}.item_emb.table.weight", False)}
        for i, layer in enumerate(self.layers):
            q, u = f"{p}.logits.session_layer0.{i}", f"{t}.layers.{i}"
            m.update({f"{q}.layernorm0.gain": (f"{u}.ln_attn.weight", False),
                      f"{q}.layernorm0.bias": (f"{u}.ln_attn.bias", False),
                      f"{q}.layernorm1.gain": (f"{u}.ln_ffn.weight", False),
                      f"{q}.layernorm1.bias": (f"{u}.ln_ffn.bias", False),
                      f"{q}.ffn0.up.w": (f"{u}.ffn_up.weight", True),
                      f"{q}.ffn0.down.w": (f"{u}.ffn_down.weight", True)})
            m.update(layer.attn.names(f"{q}.attn0", f"{u}.attn"))
        for i in range(len(self.towers)):
            for j, k in ((0, 0), (1, 2)):
                m[f"{p}.logits.tower{i}.linear{j}.w"] = (f"{t}.towers.{i}.{k}.weight", True)
                m[f"{p}.logits.tower{i}.linear{j}.b"] = (f"{t}.towers.{i}.{k}.bias", False)
        for j, k in ((0, 0), (1, 2)):
            m[f"{p}.logits.linear{j}.w"] = (f"{t}.fuse.{k}.weight", True)
            m[f"{p}.logits.linear{j}.b"] = (f"{t}.fuse.{k}.bias", False)
        return m


class OneRec(nn.Module):
    def __init__(self, d, ffn_hidden, heads, enc_layers, dec_layers, experts, top_k,
                 levels, codebook, session, short_len, pos_len, lifelong_len, queries,
                 users, ages, genders, static_dim):
        super().__init__()
        self.levels, self.codebook, self.session = levels, codebook, session
        enc_len = 1 + short_len + pos_len + queries
        # Shared semantic-ID token table of every item pathway.
        self.item_emb = SemanticIdEmbedding(levels, codebook, d)
        self.enc_pos = nn.Parameter(torch.empty(enc_len, d))
        self.dec_pos = nn.Parameter(torch.empty(session * (levels + 1), d))
        nn.init.normal_(self.enc_pos, 0.0, 0.02)
        nn.init.normal_(self.dec_pos, 0.0, 0.02)
        # Static pathway.
        self.uid_emb = nn.Embedding(users, static_dim)
        self.age_emb = nn.Embedding(ages, static_dim)
        self.gender_emb = nn.Embedding(genders, static_dim)
        self.static_proj = nn.Linear(3 * static_dim, d)
        # Short-term and positive-feedback pathways; lifelong via the qformer.
        self.short_proj = nn.Linear(d, d)
        self.positive_proj = nn.Linear(d, d)
        self.qformer = QFormer(d, queries, heads)
        self.encoder = nn.ModuleList(EncoderLayer(d, heads, ffn_hidden)
                                     for _ in range(enc_layers))
        self.enc_norm = RMSNorm(d)
        # Decoder: one token table for [BOS, level-offset codes].
        self.tok_emb = nn.Embedding(levels * codebook + 1, d)
        self.decoder = nn.ModuleList(DecoderLayer(d, heads, ffn_hidden, experts, top_k)
                                     for _ in range(dec_layers))
        self.dec_norm = RMSNorm(d)
        self.head = nn.Parameter(torch.empty(levels, d, codebook))   # session_head
        for emb in (self.uid_emb, self.age_emb, self.gender_emb, self.tok_emb):
            nn.init.normal_(emb.weight, 0.0, 0.02)
        nn.init.normal_(self.head, 0.0, 0.02)
        # The imported reward model (reward preference = pscore.score(...)).
        self.pscore = PScore(levels, codebook)

    def encode(self, uid, age, gender, short, positive, lifelong):
        profile = torch.cat([self.uid_emb(uid), self.age_emb(age), self.gender_emb(gender)], 1)
        static_token = self.static_proj(profile).unsqueeze(1)
        recent = self.short_proj(self.item_emb(short))
        engaged = self.positive_proj(self.item_emb(positive))
        lifelong_q = self.qformer(self.item_emb(lifelong))
        x = torch.cat([static_token, recent, engaged, lifelong_q], 1) + self.enc_pos
        for layer in self.encoder:
            x = layer(x)
        return self.enc_norm(x)

    def decode(self, tokens, memory):
        y = self.tok_emb(tokens) + self.dec_pos
        for layer in self.decoder:
            y = layer(y, memory)
        h = self.dec_norm(y)
        # session_head: per item the positions [BOS, s1, s2] predict [s1, s2, s3],
        # level l with its own [d, codebook] matrix.
        B = h.shape[0]
        h = h.reshape(B, self.session, self.levels + 1, -1)[:, :, :self.levels]
        return torch.einsum("bsld,ldc->bslc", h, self.head)

    def session_tokens(self, items):
        """[B, session, levels] codes -> [B, session*(levels+1)] decoder ids:
        per item [BOS, s1 + 0*K, s2 + 1*K, s3 + 2*K], BOS = levels*K."""
        B = items.shape[0]
        offset = torch.arange(self.levels, dtype=items.dtype) * self.codebook
        bos = torch.full((B, self.session, 1), self.levels * self.codebook, dtype=items.dtype)
        return torch.cat([bos, items + offset], 2).reshape(B, -1)

    def ntp(self, uid, age, gender, short, positive, lifelong, items):
        logits = self.decode(self.session_tokens(items),
                             self.encode(uid, age, gender, short, positive, lifelong))
        return F.cross_entropy(logits.reshape(-1, self.codebook), items.reshape(-1))

    def preference(self, positive, sessions):
        return self.pscore.score(sessions, positive)

    def onerec_names(self):
        m = {"item_table": ("item_emb.table.weight", False),
             "enc_pos": ("enc_pos", False), "dec_pos": ("dec_pos", False),
             "encode.embed0.table": ("uid_emb.weight", False),
             "encode.embed1.table": ("age_emb.weight", False),
             "encode.embed2.table": ("gender_emb.weight", False),
             "encode.linear0.w": ("static_proj.weight", True),
             "encode.linear0.b": ("static_proj.bias", False),
             "encode.linear1.w": ("short_proj.weight", True),
             "encode.linear1.b": ("short_proj.bias", False),
             "encode.linear2.w": ("positive_proj.weight", True),
             "encode.linear2.b": ("positive_proj.bias", False),
             "encode.rmsnorm0.gain": ("enc_norm.weight", False),
             "decode.embed0.table": ("tok_emb.weight", False),
             "decode.rmsnorm0.gain": ("dec_norm.weight", False),
             "decode.session_head0.w": ("head", False)}
        m.update(self.qformer.names("encode.qformer0", "qformer"))
        m.update(self.pscore.names("pscore", "pscore"))
        for i, layer in enumerate(self.encoder):
            m.update(layer.names(f"encode.enc_layer0.{i}", f"encoder.{i}"))
        for i, layer in enumerate(self.decoder):
            m.update(layer.names(f"decode.dec_layer0.{i}", f"decoder.{i}"))
        return m

    def entries(self):
        enc_inputs = ["uid", "age", "gender", "short", "positive", "lifelong"]
        return {
            "encode": (enc_inputs, "output", self.encode),
            "decode": (["tokens", "memory"], "output", self.decode),
            "ntp": (enc_inputs + ["items"], "loss", self.ntp),
            "preference": (["positive", "sessions"], "reward", self.preference),
        }

    def moe_min_gap(self):
        gaps = [l.ffn.last_min_gap for l in self.decoder
                if isinstance(l.ffn, MoE) and l.ffn.last_min_gap is not None]
        return min(gaps) if gaps else None


# ----------------------------------------------------------------------------
# Weight exchange
# ----------------------------------------------------------------------------

def build(model, config):
    if model == "sasrec":
        return SASRec(**SASREC_CONFIGS[config])
    if model == "onerec":
        return OneRec(**ONEREC_CONFIGS[config])
    raise ValueError(f"unknown model {model}")


def load_onerec_weights(module, weights):
    """Loads {onerec name: array} into `module`. Every name the module maps
    must be present with the right shape; returns the names in `weights` the
    module does not use (e.g. an imported sub-model's parameters)."""
    names = module.onerec_names()
    state = module.state_dict()
    missing = [n for n in names if n not in weights]
    if missing:
        raise KeyError(f"weights lack {len(missing)} parameter(s): {missing[:8]}")
    mapped_keys = {k for k, _ in names.values()}
    unmapped = [k for k in state if k not in mapped_keys]
    if unmapped:
        raise KeyError(f"torch parameters without an onerec name: {unmapped}")
    new_state = {}
    for oname, (key, transpose) in names.items():
        arr = np.asarray(weights[oname])
        t = torch.from_numpy(arr.T.copy() if transpose else arr.copy())
        if tuple(t.shape) != tuple(state[key].shape):
            raise ValueError(f"{oname}: shape {list(arr.shape)} does not fit torch "
                             f"{key} {list(state[key].shape)} (transpose={transpose})")
        new_state[key] = t.to(state[key].dtype)
    module.load_state_dict(new_state, strict=True)
    return sorted(n for n in weights if n not in names)


def export_onerec_weights(module):
    """The module's parameters and buffers as {onerec name: float32 array}."""
    state = module.state_dict()
    out = {}
    for oname, (key, transpose) in module.onerec_names().items():
        arr = state[key].detach().cpu().to(torch.float32).numpy()
        out[oname] = np.ascontiguousarray(arr.T if transpose else arr)
    return out
