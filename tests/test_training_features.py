"""Training features of the recipes: EMA of weights, gradient accumulation,
fine-tuning phases, early stopping, random-resized crop, per-class figures,
and pretrained weights loaded offline."""

import keras
import numpy as np
import pytest

from conftest import read_json, run_kerazoo
from kerazoo import models, recipes
from kerazoo.devices import DeviceInfo
from kerazoo.errors import UsageError
from kerazoo.plan import make_plan

TINY = ["--set", "model.args.depth=8", "--no-profile", "--batch-size", "32"]


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """One run with everything on: two phases, EMA, accumulation, early stopping."""
    run_dir = tmp_path_factory.mktemp("features") / "run"
    result = ok(run_kerazoo(
        "train", "resnet20", "--data", "digits", "--epochs", "3", "--run-dir", run_dir, *TINY,
        "--set", "train.freeze_backbone_epochs=1", "--set", "train.head_learning_rate=0.5",
        "--set", "train.use_ema=true", "--set", "train.ema_momentum=0.9",
        "--set", "train.early_stopping_patience=5", "--grad-accum", "2",
    ))
    return run_dir, result


def test_plan_counts_accumulation_in_the_learning_rate(fine_tuned):
    run_dir, result = fine_tuned
    plan = read_json(run_dir / "plan.json")
    assert plan["gradient_accumulation"] == 2
    assert plan["learning_rate"] == pytest.approx(0.1 * 64 / 128)  # effective batch 32 x 2
    assert "effective batch 64" in result.stdout


def test_phases_freeze_then_unfreeze_with_their_own_learning_rates(fine_tuned):
    run_dir, result = fine_tuned
    assert "phase 1: epochs 1-1: the head only (backbone frozen) at learning rate 0.25" in result.stdout
    assert "Phase 2: epochs 2-3: everything at learning rate 0.05" in result.stdout
    history = read_json(run_dir / "history.json")
    assert [e["epoch"] for e in history] == [1, 2, 3]
    assert history[1]["learning_rate"] == pytest.approx(0.05)  # phase 2's schedule restarts


def test_ema_weights_are_validated_and_saved(fine_tuned):
    run_dir, _ = fine_tuned
    # Validation ran on the averaged weights, and the saved model holds them:
    # evaluating the saved model reproduces the last epoch's validation.
    evaluation = read_json(run_dir / "evaluation" / "validation.json")
    last = read_json(run_dir / "history.json")[-1]
    assert evaluation["accuracy"] == pytest.approx(last["val_accuracy"], abs=1e-6)
    assert evaluation["loss"] == pytest.approx(last["val_loss"], rel=1e-4)


def test_per_class_figures_are_written_at_the_end(fine_tuned):
    run_dir, result = fine_tuned
    evaluation = read_json(run_dir / "evaluation" / "validation.json")
    matrix = evaluation["confusion_matrix"]["matrix"]
    assert len(evaluation["per_class"]) == 10 and len(matrix) == 10
    assert sum(map(sum, matrix)) == read_json(run_dir / "plan.json")["data"]["num_validation"]
    assert "per class: lowest recall" in result.stdout


def test_accumulation_is_refused_under_mirrored_strategy():
    recipe = recipes.get("resnet20")
    with pytest.raises(UsageError, match="keras-team/keras#20582"):
        make_plan(recipe, DeviceInfo("tensorflow", (), cpu_replicas=2), gradient_accumulation=2)
    refused = run_kerazoo("train", "resnet20", "--data", "digits", "--cpu-replicas", "2", "--grad-accum", "2", "--dry-run")
    assert refused.returncode == 2 and "keras-team/keras#20582" in refused.stderr
    jax_plan = make_plan(recipe, DeviceInfo("jax", (), cpu_replicas=2), gradient_accumulation=2)
    assert (jax_plan.strategy, jax_plan.gradient_accumulation) == ("data_parallel", 2)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    run_dir = tmp_path / "run"
    # A learning rate this small never improves validation after epoch 1.
    result = ok(run_kerazoo(
        "train", "resnet20", "--data", "digits", "--epochs", "6", "--steps-per-epoch", "3", "--run-dir", run_dir,
        *TINY, "--set", "train.early_stopping_patience=1", "--set", "train.monitor=val_loss",
        "--set", "train.learning_rate=1e-9",
    ))
    history = read_json(run_dir / "history.json")
    assert len(history) < 6 and "Stopped early" in result.stdout
    best_epoch = min(history, key=lambda e: e["val_loss"])["epoch"]
    assert f"(epoch {best_epoch})" in result.stdout


def test_random_resized_crop_is_deterministic_per_position():
    from kerazoo.data.examples import Examples
    from kerazoo.data.image_pipeline import image_dataset

    images = np.random.default_rng(0).integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
    examples = Examples(images, np.arange(16, dtype=np.int32) % 2, "image_array")
    crop = ((0.08, 1.0), (0.75, 1.333))
    common = dict(image_size=32, num_classes=2, batch_size=4, training=True, seed=3, crop=crop)
    run = [b[0].numpy() for b in image_dataset(examples, **common).take(6)]
    resumed = [b[0].numpy() for b in image_dataset(examples, start_step=4, **common).take(2)]
    np.testing.assert_array_equal(run[4], resumed[0])  # a resumed stream crops the same way
    np.testing.assert_array_equal(run[5], resumed[1])
    uncropped = [b[0].numpy() for b in image_dataset(examples, **{**common, "crop": None}).take(1)]
    assert not np.array_equal(run[0], uncropped[0])  # it does crop


