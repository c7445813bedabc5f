"""Build the classifier a recipe trains.

Every classifier is: inputs -> input scaling (images) -> the builder's
feature extractor -> dropout -> a float32 Dense head. The head is float32
under every precision policy: softmax and cross-entropy in float16/bfloat16
give NaN or poor accuracy (tensorflow/tensorflow#34406, keras-team/keras#16552).
"""

import contextlib

from kerazoo.errors import UsageError
from kerazoo.models import registry


def build_classifier(recipe, num_classes=None, vocabulary_size=None, precision=None, batchnorm_momentum=None):
    """Build `recipe`'s classifier with random weights (see `Recipe.build_model`).

    A `text_generation` recipe gets its language model instead (no classes:
    one float32 logit per vocabulary entry and position).
    """
    import keras

    if recipe.task == "text_generation":
        return build_language_model(recipe, vocabulary_size=vocabulary_size, precision=precision)
    num_classes = num_classes or recipe.data.num_classes
    if not num_classes or num_classes < 2:
        raise UsageError(f"Recipe '{recipe.name}': num_classes must be 2 or more, got {num_classes}.")
    builder = registry.load(recipe.model.builder)
    args = dict(recipe.model.args)
    if recipe.model.pretrained:
        args["pretrained"] = _pretrained_argument(recipe, builder)
    with dtype_policy(precision):
        if recipe.task == "image":
            size = recipe.data.image_size
            features = builder(input_shape=(size, size, 3), **args)
            inputs = keras.Input(shape=(size, size, 3), name="images")
            scale = input_scaling(recipe)
            x = features(scale(inputs) if scale else inputs)
        else:
            vocabulary_size = vocabulary_size or recipe.data.vocabulary_size
            features = builder(vocabulary_size=vocabulary_size, sequence_length=recipe.data.sequence_length, **args)
            inputs = {
                name: keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=name)
                for name, tensor in features.input.items()
            }
            x = features(inputs)
        if recipe.model.dropout:
            x = keras.layers.Dropout(recipe.model.dropout, name="head_dropout")(x)
        logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
        model = keras.Model(inputs, logits, name=recipe.name)
    if batchnorm_momentum is not None:
        set_batchnorm_momentum(model, batchnorm_momentum)
    return model


def _pretrained_argument(recipe, builder):
    import inspect

    if "pretrained" not in inspect.signature(builder).parameters:
        raise UsageError(
            f"Recipe '{recipe.name}' (builder '{recipe.model.builder}') cannot load pretrained weights: "
            "kerazoo loads them for keras.applications models and for keras-hub presets (ResNet, ViT, BERT, "
            "DistilBERT, RoBERTa, GPT-2). "
            "Remove model.pretrained / --pretrained to train from random weights."
        )
    return recipe.model.pretrained


def input_scaling(recipe):
    """The input scaling layer of an image classifier (None: the backbone
    scales by itself): the recipe's mode, or with pretrained weights the
    scaling those weights were trained with."""
    import keras

    from kerazoo.models import pretrained
    from kerazoo.models.preprocessing import scaling_layer

    mode = recipe.model.preprocessing
    if recipe.model.pretrained:
        if recipe.model.builder == "keras_application":
            mode = pretrained.keras_application_inputs(recipe.model.args["architecture"])
        else:
            found = pretrained.preset_scaling(recipe.model.pretrained)
            if found is not None:
                scale, offset = found
                return keras.layers.Rescaling(scale, offset=offset, dtype="float32", name="scale_preset")
    return scaling_layer(mode)


def backbone(model):
    """The pretrained part of a classifier: the nested feature extractor."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"{model.name} has {len(nested)} nested models, expected one backbone")  # our bug
    return nested[0]


def build_language_model(recipe, vocabulary_size=None, precision=None):
    """Build `recipe`'s causal language model with random weights: the
    builder returns the whole model, its logits already float32."""
    builder = registry.load(recipe.model.builder)
    with dtype_policy(precision):
        return builder(
            vocabulary_size=vocabulary_size or recipe.data.vocabulary_size,
            sequence_length=recipe.data.sequence_length,
            **recipe.model.args,
        )


@contextlib.contextmanager
def dtype_policy(name):
    """Build under the Keras dtype policy `name` (None: leave it alone)."""
    import keras

    if name is None:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def set_batchnorm_momentum(model, momentum):
    """Set the moving-average momentum of every BatchNormalization inside `model`."""
    import keras

    count = 0
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
            count += 1
    return count


def all_layers(model):
    """Every layer of `model`, descending into nested models."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)
