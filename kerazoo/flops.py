"""Floating-point operations of a model's forward pass, counted from its layers.

The definition used everywhere in kerazoo (the benchmark, the catalogue):
FLOPs = 2 x the multiply-accumulates (MACs) of convolutions, dense layers
(`Dense`, `EinsumDense`) and the two matrix products inside attention
(query x key and weights x value), for ONE example at inference. Batch
normalization, activations, pooling, softmax and element-wise adds are not
counted: they are a few percent of the arithmetic of the models here and
bound by memory, not by multiply units. A training step costs about 3x the
forward pass (the backward pass computes gradients for activations and for
weights, each about one forward's worth).

Figures to check against: CIFAR ResNet-20 0.041 G MACs and EfficientNet-B0
0.39 G MACs (their papers); Keras's ResNet50 is the paper's v1 (stride in
the first 1x1 convolution), 3.86 G MACs = 7.7 GFLOPs (He et al., 2016:
"3.8 x 10^9 FLOPs", counting multiply-adds). NVIDIA's 24.7 GFLOP per
training image is 3 x 8.2 GFLOPs of ResNet-50 v1.5 (stride in the 3x3
convolution, 4.1 G MACs).

The count comes from tracing the model once on one example, without
computing anything (`jax.eval_shape`, a `tf.function` trace; eagerly on
other backends), and recording the shapes each counted layer sees, so it
follows nested functional models and layers built inside other layers
(keras-hub's transformer blocks) without knowing their code.

```python
from kerazoo import flops, recipes
flops.count_flops(recipes.get("resnet50").build_model())   # 7.7e9
```
"""

import dataclasses
import inspect
import math


@dataclasses.dataclass(frozen=True)
class LayerFlops:
    """The FLOPs of one call of one layer (a shared layer appears once per call)."""

    name: str
    kind: str
    flops: int


def count_flops(model, inputs=None):
    """Forward FLOPs of `model` for one example (2 x multiply-accumulates).

    Args:
        model: a built `keras.Model`, e.g. from `Recipe.build_model()`;
            nested models and keras-hub backbones are followed.
        inputs: one example with a leading batch axis of 1, in the structure
            the model takes. By default, made from the model's input specs
            (zeros for floats, ones for integer ids and masks).

    Returns:
        An int.
    """
    return sum(entry.flops for entry in layer_flops(model, inputs))


def layer_flops(model, inputs=None):
    """Per-call FLOPs of every counted layer, in call order.

    Args:
        model: a built `keras.Model`.
        inputs: as for `count_flops`.

    Returns:
        A list of `LayerFlops`.
    """
    if inputs is None:
        inputs = example_inputs(model)
    records = []
    patched = []
    try:
        for layer in _all_layers(model):
            counter = _counter_for(layer)
            if counter is not None and "call" not in vars(layer):
                _record_calls(layer, counter, records)
                patched.append(layer)
        _trace_forward(model, inputs)
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")
    return records


def _trace_forward(model, inputs):
    """Call `model` on `inputs` for the shapes only: no arithmetic and no
    device memory where the backend can trace abstractly (on JAX eager calls
    would also compile every operation one by one)."""
    import keras

    backend = keras.config.backend()
    if backend == "jax":
        import jax

        jax.eval_shape(lambda values: model(values, training=False), inputs)
    elif backend == "tensorflow":
        import tensorflow as tf

        specs = keras.tree.map_structure(lambda value: tf.TensorSpec(value.shape, value.dtype), inputs)
        tf.function(lambda values: model(values, training=False)).get_concrete_function(specs)
    else:
        model(inputs, training=False)


def example_inputs(model, batch_size=1):
    """Inputs of `batch_size` examples matching the model's input specs."""
    import keras
    import numpy as np

    def make(spec):
        shape = (batch_size, *spec.shape[1:])
        if any(size is None for size in shape):
            raise ValueError(
                f"Input '{spec.name}' of model '{model.name}' has an unknown size {tuple(spec.shape)}; "
                "pass inputs= with one example to count its FLOPs."
            )
        dtype = str(spec.dtype)
        if "int" in dtype or dtype == "bool":
            # Ones: valid token ids, segment ids and "not padding" masks.
            return np.ones(shape, dtype=dtype)
        return np.zeros(shape, dtype=dtype)

    return keras.tree.map_structure(make, model.input)


def _all_layers(model):
    """Every layer inside `model`, including those created inside other
    layers (keras-hub's TransformerEncoder holds its attention and dense
    layers as attributes, not as functional nodes)."""
    seen = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if id(layer) not in seen:
            seen.add(id(layer))
            yield layer


