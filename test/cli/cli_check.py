"""Shared by the CLI tests: run a real binary and check its exit status and
what its output says, failing with the whole output when it disagrees;
write a catalog file without the tokenizer."""
import json
import os
import struct
import subprocess
import sys


def runner(binary, tool):
    """A run(*args, exit=, stdout=, stderr=) for `binary`, whose errors must
    start with '<tool>: error: '."""
    def run(*args, exit=0, stdout=(), stderr=()):
        proc = subprocess.run([binary, *args], capture_output=True, text=True)
        problems = []
        if proc.returncode != exit:
            problems.append(f"exit status {proc.returncode}, expected {exit}")
        problems += [f"stdout lacks {s!r}" for s in stdout if s not in proc.stdout]
        problems += [f"stderr lacks {s!r}" for s in stderr if s not in proc.stderr]
        prefix = f"{tool}: error: "
        if exit and not proc.stderr.startswith(prefix):
            problems.append(f"stderr does not start with {prefix!r}")
        if problems:
            print("$", binary, *args)
            print("--- stdout\n" + proc.stdout + "--- stderr\n" + proc.stderr)
            sys.exit("FAIL: " + "; ".join(problems))
        return proc
    return run


def writer(directory, prefix=""):
    """A work(name, content=None) that returns the path of prefix + `name`
    in `directory`, writing `content` (text or bytes) there when given."""
    def work(name, content=None):
        path = os.path.join(directory, prefix + name)
        if content is not None:
            with open(path, "wb" if isinstance(content, bytes) else "w") as f:
                f.write(content)
        return path
    return work


def write_catalog(file, item_ids, codes, levels, codebook):
    """The onerec-catalog safetensors layout: item_ids I64 [N], codes I32
    [N, levels], the code trie breadth-first in CSR form (trie.offsets I64
    [nodes + 1], trie.codes / trie.children I32 [edges], each node's edges
    by code), metadata format, version, levels, codebook."""
    rows = sorted(range(len(item_ids)), key=lambda r: codes[r])
    offsets, edge_codes, children = [0], [], []
    level_nodes = [rows]  # the nodes of a depth, each a list of rows
    next_id = 1
    for depth in range(levels + 1):
        next_level = []
        for node_rows in level_nodes:
            if depth < levels:
                groups = {}
                for r in node_rows:
                    groups.setdefault(codes[r][depth], []).append(r)
                for code in sorted(groups):
                    edge_codes.append(code)
                    children.append(next_id)
                    next_id += 1
                    next_level.append(groups[code])
            offsets.append(len(edge_codes))
        level_nodes = next_level
    tensors = [
        ("item_ids", "I64", [len(item_ids)], struct.pack(
            f"<{len(item_ids)}q", *item_ids)),
        ("codes", "I32", [len(item_ids), levels], struct.pack(
            f"<{len(item_ids) * levels}i", *[c for row in codes for c in row])),
        ("trie.offsets", "I64", [len(offsets)], struct.pack(
            f"<{len(offsets)}q", *offsets)),
        ("trie.codes", "I32", [len(edge_codes)], struct.pack(
            f"<{len(edge_codes)}i", *edge_codes)),
        ("trie.children", "I32", [len(children)], struct.pack(
            f"<{len(children)}i", *children)),
    ]
    header = {"__metadata__": {"format": "onerec-catalog", "version": "1",
                               "levels": str(levels),
                               "codebook": str(codebook)}}
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(file, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, _, data in tensors:
            f.write(data)
    return file
