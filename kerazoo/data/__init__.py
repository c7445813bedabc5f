"""From a `Source` to training and validation tf.data pipelines.

`load` reads what the plan needs and nothing more: examples, class names, a
fingerprint of the data (for the run's identity checks), and for text a
vocabulary trained on the training split only.
"""

import dataclasses
import os
from typing import Optional

from kerazoo.data.sources import IMAGE_SUFFIXES, TEXT_SUFFIXES, Source, parse_source, split_folders

# Cache decoded images in memory when they take at most this share of the
# memory available now.
CACHE_MEMORY_SHARE = 0.25


@dataclasses.dataclass
class Datasets:
    """The data side of a run, ready for `fit`."""

    train: object
    validation: object
    class_names: list
    num_train: int
    num_validation: int
    fingerprint: str
    description: str
    vocabulary: Optional[list] = None
    notes: list = dataclasses.field(default_factory=list)

    @property
    def num_classes(self):
        return len(self.class_names)


def read_examples(source, recipe, seed, global_batch_size=32):
    """Read a source into (train Examples, validation Examples, class names,
    fingerprint). Imports TensorFlow only for digits and TFDS."""
    from kerazoo.data import builtin, csv_text, folders
    from kerazoo.data.examples import fingerprint_arrays, fingerprint_files, stratified_split

    fraction = recipe.data.validation_split
    if source.kind == "synthetic":
        num_classes = recipe.data.num_classes or 10
        if recipe.task == "image":
            make = lambda count, offset: builtin.synthetic_images(count, recipe.data.image_size, num_classes, seed + offset)
        else:
            make = lambda count, offset: builtin.synthetic_texts(count, recipe.data.sequence_length or 64, num_classes, seed + offset)
        train, class_names = make(global_batch_size * 8, 0)
        validation, _ = make(global_batch_size * 2, 1)
        return train, validation, class_names, f"synthetic-{seed}"
    if source.kind == "digits":
        examples, class_names = builtin.digits(recipe.data.image_size)
        train, validation = stratified_split(examples, fraction, seed)
        return train, validation, class_names, fingerprint_arrays(examples.inputs, examples.labels)
    if source.kind == "csv":
        examples, class_names = csv_text.read_csv(source.location)
        train, validation = stratified_split(examples, fraction, seed)
        return train, validation, class_names, fingerprint_files([source.location], os.path.dirname(source.location))
    if source.kind in ("image_folder", "text_folder"):
        suffixes, kind = (IMAGE_SUFFIXES, "image_files") if source.kind == "image_folder" else (TEXT_SUFFIXES, "texts")
        splits = split_folders(source.location)
        if splits:
            train, class_names = folders.read_class_folders(splits["train"], suffixes, kind)
            validation, _ = folders.read_class_folders(splits["validation"], suffixes, kind, class_names)
        else:
            examples, class_names = folders.read_class_folders(source.location, suffixes, kind)
            train, validation = stratified_split(examples, fraction, seed)
        fingerprint = fingerprint_files([*train.inputs, *validation.inputs], source.location)
        if kind == "texts":
            train, validation = folders.read_text_files(train), folders.read_text_files(validation)
        return train, validation, class_names, fingerprint
    if source.kind == "tfds":
        from kerazoo.data import tfds_source

        return tfds_source.read(source.location, recipe, seed)
    raise ValueError(f"unknown source kind {source.kind}")  # our bug


def load(source, recipe, plan, seed, examples=None):
    """Build the training and validation pipelines for a run.

    Args:
        source: the parsed `Source`.
        recipe: the resolved `Recipe` (input size, augmentation, text settings).
        plan: the `Plan` (global batch size, workers).
        seed: seeds the split, shuffling and augmentation.
        examples: the result of `read_examples`, when the caller already read it.
    """
    import tensorflow as tf

    from kerazoo import augment

    if examples is None:
        examples = read_examples(source, recipe, seed, plan.global_batch_size)
    train, validation, class_names, fingerprint = examples
    num_classes = len(class_names)
    options = None
    if plan.num_workers > 1:
        # In-memory and TFDS datasets have no files to shard by: shard by element.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    notes = []
    vocabulary = None
    if recipe.task == "image":
        from kerazoo.data.image_pipeline import image_dataset

        size = recipe.data.image_size
        cache, cache_note = _cache_decision(train, validation, size)
        notes.append(cache_note)
        mixing = augment.label_mixing(recipe.augment, seed)
        common = dict(image_size=size, num_classes=num_classes, batch_size=plan.global_batch_size, seed=seed, cache=cache, options=options)
        train_ds = image_dataset(train, training=True, batch_transform=mixing, **common)
        val_ds = image_dataset(validation, training=False, **common)
    else:
        from kerazoo.data import tokenizer
        from kerazoo.data.text_pipeline import text_dataset

        vocabulary = tokenizer.train_wordpiece(train.inputs, recipe.data.vocabulary_size, recipe.data.lowercase)
        notes.append(f"WordPiece vocabulary of {len(vocabulary)} tokens trained on the training split")
        preprocessor = tokenizer.make_preprocessor(vocabulary, recipe.data.sequence_length, recipe.data.lowercase)
        common = dict(preprocessor=preprocessor, num_classes=num_classes, batch_size=plan.global_batch_size, seed=seed, options=options)
        train_ds = text_dataset(train, training=True, **common)
        val_ds = text_dataset(validation, training=False, **common)
    description = (
        f"{source}: {len(train)} training / {len(validation)} validation examples, {num_classes} classes"
    )
    return Datasets(
        train=train_ds,
        validation=val_ds,
        class_names=list(class_names),
        num_train=len(train),
        num_validation=len(validation),
        fingerprint=fingerprint,
        description=description,
        vocabulary=vocabulary,
        notes=notes,
    )


def _cache_decision(train, validation, image_size):
    """Cache decoded images only for file sources and only when they fit."""
    if train.kind != "image_files":
        return False, "cache: not needed (examples are already in memory)"
    needed = (len(train) + len(validation)) * image_size * image_size * 3
    available = _available_memory()
    if available and needed <= CACHE_MEMORY_SHARE * available:
        return True, f"cache: decoded images in memory ({needed / 2**20:.0f} MiB of {available / 2**30:.1f} GiB free)"
    return False, f"cache: off, decoded images need {needed / 2**30:.1f} GiB (more than {CACHE_MEMORY_SHARE:.0%} of free memory)"


def _available_memory():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


__all__ = ["Datasets", "Source", "load", "parse_source", "read_examples"]
