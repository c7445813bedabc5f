"""`kerazoo export` and `run.export()`: Keras's own save/export, a parity
check through each artifact's own runtime, what is written beside the
artifact, no training augmentation inside it, and nothing ever overwritten."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from _helpers_runs import image_run, mixed_precision_run, text_run
from conftest import read_json
from kerazoo import export as export_module
from kerazoo.errors import UsageError


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def digits_batch():
    from kerazoo.data.builtin import digits

    examples, _ = digits(32)
    return examples.inputs[:16].astype("float32")


def test_image_run_exports_to_every_format_and_each_runtime_agrees(tmp_path_factory, tmp_path):
    import onnxruntime
    import tensorflow as tf

    run = image_run(tmp_path_factory)
    images = digits_batch()
    expected = run.model.predict(images, verbose=0)
    results = {to: run.export(to, out=tmp_path / to) for to in ("keras", "saved_model", "onnx")}
    for to, result in results.items():
        assert result.max_abs_difference <= result.tolerance == export_module.FLOAT32_TOLERANCE, result
        folder = tmp_path / to
        for name in ("class_names.json", "preprocessing.json", "recipe.yaml", "export.json", "README.md"):
            assert (folder / name).is_file(), (to, name)
        record = read_json(folder / "export.json")
        assert record["format"] == to and record["max_abs_difference"] == result.max_abs_difference
        assert record["inputs"] == [{"name": "images", "dtype": "float32", "shape": [None, 32, 32, 3]}]
        readme = (folder / "README.md").read_text()
        assert "resize it to 32x32" in readme and "0-255" in readme and "Parity check" in readme
        assert not list(tmp_path.glob(".*partial*")), "the staging folder was left behind"

    # The test's own check, on real digits rather than the export's random sample.
    loaded = keras.saving.load_model(tmp_path / "keras" / "model.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, atol=1e-5)
    saved = tf.saved_model.load(str(tmp_path / "saved_model" / "saved_model"))
    np.testing.assert_allclose(saved.serve(tf.constant(images)).numpy(), expected, atol=1e-4)
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [spec.name for spec in session.get_inputs()] == ["images"]
    np.testing.assert_allclose(session.run(None, {"images": images})[0], expected, atol=1e-4)


def test_training_augmentation_is_never_exported(tmp_path_factory, tmp_path):
    """The run trained with pad-and-crop augmentation; no export holds it."""
    import onnx
    import tensorflow as tf

    from kerazoo import augment
    from kerazoo.models import all_layers
    from kerazoo.models.training_model import training_model

    run = image_run(tmp_path_factory)
    augmenter = augment.build_augmenter(run.recipe.augment, 32, 0)
    # Every layer of the augmenter is random (Keras's Random* layers and our
    # PadAndCrop); none of their types may appear in an export.
    random_types = tuple(type(layer) for layer in augmenter.layers)
    assert random_types, "the test needs a recipe that augments"

    exported = tmp_path / "keras"
    run.export("keras", out=exported)
    layers = list(all_layers(keras.saving.load_model(exported / "model.keras")))
    assert not [layer for layer in layers if isinstance(layer, random_types) or layer.name == "augmentation"]

    def seed_states(model_folder):
        return [v.name for v in tf.saved_model.load(str(model_folder)).variables if "seed_generator" in v.name]

    run.export("saved_model", out=tmp_path / "saved")
    assert seed_states(tmp_path / "saved" / "saved_model") == []
    # Control: the training model (augmentation in front) does carry its random state.
    trainer_model = training_model(run.model, augmenter)
    trainer_model(np.zeros((1, 32, 32, 3), "float32"))
    trainer_model.export(str(tmp_path / "training_model"), format="tf_saved_model", verbose=False)
    assert seed_states(tmp_path / "training_model")

    run.export("onnx", out=tmp_path / "onnx")
    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph
    names = [node.name for node in graph.node] + [tensor.name for tensor in graph.initializer]
    assert not [name for name in names if "pad_and_crop" in name or "random_crop" in name or "augmentation" in name]


def test_text_run_exports_with_its_vocabulary(tmp_path_factory, tmp_path):
    import onnxruntime

    from kerazoo import load_run

    # A freshly loaded model has never been called, which Keras's ONNX export
    # refuses ("The model provided has never called"); export calls it first.
    run = load_run(text_run(tmp_path_factory).directory)
    assert not run.model._called
    result = run.export("onnx", out=tmp_path / "onnx")
    assert result.max_abs_difference <= result.tolerance
    folder = tmp_path / "onnx"
    assert (folder / "vocabulary.txt").read_text() == (run.directory / "vocabulary.txt").read_text()
    readme = (folder / "README.md").read_text()
    assert "vocabulary.txt" in readme and "BertTextClassifierPreprocessor" in readme and "sequence_length=32" in readme
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert sorted(spec.name for spec in session.get_inputs()) == ["padding_mask", "segment_ids", "token_ids"]
    saved = run.export("saved_model", out=tmp_path / "saved")
    assert saved.max_abs_difference <= saved.tolerance


def test_mixed_precision_run_exports_a_float32_onnx_copy(tmp_path_factory, tmp_path):
    import onnx

    run = mixed_precision_run(tmp_path_factory)
    result = run.export("onnx", out=tmp_path / "onnx")
    assert result.max_abs_difference <= result.tolerance
    assert any("float32 copy" in note for note in result.notes), result.notes
    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph
    bfloat16 = onnx.TensorProto.BFLOAT16
    assert not [t.name for t in graph.initializer if t.data_type == bfloat16]
    # The run's own model keeps its policy.
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in run.model.layers)


def test_cli_export_json_and_never_overwrites(tmp_path_factory, tmp_path, kerazoo):
    run = image_run(tmp_path_factory)
    out = tmp_path / "exported"
    result = ok(kerazoo("export", run.directory, "--to", "keras", "--out", out, "--format", "json"))
    data = json.loads(result.stdout)
    assert data["format"] == "keras" and data["max_abs_difference"] <= data["tolerance"]
    assert (out / "model.keras").is_file()
    stamp = (out / "model.keras").stat().st_mtime_ns
    again = kerazoo("export", run.directory, "--to", "keras", "--out", out)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert (out / "model.keras").stat().st_mtime_ns == stamp
    bad = kerazoo("export", run.directory, "--to", "tflite")
    assert bad.returncode == 2 and "tflite" in bad.stderr
    missing = kerazoo("export", tmp_path / "nowhere", "--to", "keras")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    # The keras export folder is itself a MODEL for predict (in process: no second TensorFlow start-up).
    from kerazoo.cli.main import cli

    predicted = CliRunner().invoke(cli, ["predict", str(out / "model.keras"), "--format", "json", *_one_png(tmp_path)])
    assert predicted.exit_code == 0, predicted.output
    assert len(json.loads(predicted.stdout)[0]["predictions"]) == 5


def _one_png(tmp_path):
    from conftest import write_image

    write_image(tmp_path / "digit.png", digits_batch()[0].astype("uint8"), "PNG")
    return [str(tmp_path / "digit.png")]


def test_a_failed_parity_check_fails_loudly_and_leaves_nothing(tmp_path_factory, tmp_path, monkeypatch):
    from kerazoo.cli.main import cli

    run = image_run(tmp_path_factory)
    real = export_module._run_artifact
    monkeypatch.setattr(export_module, "_run_artifact", lambda *args: real(*args) + 0.5)
    with pytest.raises(export_module.ExportMismatch, match="largest absolute logit difference"):
        run.export("keras", out=tmp_path / "api")
    assert not (tmp_path / "api").exists() and not list(tmp_path.glob(".*"))

    result = CliRunner().invoke(cli, ["export", str(run.directory), "--to", "saved_model", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 1, result.output
    assert "does not match the Keras model" in result.output and "0.5" in result.output
    assert not (tmp_path / "cli").exists()
    # A tolerance that accepts the difference lets it through.
    accepted = run.export("keras", out=tmp_path / "accepted", tolerance=1.0)
    assert accepted.max_abs_difference == pytest.approx(0.5, abs=1e-6)


def test_usage_errors(tmp_path_factory, tmp_path, monkeypatch):
    import importlib.util

    run = image_run(tmp_path_factory)
    with pytest.raises(UsageError, match="Unknown export format"):
        run.export("pickle")
    for tolerance in (-1, "a lot", float("nan")):
        with pytest.raises(UsageError, match="tolerance"):
            run.export("keras", out=tmp_path / "x", tolerance=tolerance)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    with pytest.raises(UsageError, match=r"kerazoo\[onnx\]"):
        run.export("onnx", out=tmp_path / "y")
