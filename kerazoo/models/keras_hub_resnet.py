"""ResNets from keras-hub's `ResNetBackbone`, configured directly.

keras.applications has no ResNet-18 or ResNet-34 (basic blocks); keras-hub
does. The backbone is built from its constructor, never from a preset or an
alias class: those download even with `load_weights=False` (DESIGN.md).
Stage layout from He et al., "Deep Residual Learning for Image Recognition"
(CVPR 2016), Table 1.
"""

# depth -> (block type, blocks per stage)
LAYOUTS = {
    18: ("basic_block", (2, 2, 2, 2)),
    34: ("basic_block", (3, 4, 6, 3)),
    50: ("bottleneck_block", (3, 4, 6, 3)),
    101: ("bottleneck_block", (3, 4, 23, 3)),
    152: ("bottleneck_block", (3, 8, 36, 3)),
}


def keras_hub_resnet(*, input_shape, depth=18, pretrained=None):
    """Feature extractor: images -> globally average-pooled features.

    Args:
        input_shape: (height, width, 3).
        depth: 18 or 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        pretrained: a keras-hub preset name or local preset directory; its
            configuration then replaces `depth`.
    """
    import keras
    import keras_hub

    from kerazoo.errors import UsageError

    if pretrained:
        from kerazoo.models.pretrained import keras_hub_backbone

        backbone = keras_hub_backbone(keras_hub.models.ResNetBackbone, pretrained, image_shape=tuple(input_shape))
        inputs = keras.Input(shape=tuple(input_shape), name="images")
        pooled = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
        return keras.Model(inputs, pooled, name="resnet_pretrained_features")
    if depth not in LAYOUTS:
        raise UsageError(
            f"keras_hub_resnet depth must be one of {', '.join(map(str, LAYOUTS))}, got {depth}."
        )
    block_type, blocks = LAYOUTS[depth]
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=list(blocks),
        stackwise_num_strides=[1, 2, 2, 2],
        block_type=block_type,
        use_pre_activation=False,
        image_shape=tuple(input_shape),
        name=f"resnet{depth}_backbone",
    )
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    features = backbone(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    return keras.Model(inputs, pooled, name=f"resnet{depth}_features")
