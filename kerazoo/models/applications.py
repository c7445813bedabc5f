"""Image backbones from `keras.applications`, built with random weights.

The whole application is built with its own top (so architectures whose
top is more than one layer, such as MobileNetV3's 1024-wide conv, keep it),
then cut just before its final classifier; `build_classifier` adds a
float32 classifier there. Nothing here downloads.
"""

ARCHITECTURES = (
    "ConvNeXtBase", "ConvNeXtSmall", "ConvNeXtTiny",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2S",
    "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
    "NASNetMobile", "RegNetX002", "RegNetY002",
    "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2",
    "VGG16", "Xception",
)


def keras_application(*, input_shape, architecture):
    """Feature extractor from `keras.applications.<architecture>`.

    Args:
        input_shape: (height, width, 3).
        architecture: a class name in `keras.applications`, e.g. "ResNet50".
    """
    import keras

    from kerazoo.errors import UsageError, did_you_mean

    if architecture not in ARCHITECTURES:
        raise UsageError(
            f"Unknown keras.applications architecture '{architecture}'."
            f"{did_you_mean(architecture, ARCHITECTURES)} Supported: {', '.join(ARCHITECTURES)}."
        )
    constructor = getattr(keras.applications, architecture)
    full = constructor(
        include_top=True, weights=None, input_shape=tuple(input_shape), classes=1000, classifier_activation=None
    )
    classifier = _final_classifier(full)
    features = classifier.input
    if len(features.shape) > 2:
        features = keras.layers.Flatten(name="features_flatten")(features)
    return keras.Model(full.input, features, name=full.name)


def _final_classifier(model):
    """The last layer with weights: the 1000-way Dense (or 1x1 Conv) head."""
    for layer in reversed(model.layers):
        if layer.weights:
            return layer
    raise ValueError(f"{model.name} has no weighted layer")  # our bug
