"""PyTorch reference for TIGER generation: the model, the catalog, and two
constrained beam searches with the same semantics (uncached and cached).

TIGER (models/tiger.rdsl) is a T5-style encoder-decoder over semantic-ID
tokens: level l's code c is token l*K + c, BOS is levels*K, an item is
[BOS, c1, .., c_levels]. This module follows onerec's lowering op by op
(`onerecc models/tiger.rdsl --emit=mlir`): RMSNorm with eps 1e-6 and a gain,
bias-free q/k/v/o projections of width heads*head_dim with scale
1/sqrt(head_dim), a relu FFN without biases, learned positions added after
the embedding, the user id hashed into `user_buckets` rows by splitmix64's
finalizer (kernels/lib/DataMovement.cpp, `hashKernel`), and the session head
(one [d, K] matrix per level, state j scores level j). Its layers are those
of test/parity/models.py (RMSNorm, packed_attention, the onerec-name weight
loader), imported, not copied.

Beam search (`beam_search`), the semantics onerec's `generate` is held to:

- the encoder runs once per request; the user's history is right-aligned in
  the `hist` slots, earlier slots are code 0 at every level (as
  data/include/onerec/Data/Catalog.h, fillHistoryCodes);
- step l (l = 0 .. levels-1) scores level l for every live beam (step 0: one
  beam, [BOS]); a candidate is (beam, code) with `code` a child of the
  beam's node in the catalog's code trie, so every finished beam is a real
  item; its score is the beam's score + log_softmax(logits over all K)[code];
- the next beams are the `width` best candidates, ties to the lower
  candidate index, candidates numbered beam-major then code ascending
  (beam b, code c -> b*K + c); fewer when fewer candidates exist;
- the result per request: every finished beam, best first, as (item id,
  codes, score). Only `items = 1` (one item per session): TIGER's decoder has
  levels + 1 positions.

Two implementations of the scoring, one selection (`_select`):

- `UncachedBeamSearch`: per step, the decoder over the full prefix of every
  beam, with the encoder memory repeated per beam and its cross-attention
  keys and values recomputed every step, as a naive implementation does
  (Hugging Face generate without use_cache);
- `CachedBeamSearch`: the cross-attention keys and values once per request,
  shared by its beams (broadcast, not copied); a self-attention KV cache
  reordered by the beams' parents; one new position per beam per step.

Both batch the beams of all requests in one call per step.

As a command (`main`), it reads and writes onerec-run generate's files:
request lines {"id", "user", "history"}, answer lines {"id", "sessions":
[{"items", "codes", "score"}], "items": [{"item", "score"}]}.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "test", "parity"))
import models  # noqa: E402  (RMSNorm, packed_attention, load_onerec_weights)
import safetensors_io  # noqa: E402

# models/tiger.rdsl: the default (paper) config and `config tiny`.
TIGER_CONFIGS = {
    "default": dict(levels=3, codebook=256, hist=20, d=128, heads=6, head_dim=64,
                    ffn_hidden=1024, enc_layers=4, dec_layers=4, user_buckets=2000),
    "tiny": dict(levels=3, codebook=256, hist=8, d=32, heads=2, head_dim=16,
                 ffn_hidden=64, enc_layers=1, dec_layers=1, user_buckets=2000),
}


# ----------------------------------------------------------------------------
# The user-id hash (rec.hash, salt 0)
# ----------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def hash_ids(ids, buckets, salt=0):
    """rec.hash: mix64(uint64(id) + 0x9E3779B97F4A7C15 * (salt + 1)) % buckets,
    in Python integers (exact 64-bit wrap-around)."""
    offset = (0x9E3779B97F4A7C15 * (salt + 1)) & _M64
    flat = [int(_mix64((int(i) + offset) & _M64) % buckets)
            for i in np.asarray(ids, np.int64).reshape(-1).astype(np.uint64)]
    return torch.tensor(flat, dtype=torch.long).reshape(np.shape(ids))


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------

class Attention(nn.Module):
    """attn / cross_attn with head_dim independent of d: wq, wk, wv [d,
    heads*head_dim], wo [heads*head_dim, d], scale 1/sqrt(head_dim)."""

    def __init__(self, d, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.scale = 1.0 / math.sqrt(head_dim)
        inner = heads * head_dim
        self.q = nn.Linear(d, inner, bias=False)
        self.k = nn.Linear(d, inner, bias=False)
        self.v = nn.Linear(d, inner, bias=False)
        self.o = nn.Linear(inner, d, bias=False)

    def forward(self, x, memory=None, causal=False):
        kv = x if memory is None else memory
        y = models.packed_attention(self.q(x), self.k(kv), self.v(kv), self.heads,
                                    self.scale, causal=causal)
        return self.o(y)

    def names(self, onerec_prefix, torch_prefix):
        return {f"{onerec_prefix}.w{p}": (f"{torch_prefix}.{p}.weight", True)
                for p in "qkvo"}


class ReluFFN(nn.Module):
    """ffn(act = relu): relu(x @ up) @ down, no biases."""

    def __init__(self, d, hidden):
        super().__init__()
        self.up = nn.Linear(d, hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down(F.relu(self.up(x)))

    def names(self, onerec_prefix, torch_prefix):
        return {f"{onerec_prefix}.{p}.w": (f"{torch_prefix}.{p}.weight", True)
                for p in ("up", "down")}


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, head_dim, ffn_hidden):
        super().__init__()
        self.norm_attn = models.RMSNorm(d)
        self.attn = Attention(d, heads, head_dim)
        self.norm_ffn = models.RMSNorm(d)
        self.ffn = ReluFFN(d, ffn_hidden)

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
    def __init__(self, d, heads, head_dim, ffn_hidden):
        super().__init__()
        self.norm_self = models.RMSNorm(d)
        self.self_attn = Attention(d, heads, head_dim)
        self.norm_cross = models.RMSNorm(d)
        self.cross_attn = Attention(d, heads, head_dim)
        self.norm_ffn = models.RMSNorm(d)
        self.ffn = ReluFFN(d, ffn_hidden)

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
        m.update(self.ffn.names(f"{p}.ffn0", f"{t}.ffn"))
        return m


class Tiger(nn.Module):
    """models/tiger.rdsl in eval mode (dropout is the identity)."""

    def __init__(self, levels, codebook, hist, d, heads, head_dim, ffn_hidden,
                 enc_layers, dec_layers, user_buckets):
        super().__init__()
        self.levels, self.codebook, self.hist = levels, codebook, hist
        self.user_buckets = user_buckets
        self.bos = levels * codebook
        self.user_emb = nn.Embedding(user_buckets, d)
        self.tokens = nn.Embedding(levels * codebook + 1, d)   # encoder and decoder
        self.enc_pos = nn.Parameter(torch.zeros(1 + hist * levels, d))
        self.dec_pos = nn.Parameter(torch.zeros(levels + 1, d))
        self.encoder = nn.ModuleList(EncoderLayer(d, heads, head_dim, ffn_hidden)
                                     for _ in range(enc_layers))
        self.enc_norm = models.RMSNorm(d)
        self.decoder = nn.ModuleList(DecoderLayer(d, heads, head_dim, ffn_hidden)
                                     for _ in range(dec_layers))
        self.dec_norm = models.RMSNorm(d)
        self.head = nn.Parameter(torch.zeros(levels, d, codebook))   # session_head
        self.register_buffer("level_offset", torch.arange(levels, dtype=torch.long) * codebook,
                             persistent=False)

    def onerec_names(self):
        m = {"tokens_table": ("tokens.weight", False),
             "enc_pos": ("enc_pos", False), "dec_pos": ("dec_pos", False),
             "encode.embed0.table": ("user_emb.weight", False),
             "encode.rmsnorm0.gain": ("enc_norm.weight", False),
             "decode.rmsnorm0.gain": ("dec_norm.weight", False),
             "decode.session_head0.w": ("head", False)}
        for i, layer in enumerate(self.encoder):
            m.update(layer.names(f"encode.enc_layer0.{i}", f"encoder.{i}"))
        for i, layer in enumerate(self.decoder):
            m.update(layer.names(f"decode.dec_layer0.{i}", f"decoder.{i}"))
        return m

    def encode(self, user, history):
        """user i64 [B] (raw ids), history i64 [B, hist, levels] codes ->
        memory [B, 1 + hist*levels, d]."""
        u = self.user_emb(hash_ids(user.numpy(), self.user_buckets)).unsqueeze(1)
        items = self.tokens((history + self.level_offset).reshape(history.shape[0], -1))
        x = torch.cat([u, items], 1) + self.enc_pos
        for layer in self.encoder:
            x = layer(x)
        return self.enc_norm(x)

    def decoder_states(self, tokens, memory):
        """The decoder over tokens [B, T] (T <= levels + 1): final normed states
        [B, T, d]."""
        y = self.tokens(tokens) + self.dec_pos[:tokens.shape[1]]
        for layer in self.decoder:
            y = layer(y, memory)
        return self.dec_norm(y)

    def decode(self, tokens, memory):
        """The plan's `decode` entry: tokens [B, levels + 1] -> [B, 1, levels, K]."""
        h = self.decoder_states(tokens, memory)[:, :self.levels]
        return torch.einsum("bld,ldc->blc", h, self.head).unsqueeze(1)