def _record_calls(layer, counter, records):
    original = layer.call
    signature = inspect.signature(original)

    def call(*args, **kwargs):
        outputs = original(*args, **kwargs)
        arguments = signature.bind_partial(*args, **kwargs).arguments
        records.append(LayerFlops(layer.name, type(layer).__name__, 2 * counter(layer, arguments, outputs)))
        return outputs

    # An instance attribute shadows the class's `call`; Keras's `__call__`
    # looks it up on the instance. Set around Keras's attribute tracking.
    object.__setattr__(layer, "call", call)


def _counter_for(layer):
    """The MAC counter for `layer`'s type, or None when it is not counted."""
    from keras import layers

    from kerazoo.models.causal_lm import TiedEmbeddingLogits

    # Order matters: the specific convolution bases before the generic ones.
    table = (
        (TiedEmbeddingLogits, _tied_embedding_macs),
        (layers.MultiHeadAttention, _attention_macs),
        (layers.EinsumDense, _einsum_dense_macs),
        (layers.Dense, _dense_macs),
        (_conv_base("base_separable_conv", "BaseSeparableConv"), _separable_conv_macs),
        (_conv_base("base_depthwise_conv", "BaseDepthwiseConv"), _depthwise_conv_macs),
        (_conv_base("base_conv_transpose", "BaseConvTranspose"), _conv_transpose_macs),
        (_conv_base("base_conv", "BaseConv"), _conv_macs),
    )
    for kind, counter in table:
        if kind is not None and isinstance(layer, kind):
            return counter
    return None


def _conv_base(module, name):
    """Keras's convolution base classes; not exported, so found by path."""
    import importlib

    try:
        return getattr(importlib.import_module(f"keras.src.layers.convolutional.{module}"), name)
    except (ImportError, AttributeError):  # a future Keras moved them
        return None


def _elements_per_example(tensor):
    return math.prod(int(size) for size in tuple(tensor.shape)[1:])


def _shape(variable):
    return tuple(int(size) for size in variable.shape)


def _first_output(outputs):
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def _dense_macs(layer, arguments, outputs):
    # Each output element is a dot product over the input features.
    return _elements_per_example(_first_output(outputs)) * _shape(layer.kernel)[0]


def _tied_embedding_macs(layer, arguments, outputs):
    # A language model's output projection: each logit is a dot product of
    # the hidden state with one row of the token embedding.
    return _elements_per_example(_first_output(outputs)) * int(layer.embedding.output_dim)


def _einsum_dense_macs(layer, arguments, outputs):
    # Each output element sums over the kernel axes that do not reach the output.
    equation = layer.equation.replace(" ", "")
    operands, output_axes = equation.split("->")
    kernel_axes = operands.split(",")[1]
    kernel_shape = _shape(layer.kernel)
    contracted = 1
    for axis, size in zip(kernel_axes, kernel_shape):
        if axis not in output_axes:
            contracted *= size
    return _elements_per_example(_first_output(outputs)) * contracted


def _conv_macs(layer, arguments, outputs):
    # Kernel (*window, input channels / groups, filters): each output element
    # is a dot product over the window and the input channels of its group.
    return _elements_per_example(_first_output(outputs)) * math.prod(_shape(layer.kernel)[:-1])


def _depthwise_conv_macs(layer, arguments, outputs):
    # Kernel (*window, channels, multiplier): one window per output element.
    return _elements_per_example(_first_output(outputs)) * math.prod(_shape(layer.kernel)[:-2])


def _separable_conv_macs(layer, arguments, outputs):
    depthwise = _shape(layer.depthwise_kernel)  # (*window, channels, multiplier)
    pointwise = _shape(layer.pointwise_kernel)  # (1, ..., channels * multiplier, filters)
    positions = _elements_per_example(_first_output(outputs)) // pointwise[-1]
    window = math.prod(depthwise[:-2])
    intermediate = depthwise[-2] * depthwise[-1]
    return positions * intermediate * (window + pointwise[-1])


def _conv_transpose_macs(layer, arguments, outputs):
    # Kernel (*window, filters, input channels): every input element is
    # spread over a window of every filter.
    inputs = arguments.get("inputs")
    return _elements_per_example(inputs) * math.prod(_shape(layer.kernel)[:-1])


def _attention_macs(layer, arguments, outputs):
    # Only the two products of attention itself; its projections are
    # EinsumDense layers, counted on their own.
    query = arguments["query"]
    value = arguments["value"]
    query_positions = math.prod(int(size) for size in tuple(query.shape)[1:-1])
    value_positions = math.prod(int(size) for size in tuple(value.shape)[1:-1])
    heads = layer.num_heads
    return query_positions * value_positions * heads * (layer.key_dim + layer.value_dim)
