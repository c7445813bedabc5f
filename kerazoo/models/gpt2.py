"""GPT-2-style causal language models from keras-hub's `GPT2Backbone`,
configured directly (no preset, no alias class: those download, DESIGN.md).

Radford et al., "Language Models are Unsupervised Multitask Learners" (2019):
pre-LayerNorm Transformer decoder blocks, learned positions, GELU, and an
output projection tied to the token embedding (`CausalLanguageModel`).
"""


def gpt2(*, vocabulary_size, sequence_length, num_layers, num_heads, hidden_dim, intermediate_dim, dropout=0.0, pretrained=None):
    """The whole language model: {token_ids, padding_mask} -> float32 logits.

    Args:
        vocabulary_size: rows of the token embedding (and logits per token).
        sequence_length: the context, in tokens (also the position table).
        num_layers, num_heads, hidden_dim, intermediate_dim: the decoder's
            size (GPT-2 small, 124M: 12, 12, 768, 3072).
        pretrained: a keras-hub preset name or local preset directory: its
            backbone configuration and weights replace the sizes above.
        dropout: dropout inside the decoder (nanoGPT pretrains with 0).
    """
    import keras_hub

    from kerazoo.models.causal_lm import CausalLanguageModel
    from kerazoo.models.keras_hub_text import configured_backbone

    backbone = configured_backbone(
        keras_hub.models.GPT2Backbone, vocabulary_size=vocabulary_size, sequence_length=sequence_length,
        num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        dropout=dropout, pretrained=pretrained,
    )
    return CausalLanguageModel(backbone, sequence_length, name="gpt2_causal_lm")
