"""Every recipe builds offline, and its logits are float32 under any policy."""

import keras
import numpy as np
import pytest

from kerazoo import models, recipes


@pytest.fixture
def no_downloads(monkeypatch):
    """Building must never fetch weights (DESIGN.md: offline first)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download: {args} {kwargs}")

    monkeypatch.setattr(keras.utils, "get_file", refuse)
    import keras.src.utils.file_utils as file_utils

    monkeypatch.setattr(file_utils, "get_file", refuse)


def sample_inputs(recipe, model, batch=2):
    if recipe.task == "image":
        size = recipe.data.image_size
        return np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")
    length = recipe.data.sequence_length
    inputs = {
        "token_ids": np.random.default_rng(0).integers(5, 50, (batch, length)).astype("int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }
    return {name: value for name, value in inputs.items() if name in model.input}


@pytest.mark.parametrize("name", recipes.list())
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_logits_are_float32_under_mixed_precision(name, precision, no_downloads):
    recipe = recipes.get(name)
    # Small inputs: the dtypes do not depend on the size, and CI time does.
    if recipe.task != "image":
        recipe = recipe.override({"data.sequence_length": 16})
    else:
        recipe = recipe.override({"data.image_size": 71 if recipe.model.args.get("architecture") == "Xception" else 32})
    model = recipe.build_model(num_classes=7, vocabulary_size=100 if recipe.task != "image" else None, precision=precision)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert model.output.dtype == "float32"
    # The backbone really runs in low precision; only the head is float32.
    assert any(layer.dtype_policy.name == precision for layer in model.layers)
    logits = model(sample_inputs(recipe, model), training=False)
    assert keras.ops.convert_to_numpy(logits).dtype == np.float32
    # Classifiers: one logit per class; language models: per position, per token.
    expected = (2, 16, 100) if recipe.task == "text_generation" else (2, 7)
    assert logits.shape == expected


def test_resnet20_has_the_published_architecture():
    model = recipes.get("resnet20").build_model()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 269_722  # 0.27M in He et al. 2016, Table 6
    assert model.count_params() - trainable == 1_376  # BatchNorm moving statistics


def test_keras_application_head_matches_keras_own_count():
    # Our float32 head replaces exactly the 1000-way classifier Keras builds.
    model = recipes.get("resnet50").build_model()
    assert model.count_params() == 25_636_712


def test_batchnorm_momentum_is_set_everywhere_inside():
    recipe = recipes.get("mobilenet_v3_small").override({"data.image_size": 64})
    model = models.build_classifier(recipe, num_classes=3, batchnorm_momentum=0.9)
    layers = [l for l in models.all_layers(model) if isinstance(l, keras.layers.BatchNormalization)]
    assert layers and all(layer.momentum == 0.9 for layer in layers)


def test_unknown_application_and_bad_depth_are_usage_errors():
    from kerazoo.errors import UsageError

    with pytest.raises(UsageError, match="Did you mean 'ResNet50'"):
        recipes.get("resnet50").override({"model.args.architecture": "ResNet5O"}).build_model()
    with pytest.raises(UsageError, match="6n\\+2"):
        recipes.get("resnet20").override({"model.args.depth": 21}).build_model()


def test_augmentation_runs_only_in_training_and_is_not_saved(tmp_path):
    from kerazoo import augment
    from kerazoo.models.training_model import training_model

    recipe = recipes.get("resnet20").override({"model.args.depth": 8})
    classifier = recipe.build_model(num_classes=3)
    augmenter = augment.build_augmenter(recipe.augment, 32, seed=0)
    model = training_model(classifier, augmenter)
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    assert np.allclose(inference, keras.ops.convert_to_numpy(classifier(images, training=False)))
    classifier.save(tmp_path / "model.keras")
    names = {layer.name for layer in keras.saving.load_model(tmp_path / "model.keras").layers}
    assert "augmentation" not in names


def test_layers_xla_cannot_compile_move_to_the_input_pipeline_when_the_step_compiles():
    """RandAugment's rotation, shear and translation declare supports_jit=False,
    and one such layer in a model makes Keras compile none of it. Under a plan
    that compiles, RandAugment runs in tf.data and the model stays compiled;
    under one that does not, nothing moves."""
    import dataclasses

    import tensorflow as tf

    from kerazoo import augment, data
    from kerazoo.data.sources import parse_source
    from kerazoo.devices import Accelerator, DeviceInfo
    from kerazoo.models.training_model import training_model
    from kerazoo.plan import make_plan

    recipe = recipes.get("efficientnet_b0").override({"data.image_size": 32})
    assert recipe.augment.randaugment_magnitude and recipe.augment.flip != "none"

    def names(layers):
        return [type(layer).__name__ for layer in getattr(layers, "layers", layers)]

    def compiles(augmenter):
        inputs = keras.Input((32, 32, 3))
        head = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs)))
        model = training_model(head, augmenter)
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
        return model.jit_compile

    assert names(augment.build_augmenter(recipe.augment, 32, 0, compiled=True)) == ["RandomFlip"]
    assert names(augment.pipeline_augmenter(recipe.augment, 0, compiled=True)) == ["RandAugment"]
    assert compiles(augment.build_augmenter(recipe.augment, 32, 0, compiled=True))
    # Control: all of it in the model, as when the step is not compiled.
    assert names(augment.build_augmenter(recipe.augment, 32, 0)) == ["RandomFlip", "RandAugment"]
    assert augment.pipeline_augmenter(recipe.augment, 0, compiled=False) == []
    with pytest.warns(UserWarning, match="jit_compile"):
        assert not compiles(augment.build_augmenter(recipe.augment, 32, 0))

    # The training pipeline of a compiling plan (a GPU described by hand)
    # applies it on the host and says so.
    gpu = DeviceInfo("tensorflow", (Accelerator("GPU", "NVIDIA H100", (9, 0)),))
    plan = dataclasses.replace(make_plan(recipe, gpu, batch_size=8), precision="float32")
    assert plan.xla
    datasets = data.load(parse_source("digits", recipe), recipe, plan, seed=0)
    assert any("RandAugment in the input pipeline" in note for note in datasets.notes)
    images, labels = next(iter(datasets.train))
    assert images.shape == (8, 32, 32, 3) and images.dtype == tf.float32 and labels.shape == (8, 10)
    plain = data.load(parse_source("digits", recipe), recipe, dataclasses.replace(plan, xla=False), seed=0)
    unchanged, _ = next(iter(plain.train))
    assert not np.allclose(images.numpy(), unchanged.numpy()), "RandAugment (magnitude 9) changed nothing"