def build(config):
    return Tiger(**TIGER_CONFIGS[config])


def load(config, weights):
    """A Tiger in eval mode with `weights` ({onerec name: array}, or the path
    of a safetensors file: `onerec-run weights` output or a training
    checkpoint; optimizer state and other extra names are ignored)."""
    if isinstance(weights, str):
        weights = safetensors_io.read(weights)
    model = build(config)
    models.load_onerec_weights(model, weights)
    return model.eval()


# ----------------------------------------------------------------------------
# Catalog (docs/tokenizer.md "Catalog file": item_ids I64 [N], codes I32
# [N, levels], metadata levels and codebook) and its code trie
# ----------------------------------------------------------------------------

def _metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n).decode("utf-8")).get("__metadata__", {})


class Catalog:
    def __init__(self, item_ids, codes, levels, codebook):
        self.item_ids = np.asarray(item_ids, np.int64)
        self.codes = np.asarray(codes, np.int64)
        self.levels, self.codebook = int(levels), int(codebook)
        n = len(self.item_ids)
        if self.codes.shape != (n, self.levels):
            raise ValueError(f"catalog: codes {self.codes.shape}, expected [{n}, {self.levels}]")
        if n == 0 or self.codes.min() < 0 or self.codes.max() >= self.codebook:
            raise ValueError("catalog: empty, or a code outside [0, codebook)")
        if len(np.unique(self.item_ids)) != n:
            raise ValueError("catalog: an item id repeats")
        if len(np.unique(self.codes, axis=0)) != n:
            raise ValueError("catalog: two items share all their codes")
        self.row_of = {int(i): r for r, i in enumerate(self.item_ids)}
        # children[l]: [nodes at depth l, K] -> node at depth l+1, or -1; the
        # nodes at depth `levels` are catalog rows.
        self.children = []
        node = np.zeros(n, np.int64)     # every item's node at depth l (root: 0)
        nodes = 1
        for l in range(self.levels):
            if l + 1 < self.levels:
                _, nxt = np.unique(self.codes[:, :l + 1], axis=0, return_inverse=True)
                nxt = nxt.reshape(-1)
                count = int(nxt.max()) + 1
            else:
                nxt, count = np.arange(n, dtype=np.int64), n
            table = np.full((nodes, self.codebook), -1, np.int64)
            table[node, self.codes[:, l]] = nxt
            self.children.append(torch.from_numpy(table))
            node, nodes = nxt, count

    @staticmethod
    def load(path):
        t = safetensors_io.read(path)
        meta = _metadata(path)
        levels = int(meta.get("levels", t["codes"].shape[1]))
        return Catalog(t["item_ids"], t["codes"], levels, int(meta["codebook"]))

    def trie_csr(self):
        """The trie as data/lib/Catalog.cpp stores it: nodes numbered breadth
        first, children in code order (root 0); `offsets` [nodes + 1] (node
        n's edges are [offsets[n], offsets[n+1]); leaves have none), `codes`
        and `children` [edges]."""
        order = np.lexsort(self.codes.T[::-1])            # rows in code order
        codes = self.codes[order]
        counts, edge_codes = [], []
        parents = 1                                        # nodes at depth d
        for d in range(self.levels):
            prefix = codes[:, :d + 1]
            first = np.ones(len(prefix), bool)
            first[1:] = np.any(prefix[1:] != prefix[:-1], axis=1)
            # Each new (d+1)-prefix is one edge from the node of its d-prefix.
            if d == 0:
                parent = np.zeros(int(first.sum()), np.int64)
            else:
                pfirst = np.ones(len(prefix), bool)
                pfirst[1:] = np.any(prefix[1:, :d] != prefix[:-1, :d], axis=1)
                parent = (np.cumsum(pfirst) - 1)[first]
            counts.append(np.bincount(parent, minlength=parents))
            edge_codes.append(prefix[first, d])
            parents = int(first.sum())
        counts.append(np.zeros(parents, np.int64))         # the leaves
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        edge_codes = np.concatenate(edge_codes).astype(np.int32)
        children = np.arange(1, len(edge_codes) + 1, dtype=np.int32)
        return offsets, edge_codes, children

    def save(self, path, extra_metadata=None):
        """An onerec catalog file (format onerec-catalog, version 1), without
        codebooks: item_ids, codes and the trie (trie_csr)."""
        meta = {"format": "onerec-catalog", "version": "1",
                "levels": self.levels, "codebook": self.codebook}
        meta.update(extra_metadata or {})
        offsets, edge_codes, children = self.trie_csr()
        safetensors_io.write(path, {"item_ids": self.item_ids,
                                    "codes": self.codes.astype(np.int32),
                                    "trie.offsets": offsets, "trie.codes": edge_codes,
                                    "trie.children": children}, meta)

    @staticmethod
    def synthetic(item_ids, levels, codebook, seed):
        """Distinct random codes for `item_ids` (a stand-in for the tokenizer's
        RQ-KMeans codes; every level's codes are used about evenly)."""
        rng = np.random.default_rng(seed)
        n = len(item_ids)
        if n > codebook ** levels:
            raise ValueError("more items than code tuples")
        seen, rows = set(), []
        while len(rows) < n:
            c = tuple(int(x) for x in rng.integers(0, codebook, levels))
            if c not in seen:
                seen.add(c)
                rows.append(c)
        return Catalog(np.asarray(item_ids, np.int64), np.asarray(rows, np.int64),
                       levels, codebook)

    def history_codes(self, history, slots):
        """Item ids oldest first -> [slots, levels] codes, right-aligned, the
        slots before the first item code 0 (fillHistoryCodes, no truncation)."""
        if len(history) > slots:
            raise ValueError(f"history of {len(history)} items exceeds {slots} slots")
        out = np.zeros((slots, self.levels), np.int64)
        for i, item in enumerate(history):
            row = self.row_of.get(int(item))
            if row is None:
                raise ValueError(f"history item {item} is not in the catalog")
            out[slots - len(history) + i] = self.codes[row]
        return out


