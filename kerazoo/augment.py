"""Training-time augmentation from Keras core layers.

Two kinds, placed where they cost least:

* label-free layers (flips, pad-and-crop, RandAugment, RandomErasing) run
  on whole batches inside the training model, so on the accelerator; they
  wrap the classifier and are never saved with it;
* label-mixing layers (MixUp, CutMix) need the labels, so they run on whole
  batches at the end of the tf.data pipeline.

One exception: when the training step is XLA-compiled, label-free layers
that Keras cannot compile move to the tf.data pipeline too (RandAugment,
whose rotation, shear and translation declare `supports_jit=False`). One
such layer inside the model makes Keras compile none of it ("Model doesn't
support `jit_compile=True`"), which on JAX means a training step run op by
op.
"""


def build_augmenter(augment, image_size, seed, compiled=False):
    """The in-model augmentation: a `keras.Sequential` of label-free layers,
    or None for none.

    Args:
        compiled: the training step is XLA-compiled; layers Keras cannot
            compile are left out (`pipeline_augmenter` has them).
    """
    import keras

    layers = [layer for layer in _label_free_layers(augment, seed) if not compiled or _compiles(layer)]
    return keras.Sequential(layers, name="augmentation") if layers else None


def pipeline_augmenter(augment, seed, compiled):
    """The label-free layers that run in the tf.data pipeline instead of the
    model (those Keras cannot compile, when the step is compiled): a list,
    applied in order. Not a `keras.Sequential`: each Keras preprocessing
    layer switches itself to TensorFlow inside tf.data on any backend, a
    Sequential does not."""
    if not compiled:
        return []
    return [layer for layer in _label_free_layers(augment, seed) if not _compiles(layer)]


def _compiles(layer):
    return all(part.supports_jit for part in layer._flatten_layers(include_self=True))


def _label_free_layers(augment, seed):
    import keras

    layers = []
    if augment.crop_padding:
        layers.append(PadAndCrop(augment.crop_padding, seed=seed))
    if augment.flip != "none":
        layers.append(keras.layers.RandomFlip(augment.flip, seed=seed))
    if augment.randaugment_magnitude:
        # Magnitude on the 0-10 scale of Cubuk et al. (2020); Keras takes 0-1.
        layers.append(
            RandAugment(
                value_range=(0, 255),
                num_ops=augment.randaugment_ops,
                factor=min(augment.randaugment_magnitude / 10.0, 1.0),
                seed=seed,
            )
        )
    if augment.random_erasing:
        layers.append(keras.layers.RandomErasing(factor=augment.random_erasing, value_range=(0, 255), seed=seed))
    return layers


def _pad_and_crop_layer():
    import keras

    class PadAndCrop(keras.layers.Layer):
        """CIFAR-style augmentation (He et al., 2016): pad with zeros by
        `padding` pixels, then crop back to the original size at a random
        offset per image.

        Written with gathers so XLA compiles it: Keras's `RandomCrop`
        declares `supports_jit=False`, which silently turns compilation off
        for the whole model it sits in.
        """

        def __init__(self, padding, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.padding = padding
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=True):
            if not training:
                return images
            ops = keras.ops
            pad = self.padding
            batch, height, width, channels = ops.shape(images)
            padded = ops.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            offsets = keras.random.randint((batch, 2), 0, 2 * pad + 1, seed=self.seed_generator)
            rows = offsets[:, 0:1] + ops.arange(height)[None, :]
            columns = offsets[:, 1:2] + ops.arange(width)[None, :]
            rows = ops.broadcast_to(rows[:, :, None, None], (batch, height, width + 2 * pad, channels))
            cropped = ops.take_along_axis(padded, rows, axis=1)
            columns = ops.broadcast_to(columns[:, None, :, None], (batch, height, width, channels))
            return ops.take_along_axis(cropped, columns, axis=2)

        def compute_output_shape(self, input_shape):
            return input_shape

    return PadAndCrop


