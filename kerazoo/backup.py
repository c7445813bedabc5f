"""kerazoo's own training backup: everything needed to continue at the step.

Keras's `BackupAndRestore` replays the interrupted epoch from batch 0 and
writes in place; this store instead keeps, per backup, one folder
`backup/step-<global step>/` holding every variable (model weights and RNG
state, optimizer slots and loss scale, EMA, metric accumulators) in
`variables.npz` and `meta.json` (epoch, step, history, best checkpoint,
fingerprints, and the checksum of `variables.npz`, so the two are one
consistent pair).

A backup is written into a temporary folder and renamed into place, then the
`LATEST` pointer is replaced atomically, so a crash at any moment leaves the
previous backup intact; the previous backup is kept to fall back on when the
latest is unreadable.
"""

import hashlib
import json
import os
import pathlib
import shutil

import numpy as np

from kerazoo import faults

LATEST_FILE = "LATEST"
VARIABLES_FILE = "variables.npz"
META_FILE = "meta.json"
FORMAT_VERSION = 1


class BackupWriteError(Exception):
    """A backup could not be written (disk full, permissions); the previous one stands."""


class BackupStore:
    """The backups of one run, in `directory`.

    Args:
        directory: usually `RUN/backup`.
        keep: complete backups to keep (the latest and the one before it).
    """

    def __init__(self, directory, keep=2):
        self.directory = pathlib.Path(directory)
        self.keep = max(keep, 2)
        self.fallback_notes = []

    def save(self, meta, arrays):
        """Write one backup atomically; return its folder.

        Args:
            meta: JSON-serializable state; must hold "global_step".
            arrays: {name: numpy array}.

        Raises:
            BackupWriteError: the previous backup is still in place.
        """
        name = f"step-{int(meta['global_step']):09d}"
        temporary = self.directory / f".partial-{name}-{os.getpid()}"
        final = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if temporary.exists():
                shutil.rmtree(temporary)
            temporary.mkdir()
            variables = temporary / VARIABLES_FILE
            with open(variables, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            faults.maybe_crash("backup_write")
            record = dict(meta, format=FORMAT_VERSION, variables_sha256=_sha256(variables))
            _write_synced(temporary / META_FILE, json.dumps(record, indent=1, default=_plain))
            if final.exists():
                shutil.rmtree(final)
            os.replace(temporary, final)
            _write_synced(self.directory / f".{LATEST_FILE}.tmp", name)
            os.replace(self.directory / f".{LATEST_FILE}.tmp", self.directory / LATEST_FILE)
        except OSError as error:
            shutil.rmtree(temporary, ignore_errors=True)
            raise BackupWriteError(f"{type(error).__name__}: {error.strerror or error}") from error
        self._prune(keep_name=name)
        return final

    def load(self):
        """The newest readable backup as (meta, arrays), or None when there is none.

        An unreadable latest backup (truncated, corrupt, checksum mismatch)
        is skipped for the one before it; each skip is noted in
        `fallback_notes`.
        """
        self.fallback_notes = []
        for folder in self._candidates():
            try:
                return self._read(folder)
            except (OSError, ValueError, KeyError) as error:
                self.fallback_notes.append(f"backup {folder.name} is unreadable ({error}); trying the previous one")
        return None

    def latest_step(self):
        folders = self._complete()
        return int(folders[-1].name.split("-")[1]) if folders else None

    def clear(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    def _read(self, folder):
        meta = json.loads((folder / META_FILE).read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown backup format {meta.get('format')}")
        variables = folder / VARIABLES_FILE
        if _sha256(variables) != meta["variables_sha256"]:
            raise ValueError("variables.npz does not match its checksum")
        with np.load(variables) as data:
            arrays = {key: data[key] for key in data.files}
        return meta, arrays

    def _complete(self):
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_dir() and p.name.startswith("step-"))

    def _candidates(self):
        """The folder LATEST names first, then the others, newest first."""
        folders = list(reversed(self._complete()))
        pointer = self.directory / LATEST_FILE
        try:
            named = self.directory / pointer.read_text().strip()
        except OSError:
            named = None
        if named in folders:
            folders.remove(named)
            folders.insert(0, named)
        return folders

    def _prune(self, keep_name):
        folders = self._complete()
        keep = {keep_name} | {p.name for p in folders[-self.keep:]}
        for folder in folders:
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)
        for leftover in self.directory.glob(".partial-*"):
            if not leftover.name.endswith(f"-{os.getpid()}"):
                shutil.rmtree(leftover, ignore_errors=True)


def _write_synced(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)
