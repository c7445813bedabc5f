"""End-to-end training through the installed `kerazoo` command and the
Python API: what a run directory holds, on every kind of data."""

import json
import os
import re

import keras
import numpy as np
import pytest

from conftest import read_json
from kerazoo import load_run, recipes

TINY = ["--set", "model.args.depth=8"]  # a 1-block-per-stage CIFAR ResNet: fast on CPU
TEXT_SMALL = ["--set", "data.sequence_length=32", "--set", "model.args.num_layers=1", "--set", "data.vocabulary_size=300"]


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def profile_traces(run):
    return list((run / "tensorboard").rglob("*.xplane.pb"))


def test_synthetic_run_writes_a_complete_run_directory(kerazoo, tmp_path):
    run = tmp_path / "run"
    result = ok(kerazoo(
        "train", "resnet20", "--data", "synthetic", "--epochs", "2", "--steps-per-epoch", "4",
        "--batch-size", "8", "--profile-batches", "2,3", "--run-dir", run, *TINY,
    ))
    assert "precision" in result.stdout and "Finished" in result.stdout
    for name in ("recipe.yaml", "plan.json", "history.json", "train.log", "model.keras",
                 "class_names.json", "preprocessing.json", "status.json"):
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "best.weights.h5").is_file()
    assert sorted(p.name for p in (run / "checkpoints").glob("epoch-*")) == [
        "epoch-0001.weights.h5", "epoch-0002.weights.h5"]
    assert (run / "backup" / "LATEST").read_text() == "step-000000008"  # the last epoch end
    plan = read_json(run / "plan.json")
    assert plan["precision"] == "float32" and plan["strategy"] == "default"
    assert plan["environment"]["versions"]["keras"] == keras.__version__
    assert plan["environment"]["versions"]["kerazoo"] and plan["data"]["fingerprint"]
    assert plan["profile_window"] == [2, 3] and plan["reasons"]["precision"]
    history = read_json(run / "history.json")
    assert [e["epoch"] for e in history] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "examples_per_second"):
        assert key in history[0], key
    assert read_json(run / "status.json")["state"] == "finished"
    assert profile_traces(run), "no profiler trace written"
    assert list((run / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((run / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    assert "epoch 2" in (run / "train.log").read_text()
    # The saved recipe is the resolved one, and loads as a recipe again.
    assert recipes.load(run / "recipe.yaml").model.args["depth"] == 8


def test_tensorboard_holds_step_scalars_learning_rate_and_hparams(kerazoo, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    ok(kerazoo("train", "resnet20", "--data", "synthetic", "--epochs", "2", "--steps-per-epoch", "10",
               "--batch-size", "4", "--no-profile", "--run-dir", run, *TINY))
    train_events = EventAccumulator(str(run / "tensorboard" / "train"), size_guidance={"tensors": 0})
    train_events.Reload()
    tags = set(train_events.Tags()["tensors"])
    assert {"epoch_loss", "epoch_learning_rate", "epoch_examples_per_second"} <= tags, tags
    assert {"batch_loss", "batch_examples_per_second"} <= tags, tags
    assert len(train_events.Tensors("batch_loss")) >= 4  # every 2 steps over 20 steps
    hparams = EventAccumulator(str(run / "tensorboard"))
    hparams.Reload()
    assert any("hparams" in tag for tag in hparams.Tags()["tensors"]), hparams.Tags()
    assert not profile_traces(run)  # --no-profile


def test_rerunning_a_finished_run_trains_nothing(kerazoo, tmp_path):
    args = ["train", "resnet20", "--data", "synthetic", "--epochs", "1", "--steps-per-epoch", "2",
            "--batch-size", "4", *TINY]
    first = ok(kerazoo(*args))
    match = re.search(r"-> (runs/resnet20-[0-9a-f]{8})", first.stdout)
    assert match, first.stdout
    model = tmp_path / match.group(1) / "model.keras"
    stamp = model.stat().st_mtime_ns
    second = ok(kerazoo(*args))
    assert "already finished" in second.stdout and "Epoch 1" not in second.stdout
    assert model.stat().st_mtime_ns == stamp
    # Another seed is another run.
    third = ok(kerazoo(*args, "--seed", "1"))
    assert match.group(1) not in third.stdout


def test_image_folder_run_and_saved_model_predicts(kerazoo, tmp_path, image_folder):
    run = tmp_path / "run"
    ok(kerazoo("train", "resnet20", "--data", image_folder, "--epochs", "3", "--batch-size", "8",
               "--run-dir", run, *TINY))
    assert read_json(run / "class_names.json") == ["circle", "square", "stripes"]
    plan = read_json(run / "plan.json")
    assert plan["data"]["num_train"] + plan["data"]["num_validation"] == 72
    model = keras.saving.load_model(run / "model.keras")
    logits = model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    assert logits.shape == (2, 3) and np.isfinite(logits).all()


@pytest.mark.parametrize("kind", ["csv", "folder"])
def test_text_runs_train_a_vocabulary_offline(kerazoo, tmp_path, kind, csv_file, text_folder):
    run = tmp_path / "run"
    data = csv_file if kind == "csv" else text_folder
    ok(kerazoo("train", "bert_tiny", "--data", data, "--epochs", "2", "--batch-size", "16",
               "--run-dir", run, *TEXT_SMALL))
    vocabulary = (run / "vocabulary.txt").read_text().splitlines()
    assert vocabulary[:5] == ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    assert "great" in vocabulary and "awful" in vocabulary
    assert read_json(run / "class_names.json") == ["negative", "positive"]
    assert read_json(run / "preprocessing.json")["sequence_length"] == 32
    history = read_json(run / "history.json")
    assert len(history) == 2 and np.isfinite(history[-1]["loss"])
    # model.keras is the classifier alone: no optimizer, nothing of kerazoo's
    # needed to load it.
    import subprocess
    import sys

    code = "import keras, keras_hub, sys; m = keras.saving.load_model(sys.argv[1]); print(getattr(m, \"optimizer\", None) is None)"
    loaded = subprocess.run([sys.executable, "-c", code, str(run / "model.keras")], capture_output=True, text=True)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "True", loaded.stderr[-2000:]


def test_mixed_precision_run_keeps_float32_logits(kerazoo, tmp_path):
    run = tmp_path / "run"
    ok(kerazoo("train", "resnet20", "--data", "synthetic", "--precision", "mixed_bfloat16", "--epochs", "1",
               "--steps-per-epoch", "3", "--batch-size", "4", "--run-dir", run, *TINY))
    assert read_json(run / "plan.json")["precision"] == "mixed_bfloat16"
    model = keras.saving.load_model(run / "model.keras")
    assert model.output.dtype == "float32"
    from kerazoo.models import all_layers

    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in all_layers(model))
    assert np.isfinite(read_json(run / "history.json")[0]["loss"])


def test_two_cpu_replicas_train_under_mirrored_strategy(kerazoo, tmp_path):
    run = tmp_path / "run"
    result = ok(kerazoo("train", "resnet20", "--data", "digits", "--cpu-replicas", "2", "--epochs", "1",
                        "--batch-size", "16", "--steps-per-epoch", "5", "--run-dir", run, *TINY))
    assert "mirrored (2 replica(s))" in result.stdout
    plan = read_json(run / "plan.json")
    assert (plan["strategy"], plan["num_replicas"], plan["global_batch_size"]) == ("mirrored", 2, 32)
    assert plan["devices"] == ["/cpu:0", "/cpu:1"]
    assert np.isfinite(read_json(run / "history.json")[0]["loss"])


def test_divergence_stops_with_exit_4_and_names_the_step(kerazoo, tmp_path):
    run = tmp_path / "run"
    result = kerazoo("train", "bert_tiny", "--data", "synthetic", "--epochs", "2", "--steps-per-epoch", "5",
                     "--batch-size", "8", "--set", "train.learning_rate=1e12", "--set", "train.warmup_epochs=0",
                     "--set", "train.optimizer=sgd", "--run-dir", run, *TEXT_SMALL)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "NaN or infinite at epoch" in result.stderr and "Traceback" not in result.stderr
    assert read_json(run / "status.json")["reason"] == "diverged"


def test_python_api_returns_a_run(tmp_path):
    recipe = recipes.get("resnet20").override({"model.args.depth": 8})
    run = recipe.train(data="synthetic", epochs=1, steps_per_epoch=2, batch_size=4,
                       run_dir=tmp_path / "api", verbose=False)
    assert run.directory == tmp_path / "api"
    assert "val_accuracy" in run.history.history
    assert run.model.output.dtype == "float32"
    assert "Run(" in repr(run) and "finished" in repr(run)
    loaded = load_run(tmp_path / "api")
    assert loaded.recipe.model.args["depth"] == 8 and loaded.plan["strategy"] == "default"
    assert len(loaded.history.history["loss"]) == 1
    assert loaded.model.count_params() == run.model.count_params()
    assert loaded.class_names == [f"class_{i}" for i in range(10)]


def test_readme_main_job_reaches_097_on_digits(kerazoo):
    """The README's main job, exactly as written there, reaches >= 0.97."""
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    command = re.search(r"^kerazoo train resnet20 --data digits[^\n]*$", readme, re.M).group(0)
    result = ok(kerazoo(*command.split()[1:]))
    accuracy = float(re.search(r"validation accuracy (\d\.\d+)", result.stdout).group(1))
    assert accuracy >= 0.97, result.stdout
