"""What every benchmark here reports about the machine and the run: the CPU,
the commit, the load before and after (these machines are shared and noisy),
and the JSON written to stdout and --out."""
import json
import os
import subprocess

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
    except OSError:
        pass
    return None


def git_head():
    """The commit, marked when runtime or kernel sources differ from it."""
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no",
                                "--", "runtime", "kernels", "passes", "driver", "tools"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("+uncommitted runtime/kernel changes" if dirty else "")
    except OSError:
        return None


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def finish(report, out=None):
    """Adds the load at the end (and a warning when the machine was busy at
    the start), prints the JSON and writes it to `out`."""
    report["loadavg_at_end"] = loadavg()
    busy = report.get("loadavg_at_start", [0.0])[0]
    if busy > 1.0:
        report["warning"] = (f"the machine was busy before this benchmark started (1-min "
                             f"load average {busy:.2f}): figures are noisy, torch's "
                             f"OpenMP threads especially when threads >= free cores")
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
