"""tf.data pipelines for images: a deterministic, resumable order; decode in
parallel; batch with the global batch size; prefetch.

Per-example work (decode, resize) happens here on the host; augmentation that
needs no labels runs in the model on the accelerator (see `augment`), and
label-mixing augmentation (MixUp, CutMix) runs here on whole batches.
"""

import numpy as np
import tensorflow as tf

from kerazoo.data.order import batch_indices

AUTOTUNE = tf.data.AUTOTUNE


def decode_image(path, image_size):
    """Read any JPEG/PNG/BMP/GIF (by content, not name) as RGB uint8 at size."""
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return resize_uint8(image, image_size)


def resize_uint8(image, image_size):
    """Resize to a square uint8 image; images already that size pass through
    untouched (an antialiased resize is the costliest step of decoding)."""

    def resize():
        resized = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)

    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], image_size), tf.equal(shape[1], image_size))
    return tf.ensure_shape(tf.cond(same, lambda: tf.cast(image, tf.uint8), resize), (image_size, image_size, 3))


def random_resized_crop(image, image_size, seed, position, scale, ratio):
    """Inception-style crop (Szegedy et al., 2015): a random region covering
    `scale` of the area with aspect ratio in `ratio`, resized to the input.

    Randomness is stateless, keyed by the run's seed and the example's
    global position in the training stream, so a resumed run crops exactly
    as an uninterrupted one would.
    """
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(position, tf.int64)]),
        min_object_covered=0.0,
        aspect_ratio_range=tuple(ratio),
        area_range=tuple(scale),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    return resize_uint8(tf.slice(image, begin, size), image_size)


def image_dataset(examples, *, image_size, num_classes, batch_size, training, seed, start_step=0, batch_transform=None, options=None, crop=None):
    """Build the pipeline for one split.

    Args:
        examples: `Examples` of uint8 arrays (already at `image_size`), image
            files, or a tf.data dataset of (image, label) pairs (`kind="dataset"`).
        batch_size: the global batch size.
        training: the endless, seeded training stream (whole batches only);
            otherwise every example once, in order.
        start_step: for training, the global step to start at (resuming).
        batch_transform: a function of (images, one_hot_labels) applied to
            each training batch (MixUp / CutMix).
        options: `tf.data.Options` to apply (sharding for multi-worker).
        crop: training only: (scale, ratio) of a random-resized crop per
            example, or None.

    Yields:
        (float32 images in 0..255, float32 one-hot labels).
    """
    if training:
        dataset = _training_batches(examples, image_size, batch_size, seed, start_step, crop)
    else:
        dataset = _in_order(examples, image_size).batch(batch_size, num_parallel_calls=AUTOTUNE)

    def to_model_inputs(images, labels):
        return tf.cast(images, tf.float32), tf.one_hot(labels, num_classes, dtype=tf.float32)

    dataset = dataset.map(to_model_inputs, num_parallel_calls=AUTOTUNE)
    if training and batch_transform is not None:
        dataset = dataset.map(batch_transform, num_parallel_calls=AUTOTUNE)
    if options is not None:
        dataset = dataset.with_options(options)
    return dataset.prefetch(AUTOTUNE)


def _training_batches(examples, image_size, batch_size, seed, start_step, crop=None):
    if examples.kind == "dataset":
        # TFDS streams cannot be indexed: a seeded shuffle, skipped on resume.
        stream = examples.inputs.shuffle(10_000, seed=seed, reshuffle_each_iteration=True).repeat()
        stream = stream.map(_decoder("dataset", image_size), num_parallel_calls=AUTOTUNE)
        return stream.batch(batch_size, drop_remainder=True).skip(start_step)
    labels = examples.labels

    def with_positions(items):
        # Each example's global position in the training stream keys its crop.
        for step, indices in enumerate(batch_indices(len(examples), batch_size, seed, start_step), start=start_step):
            yield items(indices), labels[indices], np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)

    positions = tf.TensorSpec((batch_size,), tf.int64)
    if examples.kind == "image_array":
        images = examples.inputs
        signature = (
            tf.TensorSpec((batch_size, image_size, image_size, 3), tf.uint8),
            tf.TensorSpec((batch_size,), tf.int32),
            positions,
        )
        stream = tf.data.Dataset.from_generator(lambda: with_positions(lambda i: images[i]), output_signature=signature)
        if crop is None:
            return _visible_batches(stream.map(lambda x, y, _: (x, y)), batch_size)
        stream = stream.unbatch().map(
            lambda image, label, position: (random_resized_crop(image, image_size, seed, position, *crop), label),
            num_parallel_calls=AUTOTUNE,
        )
        return stream.batch(batch_size, drop_remainder=True)
    paths = np.asarray(examples.inputs, dtype=object)
    signature = (tf.TensorSpec((batch_size,), tf.string), tf.TensorSpec((batch_size,), tf.int32), positions)
    stream = tf.data.Dataset.from_generator(lambda: with_positions(lambda i: paths[i].astype(str)), output_signature=signature)

    def decode(path, label, position):
        if crop is None:
            return decode_image(path, image_size), label
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return random_resized_crop(image, image_size, seed, position, *crop), label

    stream = stream.unbatch().map(decode, num_parallel_calls=AUTOTUNE)
    return stream.batch(batch_size, drop_remainder=True)


def _visible_batches(dataset, batch_size):
    """Re-form the generator's batches with a `batch` op: tf.data's batch-size
    analysis, which Keras's multi-process sharding needs, cannot see into a
    generator."""
    return dataset.unbatch().batch(batch_size, drop_remainder=True)


def _in_order(examples, image_size):
    if examples.kind == "image_array":
        return tf.data.Dataset.from_tensor_slices((examples.inputs, examples.labels))
    if examples.kind == "image_files":
        source = tf.data.Dataset.from_tensor_slices((list(examples.inputs), examples.labels))
    else:
        source = examples.inputs
    return source.map(_decoder(examples.kind, image_size), num_parallel_calls=AUTOTUNE)


def _decoder(kind, image_size):
    if kind == "image_files":
        return lambda path, label: (decode_image(path, image_size), label)
    return lambda image, label: (_ensure_rgb_resized(image, image_size), tf.cast(label, tf.int32))


def _ensure_rgb_resized(image, image_size):
    image = tf.convert_to_tensor(image)
    channels = tf.shape(image)[-1]
    image = tf.cond(tf.equal(channels, 1), lambda: tf.image.grayscale_to_rgb(image), lambda: image[..., :3])
    return resize_uint8(image, image_size)
