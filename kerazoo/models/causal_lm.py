"""A causal language model around a keras-hub decoder backbone: token ids in,
next-token logits out, in float32 under every precision policy.

The output projection reuses the token embedding matrix (weight tying, as in
GPT-2; Press & Wolf, "Using the Output Embedding to Improve Language Models",
2017). keras-hub's `ReversibleEmbedding(reverse=True)` would project in the
layer's compute dtype, bfloat16 under `mixed_bfloat16`, and its symbolic
output says so too; `TiedEmbeddingLogits` reads the same float32 variable and
multiplies in float32, so logits, softmax and loss never round to 8 bits of
mantissa (DESIGN.md: "Force float32 logits").

`CausalLanguageModel` rebuilds itself from its backbone's config (the pattern
of keras-hub's task models), so the tying survives `model.save` and
`keras.saving.load_model`; importing this module registers both classes.
"""

import keras

INPUT_NAMES = ("token_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="kerazoo")
class TiedEmbeddingLogits(keras.layers.Layer):
    """Hidden states times the transposed token embedding, in float32.

    Args:
        embedding: the backbone's token embedding layer (its `embeddings`
            variable has shape (vocabulary_size, hidden_dim)).
    """

    def __init__(self, embedding, **kwargs):
        kwargs["dtype"] = "float32"  # whatever the global policy says
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, hidden):
        hidden = keras.ops.cast(hidden, "float32")
        matrix = keras.ops.cast(self.embedding.embeddings, "float32")
        return keras.ops.matmul(hidden, keras.ops.transpose(matrix))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.embedding.input_dim)


@keras.saving.register_keras_serializable(package="kerazoo")
class CausalLanguageModel(keras.Model):
    """{token_ids, padding_mask} of shape (batch, sequence_length) -> float32
    logits of shape (batch, sequence_length, vocabulary_size).

    Args:
        backbone: a keras-hub decoder backbone with a `token_embedding`
            layer, such as `keras_hub.models.GPT2Backbone` (configured
            directly: no preset, so nothing downloads).
        sequence_length: the fixed input length (static shapes for XLA and
            tf.data); prompts are padded to it when generating.
    """

    def __init__(self, backbone, sequence_length, **kwargs):
        inputs = {name: keras.Input(shape=(sequence_length,), dtype="int32", name=name) for name in INPUT_NAMES}
        hidden = backbone(inputs)
        logits = TiedEmbeddingLogits(backbone.token_embedding, name="logits")(hidden)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.sequence_length = sequence_length

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "sequence_length": self.sequence_length,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
