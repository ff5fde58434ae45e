#!/usr/bin/env python3
"""Checks documentation against the compiler.

Every ```rdsl block of each document must be a complete model that compiles.
With --builtins, every builtin that `onerecc --list-builtins` reports must be
documented in the first document.

usage: check_examples.py [--builtins] ONERECC WORKDIR DOC.md...
"""
import os
import re
import subprocess
import sys


def compile_examples(doc_path, onerecc, workdir):
    """Compiles every rdsl example of one document; returns (count, failures)."""
    text = open(doc_path, encoding="utf-8").read()
    examples = re.findall(r"```rdsl\n(.*?)```", text, re.S)
    if not examples:
        sys.exit(f"{doc_path}: no rdsl examples found")
    os.makedirs(workdir, exist_ok=True)
    failures = 0
    for i, example in enumerate(examples):
        # Examples that import resolve paths relative to docs/, so the
        # example is written next to the document, under a name no parallel
        # run shares.
        path = os.path.join(os.path.dirname(os.path.abspath(doc_path)),
                            f".example-{os.getpid()}-{i}.rdsl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(example)
        try:
            result = subprocess.run([onerecc, path, "--emit=mlir", "-o",
                                     os.path.join(workdir, f"{i}.mlir")],
                                    capture_output=True, text=True)
        finally:
            os.remove(path)
        if result.returncode != 0:
            failures += 1
            print(f"example {i} of {doc_path} does not compile:\n{example}\n"
                  f"{result.stderr}", file=sys.stderr)
    return len(examples), failures


def undocumented_builtins(doc_path, onerecc):
    text = open(doc_path, encoding="utf-8").read()
    listed = subprocess.run([onerecc, "--list-builtins"], capture_output=True,
                            text=True, check=True).stdout
    builtins = [line.split("(")[0] for line in listed.splitlines()
                if line and not line.startswith(" ")]
    return builtins, [b for b in builtins if f"`{b}(" not in text]


def main():
    args = sys.argv[1:]
    check_builtins = args[0] == "--builtins"
    if check_builtins:
        args = args[1:]
    onerecc, workdir, docs = args[0], args[1], args[2:]
    total = failures = 0
    for doc in docs:
        count, failed = compile_examples(doc, onerecc, workdir)
        total += count
        failures += failed
    report = f"{total} examples compiled"
    if check_builtins:
        builtins, missing = undocumented_builtins(docs[0], onerecc)
        if missing:
            failures += 1
            print(f"builtins missing from {docs[0]}: {', '.join(missing)}",
                  file=sys.stderr)
        report += f", {len(builtins)} builtins documented"
    print(report if not failures else f"{failures} problems")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
