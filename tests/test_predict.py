"""`kerazoo predict` and `run.predict()`: image files decoded and resized as
in training, texts tokenized with the run's own vocabulary, top-k labels from
the run's class names, and every user mistake answered with exit code 2."""

import json

import numpy as np
import pytest

from _helpers_runs import image_run, text_csv, text_run
from conftest import write_image
from kerazoo import inference
from kerazoo.errors import UsageError


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def digit_images(count=6):
    from kerazoo.data.builtin import digits

    examples, _ = digits(32)
    picks = [int(np.flatnonzero(examples.labels == label)[0]) for label in range(count)]
    return examples.inputs[picks], examples.labels[picks]


def test_image_files_predict_what_the_model_gives_for_the_same_pixels(tmp_path_factory, tmp_path):
    run = image_run(tmp_path_factory)
    images, _ = digit_images()
    paths = []
    for index, image in enumerate(images):
        # Decoded by content: every other PNG is named .jpg.
        path = tmp_path / (f"digit{index}.png" if index % 2 else f"digit{index}.jpg")
        write_image(path, image, "PNG")
        paths.append(str(path))
    predictions = run.predict(paths, top_k=3)
    expected = inference.softmax(run.model.predict(images.astype("float32"), verbose=0))
    assert [item.input for item in predictions] == paths
    for item, row in zip(predictions, expected):
        best = np.argsort(-row)[:3]
        assert item.indices == best.tolist()
        assert item.labels == [run.class_names[i] for i in best]
        np.testing.assert_allclose(item.probabilities, row[best], atol=1e-5)
        assert item.probabilities == sorted(item.probabilities, reverse=True)


def test_other_sizes_and_grayscale_are_resized_like_training(tmp_path_factory, tmp_path):
    import tensorflow as tf

    from kerazoo.data.image_pipeline import resize_uint8

    run = image_run(tmp_path_factory)
    small = np.tile(np.linspace(0, 255, 12, dtype=np.uint8), (12, 1))  # 12x12 grayscale
    write_image(tmp_path / "small.png", small, "PNG")
    [prediction] = run.predict(str(tmp_path / "small.png"), top_k=10)
    rgb = np.repeat(small[..., None], 3, axis=-1)
    resized = resize_uint8(tf.constant(rgb), 32).numpy().astype("float32")[None]
    expected = inference.softmax(run.model.predict(resized, verbose=0))[0]
    np.testing.assert_allclose([expected[i] for i in prediction.indices], prediction.probabilities, atol=1e-5)
    assert len(prediction.labels) == 10


def test_image_cli_with_a_list_file(tmp_path_factory, tmp_path):
    from click.testing import CliRunner

    from kerazoo.cli.main import cli

    run = image_run(tmp_path_factory)
    images, _ = digit_images(2)
    folder = tmp_path / "inbox"
    for index, image in enumerate(images):
        write_image(folder / f"{index}.png", image, "PNG")
    (folder / "list.txt").write_text("0.png\n\n1.png\n")  # paths relative to the list's folder
    # in process: the subprocess path is covered by the text test below
    result = CliRunner().invoke(cli, ["predict", str(run.directory), f"@{folder / 'list.txt'}", "--top-k", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["input", "rank", "label", "probability"]
    assert len(lines) == 2 + 2 * 3  # header, rule, 3 ranks for each of 2 images
    assert "0.png" in result.stdout and "1.png" in result.stdout


def test_texts_and_list_files_json(tmp_path_factory, tmp_path, kerazoo):
    run = text_run(tmp_path_factory)
    lines = tmp_path / "reviews.txt"
    lines.write_text("a great and wonderful film\n\nawful boring plot\n", encoding="utf-8")
    result = ok(kerazoo("predict", run.directory, "loved it, superb", f"@{lines}", "@@home",
                        "--top-k", "7", "--format", "json"))
    data = json.loads(result.stdout)
    assert [item["input"] for item in data] == ["loved it, superb", "a great and wonderful film", "awful boring plot", "@home"]
    for item in data:
        predictions = item["predictions"]
        assert len(predictions) == 2  # --top-k 7, but the model has two classes
        assert {p["label"] for p in predictions} == {"negative", "positive"}
        assert sum(p["probability"] for p in predictions) == pytest.approx(1.0)
        assert predictions[0]["probability"] >= predictions[1]["probability"]


def test_text_predictions_agree_with_evaluation(tmp_path_factory):
    """Predicting the validation texts one by one gives the predicted-class
    counts of the evaluation's confusion matrix (two independent paths:
    the tf.data pipeline and the tokenizer rebuilt from vocabulary.txt)."""
    from kerazoo import recipes
    from kerazoo.data import parse_source, read_examples

    run = text_run(tmp_path_factory)
    recipe = recipes.load(run.directory / "recipe.yaml")
    plan = inference.read_plan(run.directory)
    split = read_examples(parse_source(str(text_csv(tmp_path_factory)), recipe), recipe, plan["seed"], plan["global_batch_size"])
    texts = list(split[1].inputs)
    predicted = [item.indices[0] for item in run.predict(texts, top_k=1)]
    evaluation = run.evaluate()
    columns = np.array(evaluation.confusion_matrix).sum(axis=0)
    assert np.bincount(predicted, minlength=2).tolist() == columns.tolist()


def test_user_mistakes_exit_2(tmp_path_factory, tmp_path, kerazoo):
    from click.testing import CliRunner

    from kerazoo.cli.main import cli

    run = image_run(tmp_path_factory)
    (tmp_path / "a.png").write_bytes(b"not an image at all")
    cases = [
        (["predict", run.directory, tmp_path / "a.png", "--top-k", "0"], "--top-k"),
        (["predict", run.directory, tmp_path / "a.png", "--top-k", "many"], "many"),
        (["predict", tmp_path / "nowhere", tmp_path / "a.png"], "does not exist"),
        (["predict", run.directory, f"@{tmp_path / 'nothing.txt'}"], "Input list file"),
        (["predict", run.directory], "INPUT"),
    ]
    # The first through the installed command, the rest in process (the same code, without a start-up each).
    first = kerazoo(*cases[0][0])
    assert first.returncode == 2 and cases[0][1] in first.stderr and "Traceback" not in first.stderr, first.stderr
    for args, fragment in cases[1:]:
        result = CliRunner().invoke(cli, [str(arg) for arg in args])
        assert result.exit_code == 2, (args, result.output)
        assert isinstance(result.exception, SystemExit), result.exception
        assert fragment in result.stderr, (args, result.stderr)
    with pytest.raises(UsageError, match="not an image kerazoo can read"):
        run.predict(str(tmp_path / "a.png"))
    with pytest.raises(UsageError, match="does not exist"):
        run.predict(str(tmp_path / "missing.png"))
    with pytest.raises(UsageError, match="top_k"):
        run.predict(str(tmp_path / "a.png"), top_k=-1)
