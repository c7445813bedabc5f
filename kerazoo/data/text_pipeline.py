"""tf.data pipelines for text: a deterministic, resumable order; whole
batches of raw strings tokenized in parallel on the host; prefetch."""

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
