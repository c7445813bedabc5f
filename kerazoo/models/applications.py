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


def keras_application(*, input_shape, architecture, pretrained=None):
    """Feature extractor from `keras.applications.<architecture>`.

    Args:
        input_shape: (height, width, 3).
        architecture: a class name in `keras.applications`, e.g. "ResNet50".
        pretrained: None (random weights, nothing downloads), "imagenet", or
            a local ImageNet weights file (see `kerazoo.models.pretrained`).
    """
    import keras

    from kerazoo.errors import UsageError, did_you_mean
    from kerazoo.models import pretrained as pretrained_weights

    if architecture not in ARCHITECTURES:
        raise UsageError(
            f"Unknown keras.applications architecture '{architecture}'."
            f"{did_you_mean(architecture, ARCHITECTURES)} Supported: {', '.join(ARCHITECTURES)}."
        )
    constructor = getattr(keras.applications, architecture)
    weights = pretrained_weights.keras_application_weights(pretrained, architecture) if pretrained else None
    try:
        full = constructor(
            include_top=True, weights=weights, input_shape=tuple(input_shape), classes=1000, classifier_activation=None
        )
    except UsageError:
        raise
    except Exception as error:  # a failed download, a file of another architecture
        if weights is None:
            raise
        raise pretrained_weights.keras_application_load_error(architecture, error) from None
    if weights and pretrained_weights.keras_application_inputs(architecture) == "caffe":
        pretrained_weights.reverse_first_convolution_channels(full)
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
