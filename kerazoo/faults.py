"""Crash on purpose at a named point, for the crash-recovery tests.

`KERAZOO_CRASH_AT=<point>:<n>` kills the process with SIGKILL (as the OOM
killer or a preempted machine would) the n-th time it reaches `<point>`:
`step` (after a training step ends) or `backup_write` (halfway through
writing a backup); `nan_loss:<n>` instead makes the n-th step's loss NaN,
as a diverging run would; `oom:<n>` raises, at the end of the n-th step,
the error XLA raises when a device runs out of memory. Unset, this costs
one dictionary lookup.
"""

import os
import signal

_counts = {}


def maybe_crash(point):
    target = os.environ.get("KERAZOO_CRASH_AT")
    if not target:
        return
    name, _, count = target.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def maybe_run_out_of_memory():
    """Raise XLA's out-of-memory error when `KERAZOO_CRASH_AT=oom:<n>` says so."""
    target = os.environ.get("KERAZOO_CRASH_AT", "")
    if target.startswith("oom:"):
        _counts["oom"] = _counts.get("oom", 0) + 1
        if _counts["oom"] == int(target.split(":")[1]):
            # JAX's XlaRuntimeError is a RuntimeError with this message.
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 2147483648 bytes.")


def maybe_poison(loss):
    """The step's loss, or NaN when `KERAZOO_CRASH_AT=nan_loss:<n>` says so."""
    if os.environ.get("KERAZOO_CRASH_AT", "").startswith("nan_loss:"):
        _counts["nan_loss"] = _counts.get("nan_loss", 0) + 1
        if _counts["nan_loss"] == int(os.environ["KERAZOO_CRASH_AT"].split(":")[1]):
            return float("nan")
    return loss
