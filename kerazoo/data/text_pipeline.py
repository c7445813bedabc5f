"""tf.data pipelines for text: a deterministic, resumable order; whole
batches of raw strings tokenized in parallel on the host; static shapes;
prefetch. `text_dataset` feeds classifiers, `language_model_dataset` causal
language models (next-token targets, padding weighted out of the loss).

The training order comes from Python (`order.batch_indices`), the texts
from an in-graph table: only indices cross from Python, many batches per
call, so tokenization runs in parallel without waiting on the GIL. Handing
over each batch's strings from Python kept the pipeline at about 0.7 of the
tokenizer's own speed (docs/performance.md).
"""

import numpy as np
import tensorflow as tf

from kerazoo.data.image_pipeline import _visible_batches
from kerazoo.data.order import batch_indices

AUTOTUNE = tf.data.AUTOTUNE
# Index batches handed over per call to Python.
BATCHES_PER_CALL = 64
# Corpora up to this size (UTF-8 bytes) live in the graph as one string
# tensor; above it they are looked up in Python per batch, slower but clear
# of the 2 GB limit on a serialized graph (tf.data serializes its graph to
# optimize it).
IN_GRAPH_TEXT_BYTES = 256 * 2**20


def text_dataset(examples, *, preprocessor, num_classes, batch_size, training, seed, start_step=0, options=None):
    """Build the pipeline for one split of `Examples` of texts.

    Yields:
        ({token_ids, segment_ids, padding_mask}, float32 one-hot labels).
    """
    labels = examples.labels

    def tokenize(text, label, shape):
        # Static shapes: XLA wants them, and so does tf.data's batch-size
        # analysis (Keras's multi-process sharding), which the tokenizer's
        # ragged ops would otherwise hide.
        tokens = {key: tf.ensure_shape(value, shape) for key, value in preprocessor(text).items()}
        return tokens, tf.one_hot(tf.cast(label, tf.int32), num_classes, dtype=tf.float32)

    length = preprocessor.sequence_length
    # Whole batches are tokenized at once: far faster than one by one.
    if training:
        lookup = _text_lookup(examples.inputs, batch_size)
        label_table = tf.constant(labels)
        dataset = _index_batches(len(examples), batch_size, seed, start_step).map(
            lambda indices: tokenize(lookup(indices), tf.gather(label_table, indices), [batch_size, length]),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        dataset = _in_order_batches(
            tf.data.Dataset.from_tensor_slices((list(examples.inputs), labels)),
            lambda t, y: tokenize(t, y, [None, length]), batch_size,
        )
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
    packed_length = preprocessor.sequence_length

    def shift(text, shape):
        packed = preprocessor(text)
        tokens = tf.ensure_shape(packed["token_ids"], [*shape, packed_length])
        mask = tf.ensure_shape(packed["padding_mask"], [*shape, packed_length])
        inputs = {"token_ids": tokens[..., :-1], "padding_mask": mask[..., :-1]}
        return inputs, tokens[..., 1:], tf.cast(mask[..., 1:], tf.float32)

    if training:
        lookup = _text_lookup(examples.inputs, batch_size)
        dataset = _index_batches(len(examples), batch_size, seed, start_step).map(
            lambda indices: shift(lookup(indices), [batch_size]), num_parallel_calls=AUTOTUNE
        )
    else:
        dataset = _in_order_batches(
            tf.data.Dataset.from_tensor_slices(list(examples.inputs)), lambda text: shift(text, [None]), batch_size
        )
    if options is not None:
        dataset = dataset.with_options(options)
    return dataset.prefetch(AUTOTUNE)


def _index_batches(num_examples, batch_size, seed, start_step):
    """The training order (`order.batch_indices`) as a dataset of int64
    index batches of `batch_size`."""

    def chunks():
        stream = batch_indices(num_examples, batch_size, seed, start_step)
        while True:
            yield np.concatenate([next(stream) for _ in range(BATCHES_PER_CALL)])

    dataset = tf.data.Dataset.from_generator(chunks, output_signature=tf.TensorSpec((None,), tf.int64))
    return _visible_batches(dataset, batch_size)


def _in_order_batches(dataset, transform, batch_size):
    """Every example once, in order, the last batch partial; `transform`
    runs on whole batches. Re-batched after it because Keras's multi-process
    sharding reads the batch size from the last `batch` op, and a map after
    it hides it; the number of batches is restated because `unbatch` loses
    it, and Keras warns "Your input ran out of data" at the end of a
    validation set of unknown length."""
    batches = -(-int(dataset.cardinality()) // batch_size)
    dataset = dataset.batch(batch_size).map(transform, num_parallel_calls=AUTOTUNE)
    return dataset.unbatch().batch(batch_size).apply(tf.data.experimental.assert_cardinality(batches))


def _text_lookup(texts, batch_size):
    """A function from a batch of indices to that batch's texts (tf.string)."""
    encoded = [text.encode("utf-8") for text in texts]
    if sum(map(len, encoded)) <= IN_GRAPH_TEXT_BYTES:
        table = tf.constant(encoded, dtype=tf.string)
        return lambda indices: tf.gather(table, indices)
    encoded = np.asarray(encoded, dtype=object)

    def lookup(indices):
        strings = tf.numpy_function(lambda i: encoded[i], [indices], tf.string, stateful=False)
        return tf.ensure_shape(strings, [batch_size])

    return lookup
