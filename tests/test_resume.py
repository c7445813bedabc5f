"""A run that is killed continues where it was: the same command (or
`kerazoo resume`) picks up at the step, and with deterministic settings ends
with the same weights as a run that was never interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import kerazoo_env, make_image_folder, read_json, run_kerazoo

# 8 steps per epoch (synthetic data holds 8 global batches), 3 epochs, a
# backup every 2 steps: backups at steps 2, 4, 6, 8 (epoch end), 10, ...
ARGS = ["train", "resnet20", "--data", "synthetic", "--epochs", "3", "--batch-size", "8",
        "--backup-steps", "2", "--deterministic", "--set", "model.args.depth=8"]


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def crash(run_dir, point, *extra):
    result = run_kerazoo(*ARGS, "--run-dir", run_dir, *extra, env=kerazoo_env(KERAZOO_CRASH_AT=point))
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
    return result


def weights(run_dir):
    return keras.saving.load_model(os.path.join(run_dir, "model.keras")).get_weights()


def history(run_dir):
    return [(e["epoch"], round(e["loss"], 6), round(e["val_loss"], 6)) for e in read_json(os.path.join(run_dir, "history.json"))]


def tensorboard_steps(run_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(os.path.join(run_dir, "tensorboard", "train"), size_guidance={"tensors": 0})
    events.Reload()
    return [event.step for event in events.Tensors(tag)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, never interrupted."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    ok(run_kerazoo(*ARGS, "--run-dir", run_dir, "--profile-batches", "3,4"))
    return run_dir


def assert_same_as_reference(run_dir, reference):
    assert read_json(run_dir / "status.json")["state"] == "finished"
    assert history(run_dir) == history(reference)
    for ours, theirs in zip(weights(run_dir), weights(reference)):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    epochs = tensorboard_steps(run_dir, "epoch_loss")
    assert epochs == [0, 1, 2], epochs  # every epoch once, across resumes
    batches = tensorboard_steps(run_dir, "batch_loss")
    assert batches == sorted(set(batches)), batches  # no step written twice


@pytest.mark.parametrize(
    "point, resumed_at",
    [
        # Killed after step 11, mid-epoch: the backup of step 10 is the resume point.
        ("step:11", "epoch 2, step 2 of 8 (global step 10)"),
        # Killed halfway through writing the 4th backup (epoch 1's end): the 3rd stands.
        ("backup_write:4", "epoch 1, step 6 of 8 (global step 6)"),
    ],
)
def test_killed_run_resumes_at_the_step_and_matches(reference, tmp_path, point, resumed_at):
    run_dir = tmp_path / "run"
    crash(run_dir, point, "--profile-batches", "3,4")
    traces_before = list((run_dir / "tensorboard").rglob("*.xplane.pb"))
    assert not list((run_dir / "backup").glob(".partial-*")) or point.startswith("backup_write")
    resumed = ok(run_kerazoo(*ARGS, "--run-dir", run_dir, "--profile-batches", "3,4"))
    assert f"Resuming 'resnet20' in {run_dir} at {resumed_at}" in resumed.stdout
    assert_same_as_reference(run_dir, reference)
    # The profile window (steps 3-4) was traced before the crash, not again.
    assert list((run_dir / "tensorboard").rglob("*.xplane.pb")) == traces_before != []
    assert not list((run_dir / "backup").glob(".partial-*"))


def test_unreadable_latest_backup_falls_back_to_the_previous(reference, tmp_path):
    run_dir = tmp_path / "run"
    crash(run_dir, "step:13")
    latest = run_dir / "backup" / "step-000000012" / "variables.npz"
    latest.write_bytes(latest.read_bytes()[:100])
    resumed = ok(run_kerazoo(*ARGS, "--run-dir", run_dir))
    assert "step-000000012 is unreadable" in resumed.stderr
    assert "global step 10)" in resumed.stdout
    assert_same_as_reference(run_dir, reference)


def test_sigterm_saves_a_backup_exits_75_and_resume_continues(reference, tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [str(os.path.join(os.path.dirname(sys.executable), "kerazoo")), *ARGS, "--run-dir", str(run_dir), "--epochs", "6"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kerazoo_env(),
    )
    try:
        deadline = time.monotonic() + 300
        while not (run_dir / "backup" / "LATEST").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 75, stdout + stderr
    assert "Stopped by SIGTERM at global step" in stderr and "Traceback" not in stderr
    status = read_json(run_dir / "status.json")
    assert (status["state"], status["reason"], status["signal"]) == ("failed", "interrupted", "SIGTERM")
    stopped_at = status["step"]
    meta = json.loads((run_dir / "backup" / (run_dir / "backup" / "LATEST").read_text() / "meta.json").read_text())
    assert meta["global_step"] == stopped_at  # the backup was written at the stop
    resumed = ok(run_kerazoo("resume", run_dir, "--quiet"))
    assert "validation accuracy" in resumed.stdout
    assert [e["epoch"] for e in read_json(run_dir / "history.json")] == list(range(1, 7))


def test_divergence_exits_4_and_keeps_the_last_good_backup(tmp_path):
    run_dir = tmp_path / "run"
    result = run_kerazoo(*ARGS, "--run-dir", run_dir, env=kerazoo_env(KERAZOO_CRASH_AT="nan_loss:11"))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "NaN or infinite at epoch 2, step 3 (global step 11)" in result.stderr
    assert "last good backup (step 10) is kept" in result.stderr
    assert (run_dir / "backup" / "LATEST").read_text() == "step-000000010"
    assert read_json(run_dir / "status.json")["reason"] == "diverged"
    assert [e["epoch"] for e in read_json(run_dir / "history.json")] == [1]  # the NaN epoch is not recorded


def test_out_of_device_memory_names_the_batch_and_a_smaller_one(tmp_path):
    """XLA's out-of-memory error (what JAX raises on a GPU) mid-run: exit 2
    with the per-replica batch that failed and half of it, no traceback."""
    run_dir = tmp_path / "run"
    result = run_kerazoo(*ARGS, "--run-dir", run_dir, env=kerazoo_env(KERAZOO_CRASH_AT="oom:3"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Out of device memory at 8 examples per replica (RuntimeError). Try --batch-size 4." in result.stderr
    assert "Traceback" not in result.stderr
    assert read_json(run_dir / "status.json")["reason"] == "out of memory"


def test_changed_recipe_is_refused_and_restart_starts_over(tmp_path):
    run_dir = tmp_path / "run"
    crash(run_dir, "step:5")
    changed = run_kerazoo(*ARGS, "--run-dir", run_dir, "--set", "train.learning_rate=0.05")
    assert changed.returncode == 2 and "Cannot resume" in changed.stderr and "the recipe" in changed.stderr
    assert (run_dir / "backup" / "LATEST").exists()  # refused: nothing touched
    restarted = ok(run_kerazoo(*ARGS, "--run-dir", run_dir, "--set", "train.learning_rate=0.05", "--restart"))
    assert "Resuming" not in restarted.stdout and "Training 'resnet20'" in restarted.stdout
    assert [e["epoch"] for e in read_json(run_dir / "history.json")] == [1, 2, 3]


def test_changed_data_is_refused(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=12)
    run_dir = tmp_path / "run"
    args = ["train", "resnet20", "--data", folder, "--epochs", "2", "--batch-size", "8", "--backup-steps", "1",
            "--run-dir", run_dir, "--set", "model.args.depth=8"]
    result = run_kerazoo(*args, env=kerazoo_env(KERAZOO_CRASH_AT="step:2"))
    assert result.returncode == -signal.SIGKILL
    make_image_folder(tmp_path / "images", classes=("circle",), per_class=13)  # one more image
    refused = run_kerazoo(*args)
    assert refused.returncode == 2 and "the data (files added, removed or changed)" in refused.stderr


def test_a_run_trained_but_not_saved_is_finished_without_training(tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "resnet20", "--data", "synthetic", "--epochs", "1", "--batch-size", "8", "--run-dir", run_dir,
            "--set", "model.args.depth=8"]
    ok(run_kerazoo(*args))
    (run_dir / "model.keras").unlink()
    (run_dir / "status.json").write_text(json.dumps({"state": "running"}))
    again = ok(run_kerazoo(*args))
    assert "stopped before saving the model; saving it now" in again.stdout and "Epoch 1/1" not in again.stdout
    assert (run_dir / "model.keras").exists() and read_json(run_dir / "status.json")["state"] == "finished"


def test_a_run_in_progress_is_not_trained_twice(tmp_path):
    run_dir = tmp_path / "run"
    first = subprocess.Popen(
        [str(os.path.join(os.path.dirname(sys.executable), "kerazoo")), *ARGS, "--run-dir", str(run_dir), "--epochs", "40"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=kerazoo_env(),
    )
    try:
        deadline = time.monotonic() + 300
        while not (run_dir / "status.json").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        second = run_kerazoo(*ARGS, "--run-dir", run_dir, "--epochs", "40")
        assert second.returncode == 2 and "is being trained right now by process" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_resume_needs_a_run_directory(tmp_path):
    result = run_kerazoo("resume", tmp_path)
    assert result.returncode == 2 and "not a kerazoo run directory" in result.stderr
