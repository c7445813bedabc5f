"""RoBERTa encoders from keras-hub's `RobertaBackbone`, configured directly
(no preset, so nothing downloads) and read at the first token.

Liu et al., "RoBERTa: A Robustly Optimized BERT Pretraining Approach"
(2019): BERT's layout, a byte-level BPE vocabulary, no segment embeddings.
The classifier reads the first (`<s>`) position, as fairseq's
`RobertaClassificationHead` does.
"""


def roberta(*, vocabulary_size, sequence_length, num_layers, num_heads, hidden_dim, intermediate_dim, dropout=0.1, pretrained=None):
    """Feature extractor: {token_ids, padding_mask} -> the `<s>` position.

    Args:
        vocabulary_size: rows of the token embedding.
        sequence_length: the longest input, in tokens.
        num_layers, num_heads, hidden_dim, intermediate_dim: the encoder's
            size (RoBERTa base: 12, 12, 768, 3072).
        pretrained: a keras-hub preset name or local preset directory: its
            backbone configuration and weights replace the sizes above.
        dropout: dropout inside the encoder.
    """
    import keras_hub

    from kerazoo.models.keras_hub_text import first_token_features

    return first_token_features(
        keras_hub.models.RobertaBackbone, "roberta_features",
        vocabulary_size=vocabulary_size, sequence_length=sequence_length, num_layers=num_layers,
        num_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
        pretrained=pretrained,
    )
