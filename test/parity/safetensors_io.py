"""Minimal safetensors reader/writer (HF layout) on numpy, no third-party package.

File layout: u64 little-endian header length N, N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {...}},
then the raw little-endian tensor bytes (offsets relative to the end of the header).
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("bool"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def _bf16_to_f32(raw):
    u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
    return (u16 << 16).view(np.float32)


def read(path):
    """Returns {name: numpy array} (BF16 is widened to float32)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(int(s) for s in info["shape"])
        raw = data[begin:end]
        if info["dtype"] == "BF16":
            arr = _bf16_to_f32(raw)
        else:
            dt = _DTYPES.get(info["dtype"])
            if dt is None:
                raise ValueError(f"{path}: {name}: unsupported dtype {info['dtype']}")
            arr = np.frombuffer(raw, dtype=dt)
        count = int(np.prod(shape)) if shape else 1
        if arr.size != count:
            raise ValueError(f"{path}: {name}: {arr.size} elements for shape {shape}")
        out[name] = arr.reshape(shape).copy()
    return out


def write(path, tensors, metadata=None):
    """Writes {name: numpy array} as the HF library does: tensors ordered by
    element size (largest first) then name, contiguous data offsets, the header
    padded with spaces to a multiple of 8 bytes."""
    arrays = {}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        arr = arr.copy(order="C") if not arr.flags.c_contiguous else arr
        key = _NAMES.get(arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">"
                         else arr.dtype)
        if key is None:
            raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
        arrays[name] = (key, arr.astype(_DTYPES[key], copy=False))
    order = sorted(arrays, key=lambda n: (-arrays[n][1].dtype.itemsize, n))
    header = {}
    offset = 0
    for name in order:
        key, arr = arrays[name]
        header[name] = {"dtype": key, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for name in order:
            f.write(arrays[name][1].tobytes())
