"""Tokenizers for text recipes: a WordPiece vocabulary trained offline from
the training text (no download), saved in the run directory, and the
keras-hub preprocessor that packs token ids the way the model expects."""

import pathlib

VOCABULARY_FILE = "vocabulary.txt"
RESERVED_TOKENS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]


def train_wordpiece(texts, vocabulary_size, lowercase):
    """Learn a WordPiece vocabulary of at most `vocabulary_size` tokens."""
    import keras_hub
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024)
    return keras_hub.tokenizers.compute_word_piece_vocabulary(
        dataset,
        vocabulary_size=vocabulary_size,
        lowercase=lowercase,
        strip_accents=lowercase,
        reserved_tokens=RESERVED_TOKENS,
    )


def save_vocabulary(vocabulary, directory):
    path = pathlib.Path(directory) / VOCABULARY_FILE
    path.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return path


def load_vocabulary(directory):
    path = pathlib.Path(directory) / VOCABULARY_FILE
    return path.read_text(encoding="utf-8").splitlines()


def make_preprocessor(vocabulary, sequence_length, lowercase):
    """Strings in, {token_ids, segment_ids, padding_mask} out ([CLS] ... [SEP])."""
    import keras_hub

    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase)
    return keras_hub.models.BertTextClassifierPreprocessor(tokenizer=tokenizer, sequence_length=sequence_length)
