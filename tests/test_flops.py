"""The FLOP counter: exact counts on models small enough to count by hand,
and the recipes' models against figures published for them."""

import keras
import numpy as np
import pytest

from kerazoo import flops, recipes
from kerazoo.models import all_layers


def small_convolutional_model():
    """Every counted layer kind, a nested model and a shared layer."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8*4 outputs x 3*3*3 = 6912 MACs
    x = keras.layers.BatchNormalization()(x)  # not counted
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", groups=2)(x)  # 4*4*8 x 3*3*2 = 2304
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)  # 4*4*16 x 3*3 = 2304
    x = keras.layers.SeparableConv2D(6, 3, padding="same")(x)  # 4*4 x 16 x (3*3 + 6) = 3840
    x = keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same")(x)  # 4*4*6 inputs x 3*3*2 = 1728
    x = keras.layers.GlobalAveragePooling2D()(x)
    inner_inputs = keras.Input((2,))
    shared = keras.layers.Dense(5)
    added = keras.layers.Add()([shared(inner_inputs), shared(inner_inputs)])  # 2 calls x 5*2 = 20
    x = keras.Model(inner_inputs, added, name="inner")(x)
    outputs = keras.layers.EinsumDense("ab,bc->ac", output_shape=3)(x)  # 3 x 5 = 15
    return keras.Model(inputs, outputs)


def test_hand_counted_convolutions_dense_nesting_and_sharing():
    model = small_convolutional_model()
    macs = 6912 + 2304 + 2304 + 3840 + 1728 + 20 + 15
    assert flops.count_flops(model) == 2 * macs
    kinds = [entry.kind for entry in flops.layer_flops(model)]
    assert kinds.count("Dense") == 2  # the shared layer, once per call
    assert "BatchNormalization" not in kinds


def test_counting_leaves_the_model_as_it_was():
    model = small_convolutional_model()
    before = model(np.ones((2, 8, 8, 3), "float32"))
    flops.count_flops(model)
    assert not any("call" in vars(layer) for layer in all_layers(model))
    after = model(np.ones((2, 8, 8, 3), "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after))


def test_attention_counts_its_products_and_its_projections():
    query = keras.Input((4, 6))
    value = keras.Input((5, 6))
    outputs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(query, value)
    model = keras.Model([query, value], outputs)
    projections = 4 * 6 * 6 + 2 * (5 * 6 * 6) + 4 * 6 * 6  # query, key, value, output
    products = 4 * 5 * 2 * (3 + 3)  # query x key and weights x value, 2 heads
    assert flops.count_flops(model) == 2 * (projections + products)


def test_keras_hub_bert_matches_the_transformer_formula():
    length, hidden, intermediate, layers, classes = 16, 128, 512, 2, 2
    recipe = recipes.get("bert_tiny").override({"data.sequence_length": length, "data.vocabulary_size": 200})
    model = recipe.build_model(num_classes=classes)
    per_layer = 4 * length * hidden * hidden + 2 * length * hidden * intermediate + 2 * length * length * hidden
    pooler_and_head = hidden * hidden + hidden * classes  # both on the [CLS] vector only
    assert flops.count_flops(model) == 2 * (layers * per_layer + pooler_and_head)


def test_resnet20_matches_the_published_41_million_multiply_accumulates():
    model = recipes.get("resnet20").build_model()
    counted = flops.count_flops(model)
    assert counted == 81_102_080  # 40.55 M MACs: the 41M of the pruning literature
    assert counted / 2 == pytest.approx(41e6, rel=0.02)


def test_unknown_input_sizes_ask_for_an_example():
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="pass inputs="):
        flops.count_flops(model)
    assert flops.count_flops(model, inputs=np.zeros((1, 7, 4), "float32")) == 2 * 7 * 3 * 4
