"""CIFAR-style ResNets (He et al., 2016, section 4.2): ResNet-20/32/44/56/110.

Keras ships only ImageNet ResNets, so this is our own builder. Three stages
of 16, 32 and 64 filters with n basic blocks each (depth = 6n + 2), and the
paper's parameter-free shortcut "option A" (subsample, then zero-pad the new
channels), which is what gives ResNet-20 its published 0.27M parameters.
Built only from core Keras layers so that `model.keras` loads anywhere.
"""


def resnet_cifar(*, input_shape, depth=20, width=16, batchnorm_momentum=0.9):
    """Feature extractor: images -> globally pooled features (4 * width).

    Args:
        input_shape: (height, width, 3); 32x32 in the paper.
        depth: 6n + 2 layers: 20, 32, 44, 56 or 110.
        width: filters in the first stage (16 in the paper).
        batchnorm_momentum: 0.9, as in the reference PyTorch code.
    """
    import keras
    from keras import layers

    if (depth - 2) % 6 != 0 or depth < 8:
        from kerazoo.errors import UsageError

        raise UsageError(f"resnet_cifar depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}.")
    blocks = (depth - 2) // 6

    def conv(filters, strides, name):
        return layers.Conv2D(
            filters, 3, strides=strides, padding="same", use_bias=False,
            kernel_initializer="he_normal", name=name,
        )

    def batchnorm(name):
        return layers.BatchNormalization(momentum=batchnorm_momentum, epsilon=1e-5, name=name)

    def shortcut(x, filters, name):
        # Option A: x[:, ::2, ::2] (pooling with a 1x1 window), then zero channels.
        x = layers.MaxPooling2D(pool_size=1, strides=2, name=f"{name}_subsample")(x)
        height, width_, channels = x.shape[1], x.shape[2], x.shape[3]
        pad = filters - channels
        # Pad the channel axis with core layers only: move it to the time axis.
        x = layers.Reshape((height * width_, channels), name=f"{name}_flatten")(x)
        x = layers.Permute((2, 1), name=f"{name}_channels_first")(x)
        x = layers.ZeroPadding1D((pad // 2, pad - pad // 2), name=f"{name}_pad")(x)
        x = layers.Permute((2, 1), name=f"{name}_channels_last")(x)
        return layers.Reshape((height, width_, filters), name=f"{name}_unflatten")(x)

    inputs = keras.Input(shape=input_shape, name="images")
    x = conv(width, 1, "stem_conv")(inputs)
    x = batchnorm("stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage in range(3):
        filters = width * 2**stage
        for block in range(blocks):
            name = f"stage{stage + 1}_block{block + 1}"
            strides = 2 if stage > 0 and block == 0 else 1
            residual = x
            y = conv(filters, strides, f"{name}_conv1")(x)
            y = batchnorm(f"{name}_bn1")(y)
            y = layers.ReLU(name=f"{name}_relu1")(y)
            y = conv(filters, 1, f"{name}_conv2")(y)
            y = batchnorm(f"{name}_bn2")(y)
            if strides != 1:
                residual = shortcut(x, filters, f"{name}_shortcut")
            x = layers.Add(name=f"{name}_add")([y, residual])
            x = layers.ReLU(name=f"{name}_relu2")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name=f"resnet{depth}_cifar")
