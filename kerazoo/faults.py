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


def _reached(point):
    """True the n-th time `point` is reached when `KERAZOO_CRASH_AT=<point>:<n>`
    names it (n defaults to 1)."""
    target = os.environ.get("KERAZOO_CRASH_AT")
    if not target:
        return False
    name, _, count = target.partition(":")
    if name != point:
        return False
    _counts[point] = _counts.get(point, 0) + 1
    return _counts[point] == int(count or 1)


def maybe_crash(point):
    if _reached(point):
        os.kill(os.getpid(), signal.SIGKILL)


def maybe_run_out_of_memory():
    """Raise XLA's out-of-memory error when `KERAZOO_CRASH_AT=oom:<n>` says so."""
    if _reached("oom"):
        # JAX's XlaRuntimeError is a RuntimeError with this message.
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 2147483648 bytes.")


def maybe_poison(loss):
    """The step's loss, or NaN when `KERAZOO_CRASH_AT=nan_loss:<n>` says so."""
    return float("nan") if _reached("nan_loss") else loss
