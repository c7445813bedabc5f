"""A small Transformer encoder classifier built from keras-hub layers, with
no backbone class and no pretrained weights: the "Build and train your own
transformer from scratch" model of the keras.io guide "Getting Started with
KerasNLP" (Bischof, 2022): `TokenAndPositionEmbedding`, `TransformerEncoder`
blocks, and the first token's representation to classify.

One change from the guide: the padding mask goes to the attention, so
padding positions are not attended to.
"""


def transformer_encoder(*, vocabulary_size, sequence_length, num_layers=1, num_heads=2, hidden_dim=64,
                        intermediate_dim=128, dropout=0.1):
    """Feature extractor: {token_ids, padding_mask} -> the first position.

    Args:
        vocabulary_size: rows of the token embedding.
        sequence_length: the longest input, in tokens (the position table).
        num_layers: Transformer encoder blocks (the guide: 1).
        num_heads: attention heads per block (the guide: 2).
        hidden_dim: embedding and model width (the guide: 64).
        intermediate_dim: width of each block's feed-forward layer (128).
        dropout: dropout inside each block (0.1).
    """
    import keras
    import keras_hub

    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    padding_mask = keras.Input(shape=(sequence_length,), dtype="int32", name="padding_mask")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        embedding_dim=hidden_dim,
        name="token_and_position_embedding",
    )(token_ids)
    for index in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            name=f"transformer_encoder_{index}",
        )(x, padding_mask=padding_mask)
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
    return keras.Model(inputs, x[:, 0, :], name="transformer_encoder_features")
