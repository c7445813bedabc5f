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
