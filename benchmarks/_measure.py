"""Side-by-side measurement helpers shared by the benchmark scripts.

Candidates are run interleaved (A, B, A, B, ...) so that slow phases of a
shared machine hit all of them alike; we report the median of the repeats
and their spread (min-max), never a single timing.
"""

import platform
import statistics
import subprocess
import time


def interleaved(candidates, repeats):
    """Run each zero-argument callable `repeats` times, interleaved.

    Returns {name: [seconds, ...]}.
    """
    timings = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    return timings


def summary(values):
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "repeats": len(values),
    }


def command(*argv):
    """A callable that runs a command and fails loudly if it fails."""

    def run():
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return run


def machine():
    """A one-line description of this machine for the docs."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
