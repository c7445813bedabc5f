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


def steady_state_clock(steps_per_epoch):
    """A Keras callback timing each epoch's steady state: from the end of
    its first step (or first execution, with steps_per_execution) to the
    end of its last (`steps_per_epoch`), so that compilation, the input
    pipeline's start and the epoch boundary (validation, checkpoints) stay
    out. It waits for the device only at those two points, so asynchronous
    dispatch is left as it is in between.

    `.epoch_seconds_per_step` holds one figure per epoch, and
    `.epoch_seconds` each epoch's wall time, from its start to the end of
    this callback's `on_epoch_end` (validation and the epoch-end work of
    the callbacks before it included).
    """
    import keras

    class SteadyStateClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch_seconds_per_step = []
            self.epoch_seconds = []
            self._first = None
            self._epoch_start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._first = None
            self._epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_seconds.append(time.perf_counter() - self._epoch_start)

        def on_train_batch_end(self, batch, logs=None):
            if self._first is not None and batch < steps_per_epoch - 1:
                return
            keras.ops.convert_to_numpy(logs["loss"])  # wait for the step's result
            now = time.perf_counter()
            if self._first is None:
                self._first = (batch, now)
            elif batch > self._first[0]:
                first_batch, first_time = self._first
                self.epoch_seconds_per_step.append((now - first_time) / (batch - first_batch))

    return SteadyStateClock()


def paired_ratios(numerators, denominators):
    """Per-repeat ratios a_i / b_i of two interleaved candidates."""
    return [a / b for a, b in zip(numerators, denominators)]


def describe(values, unit="s", scale=1.0, digits=3):
    """'median (min - max, n repeats)' of `values` for a table."""
    figures = summary(values)
    fmt = f"{{:.{digits}f}}"
    unit = f" {unit}" if unit else ""
    return (f"{fmt.format(figures['median'] * scale)}{unit} "
            f"({fmt.format(figures['min'] * scale)} - {fmt.format(figures['max'] * scale)}, {figures['repeats']} repeats)")


def write_figures(path, args, **figures):
    """Write a script's figures as JSON, with the machine and the arguments."""
    import json
    import pathlib

    pathlib.Path(path).write_text(json.dumps({"machine": machine(), "arguments": vars(args), **figures}, indent=2))
