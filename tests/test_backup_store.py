"""The backup store on its own: atomic writes, fallback, retention, full disks."""

import errno
import shutil

import numpy as np
import pytest

from kerazoo.backup import BackupStore, BackupWriteError


def save(store, step, value=0.0):
    return store.save({"global_step": step, "epoch": 0}, {"model.00000": np.full((3,), value)})


def test_round_trip_and_retention(tmp_path):
    store = BackupStore(tmp_path / "backup")
    for step in (2, 4, 6):
        save(store, step, float(step))
    meta, arrays = store.load()
    assert meta["global_step"] == 6 and np.all(arrays["model.00000"] == 6.0)
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["LATEST", "step-000000004", "step-000000006"]
    assert store.latest_step() == 6


def test_unreadable_latest_falls_back_to_the_previous(tmp_path):
    store = BackupStore(tmp_path / "backup")
    save(store, 2, 2.0)
    save(store, 4, 4.0)
    variables = tmp_path / "backup" / "step-000000004" / "variables.npz"
    variables.write_bytes(variables.read_bytes()[:40])  # truncated
    meta, arrays = store.load()
    assert meta["global_step"] == 2 and np.all(arrays["model.00000"] == 2.0)
    assert "step-000000004 is unreadable" in store.fallback_notes[0]


def test_checksum_catches_a_swapped_pair(tmp_path):
    store = BackupStore(tmp_path / "backup")
    save(store, 2, 2.0)
    save(store, 4, 4.0)
    # Weights of one backup with the metadata of another are not a backup.
    shutil.copy(tmp_path / "backup" / "step-000000002" / "variables.npz", tmp_path / "backup" / "step-000000004" / "variables.npz")
    meta, _ = store.load()
    assert meta["global_step"] == 2 and "checksum" in store.fallback_notes[0]


def test_no_backup_at_all(tmp_path):
    assert BackupStore(tmp_path / "missing").load() is None


def test_full_disk_keeps_the_previous_backup(tmp_path, monkeypatch):
    store = BackupStore(tmp_path / "backup")
    save(store, 2, 2.0)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", no_space)
    with pytest.raises(BackupWriteError, match="No space left"):
        save(store, 4, 4.0)
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "backup").iterdir() if p.name.startswith(".")] == []
    meta, _ = store.load()
    assert meta["global_step"] == 2


def test_backup_callback_says_so_and_goes_on_when_the_disk_is_full(tmp_path):
    from kerazoo.callbacks.backup import Backup
    from kerazoo.callbacks.progress import Progress

    class FullStore(BackupStore):
        def save(self, meta, arrays):
            raise BackupWriteError("OSError: No space left on device")

    class Log:
        warnings = []

        def warning(self, message):
            self.warnings.append(message)

    class Model:
        variables, metrics_variables = [], []

        class optimizer:
            variables = []

    store = FullStore(tmp_path / "backup")
    store.latest_step = lambda: 6
    log = Log()
    callback = Backup(store, Progress(10, 0, 7, 7), lambda: {}, log=log)
    callback.set_model(Model())
    callback.save()  # does not raise: training goes on
    assert "No space left" in log.warnings[0] and "previous backup (step 6) is kept" in log.warnings[0]
