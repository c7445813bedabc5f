"""Training-time augmentation from Keras core layers.

Two kinds, placed where they cost least:

* label-free layers (flips, pad-and-crop, RandAugment, RandomErasing) run
  on whole batches inside the training model, so on the accelerator; they
  wrap the classifier and are never saved with it;
* label-mixing layers (MixUp, CutMix) need the labels, so they run on whole
  batches at the end of the tf.data pipeline.
"""


def build_augmenter(augment, image_size, seed):
    """A `keras.Sequential` of label-free augmentation, or None for none."""
    import keras

    layers = []
    if augment.crop_padding:
        # CIFAR-style: pad with zeros, then crop back at a random offset (He et al., 2016).
        layers.append(keras.layers.ZeroPadding2D(augment.crop_padding))
        layers.append(keras.layers.RandomCrop(image_size, image_size, seed=seed))
    if augment.flip != "none":
        layers.append(keras.layers.RandomFlip(augment.flip, seed=seed))
    if augment.randaugment_magnitude:
        # Magnitude on the 0-10 scale of Cubuk et al. (2020); Keras takes 0-1.
        layers.append(
            keras.layers.RandAugment(
                value_range=(0, 255),
                num_ops=augment.randaugment_ops,
                factor=min(augment.randaugment_magnitude / 10.0, 1.0),
                seed=seed,
            )
        )
    if augment.random_erasing:
        layers.append(keras.layers.RandomErasing(factor=augment.random_erasing, value_range=(0, 255), seed=seed))
    if not layers:
        return None
    return keras.Sequential(layers, name="augmentation")


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


def describe(augment):
    """A short human summary, e.g. 'flip horizontal, pad-and-crop 4'."""
    parts = []
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