# ----------------------------------------------------------------------------
# Beam search
# ----------------------------------------------------------------------------

def _select(logits, scores, nodes, children, width):
    """One step for R requests of n beams each.

    logits [R, n, K] (this level), scores [R, n] (-inf: dead beam), nodes
    [R, n] (trie node at this depth, -1 dead). Returns the next (scores,
    nodes, parents, codes), each [R, m] with m = min(width, n*K): the best
    candidates, ties to the lower index b*K + c (a stable sort)."""
    R, n, K = logits.shape
    logp = torch.log_softmax(logits.double(), dim=-1)           # scores in double
    child = children[nodes.clamp(min=0)]                       # [R, n, K]
    child = torch.where((nodes >= 0).unsqueeze(-1), child, torch.full_like(child, -1))
    cand = scores.unsqueeze(-1) + logp
    cand = cand.masked_fill(child < 0, float("-inf")).reshape(R, n * K)
    order = torch.sort(cand, dim=1, descending=True, stable=True).indices[:, :width]
    new_scores = cand.gather(1, order)
    new_nodes = child.reshape(R, n * K).gather(1, order)
    new_nodes = torch.where(torch.isfinite(new_scores), new_nodes,
                            torch.full_like(new_nodes, -1))
    return new_scores, new_nodes, order // K, order % K