def test_caffe_mode_equals_reversed_channels():
    """Weights trained on BGR inputs meet RGB inputs through a flipped first
    convolution: exactly the same outputs as flipping the image."""
    from kerazoo.models.pretrained import reverse_first_convolution_channels
    from kerazoo.models.preprocessing import CAFFE_MEAN_RGB

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="first")(inputs))
    rgb = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    bgr_centred = (rgb - np.array(CAFFE_MEAN_RGB, "float32"))[..., ::-1]
    expected = keras.ops.convert_to_numpy(model(bgr_centred))
    reverse_first_convolution_channels(model)
    got = keras.ops.convert_to_numpy(model(rgb - np.array(CAFFE_MEAN_RGB, "float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_imagenet_weights_offline_name_the_local_alternative(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    monkeypatch.setattr("keras.src.applications.mobilenet_v3.file_utils.get_file", offline, raising=False)
    recipe = recipes.get("mobilenet_v3_small").override({"model.pretrained": "imagenet", "data.image_size": 32})
    with pytest.raises(UsageError, match="--pretrained /path/to/that/file.h5"):
        recipe.build_model(num_classes=3)


def test_local_imagenet_weights_file_loads_with_its_preprocessing(tmp_path):
    full = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=1000)
    full.save_weights(tmp_path / "mobilenet_v2.weights.h5")
    recipe = recipes.get("mobilenet_v2").override({"model.pretrained": str(tmp_path / "mobilenet_v2.weights.h5"), "data.image_size": 32})
    model = recipe.build_model(num_classes=3)
    loaded = models.backbone(model).get_layer("Conv1").kernel
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(full.get_layer("Conv1").kernel))
    # MobileNetV2's ImageNet weights expect [-1, 1] inputs, whatever the recipe says for training from scratch.
    assert any(layer.name == "scale_symmetric" for layer in model.layers)
    with pytest.raises(UsageError, match="neither 'imagenet' nor an existing weights file"):
        recipe.override({"model.pretrained": str(tmp_path / "missing.h5")}).build_model(num_classes=3)


def test_fine_tune_from_a_local_keras_hub_preset_offline(tmp_path):
    """A small keras-hub preset saved to a folder, then `kerazoo train
    --pretrained folder`: no network, the preset's weights are the start."""
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        image_shape=(None, None, 3),
    )
    preset = tmp_path / "tiny_resnet_preset"
    backbone.save_to_preset(str(preset))
    run_dir = tmp_path / "run"
    result = ok(run_kerazoo(
        "train", "resnet18", "--data", "digits", "--pretrained", preset, "--epochs", "2", "--batch-size", "32",
        "--steps-per-epoch", "4", "--set", "data.image_size=32", "--set", "train.freeze_backbone_epochs=1",
        "--no-profile", "--run-dir", run_dir, env={**__import__("os").environ, "KAGGLE_KEY": "", "HF_HUB_OFFLINE": "1"},
    ))
    recipe_yaml = (run_dir / "recipe.yaml").read_text()
    assert f"pretrained: {preset}" in recipe_yaml
    assert "phase 1" in result.stdout
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.count_params() < 1_000_000  # the preset's tiny architecture, not ResNet-18's 11.7M


def test_pretrained_is_refused_for_builders_without_weights():
    recipe = recipes.get("resnet20").override({"model.pretrained": "imagenet"})
    with pytest.raises(UsageError, match="cannot load pretrained weights"):
        recipe.build_model()


def test_fine_tune_a_text_encoder_from_a_local_preset_with_its_vocabulary(tmp_path, csv_file):
    """Pretrained text weights come with the vocabulary they were trained on:
    the run uses the preset's, not one trained from the data."""
    import keras_hub

    from conftest import FILLER, NEGATIVE, POSITIVE

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(FILLER + POSITIVE + NEGATIVE))]
    preset = tmp_path / "tiny_bert_preset"
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=64,
    ).save_to_preset(str(preset))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(str(preset))
    run_dir = tmp_path / "run"
    ok(run_kerazoo(
        "train", "bert_tiny", "--data", csv_file, "--pretrained", preset, "--epochs", "1", "--batch-size", "16",
        "--set", "data.sequence_length=32", "--no-profile", "--run-dir", run_dir,
    ))
    assert (run_dir / "vocabulary.txt").read_text().splitlines() == vocabulary
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.count_params() < 10_000  # the preset's 16-wide encoder, not BERT-Tiny's 4.4M
    too_long = run_kerazoo("train", "bert_tiny", "--data", csv_file, "--pretrained", preset, "--dry-run",
                           "--set", "data.sequence_length=128", "--epochs", "1")
    assert too_long.returncode == 0  # the plan alone does not build the model
