"""Errors a person can act on, and the exit code each one means.

Every command line entry point turns a `KerazooError` into its message and
its exit code; anything else is our own bug and keeps its traceback.
"""

import difflib

# One table, used everywhere (docs/exit-codes.md shows the same).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_DIVERGED = 4
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: try again and it continues.


class KerazooError(Exception):
    """Base class for errors meant for the user, not for a traceback."""

    exit_code = EXIT_INTERNAL


class UsageError(KerazooError):
    """The user asked for something that cannot work: say what and how to fix."""

    exit_code = EXIT_USAGE


class DataError(KerazooError):
    """The data itself is unusable (corrupt files, unknown labels)."""

    exit_code = EXIT_DATA


class TrainingDiverged(KerazooError):
    """The loss became NaN or infinite."""

    exit_code = EXIT_DIVERGED


class Interrupted(KerazooError):
    """Training was stopped by a signal after saving what it needs to resume."""

    exit_code = EXIT_INTERRUPTED


def is_out_of_device_memory(error):
    """Whether `error` is a device running out of memory, on any backend:
    TensorFlow's `ResourceExhaustedError`, JAX/XLA's `RESOURCE_EXHAUSTED`
    runtime error, torch's `OutOfMemoryError`."""
    text = f"{type(error).__name__} {error}"
    return any(marker in text for marker in ("RESOURCE_EXHAUSTED", "ResourceExhausted", "OutOfMemory", "out of memory"))


def closest(name, choices):
    """Return the choice closest to `name`, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name, choices):
    """A ' Did you mean 'x'?' suffix for messages, or '' when nothing is close."""
    match = closest(name, choices)
    return f" Did you mean '{match}'?" if match else ""
