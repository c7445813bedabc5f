"""The run directory: where a run's identity lives and nothing is overwritten.

A run is named `<recipe>-<hash>`, the hash covering the resolved recipe, the
data source and the seed, so the same command always means the same
directory, on every worker of a multi-machine run too (no clocks involved).
"""

import contextlib
import hashlib
import json
import os
import pathlib
import socket
import tempfile

from kerazoo.errors import UsageError

DEFAULT_ROOT = "runs"
STATUS_FILE = "status.json"
LOCK_FILE = ".lock"
# What a run directory holds (docs/run-directory.md explains each).
RECIPE_FILE = "recipe.yaml"
PLAN_FILE = "plan.json"
HISTORY_FILE = "history.json"
LOG_FILE = "train.log"
MODEL_FILE = "model.keras"
CLASS_NAMES_FILE = "class_names.json"
PREPROCESSING_FILE = "preprocessing.json"
TENSORBOARD_DIR = "tensorboard"
EVALUATION_FILE = "evaluation/validation.json"
CHECKPOINT_DIR = "checkpoints"

FINISHED, RUNNING, FAILED, NEW = "finished", "running", "failed", "new"


def run_id(recipe, source, seed):
    """`<recipe name>-<8 hex digits>` from the recipe, data source and seed."""
    text = json.dumps(
        {"recipe": recipe.fingerprint(), "data": source.identity, "seed": int(seed)}, sort_keys=True
    )
    return f"{recipe.name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def default_path(recipe, source, seed, root=None):
    root = root or os.environ.get("KERAZOO_RUNS", DEFAULT_ROOT)
    return pathlib.Path(root) / run_id(recipe, source, seed)


class RunDirectory:
    """One run's folder and the few rules for writing into it."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __fspath__(self):
        return str(self.path)

    def __truediv__(self, name):
        return self.path / name

    def status(self):
        """The saved status dict, or {"state": "new"} for an empty folder."""
        file = self.path / STATUS_FILE
        if not file.exists():
            if self.path.exists() and any(p.name != LOCK_FILE for p in self.path.iterdir()):
                return {"state": "foreign"}
            return {"state": NEW}
        try:
            return json.loads(file.read_text())
        except (OSError, ValueError):
            return {"state": FAILED, "reason": "status.json is unreadable"}

    @property
    def state(self):
        return self.status().get("state", NEW)

    def create(self):
        """Make the folder and prove it can be written before any training."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / TENSORBOARD_DIR).mkdir(exist_ok=True)
            (self.path / CHECKPOINT_DIR).mkdir(exist_ok=True)
            probe = self.path / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise UsageError(
                f"Cannot write the run directory '{self.path}' ({error.strerror or error}). "
                "Choose a writable place with --run-dir or KERAZOO_RUNS."
            ) from None

    @contextlib.contextmanager
    def lock(self):
        """Hold the run for this process; a second process gets a clear refusal."""
        import fcntl

        handle = open(self.path / LOCK_FILE, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise UsageError(
                f"Run {self.path} is being trained right now by {owner}. Wait for it, or pass another --run-dir."
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()} on {socket.gethostname()}")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def set_status(self, state, **details):
        self.write_json(STATUS_FILE, {"state": state, **details})

    def write_json(self, name, data):
        self.write_text(name, json.dumps(data, indent=2, default=_json_default) + "\n")

    def read_json(self, name):
        return json.loads((self.path / name).read_text())

    def write_text(self, name, text):
        """Write atomically: a reader sees the old file or the new, never half."""
        target = self.path / name
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def _json_default(value):
    # numpy scalars and tuples from Keras logs
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
