"""tf.data pipelines for images: decode in parallel, cache when it fits,
shuffle, batch with the global batch size, prefetch.

Per-example work (decode, resize) happens here on the host; augmentation that
needs no labels runs in the model on the accelerator (see `augment`), and
label-mixing augmentation (MixUp, CutMix) runs here on whole batches.
"""

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER_LIMIT = 10_000


def decode_image(path, image_size):
    """Read any JPEG/PNG/BMP/GIF (by content, not name) as RGB uint8 at size."""
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return resize_uint8(image, image_size)


def resize_uint8(image, image_size):
    image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def image_dataset(examples, *, image_size, num_classes, batch_size, training, seed, cache=False, batch_transform=None, options=None):
    """Build the pipeline for one split.

    Args:
        examples: `Examples` of uint8 arrays, image files, or a tf.data
            dataset of (image, label) pairs (`kind="dataset"`).
        batch_size: the global batch size.
        training: shuffle, repeat forever and drop the last partial batch.
        cache: keep decoded images in memory after the first epoch.
        batch_transform: a function of (images, one_hot_labels) applied to
            each training batch (MixUp / CutMix).
        options: `tf.data.Options` to apply (sharding for multi-worker).

    Yields:
        (float32 images in 0..255, float32 one-hot labels).
    """
    count = len(examples)
    if examples.kind == "image_array":
        dataset = tf.data.Dataset.from_tensor_slices((examples.inputs, examples.labels))
        if examples.inputs.shape[1] != image_size:
            dataset = dataset.map(lambda x, y: (resize_uint8(x, image_size), y), num_parallel_calls=AUTOTUNE)
            dataset = dataset.cache() if cache else dataset
        cache = False  # already in memory
    elif examples.kind == "image_files":
        dataset = tf.data.Dataset.from_tensor_slices((list(examples.inputs), examples.labels))
    else:  # a tf.data dataset of (image, label), e.g. from TFDS
        dataset = examples.inputs

    decode_needed = examples.kind != "image_array"
    if decode_needed and cache:
        dataset = dataset.map(_decoder(examples.kind, image_size), num_parallel_calls=AUTOTUNE).cache()
        decode_needed = False
    if training:
        # Shuffling paths before decoding costs nothing and reaches the whole set.
        buffer = count if not decode_needed else min(count, SHUFFLE_BUFFER_LIMIT)
        dataset = dataset.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True).repeat()
    if decode_needed:
        dataset = dataset.map(_decoder(examples.kind, image_size), num_parallel_calls=AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=training, num_parallel_calls=AUTOTUNE)

    def to_model_inputs(images, labels):
        return tf.cast(images, tf.float32), tf.one_hot(labels, num_classes, dtype=tf.float32)

    dataset = dataset.map(to_model_inputs, num_parallel_calls=AUTOTUNE)
    if training and batch_transform is not None:
        dataset = dataset.map(batch_transform, num_parallel_calls=AUTOTUNE)
    if options is not None:
        dataset = dataset.with_options(options)
    return dataset.prefetch(AUTOTUNE)


def _decoder(kind, image_size):
    if kind == "image_files":
        return lambda path, label: (decode_image(path, image_size), label)
    return lambda image, label: (_ensure_rgb_resized(image, image_size), tf.cast(label, tf.int32))


def _ensure_rgb_resized(image, image_size):
    image = tf.convert_to_tensor(image)
    channels = tf.shape(image)[-1]
    image = tf.cond(tf.equal(channels, 1), lambda: tf.image.grayscale_to_rgb(image), lambda: image[..., :3])
    return resize_uint8(image, image_size)