def _rand_augment_class():
    import keras

    class RandAugment(keras.layers.RandAugment):
        """Keras's `RandAugment`, computing only the operations it chose.

        Keras's layer applies each of its 11 operations to the whole batch
        and keeps the chosen one with `where`, so 2 operations cost 22: on
        a CPU, 1.2 s for 32 images at 224 px, about 25 images/s on two
        cores, when the host must feed a GPU at thousands. In a TensorFlow
        graph (tf.data, or a `tf.function` training step) this one runs
        only the chosen branch with `tf.switch_case`: the same random
        draws, the same result, a fraction of the work
        (docs/performance.md). Elsewhere (JAX, eager) it is Keras's.
        """

        def transform_images(self, images, transformation, training=True):
            from keras.src.utils import backend_utils

            if not (training and backend_utils.in_tf_graph()):
                return super().transform_images(images, transformation, training=training)
            import tensorflow as tf

            images = tf.cast(images, self.compute_dtype)
            transforms = transformation["transforms"]

            def branch(name, images):
                layer = getattr(self, name)
                return lambda: tf.cast(layer.transform_images(images, transforms[name]), self.compute_dtype)

            for index in range(self.num_ops):
                # The same order as Keras's loop over `transforms`: index k is the k-th operation.
                chosen = tf.cast(transformation["layer_idxes"][index], tf.int32)
                images = tf.switch_case(chosen, [branch(name, images) for name in transforms])
            return images

    return RandAugment


def RandAugment(**kwargs):  # noqa: N802 - a layer constructor
    """A kerazoo `RandAugment` layer: Keras's `RandAugment` that computes
    only the operations it draws (defined lazily, as `PadAndCrop`)."""
    return _rand_augment_class()(**kwargs)


def PadAndCrop(padding, seed=None):  # noqa: N802 - a layer constructor
    """A `PadAndCrop` layer (the class is defined lazily: importing this
    module must not import Keras)."""
    return _pad_and_crop_layer()(padding, seed=seed, name="pad_and_crop")


def label_mixing(augment, seed):
    """A tf.data batch function for MixUp and/or CutMix, or None.

    With both on, each batch gets one of the two at random (as in timm).
    """
    if not (augment.mixup_alpha or augment.cutmix_alpha):
        return None
    import keras
    import tensorflow as tf

    mixup = keras.layers.MixUp(alpha=augment.mixup_alpha, seed=seed) if augment.mixup_alpha else None
    cutmix = keras.layers.CutMix(factor=augment.cutmix_alpha, seed=seed) if augment.cutmix_alpha else None

    def apply(layer, images, labels):
        out = layer({"images": images, "labels": labels}, training=True)
        return out["images"], out["labels"]

    def mix(images, labels):
        if mixup and cutmix:
            return tf.cond(
                tf.random.uniform([], seed=seed) < 0.5,
                lambda: apply(mixup, images, labels),
                lambda: apply(cutmix, images, labels),
            )
        return apply(mixup or cutmix, images, labels)

    return mix


def batch_transform(host_layers, mixing):
    """The tf.data function for whole training batches, or None: the
    `host_layers` that `pipeline_augmenter` moved out of a compiled model,
    then `mixing` from `label_mixing` (last, as in timm: it blends
    already-augmented images)."""
    if not host_layers:
        return mixing

    def transform(images, labels):
        for layer in host_layers:
            images = layer(images, training=True)
        return mixing(images, labels) if mixing else (images, labels)

    return transform


def describe(augment):
    """A short human summary, e.g. 'flip horizontal, pad-and-crop 4'."""
    parts = []
    if augment.random_resized_crop_scale:
        low, high = augment.random_resized_crop_scale
        parts.append(f"random-resized crop {low:g}-{high:g} of the area")
    if augment.crop_padding:
        parts.append(f"pad-and-crop {augment.crop_padding}")
    if augment.flip != "none":
        parts.append(f"flip {augment.flip}")
    if augment.randaugment_magnitude:
        parts.append(f"RandAugment {augment.randaugment_ops} ops, magnitude {augment.randaugment_magnitude:g}")
    if augment.random_erasing:
        parts.append(f"random erasing p={augment.random_erasing:g}")
    if augment.mixup_alpha:
        parts.append(f"MixUp alpha={augment.mixup_alpha:g}")
    if augment.cutmix_alpha:
        parts.append(f"CutMix alpha={augment.cutmix_alpha:g}")
    return ", ".join(parts) or "none"
