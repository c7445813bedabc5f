"""Crash on purpose at a named point, for the crash-recovery tests.

`KERAZOO_CRASH_AT=<point>:<n>` kills the process with SIGKILL (as the OOM
killer or a preempted machine would) the n-th time it reaches `<point>`:
`step` (after a training step ends) or `backup_write` (halfway through
writing a backup); `nan_loss:<n>` instead makes the n-th step's loss NaN,
as a diverging run would. Unset, this costs one dictionary lookup.
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


def maybe_poison(loss):
    """The step's loss, or NaN when `KERAZOO_CRASH_AT=nan_loss:<n>` says so."""
    if os.environ.get("KERAZOO_CRASH_AT", "").startswith("nan_loss:"):
        _counts["nan_loss"] = _counts.get("nan_loss", 0) + 1
        if _counts["nan_loss"] == int(os.environ["KERAZOO_CRASH_AT"].split(":")[1]):
            return float("nan")
    return loss