def _results(catalog, scores, nodes, codes):
    """Finished beams -> per request [{"item", "codes", "score"}], best first."""
    out = []
    for r in range(scores.shape[0]):
        sessions = []
        for b in range(scores.shape[1]):
            if nodes[r, b] < 0:
                continue
            row = int(nodes[r, b])
            sessions.append({"items": [int(catalog.item_ids[row])],
                             "codes": [[int(c) for c in codes[r, b]]],
                             "score": float(scores[r, b])})
        out.append(sessions)
    return out


class _BeamSearch:
    def __init__(self, model, catalog):
        if (catalog.levels, catalog.codebook) != (model.levels, model.codebook):
            raise ValueError(f"catalog levels/codebook {catalog.levels}/{catalog.codebook} "
                             f"do not match the model's {model.levels}/{model.codebook}")
        self.model, self.catalog = model, catalog

    def inputs(self, requests):
        """requests [{"user", "history"}] -> (user [R], history [R, hist, levels])."""
        user = torch.tensor([int(q["user"]) for q in requests], dtype=torch.long)
        hist = np.stack([self.catalog.history_codes(q["history"], self.model.hist)
                         for q in requests])
        return user, torch.from_numpy(hist)

    @torch.no_grad()
    def __call__(self, requests, width, items=1):
        """Beam search for a batch of requests; per request the finished beams,
        best first: [{"items": [id], "codes": [[..]], "score": s}]."""
        if items != 1:
            raise NotImplementedError("items > 1: TIGER's decoder has levels + 1 positions "
                                      "(one item)")
        m = self.model
        memory = m.encode(*self.inputs(requests))               # once per request
        R = memory.shape[0]
        state = self.start(memory)
        scores = torch.zeros(R, 1, dtype=torch.float64)
        nodes = torch.zeros(R, 1, dtype=torch.long)             # the root
        codes = torch.zeros(R, 1, 0, dtype=torch.long)
        for level in range(m.levels):
            logits = self.step(state, level, codes)             # [R, n, K]
            scores, nodes, parents, code = _select(logits, scores, nodes,
                                                   self.catalog.children[level], width)
            codes = torch.cat([codes.gather(1, parents.unsqueeze(-1).expand(-1, -1, level)),
                               code.unsqueeze(-1)], 2)
            state = self.reorder(state, parents)
        return _results(self.catalog, scores, nodes, codes)


