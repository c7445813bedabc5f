"""BERT-style text encoders from keras-hub, configured directly (no preset,
so nothing downloads) and cut at the pooled [CLS] output.

keras-hub's `BertTextClassifier` has no `head_dtype` and emits bfloat16 under
`mixed_bfloat16` (DESIGN.md); `build_classifier` adds a float32 head instead.
"""


def bert(*, vocabulary_size, sequence_length, num_layers, num_heads, hidden_dim, intermediate_dim, dropout=0.1, pretrained=None):
    """Feature extractor: {token_ids, segment_ids, padding_mask} -> pooled features.

    Args:
        vocabulary_size: rows of the token embedding.
        sequence_length: the longest input, in tokens.
        num_layers, num_heads, hidden_dim, intermediate_dim: the encoder's
            size (BERT-Tiny: 2, 2, 128, 512; Turc et al., 2019).
        pretrained: a keras-hub preset name or local preset directory: its
            backbone configuration and weights replace the sizes above.
        dropout: dropout inside the encoder.
    """
    import keras
    import keras_hub

    from kerazoo.models.keras_hub_text import configured_backbone, token_inputs

    backbone = configured_backbone(
        keras_hub.models.BertBackbone, vocabulary_size=vocabulary_size, sequence_length=sequence_length,
        num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        dropout=dropout, pretrained=pretrained,
    )
    inputs = token_inputs(sequence_length, ("token_ids", "segment_ids", "padding_mask"))
    pooled = backbone(inputs)["pooled_output"]
    return keras.Model(inputs, pooled, name="bert_features")
