"""Data that needs no files: scikit-learn's bundled digits and synthetic data."""

import numpy as np

from kerazoo.data.examples import Examples

DIGITS_CLASS_NAMES = [str(i) for i in range(10)]
# Words for synthetic text: a shared pool plus a few marker words per class,
# so that a text model can learn something from it.
_SYNTHETIC_WORDS = [f"word{i}" for i in range(300)]
# Number words for synthetic language-model text: each text counts up from a
# random start, so every word after the first is predictable from the one
# before it, and a model that learns the order is far better than chance.
NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
).split()


def digits(image_size):
    """scikit-learn's 1,797 8x8 handwritten digits as RGB uint8 images."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype("float32") * (255.0 / 16.0)  # values are 0..16
    images = tf.image.resize(images[..., None], (image_size, image_size), method="bilinear", antialias=True)
    images = np.clip(np.round(images.numpy()), 0, 255).astype("uint8")
    images = np.repeat(images, 3, axis=-1)
    return Examples(images, bunch.target.astype(np.int32), "image_array"), DIGITS_CLASS_NAMES


def synthetic_images(count, image_size, num_classes, seed):
    """Random uint8 images and labels: measures the model, learns nothing."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, image_size, image_size, 3), dtype=np.uint8)
    labels = rng.integers(0, num_classes, size=count).astype(np.int32)
    return Examples(images, labels, "image_array"), [f"class_{i}" for i in range(num_classes)]


def synthetic_texts(count, length, num_classes, seed):
    """Random sentences in which each class favours its own marker words."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=count).astype(np.int32)
    texts = []
    for label in labels:
        words = list(rng.choice(_SYNTHETIC_WORDS, size=length))
        for position in rng.choice(length, size=max(1, length // 4), replace=False):
            words[position] = f"topic{label}x{rng.integers(0, 3)}"
        texts.append(" ".join(words))
    return Examples(texts, labels, "texts"), [f"class_{i}" for i in range(num_classes)]


def synthetic_corpus(count, seed, min_words=4, max_words=12):
    """`count` texts that count up in words ("seven eight nine ten") from a
    random start, 4 to 12 words long, ending before "twenty" at the latest."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(count):
        length = int(rng.integers(min_words, max_words + 1))
        start = int(rng.integers(0, len(NUMBER_WORDS) - length + 1))
        texts.append(" ".join(NUMBER_WORDS[start:start + length]))
    return texts