class UncachedBeamSearch(_BeamSearch):
    """Every step: the decoder over every beam's whole prefix [BOS, c1..cl],
    the encoder memory repeated per beam, the cross-attention K/V recomputed."""

    def start(self, memory):
        return memory

    def step(self, memory, level, codes):
        m = self.model
        R, n = codes.shape[:2]
        tokens = torch.cat([torch.full((R, n, 1), m.bos, dtype=torch.long),
                            codes + m.level_offset[:level]], 2).reshape(R * n, level + 1)
        beams_memory = memory.repeat_interleave(n, dim=0)       # [R*n, L, d]
        h = m.decoder_states(tokens, beams_memory)[:, level]    # the last position
        return (h @ m.head[level]).reshape(R, n, -1)

    def reorder(self, memory, parents):
        return memory


class CachedBeamSearch(_BeamSearch):
    """Cross-attention K/V once per request, shared by its beams; a
    self-attention KV cache; one new position per beam per step."""

    def start(self, memory):
        cross = []
        for layer in self.model.decoder:
            a = layer.cross_attn
            R, L, _ = memory.shape
            k = a.k(memory).reshape(R, L, a.heads, a.head_dim).permute(0, 2, 3, 1)  # [R,H,dk,L]
            v = a.v(memory).reshape(R, L, a.heads, a.head_dim).transpose(1, 2)      # [R,H,L,dv]
            cross.append((k, v))
        return {"cross": cross, "self": [None] * len(self.model.decoder)}

    def step(self, state, level, codes):
        m = self.model
        R, n = codes.shape[:2]
        tok = (torch.full((R, n), m.bos, dtype=torch.long) if level == 0
               else codes[:, :, level - 1] + m.level_offset[level - 1])
        y = m.tokens(tok.reshape(R * n, 1)) + m.dec_pos[level]  # [R*n, 1, d]
        for i, layer in enumerate(m.decoder):
            # Self-attention over the cache plus this position.
            a = layer.self_attn
            h = layer.norm_self(y)
            q = a.q(h).reshape(R * n, a.heads, 1, a.head_dim)
            k = a.k(h).reshape(R * n, a.heads, 1, a.head_dim)
            v = a.v(h).reshape(R * n, a.heads, 1, a.head_dim)
            if state["self"][i] is not None:
                k = torch.cat([state["self"][i][0], k], 2)
                v = torch.cat([state["self"][i][1], v], 2)
            state["self"][i] = (k, v)
            p = torch.softmax((q @ k.transpose(-1, -2)) * a.scale, dim=-1)
            y = y + a.o((p @ v).reshape(R * n, 1, -1))
            # Cross-attention: the request's K/V broadcast over its beams.
            c = layer.cross_attn
            ck, cv = state["cross"][i]
            q = c.q(layer.norm_cross(y)).reshape(R, n, c.heads, c.head_dim).transpose(1, 2)
            p = torch.softmax((q @ ck) * c.scale, dim=-1)              # [R, H, n, L]
            out = (p @ cv).transpose(1, 2).reshape(R * n, 1, -1)
            y = y + c.o(out)
            y = y + layer.ffn(layer.norm_ffn(y))
        h = m.dec_norm(y).reshape(R, n, -1)
        return h @ m.head[level]

    def reorder(self, state, parents):
        R, n = parents.shape
        prev = state["self"][0][0].shape[0] // R if state["self"][0] is not None else 1
        flat = (parents + torch.arange(R).unsqueeze(1) * prev).reshape(-1)
        state["self"] = [(k.index_select(0, flat), v.index_select(0, flat))
                         for k, v in state["self"]]
        return state


