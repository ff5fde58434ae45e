"""Reads the parameters and their initial values out of a plan file
(runtime/schema/plan.fbs, docs/plan-format.md) with a minimal FlatBuffers
table walker: no flatbuffers package, numpy only.

Used by the parity test to check `onerec-run weights` against the plan's own
bytes. Field numbers follow the schema's declaration order (append-only).
"""
import struct

import numpy as np

_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<f2"), 3: np.dtype("bool"),
           4: np.dtype("<i4"), 5: np.dtype("<i8")}   # 2 = bf16, widened below


class _Table:
    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        (soff,) = struct.unpack_from("<i", buf, pos)
        self.vt = pos - soff
        self.vt_size, _ = struct.unpack_from("<HH", buf, self.vt)

    def _field(self, i):
        o = 4 + 2 * i
        if o >= self.vt_size:
            return None
        (off,) = struct.unpack_from("<H", self.buf, self.vt + o)
        return self.pos + off if off else None

    def scalar(self, i, fmt, default=0):
        p = self._field(i)
        return default if p is None else struct.unpack_from("<" + fmt, self.buf, p)[0]

    def _indirect(self, p):
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def string(self, i):
        p = self._field(i)
        if p is None:
            return None
        s = self._indirect(p)
        (n,) = struct.unpack_from("<I", self.buf, s)
        return bytes(self.buf[s + 4:s + 4 + n]).decode("utf-8")

    def vector(self, i, fmt):
        p = self._field(i)
        if p is None:
            return []
        v = self._indirect(p)
        (n,) = struct.unpack_from("<I", self.buf, v)
        return list(struct.unpack_from("<%d%s" % (n, fmt), self.buf, v + 4))

    def tables(self, i):
        p = self._field(i)
        if p is None:
            return []
        v = self._indirect(p)
        (n,) = struct.unpack_from("<I", self.buf, v)
        return [_Table(self.buf, self._indirect(v + 4 + 4 * k)) for k in range(n)]


def read_params(path):
    """{name: numpy array} of the plan's initial parameter values, and a dict
    of header facts (format version, model, producer)."""
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack_from("<I", blob, 0)
    buf = memoryview(blob)[4:4 + size]
    if bytes(buf[4:8]) != b"ORPL":
        raise ValueError(f"{path}: no ORPL identifier")
    plan = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    header = {"format_major": plan.scalar(0, "H"), "format_minor": plan.scalar(1, "H"),
              "producer": plan.string(3), "model": plan.string(5)}
    segments = [(s.scalar(0, "Q"), s.scalar(1, "Q")) for s in plan.tables(10)]
    params = {}
    for p in plan.tables(8):
        name = p.string(0)
        dtype = p.scalar(1, "B")
        shape = tuple(p.vector(2, "q"))
        seg, off = p.scalar(6, "I"), p.scalar(7, "Q")
        count = int(np.prod(shape)) if shape else 1
        base = segments[seg][0] + off
        if p.scalar(8, "B") == 1:
            # Role OptimizerState (1.1): not stored; it starts at zero
            # (docs/training.md), and so does its export.
            params[name] = np.zeros(shape, np.float32 if dtype == 2 else _DTYPES[dtype])
            continue
        if dtype == 2:
            u16 = np.frombuffer(blob, "<u2", count, base).astype(np.uint32)
            arr = (u16 << 16).view(np.float32)
        else:
            arr = np.frombuffer(blob, _DTYPES[dtype], count, base)
        params[name] = arr.reshape(shape).copy()
    return params, header
