"""Vision Transformers from keras-hub's `ViTBackbone`, configured directly.

No preset and no alias class (they download, DESIGN.md). The classifier reads
the class token after the encoder's final LayerNorm, as in Dosovitskiy et al.,
"An Image is Worth 16x16 Words" (ICLR 2021), eq. 4, and in DeiT and
torchvision's `vit_b_16`.
"""


def vit(*, input_shape, num_layers, num_heads, hidden_dim, mlp_dim, patch_size=16, dropout=0.0, attention_dropout=0.0,
        pretrained=None):
    """Feature extractor: images -> the class token's final representation.

    Args:
        input_shape: (height, width, 3); height and width must be multiples
            of `patch_size` (32 px with patch 16 gives 4 patches, enough for
            quick tests).
        num_layers, num_heads, hidden_dim, mlp_dim: the encoder's size
            (ViT-S/16: 12, 6, 384, 1536; ViT-B/16: 12, 12, 768, 3072).
        patch_size: side of the square patches, in pixels.
        dropout: dropout in the MLP blocks and after the embeddings.
        attention_dropout: dropout on the attention weights.
        pretrained: a keras-hub preset name or local preset directory; its
            configuration then replaces the sizes above.
    """
    import keras
    import keras_hub

    from kerazoo.errors import UsageError

    height, width = input_shape[0], input_shape[1]
    if height % patch_size or width % patch_size:
        raise UsageError(
            f"vit needs an image size that is a multiple of patch_size {patch_size}, got {height}x{width}."
        )
    if pretrained:
        from kerazoo.models.pretrained import keras_hub_backbone

        backbone = keras_hub_backbone(keras_hub.models.ViTBackbone, pretrained, image_shape=tuple(input_shape))
    else:
        backbone = None
    backbone = backbone or keras_hub.models.ViTBackbone(
        image_shape=tuple(input_shape),
        patch_size=patch_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        mlp_dim=mlp_dim,
        dropout_rate=dropout,
        attention_dropout=attention_dropout,
        name="vit_backbone",
    )
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    tokens = backbone(inputs)
    # Slicing a symbolic tensor is a serializable Keras operation (a Lambda
    # layer would need safe_mode=False to load).
    return keras.Model(inputs, tokens[:, 0], name="vit_features")
