"""What every keras-hub text builder shares: a backbone configured from its
constructor (never a preset or alias class: those download, DESIGN.md), and
its named int32 token inputs."""


def configured_backbone(backbone_class, *, vocabulary_size, sequence_length, num_layers, num_heads, hidden_dim,
                        intermediate_dim, dropout, pretrained=None):
    """`backbone_class` with the given sizes and a position table of
    `sequence_length`; or, with `pretrained` (a keras-hub preset name or
    local preset directory), the preset's backbone and weights."""
    if pretrained:
        from kerazoo.errors import UsageError
        from kerazoo.models.pretrained import keras_hub_backbone

        backbone = keras_hub_backbone(backbone_class, pretrained)
        if backbone.max_sequence_length < sequence_length:
            raise UsageError(
                f"The preset '{pretrained}' takes at most {backbone.max_sequence_length} tokens; set "
                f"data.sequence_length to {backbone.max_sequence_length} or less."
            )
        return backbone
    return backbone_class(
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        max_sequence_length=sequence_length,
    )


def token_inputs(sequence_length, names):
    """{name: keras.Input of int32 tokens} for the backbone's inputs."""
    import keras

    return {name: keras.Input(shape=(sequence_length,), dtype="int32", name=name) for name in names}


def first_token_features(backbone_class, name, *, vocabulary_size, sequence_length, num_layers, num_heads,
                         hidden_dim, intermediate_dim, dropout=0.1, pretrained=None):
    """Feature extractor: {token_ids, padding_mask} -> the last layer at the
    first position (the [CLS] / `<s>` token), for encoders without segment
    embeddings or a pooler (DistilBERT, RoBERTa)."""
    import keras

    backbone = configured_backbone(
        backbone_class, vocabulary_size=vocabulary_size, sequence_length=sequence_length, num_layers=num_layers,
        num_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
        pretrained=pretrained,
    )
    inputs = token_inputs(sequence_length, ("token_ids", "padding_mask"))
    return keras.Model(inputs, backbone(inputs)[:, 0, :], name=name)
