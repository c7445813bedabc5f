"""DistilBERT encoders from keras-hub's `DistilBertBackbone`, configured
directly (no preset, so nothing downloads) and read at the first token.

Sanh et al., "DistilBERT, a distilled version of BERT" (2019): BERT's
layout with half the layers, no segment embeddings and no pooler, so the
classifier reads the first ([CLS]) position of the last layer.
"""


def distil_bert(*, vocabulary_size, sequence_length, num_layers, num_heads, hidden_dim, intermediate_dim, dropout=0.1, pretrained=None):
    """Feature extractor: {token_ids, padding_mask} -> the [CLS] position.

    Args:
        vocabulary_size: rows of the token embedding.
        sequence_length: the longest input, in tokens.
        num_layers, num_heads, hidden_dim, intermediate_dim: the encoder's
            size (DistilBERT base: 6, 12, 768, 3072).
        pretrained: a keras-hub preset name or local preset directory: its
            backbone configuration and weights replace the sizes above.
        dropout: dropout inside the encoder.
    """
    import keras_hub

    from kerazoo.models.keras_hub_text import first_token_features

    return first_token_features(
        keras_hub.models.DistilBertBackbone, "distil_bert_features",
        vocabulary_size=vocabulary_size, sequence_length=sequence_length, num_layers=num_layers,
        num_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
        pretrained=pretrained,
    )