def compare_request(a, b, tol=1e-4):
    """Two result lists of one request (best first): `identical` (same items in
    the same order, scores within tol), `equivalent` (the same up to near-ties:
    rank-wise scores within tol, common items' scores within tol, and an item
    only one side has lies within tol of that side's last score), `top1`
    (same best item), the best scores' difference and the largest difference
    over the items both have."""
    ia, ib = [s["items"] for s in a], [s["items"] for s in b]
    sa = {tuple(s["items"]): s["score"] for s in a}
    sb = {tuple(s["items"]): s["score"] for s in b}
    common = [k for k in sa if k in sb]
    common_diff = max((abs(sa[k] - sb[k]) for k in common), default=0.0)
    ranks = [abs(x["score"] - y["score"]) for x, y in zip(a, b)]
    rank_ok = len(a) == len(b) and all(d <= tol for d in ranks)
    tail_ok = (all(sa[k] <= a[-1]["score"] + tol for k in sa if k not in sb) and
               all(sb[k] <= b[-1]["score"] + tol for k in sb if k not in sa)) if a and b else True
    equivalent = rank_ok and common_diff <= tol and tail_ok
    return {"identical": ia == ib and rank_ok,
            "equivalent": equivalent,
            "top1": bool(a) and bool(b) and ia[0] == ib[0],
            "top1_score_diff": abs(a[0]["score"] - b[0]["score"]) if a and b else None,
            "max_common_score_diff": common_diff,
            "common_fraction": len(common) / max(len(a), len(b), 1)}


def compare(a, b, tol=1e-4):
    """Two beam-search results (lists per request, aligned): fractions of the
    requests that are identical / equivalent / agree on the top item, and the
    largest score differences (compare_request)."""
    per = [compare_request(x, y, tol) for x, y in zip(a, b)]
    n = max(len(per), 1)
    return {"requests": len(per),
            "identical_fraction": sum(p["identical"] for p in per) / n,
            "equivalent_fraction": sum(p["equivalent"] for p in per) / n,
            "top1_fraction": sum(p["top1"] for p in per) / n,
            "max_top1_score_diff": max((p["top1_score_diff"] or 0.0 for p in per), default=0.0),
            "max_common_score_diff": max((p["max_common_score_diff"] for p in per), default=0.0),
            "min_common_fraction": min((p["common_fraction"] for p in per), default=1.0),
            "tolerance": tol}


def answer(request, sessions):
    """One answer line in onerec-run generate's JSONL schema."""
    return {"id": request["id"], "sessions": sessions,
            "items": [{"item": s["items"][0], "score": s["score"]} for s in sessions]}


def main(argv=None):
    """The reference as a command, with onerec-run generate's files:

      generation_reference.py --config tiny --ckpt W.safetensors --catalog C \\
        --requests in.jsonl --out out.jsonl --beam 128 [--uncached] [--threads 2]
    """
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="default", choices=sorted(TIGER_CONFIGS))
    ap.add_argument("--ckpt", required=True, help="weights with onerec's names (safetensors)")
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--requests", required=True, help="JSONL: {id, user, history}")
    ap.add_argument("--out", required=True)
    ap.add_argument("--beam", type=int, default=20)
    ap.add_argument("--top", type=int, default=0, help="sessions per answer (0: all)")
    ap.add_argument("--uncached", action="store_true", help="the uncached search")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, catalog = load(args.config, args.ckpt), Catalog.load(args.catalog)
    search = (UncachedBeamSearch if args.uncached else CachedBeamSearch)(model, catalog)
    with open(args.requests) as f:
        reqs = [json.loads(line) for line in f if line.strip()]
    results = search(reqs, args.beam) if reqs else []
    with open(args.out, "w") as f:
        for q, sessions in zip(reqs, results):
            f.write(json.dumps(answer(q, sessions[:args.top or None])) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
