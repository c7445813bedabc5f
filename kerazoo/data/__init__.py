"""From a `Source` to training and validation tf.data pipelines.

`load` reads what the plan needs and nothing more: examples, class names, a
fingerprint of the data (for the run's identity checks), and for text a
tokenizer trained on the training split only. Language models
(`text_generation`) read unlabelled texts (`corpus`) and learn next tokens.
"""

import dataclasses
import os
import typing
from typing import Optional

import numpy as np

from kerazoo.data.sources import IMAGE_SUFFIXES, TEXT_SUFFIXES, Source, parse_source, split_folders


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
    # Text recipes: the `kerazoo.data.tokenizer.TrainedTokenizer`
    # (`vocabulary` is its tokens, in id order).
    tokenizer: Optional[object] = None

    @property
    def num_classes(self):
        return len(self.class_names)


class SplitData(typing.NamedTuple):
    """What a source holds, read but not yet a pipeline."""

    train: object  # Examples
    validation: object  # Examples
    class_names: list
    fingerprint: str
    notes: list = []


def read_examples(source, recipe, seed, global_batch_size=32, skip_corrupt=False, log=None):
    """Read a source into train and validation `Examples` with class names
    and a fingerprint. Image files are decoded once here (see `scan`): bad
    files stop the run before training (exit 3) or, with `skip_corrupt`,
    are left out."""
    from kerazoo.data import builtin, csv_text, folders
    from kerazoo.data.examples import fingerprint_arrays, fingerprint_files, stratified_split
    from kerazoo.runlog import RunLog

    log = log or RunLog(echo=False)
    fraction = recipe.data.validation_split
    if recipe.task == "text_generation":
        from kerazoo.data import corpus

        return corpus.read_corpus(source, recipe, seed, global_batch_size, skip_corrupt=skip_corrupt, log=log)
    if source.kind == "synthetic":
        num_classes = recipe.data.num_classes or 10
        if recipe.task == "image":
            make = lambda count, offset: builtin.synthetic_images(count, recipe.data.image_size, num_classes, seed + offset)  # noqa: E731
        else:
            make = lambda count, offset: builtin.synthetic_texts(count, recipe.data.sequence_length or 64, num_classes, seed + offset)  # noqa: E731
        train, class_names = make(global_batch_size * 8, 0)
        validation, _ = make(global_batch_size * 2, 1)
        return SplitData(train, validation, class_names, f"synthetic-{seed}")
    if source.kind == "digits":
        examples, class_names = builtin.digits(recipe.data.image_size)
        train, validation = stratified_split(examples, fraction, seed)
        return SplitData(train, validation, class_names, fingerprint_arrays(examples.inputs, examples.labels))
    if source.kind == "csv":
        examples, class_names = csv_text.read_csv(source.location, skip_corrupt=skip_corrupt, log=log)
        train, validation = stratified_split(examples, fraction, seed)
        return SplitData(train, validation, class_names, fingerprint_files([source.location], os.path.dirname(source.location)))
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
            train = folders.read_text_files(train, skip_corrupt, log)
            validation = folders.read_text_files(validation, skip_corrupt, log)
            return SplitData(train, validation, class_names, fingerprint)
        train, validation, notes = _scanned(train, validation, recipe.data.image_size, skip_corrupt, log)
        return SplitData(train, validation, class_names, fingerprint, notes)
    if source.kind == "tfds":
        from kerazoo.data import tfds_source

        return SplitData(*tfds_source.read(source.location, recipe, seed))
    raise ValueError(f"unknown source kind {source.kind}")  # our bug


def _scanned(train, validation, image_size, skip_corrupt, log):
    """Decode every image once; keep the pixels when they fit in memory."""
    from kerazoo.data import scan
    from kerazoo.data.examples import Examples

    keep, note = scan.fits_in_memory(len(train) + len(validation), image_size)
    results = []
    bad_all = []
    for split in (train, validation):
        bad, pixels = scan.scan_images(list(split.inputs), image_size, keep)
        bad_all.extend(bad)
        bad_paths = {path for path, _ in bad}
        good = np.array([path not in bad_paths for path in split.inputs], dtype=bool)
        if keep:
            results.append(Examples(pixels, split.labels[good], "image_array"))
        else:
            results.append(split.subset(np.flatnonzero(good)))
    scan.check(bad_all, skip_corrupt, log)
    return results[0], results[1], [note]


