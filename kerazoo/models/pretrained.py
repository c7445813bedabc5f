"""Pretrained weights, loaded only when asked for (`--pretrained`,
`model.pretrained`), with the input scaling those weights were trained with.

Two kinds:

* `keras.applications` ImageNet weights: `imagenet` (Keras downloads them
  once into ~/.keras/models) or a local `.h5` / `.weights.h5` file of the
  same architecture (with its 1000-way top, as Keras publishes them);
* keras-hub presets: a preset name (downloaded from a hub) or a local preset
  directory (`backbone.save_to_preset(...)`), which loads with no network.

Offline, a download fails with a message that names the local alternative.
"""

import os
import pathlib

from kerazoo.errors import UsageError

# The input scaling each keras.applications family's ImageNet weights expect
# (keras.applications' own `preprocess_input` modes): "caffe" is BGR with
# the ImageNet means subtracted, "symmetric" is [-1, 1] ("tf" mode),
# "imagenet" is the mean/std "torch" mode, "raw" means the model scales
# 0-255 inputs itself.
KERAS_APPLICATION_INPUTS = {
    "ResNet50": "caffe", "ResNet101": "caffe", "ResNet152": "caffe", "VGG16": "caffe",
    "ResNet50V2": "symmetric", "ResNet101V2": "symmetric", "MobileNet": "symmetric",
    "MobileNetV2": "symmetric", "Xception": "symmetric", "InceptionV3": "symmetric",
    "NASNetMobile": "symmetric",
    "DenseNet121": "imagenet", "DenseNet169": "imagenet", "DenseNet201": "imagenet",
}


def keras_application_inputs(architecture):
    """The scaling mode `architecture`'s ImageNet weights expect."""
    return KERAS_APPLICATION_INPUTS.get(architecture, "raw")  # EfficientNet*, ConvNeXt*, MobileNetV3*, RegNet*


def keras_application_weights(value, architecture):
    """`weights=` for a keras.applications constructor: "imagenet" or a file."""
    if value == "imagenet":
        return value
    path = pathlib.Path(value).expanduser()
    if not path.is_file():
        raise UsageError(
            f"--pretrained '{value}' is neither 'imagenet' nor an existing weights file. For "
            f"{architecture}, pass 'imagenet' (downloaded once into ~/.keras/models) or the path to "
            "its Keras ImageNet weights file (.h5, with the top)."
        )
    return str(path.resolve())


def keras_application_load_error(architecture, error):
    return UsageError(
        f"Could not load ImageNet weights for {architecture} ({type(error).__name__}: {error}). Without "
        "network access, download the weights file on a machine that has it (keras.applications."
        f"{architecture}(weights='imagenet') saves it under ~/.keras/models/), copy it here and pass "
        "--pretrained /path/to/that/file.h5 (or put it in ~/.keras/models/ and pass imagenet)."
    )


def reverse_first_convolution_channels(model):
    """Let RGB inputs meet weights trained on BGR ("caffe" mode).

    Reversing the input-channel axis of the first convolution's kernel is
    exactly equivalent to reversing the image's channels, without a custom
    layer in the saved model.
    """
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel
            kernel.assign(keras.ops.flip(kernel, axis=2))
            return layer.name
    raise ValueError(f"{model.name} has no convolution to adapt")  # our bug


def keras_hub_backbone(backbone_class, preset, **overrides):
    """`backbone_class.from_preset(preset)`: a local directory or a hub name."""
    local = pathlib.Path(os.path.expanduser(str(preset)))
    source = str(local.resolve()) if local.is_dir() else str(preset)
    try:
        return backbone_class.from_preset(source, **overrides)
    except Exception as error:  # network, hub and format errors all end here
        kind = "local preset directory" if local.is_dir() else "preset"
        raise UsageError(
            f"Could not load the {kind} '{preset}' as a {backbone_class.__name__} ({type(error).__name__}: "
            f"{str(error)[:300]}). A preset name downloads from a hub, which needs network access; offline, "
            "save the preset on a machine that has it (keras_hub.models."
            f"{backbone_class.__name__}.from_preset('{preset}').save_to_preset('dir')), copy the directory "
            "here and pass --pretrained dir."
        ) from None


def preset_scaling(preset):
    """(scale, offset) of the preset's image converter, or None when it has none."""
    local = pathlib.Path(os.path.expanduser(str(preset)))
    if local.is_dir() and not (local / "image_converter.json").exists():
        return None
    try:
        import keras_hub

        converter = keras_hub.layers.ImageConverter.from_preset(str(local.resolve()) if local.is_dir() else preset)
    except Exception:  # no converter in this preset
        return None
    return converter.scale, converter.offset
