"""`tfds:NAME` sources through TensorFlow Datasets (the `tfds` extra).

TFDS downloads and prepares a dataset the first time when the machine is
online; offline, a dataset already prepared in the TFDS data directory loads
from disk, and anything else is a clear error rather than a hung download.
"""

import os

import numpy as np

from kerazoo.data.examples import Examples
from kerazoo.errors import UsageError

TRAIN_SPLIT = "train"
VALIDATION_SPLITS = ("validation", "test")


def read(name, recipe, seed):
    """Return (train, validation, class names, fingerprint) for a TFDS dataset."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise UsageError(
            f"--data tfds:{name} needs TensorFlow Datasets: pip install 'kerazoo[tfds]'."
        ) from None
    data_dir = os.environ.get("TFDS_DATA_DIR")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # DatasetNotFoundError and friends
        raise UsageError(f"TFDS has no dataset '{name}' ({error}). See https://www.tensorflow.org/datasets/catalog.") from None
    if not _is_prepared(builder):
        try:
            builder.download_and_prepare()
        except Exception as error:
            raise UsageError(
                f"TFDS dataset '{name}' is not prepared in {builder.data_dir} and could not be "
                f"downloaded ({type(error).__name__}: {error}). Offline, prepare it on a machine with "
                "network and copy the TFDS data directory here (set TFDS_DATA_DIR), or use a local "
                "folder with --data."
            ) from None
    info = builder.info
    label_feature = info.features["label"]
    class_names = list(label_feature.names)
    splits = info.splits
    val_split = next((s for s in VALIDATION_SPLITS if s in splits), None)
    if TRAIN_SPLIT not in splits or val_split is None:
        raise UsageError(f"TFDS dataset '{name}' needs a 'train' and a 'validation' or 'test' split; it has {list(splits)}.")
    fingerprint = f"tfds:{name}:{info.version}"
    train = _split(builder, TRAIN_SPLIT, splits[TRAIN_SPLIT].num_examples, recipe.task, seed)
    validation = _split(builder, val_split, splits[val_split].num_examples, recipe.task, seed)
    return train, validation, class_names, fingerprint


def _is_prepared(builder):
    try:
        return builder.is_prepared()  # newer TFDS
    except AttributeError:
        return os.path.isdir(builder.data_dir)


def _split(builder, split, count, task, seed):
    import tensorflow_datasets as tfds

    dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    if task == "text":
        texts, labels = [], []
        for text, label in tfds.as_numpy(dataset):
            texts.append(text.decode("utf-8", "replace"))
            labels.append(int(label))
        return Examples(texts, np.array(labels, dtype=np.int32), "texts")
    labels = np.zeros(count, dtype=np.int32)  # only the count is used for tf.data sources
    return Examples(dataset, labels, "dataset")
