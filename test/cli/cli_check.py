"""Shared by the CLI tests: run a real binary and check its exit status and
what its output says, failing with the whole output when it disagrees."""
import os
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