def load(source, recipe, plan, seed, examples=None, start_step=0, vocabulary=None, tokenizer=None):
    """Build the training and validation pipelines for a run.

    Args:
        source: the parsed `Source`.
        recipe: the resolved `Recipe` (input size, augmentation, text settings).
        plan: the `Plan` (global batch size, workers).
        seed: seeds the split, the order of examples and augmentation.
        examples: the `SplitData` from `read_examples`, when already read.
        start_step: the global step training starts at (a resumed run).
        vocabulary: text recipes: reuse this WordPiece vocabulary (a list
            of tokens) instead of training one.
        tokenizer: text recipes: reuse this `TrainedTokenizer` (a resumed
            run) instead of training one.
    """
    import tensorflow as tf

    from kerazoo import augment

    if examples is None:
        examples = read_examples(source, recipe, seed, plan.global_batch_size)
    train, validation, class_names, fingerprint, notes = examples
    notes = list(notes)
    if plan.backend == "jax" and plan.num_replicas > 1:
        validation = _shardable_validation(validation, plan, notes)
    num_classes = len(class_names)
    options = None
    if plan.num_workers > 1:
        # In-memory and TFDS datasets have no files to shard by: shard by element.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if recipe.task == "image":
        from kerazoo.data.image_pipeline import image_dataset

        moved = augment.pipeline_augmenter(recipe.augment, seed, compiled=plan.xla)
        on_batches = augment.batch_transform(moved, augment.label_mixing(recipe.augment, seed))
        if moved:
            notes.append(
                f"{', '.join(type(layer).__name__ for layer in moved)} in the input pipeline: Keras "
                "cannot XLA-compile it, and inside the model it would turn compilation off for the whole step"
            )
        common = dict(image_size=recipe.data.image_size, num_classes=num_classes, batch_size=plan.global_batch_size, seed=seed, options=options)
        crop = None
        if recipe.augment.random_resized_crop_scale:
            crop = (recipe.augment.random_resized_crop_scale, recipe.augment.random_resized_crop_ratio)
        train_ds = image_dataset(train, training=True, batch_transform=on_batches, start_step=start_step, crop=crop, **common)
        val_ds = image_dataset(validation, training=False, **common)
    else:
        from kerazoo.data import tokenizer as tokenizers
        from kerazoo.data.text_pipeline import language_model_dataset, text_dataset
        from kerazoo.models import registry

        if tokenizer is None and vocabulary is not None:
            tokenizer = tokenizers.TrainedTokenizer(
                "wordpiece", tuple(vocabulary), None, recipe.data.lowercase, tokenizers.WORDPIECE_SPECIAL
            )
        if tokenizer is None and recipe.model.pretrained:
            tokenizer = tokenizers.from_preset(recipe.model.pretrained, recipe.task)
            notes.append(f"the pretrained preset's vocabulary of {len(tokenizer)} tokens")
        if tokenizer is None:
            kind = recipe.data.tokenizer
            tokenizer = tokenizers.train(
                kind, train.inputs, recipe.data.vocabulary_size, recipe.data.lowercase,
                tokenizers.special_tokens(kind, recipe.task),
            )
            name = "WordPiece" if kind == "wordpiece" else "byte-level BPE"
            notes.append(f"{name} vocabulary of {len(tokenizer)} tokens trained on the training split")
        vocabulary = list(tokenizer.vocabulary)
        common = dict(batch_size=plan.global_batch_size, seed=seed, options=options)
        if recipe.task == "text_generation":
            # One more token than the context: inputs and next-token targets.
            packed_length = recipe.data.sequence_length + 1
            common["preprocessor"] = tokenizers.TextPreprocessor(tokenizer, packed_length, ("token_ids", "padding_mask"))
            train_ds = language_model_dataset(train, training=True, start_step=start_step, **common)
            val_ds = language_model_dataset(validation, training=False, **common)
        else:
            inputs = registry.text_inputs(recipe.model.builder)
            preprocessor = tokenizers.TextPreprocessor(tokenizer, recipe.data.sequence_length, inputs)
            common.update(preprocessor=preprocessor, num_classes=num_classes)
            train_ds = text_dataset(train, training=True, start_step=start_step, **common)
            val_ds = text_dataset(validation, training=False, **common)
    if recipe.task == "text_generation":
        description = f"{source}: {len(train)} training / {len(validation)} validation texts"
    else:
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
        tokenizer=tokenizer if recipe.task != "image" else None,
    )


def _shardable_validation(validation, plan, notes):
    """Cut the validation split so that JAX can shard every batch of it.

    JAX splits each batch evenly over the devices: a last batch of 1 on 2
    devices stops the run at its first validation (IndivisibleError). JAX
    processes go further: Keras shards each global batch across them and
    they evaluate in lockstep, so a partial last batch reaches only some of
    them and the others wait for it forever. One process needs a last batch
    that divides by its devices; several need whole global batches.
    """
    from kerazoo.errors import UsageError

    if plan.num_workers > 1:
        unit, reason = plan.global_batch_size, (
            f"each of the {plan.num_workers} JAX processes evaluates whole global batches of {plan.global_batch_size}"
        )
    else:
        unit, reason = plan.num_replicas, f"every batch splits evenly over the {plan.num_replicas} devices"
    keep = len(validation) - len(validation) % unit
    if keep == len(validation):
        return validation
    if keep == 0:
        raise UsageError(
            f"The validation split has {len(validation)} examples, fewer than {unit}: kerazoo needs at least "
            f"that many so that {reason}. Give more validation data"
            + (f", or use a --batch-size of at most {len(validation)}." if plan.num_workers > 1 else ".")
        )
    notes.append(f"validation: the last {len(validation) - keep} of {len(validation)} examples left out, so {reason}")
    return validation.first(keep)


__all__ = ["Datasets", "Source", "SplitData", "load", "parse_source", "read_examples"]
