"""tf.data pipelines for text: a deterministic, resumable order; whole
batches of raw strings tokenized in parallel on the host; static shapes;
prefetch. `text_dataset` feeds classifiers, `language_model_dataset` causal
language models (next-token targets, padding weighted out of the loss)."""

import numpy as np
import tensorflow as tf

from kerazoo.data.image_pipeline import _visible_batches
from kerazoo.data.order import batch_indices

AUTOTUNE = tf.data.AUTOTUNE


def text_dataset(examples, *, preprocessor, num_classes, batch_size, training, seed, start_step=0, options=None):
    """Build the pipeline for one split of `Examples` of texts.

    Yields:
        ({token_ids, segment_ids, padding_mask}, float32 one-hot labels).
    """
    texts = np.asarray(examples.inputs, dtype=object)
    labels = examples.labels

    def tokenize(text, label, shape):
        # Static shapes: XLA wants them, and so does tf.data's batch-size
        # analysis (Keras's multi-process sharding), which the tokenizer's
        # ragged ops would otherwise hide.
        tokens = {key: tf.ensure_shape(value, shape) for key, value in preprocessor(text).items()}
        return tokens, tf.one_hot(tf.cast(label, tf.int32), num_classes, dtype=tf.float32)

    length = preprocessor.sequence_length
    if training:

        def batches():
            for indices in batch_indices(len(examples), batch_size, seed, start_step):
                yield texts[indices].astype(str), labels[indices]

        signature = (tf.TensorSpec((batch_size,), tf.string), tf.TensorSpec((batch_size,), tf.int32))
        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        dataset = _visible_batches(dataset, batch_size)
        # Whole batches are tokenized at once: far faster than one by one.
        dataset = dataset.map(lambda t, y: tokenize(t, y, [batch_size, length]), num_parallel_calls=AUTOTUNE)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((list(examples.inputs), labels))
        dataset = dataset.map(lambda t, y: tokenize(t, y, [length]), num_parallel_calls=AUTOTUNE)
        dataset = dataset.batch(batch_size)
    if options is not None:
        dataset = dataset.with_options(options)
    return dataset.prefetch(AUTOTUNE)


def language_model_dataset(examples, *, preprocessor, batch_size, training, seed, start_step=0, options=None):
    """Build the next-token pipeline for one split of `Examples` of texts.

    `preprocessor` packs each text to `sequence_length + 1` tokens
    (`start text end`, then padding); the model reads the first
    `sequence_length` and learns to predict each following token, as
    keras-hub's `GPT2CausalLMPreprocessor` lays it out. Padding positions get
    sample weight 0, so they count in neither the loss nor the metrics.

    Yields:
        ({token_ids, padding_mask} int32 (batch, sequence_length),
        int32 next-token ids (batch, sequence_length),
        float32 sample weights (batch, sequence_length)).
    """
    texts = np.asarray(examples.inputs, dtype=object)
    packed_length = preprocessor.sequence_length

    def shift(text, shape):
        packed = preprocessor(text)
        tokens = tf.ensure_shape(packed["token_ids"], [*shape, packed_length])
        mask = tf.ensure_shape(packed["padding_mask"], [*shape, packed_length])
        inputs = {"token_ids": tokens[..., :-1], "padding_mask": mask[..., :-1]}
        return inputs, tokens[..., 1:], tf.cast(mask[..., 1:], tf.float32)

    if training:

        def batches():
            for indices in batch_indices(len(examples), batch_size, seed, start_step):
                yield texts[indices].astype(str)

        signature = tf.TensorSpec((batch_size,), tf.string)
        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        dataset = _visible_batches(dataset, batch_size)
        dataset = dataset.map(lambda text: shift(text, [batch_size]), num_parallel_calls=AUTOTUNE)
    else:
        dataset = tf.data.Dataset.from_tensor_slices(list(examples.inputs))
        dataset = dataset.map(lambda text: shift(text, []), num_parallel_calls=AUTOTUNE)
        dataset = dataset.batch(batch_size)
    if options is not None:
        dataset = dataset.with_options(options)
    return dataset.prefetch(AUTOTUNE)
