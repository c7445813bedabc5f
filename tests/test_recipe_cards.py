"""Recipe cards against built models: every recipe's reported parameter count
matches what it builds, image inputs are scaled exactly once, and every image
recipe trains a step at a small input size."""

import keras
import numpy as np
import pytest

from kerazoo import augment, models, recipes

# keras.applications refuses inputs smaller than these (obtain_input_shape's
# min_size); everything else trains at 32 px.
MINIMUM_IMAGE_SIZE = {"Xception": 71}
SMALL_IMAGE_SIZE = 32


def parameter_counts(model):
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    return model.count_params(), trainable


def internal_scaling_layers(model):
    """Rescaling/Normalization layers inside the backbone, not kerazoo's own
    input scaling (named `scale_<mode>` by kerazoo.models.preprocessing)."""
    kinds = (keras.layers.Rescaling, keras.layers.Normalization)
    return [
        layer for layer in models.all_layers(model)
        if isinstance(layer, kinds) and not layer.name.startswith("scale_")
    ]


@pytest.mark.parametrize("name", recipes.list())
def test_built_parameters_match_the_reported_figure(name):
    recipe = recipes.get(name)
    card = recipe.card
    assert card.params, f"{name}: the card reports no parameter count"
    total, trainable = parameter_counts(recipe.build_model(precision="float32"))
    built = trainable if card.params_counting == "trainable" else total
    tolerance = 0.005 * card.params  # sources round; 0.5% is about 3 significant digits
    expected = card.params + card.params_difference
    assert abs(built - expected) <= tolerance, (
        f"{name}: built {built:,} ({card.params_counting}) but the card reports {card.params:,}"
        f"{f' + {card.params_difference:,}' if card.params_difference else ''}; fix the card's figure,"
        " its params_counting, or state params_difference and explain it in params_note"
    )
    if card.params_difference:
        # A declared difference must be explained and must be needed.
        assert card.params_note, f"{name}: params_difference without a params_note"
        assert abs(built - card.params) > tolerance, f"{name}: params_difference is not needed"


@pytest.mark.parametrize("name", recipes.list(task="image"))
def test_image_cards_are_complete(name):
    recipe = recipes.get(name)
    card = recipe.card
    assert card.description and card.hyperparameters_source
    assert card.accuracy and all((card.accuracy.metric, card.accuracy.dataset, card.accuracy.source))
    assert 0 < card.accuracy.value < 1
    assert card.reproduced is None, "reproduced stays empty until a kerazoo run measured it"
    assert (card.macs_reported is None) == (not card.macs_source)
    header = open(recipe.source, encoding="utf-8").readline()
    assert header.startswith("# "), f"{name}: the file must open with a comment citing its recipe"


def small_image_size(recipe):
    minimum = MINIMUM_IMAGE_SIZE.get(recipe.model.args.get("architecture"), 0)
    return max(SMALL_IMAGE_SIZE, minimum)


@pytest.mark.parametrize("name", recipes.list(task="image"))
def test_scales_inputs_once_and_trains_a_step_at_a_small_size(name):
    recipe = recipes.get(name)
    size = small_image_size(recipe)
    recipe = recipe.override({"data.image_size": size})
    model = recipe.build_model(num_classes=3)
    # `raw` is right exactly when the backbone scales its inputs itself
    # (keras.applications EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt).
    inside = internal_scaling_layers(model)
    if recipe.model.preprocessing == "raw":
        assert inside, f"{name}: preprocessing 'raw' but the backbone does not scale its inputs"
    else:
        assert not inside, f"{name}: the backbone scales its inputs itself ({inside[0].name}); use 'raw'"
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,  # one step: tracing a graph would cost more than it saves
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (4, size, size, 3)).astype("float32")
    labels = np.array([0, 1, 2, 0])
    augmenter = augment.build_augmenter(recipe.augment, size, seed=0)
    if augmenter is not None:  # the recipe's own augmentation, at this size
        images = keras.ops.convert_to_numpy(augmenter(images, training=True))
        assert images.shape == (4, size, size, 3)
    loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss), f"{name}: loss {loss} after one step"
