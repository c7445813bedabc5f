"""tf.data pipelines for text: batch raw strings, tokenize whole batches in
parallel on the host, prefetch."""

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def text_dataset(examples, *, preprocessor, num_classes, batch_size, training, seed, options=None):
    """Build the pipeline for one split of `Examples` of texts (or a tf.data
    dataset of (text, label) pairs).

    Yields:
        ({token_ids, segment_ids, padding_mask}, float32 one-hot labels).
    """
    if examples.kind == "texts":
        dataset = tf.data.Dataset.from_tensor_slices((list(examples.inputs), examples.labels))
    else:
        dataset = examples.inputs
    if training:
        dataset = dataset.shuffle(max(len(examples), 1), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=training)

    def tokenize(texts, labels):
        return preprocessor(texts), tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)

    dataset = dataset.map(tokenize, num_parallel_calls=AUTOTUNE)
    if options is not None:
        dataset = dataset.with_options(options)
    return dataset.prefetch(AUTOTUNE)
