"""Proof that every recipe learns: each one, built at a small input size and
trained with its own optimizer, overfits one fixed small batch.

Augmentation, dropout and warmup are off (the issue's protocol) and the
final loss must fall below 0.7 x the first. A recipe whose optimizer
settings, schedule, learning-rate scaling, head or input scaling are broken
fails here. Float32 logits under mixed_bfloat16 are checked for every recipe
at full depth in test_models.py; here float32 keeps 2 CPU cores fast.

Where full depth is too slow on 2 cores (tracing a ResNet-152 training step
takes a minute), the recipe trains on the smallest member of its family
(`REDUCED`), with everything else its own. Recipes that are then identical
(same model, data and training sections, e.g. ResNet-50/101/152, which
share one recipe) would run the very same computation, so they are one case
named after all of them.
"""

import dataclasses

import keras
import numpy as np
import pytest

from kerazoo import models, optim, recipes

STEPS = 30  # images; text steps are cheap and fine-tuning rates small
TEXT_STEPS = 60
IMAGE_BATCH = 8
PRECISION = "float32"
NUM_CLASSES = 4
# keras.applications refuses smaller inputs for these.
MINIMUM_IMAGE_SIZE = {"Xception": 71}
# Family members that train the same way, at a fraction of the graph size.
REDUCED = {
    "ResNet101": "ResNet50", "ResNet152": "ResNet50",
    "EfficientNetB1": "EfficientNetB0", "EfficientNetB2": "EfficientNetB0", "EfficientNetB3": "EfficientNetB0",
    "EfficientNetV2S": "EfficientNetV2B0", "ConvNeXtSmall": "ConvNeXtTiny", "MobileNetV3Large": "MobileNetV3Small",
}
REDUCED_LAYERS = 2  # transformer encoders (ViT, BERT-style)


@pytest.fixture(autouse=True)
def fresh_keras_state():
    """Each model's graphs would otherwise stay in memory for the whole module."""
    yield
    keras.backend.clear_session(free_memory=True)


def small(recipe):
    """The recipe at a size that trains in seconds on a CPU, nothing else changed."""
    changes = {"train.warmup_epochs": 0.0}
    args = recipe.model.args
    if recipe.task == "image":
        changes["data.image_size"] = MINIMUM_IMAGE_SIZE.get(args.get("architecture"), 32)
    else:
        changes["data.sequence_length"] = 16
    if args.get("architecture") in REDUCED:
        changes["model.args.architecture"] = REDUCED[args["architecture"]]
    if args.get("num_layers", 0) > REDUCED_LAYERS:
        changes["model.args.num_layers"] = REDUCED_LAYERS
    if recipe.model.builder == "keras_hub_resnet" and args.get("depth", 18) > 18:
        changes["model.args.depth"] = 18
    return recipe.override(changes)


def batch_size(recipe):
    # Text batches are cheap at 16 tokens: train at the recipe's reference
    # batch, so its learning rate is used as stated.
    return IMAGE_BATCH if recipe.task == "image" else recipe.training.reference_batch_size


def fixed_batch(recipe, model):
    rng = np.random.default_rng(0)
    count = batch_size(recipe)
    labels = keras.ops.convert_to_numpy(keras.ops.one_hot(np.arange(count) % NUM_CLASSES, NUM_CLASSES))
    if recipe.task == "image":
        size = recipe.data.image_size
        return rng.uniform(0, 255, (count, size, size, 3)).astype("float32"), labels
    length = recipe.data.sequence_length
    inputs = {name: np.zeros((count, length), "int32") for name in model.input}
    inputs["token_ids"] = rng.integers(5, 100, (count, length)).astype("int32")
    if "padding_mask" in inputs:
        inputs["padding_mask"] = np.ones((count, length), "int32")
    return inputs, labels


def without_dropout(model):
    for layer in models.all_layers(model):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0


def identical_when_small():
    """Lists of recipe names whose `small` recipes train identically."""
    groups = {}
    for name in recipes.list():
        recipe = recipes.get(name)
        if recipe.task in ("image", "text"):
            reduced = small(recipe)
            key = repr((reduced.model, reduced.data, reduced.augment, reduced.training))
            groups.setdefault(key, []).append(name)
    return list(groups.values())


@pytest.mark.parametrize("names", identical_when_small(), ids=",".join)
def test_recipe_overfits_one_batch(names):
    name = names[0]
    recipe = small(recipes.get(name))
    model = models.build_classifier(recipe, num_classes=NUM_CLASSES, vocabulary_size=100, precision=PRECISION)
    without_dropout(model)
    assert model.output.dtype == "float32"
    train = recipe.training
    # The recipe's own optimizer and schedule, compressed into STEPS steps, at
    # its learning rate scaled to this batch as a run's plan would scale it.
    learning_rate = train.learning_rate * batch_size(recipe) / train.reference_batch_size
    steps = STEPS if recipe.task == "image" else TEXT_STEPS
    model.compile(
        optimizer=optim.build_optimizer(dataclasses.replace(train, epochs=1), learning_rate, steps),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=train.label_smoothing),
        jit_compile=False,  # as kerazoo's plan decides on a CPU; XLA compiles would dominate
    )
    inputs, labels = fixed_batch(recipe, model)
    losses = [float(model.train_on_batch(inputs, labels)) for _ in range(steps)]
    assert np.isfinite(losses).all(), losses
    assert losses[-1] < 0.7 * losses[0], f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}"
