"""`kerazoo evaluate` and `run.evaluate()`: the run's own validation split is
recreated exactly as training made it, other data is measured whole, and the
confusion matrix reaches JSON and TensorBoard."""

import json

import numpy as np
import pytest

from _helpers_runs import image_run, text_csv, text_run
from conftest import make_csv, read_json
from kerazoo import evaluation as evaluation_module
from kerazoo import load_run
from kerazoo.errors import UsageError


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_measure_on_hand_made_logits():
    # 3 classes; true labels 0,0,1,1,2,2; predictions 0,1,1,1,0,2.
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    logits = np.full((6, 3), -2.0)
    logits[np.arange(6), predicted] = 2.0
    result = evaluation_module._measure(logits, labels, ["a", "b", "c"])
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["top5_accuracy"] is None  # only 3 classes
    per_class = {row["class"]: row for row in result["per_class"]}
    assert per_class["a"]["precision"] == pytest.approx(0.5) and per_class["a"]["recall"] == pytest.approx(0.5)
    assert per_class["b"]["precision"] == pytest.approx(2 / 3) and per_class["b"]["recall"] == 1.0
    assert per_class["c"]["precision"] == 1.0 and per_class["c"]["recall"] == pytest.approx(0.5)
    assert per_class["b"]["accuracy"] == per_class["b"]["recall"] and per_class["c"]["support"] == 2
    # cross-entropy of a softmax over (2, -2, -2)
    right = -np.log(np.exp(2) / (np.exp(2) + 2 * np.exp(-2)))
    wrong = -np.log(np.exp(-2) / (np.exp(2) + 2 * np.exp(-2)))
    assert result["loss"] == pytest.approx((4 * right + 2 * wrong) / 6)


def test_a_class_never_predicted_has_no_precision():
    result = evaluation_module._measure(np.array([[5.0, 0.0], [4.0, 1.0]]), np.array([0, 1]), ["x", "y"])
    never = result["per_class"][1]
    assert never["precision"] is None and never["recall"] == 0.0 and never["f1"] == 0.0


def test_confusion_matrix_image_is_a_heat_map():
    image = evaluation_module.confusion_matrix_image(np.array([[9, 1], [0, 10]]), size=64)
    assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
    # a full row is darker than an empty cell
    assert image[48, 48].sum() < image[48, 16].sum()


def test_own_validation_split_matches_what_training_measured(tmp_path_factory):
    run = image_run(tmp_path_factory)
    result = run.evaluate()
    last = run.epochs[-1]
    plan = read_json(run.directory / "plan.json")
    assert result.data_id == "validation" and result.num_examples == plan["data"]["num_validation"]
    # The same examples, the same weights: the same figures as the last epoch's validation.
    assert result.accuracy == pytest.approx(last["val_accuracy"], abs=1e-6)
    assert result.top5_accuracy == pytest.approx(last["val_top5_accuracy"], abs=1e-6)
    assert result.loss == pytest.approx(last["val_loss"], rel=1e-4)
    assert result.accuracy > 0.3, "a trained model should beat chance (0.1) on digits"
    matrix = np.array(result.confusion_matrix)
    assert matrix.shape == (10, 10) and matrix.sum() == result.num_examples
    assert np.trace(matrix) == round(result.accuracy * result.num_examples)
    assert sum(row["support"] for row in result.per_class) == result.num_examples
    assert not result.warnings

    written = read_json(run.directory / "evaluation" / "validation.json")
    assert written["confusion_matrix"]["matrix"] == result.confusion_matrix
    assert written["confusion_matrix"]["labels"] == [str(i) for i in range(10)]
    assert written["accuracy"] == result.accuracy


def test_confusion_matrix_reaches_tensorboard(tmp_path_factory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = image_run(tmp_path_factory)
    result = run.evaluate()
    events = EventAccumulator(result.tensorboard_dir, size_guidance={"tensors": 0, "images": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"evaluation/accuracy", "evaluation/loss", "evaluation/confusion_matrix",
            "evaluation/confusion_matrix_table"} <= tags, tags
    accuracy = events.Tensors("evaluation/accuracy")[-1]
    assert accuracy.step == len(run.epochs)
    # The image summary holds a PNG of the heat map.
    encoded = events.Tensors("evaluation/confusion_matrix")[-1].tensor_proto.string_val[2]
    assert encoded.startswith(b"\x89PNG")


def test_model_file_and_loaded_run_give_the_same_result(tmp_path_factory, kerazoo):
    run = image_run(tmp_path_factory)
    expected = run.evaluate()
    result = ok(kerazoo("evaluate", run.directory / "model.keras", "--format", "json"))
    data = json.loads(result.stdout)
    assert data["accuracy"] == pytest.approx(expected.accuracy, abs=1e-6)
    assert data["confusion_matrix"]["matrix"] == expected.confusion_matrix
    assert load_run(run.directory).evaluate().accuracy == pytest.approx(expected.accuracy, abs=1e-6)


def test_text_run_table_output(tmp_path_factory):
    from click.testing import CliRunner

    from kerazoo.cli.main import cli

    run = text_run(tmp_path_factory)
    result = CliRunner().invoke(cli, ["evaluate", str(run.directory)])  # in process: no second TensorFlow start-up
    assert result.exit_code == 0, result.output
    assert "Evaluated on csv:" in result.stdout and "validation split" in result.stdout
    assert "negative" in result.stdout and "positive" in result.stdout
    assert "Confusion matrix" in result.stdout
    data = read_json(run.directory / "evaluation" / "validation.json")
    assert data["accuracy"] == pytest.approx(run.epochs[-1]["val_accuracy"], abs=1e-6)
    assert data["top5_accuracy"] is None  # two classes
    assert data["num_examples"] == read_json(run.directory / "plan.json")["data"]["num_validation"]


def test_other_data_is_measured_whole(tmp_path_factory, tmp_path):
    run = text_run(tmp_path_factory)
    other = make_csv(tmp_path / "more.csv", count=30, seed=7)
    result = run.evaluate(data=str(other))
    assert result.num_examples == 30 and result.split == "every row"
    assert result.data_id.startswith("csv-more-")
    assert (run.directory / "evaluation" / f"{result.data_id}.json").is_file()
    # Naming the training CSV again means the run's own validation split.
    again = run.evaluate(data=str(text_csv(tmp_path_factory)))
    assert again.data_id == "validation"


def test_a_changed_training_source_is_flagged(tmp_path_factory, tmp_path):
    from kerazoo.run import Run

    run = text_run(tmp_path_factory)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in run.directory.iterdir():
        if path.is_file():
            (copy / path.name).write_bytes(path.read_bytes())
    plan = read_json(copy / "plan.json")
    plan["data"]["fingerprint"] = "0" * 16
    (copy / "plan.json").write_text(json.dumps(plan))
    result = Run(copy).evaluate()
    assert any("changed since training" in warning for warning in result.warnings)


def test_user_mistakes_exit_2(tmp_path_factory, tmp_path, kerazoo):
    run = text_run(tmp_path_factory)
    missing = kerazoo("evaluate", tmp_path / "nowhere")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "empty").mkdir()
    not_a_run = kerazoo("evaluate", tmp_path / "empty")
    assert not_a_run.returncode == 2 and "not in a kerazoo run directory" in not_a_run.stderr
    wrong_data = kerazoo("evaluate", run.directory, "--data", "digits")
    assert wrong_data.returncode == 2 and "image data" in wrong_data.stderr and "Traceback" not in wrong_data.stderr
    with pytest.raises(UsageError, match="does not exist"):
        evaluation_module.evaluate(run.directory, data=str(tmp_path / "missing.csv"))
