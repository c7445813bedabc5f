"""The one typed schema every recipe file is checked against.

A recipe is flat data in five sections. Each section is a frozen dataclass of
plain values; `parse_recipe_dict` turns a YAML mapping into them and names the
file, the key and the closest valid key when something does not fit.

This module imports neither TensorFlow nor Keras: `kerazoo list` and
`kerazoo info` use it at start-up.
"""

import dataclasses
import types
import typing
from typing import Literal, Optional

from kerazoo.errors import UsageError, closest

# `text_generation`: a causal language model trained on next-token prediction.
Task = Literal["image", "text", "text_generation"]
Preprocessing = Literal["unit", "symmetric", "imagenet", "caffe", "raw"]
# WordPiece (BERT's family) or byte-level BPE (RoBERTa's and GPT-2's),
# trained offline on the training split; see kerazoo/data/tokenizer.py.
Tokenizer = Literal["wordpiece", "byte_bpe"]
# The metric that picks the best checkpoint when a recipe names none: a
# language model has no classes, so its validation loss.
DEFAULT_MONITOR = {"text_generation": "val_loss"}
# 256 byte symbols, up to 5 special tokens, and room for at least one merge.
MINIMUM_BPE_VOCABULARY = 262


@dataclasses.dataclass(frozen=True)
class ModelSection:
    """What network to build.

    `builder` names a function in `kerazoo.models` (see `kerazoo info`);
    `args` are that function's keyword arguments. `preprocessing` is the input
    scaling the family's pretrained weights expect, applied inside the model:
    `unit` ([0, 1]), `symmetric` ([-1, 1]), `imagenet` (ImageNet mean and
    standard deviation) or `raw` (0-255, the model scales by itself).
    """

    builder: str
    args: dict = dataclasses.field(default_factory=dict)
    preprocessing: Preprocessing = "unit"
    dropout: float = 0.0
    # None keeps the builder's own value, except on small datasets (see plan).
    batchnorm_momentum: Optional[float] = None
    pretrained: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class DataSection:
    """The reference dataset and the shape of one example."""

    dataset: Optional[str] = None
    num_classes: Optional[int] = None
    image_size: Optional[int] = None
    sequence_length: Optional[int] = None
    vocabulary_size: Optional[int] = None
    tokenizer: Tokenizer = "wordpiece"
    lowercase: bool = True
    validation_split: float = 0.2


@dataclasses.dataclass(frozen=True)
class AugmentSection:
    """Training-time augmentation; none of it is part of a saved model."""

    flip: Literal["none", "horizontal", "vertical", "horizontal_and_vertical"] = "none"
    crop_padding: int = 0
    randaugment_magnitude: float = 0.0
    randaugment_ops: int = 2
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    random_erasing: float = 0.0
    # Inception-style random-resized crop (Szegedy et al., 2015): the area
    # share range of the crop, e.g. [0.08, 1.0]; empty: off. Runs per
    # example in the input pipeline, on the decoded image.
    random_resized_crop_scale: tuple = ()
    random_resized_crop_ratio: tuple = (0.75, 1.3333333)


@dataclasses.dataclass(frozen=True)
class TrainSection:
    """How to optimise. `learning_rate` is stated at `reference_batch_size`
    (a global batch) and scaled linearly to the run's global batch."""

    epochs: int
    learning_rate: float
    batch_size: int = 32
    reference_batch_size: int = 256
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop", "lamb"] = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    schedule: Literal["cosine", "step", "exponential", "linear", "constant"] = "cosine"
    warmup_epochs: float = 0.0
    # For `step`: where the rate drops, as fractions of all epochs, so the
    # schedule keeps its shape when --epochs changes.
    step_milestones: tuple = (0.5, 0.75)
    step_factor: float = 0.1
    # For `exponential`: multiply by `decay_rate` every `decay_epochs` epochs.
    decay_epochs: float = 1.0
    decay_rate: float = 0.97
    # As the cited recipe states it: L2 (coupled, as torch.optim.SGD) for sgd,
    # converted by kerazoo; decoupled (Loshchilov & Hutter, 2019) for the rest.
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    gradient_clip_norm: Optional[float] = None
    steps_per_epoch: Optional[int] = None
    monitor: str = "val_accuracy"
    # An exponential moving average of the weights, validated each epoch and
    # saved as the final model (e.g. EfficientNet, MobileNetV3 recipes).
    use_ema: bool = False
    ema_momentum: float = 0.9999
    # Stop when `monitor` has not improved for this many epochs, keeping the
    # best epoch's weights; null: train all epochs.
    early_stopping_patience: Optional[int] = None
    # Fine-tuning: train only the new head for this many epochs (backbone
    # frozen) at `head_learning_rate`, then everything at `learning_rate`.
    freeze_backbone_epochs: int = 0
    head_learning_rate: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """A published figure: what was measured, on what, and who says so."""

    value: float
    metric: str
    dataset: str
    source: str


@dataclasses.dataclass(frozen=True)
class CardSection:
    """What the recipe reaches and where that figure comes from.

    `params` and `accuracy` are figures *reported* by `source`, never copied
    from our own build; `reproduced` stays empty until a kerazoo run measured it.
    """

    task: Task
    description: str = ""
    params: Optional[int] = None
    params_note: str = ""
    accuracy: Optional[Accuracy] = None
    hyperparameters_source: str = ""
    weights_license: Optional[str] = None
    reproduced: Optional[dict] = None
    # Who reports `params`, when not the accuracy's source.
    params_source: str = ""
    # How `params` counts: "total" (every weight, BatchNorm moving statistics
    # included, as Keras's count_params and the keras.io table) or "trainable"
    # (learned parameters only, as torch's sum over parameters()).
    params_counting: Literal["total", "trainable"] = "total"
    # Built minus reported, in the same counting, that `params_note` explains
    # (a different head, say); 0 when they agree up to the source's rounding.
    params_difference: int = 0
    # A published count of multiply-accumulates per example at the card's
    # input size (many papers call these "FLOPs"), and who publishes it.
    macs_reported: Optional[int] = None
    macs_source: str = ""


SECTIONS = {
    "model": ModelSection,
    "data": DataSection,
    "augment": AugmentSection,
    "train": TrainSection,
    "card": CardSection,
}
TOP_LEVEL_KEYS = ("name", "base", *SECTIONS)


def parse_recipe_dict(raw, origin):
    """Check a fully merged recipe mapping and return its typed sections.

    Args:
        raw: the mapping read from YAML (after `base:` merging).
        origin: where it came from, for messages (a file path or a name).

    Returns:
        A dict of section name to section dataclass instance.
    """
    if not isinstance(raw, dict):
        raise UsageError(f"{origin}: a recipe must be a mapping of sections, got {type(raw).__name__}.")
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown_key(origin, key, TOP_LEVEL_KEYS, prefix="")
    sections = {}
    for name, cls in SECTIONS.items():
        value = raw.get(name, {})
        if value is None:
            value = {}
        sections[name] = _to_dataclass(cls, value, origin, name)
    return _task_defaults(sections, raw, origin)


def _task_defaults(sections, raw, origin):
    """What depends on the task: its default monitor, and the shape a
    language model needs (recipe.py checks the classifiers' shapes)."""
    task = sections["card"].task
    written = raw.get("train") or {}
    if task in DEFAULT_MONITOR and "monitor" not in written:
        sections["train"] = dataclasses.replace(sections["train"], monitor=DEFAULT_MONITOR[task])
    data = sections["data"]
    if task == "text_generation" and not (data.sequence_length and data.vocabulary_size):
        raise UsageError(
            f"{origin}: text_generation recipes need 'data.sequence_length' and 'data.vocabulary_size'."
        )
    too_few = data.vocabulary_size is not None and data.vocabulary_size < MINIMUM_BPE_VOCABULARY
    if data.tokenizer == "byte_bpe" and too_few:
        raise UsageError(
            f"{origin}: byte-level BPE starts from 256 byte symbols and its special tokens, so "
            f"'data.vocabulary_size' must be {MINIMUM_BPE_VOCABULARY} or more, got {data.vocabulary_size}."
        )
    if task == "text_generation" and data.sequence_length < 2:
        raise UsageError(
            f"{origin}: 'data.sequence_length' must be 2 or more to predict a next token, got {data.sequence_length}."
        )
    return sections


def section_fields(cls):
    """Names of the keys a section accepts, in declaration order."""
    return [field.name for field in dataclasses.fields(cls)]


def all_keys():
    """Every dotted key a recipe accepts, for `--set` suggestions."""
    keys = []
    for name, cls in SECTIONS.items():
        keys.extend(f"{name}.{field}" for field in section_fields(cls))
    return keys


def _unknown_key(origin, key, valid, prefix):
    dotted = f"{prefix}{key}"
    match = closest(key, valid)
    hint = f" Did you mean '{prefix}{match}'?" if match else ""
    return UsageError(
        f"{origin}: unknown key '{dotted}'.{hint} Valid keys here: {', '.join(valid)}."
    )


def _to_dataclass(cls, value, origin, path):
    if not isinstance(value, dict):
        raise UsageError(
            f"{origin}: '{path}' must be a mapping of keys, got {_describe(value)}."
        )
    hints = typing.get_type_hints(cls)
    names = section_fields(cls)
    for key in value:
        if key not in names:
            raise _unknown_key(origin, key, names, prefix=f"{path}.")
    kwargs = {}
    for field in dataclasses.fields(cls):
        key_path = f"{path}.{field.name}"
        if field.name in value:
            kwargs[field.name] = _coerce(hints[field.name], value[field.name], origin, key_path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise UsageError(f"{origin}: '{key_path}' is required but missing.")
    return cls(**kwargs)


def _coerce(hint, value, origin, path):
    """Check `value` against a type hint; return it in canonical form."""
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _coerce(inner, value, origin, path)
    if origin_type is Literal:
        if value not in args:
            choices = ", ".join(repr(arg) for arg in args)
            match = closest(value, [str(arg) for arg in args])
            hint_text = f" Did you mean '{match}'?" if match else ""
            raise UsageError(f"{origin}: '{path}' must be one of {choices}, got {value!r}.{hint_text}")
        return value
    if dataclasses.is_dataclass(hint):
        return _to_dataclass(hint, value, origin, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise _wrong_type(origin, path, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(origin, path, "an integer", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong_type(origin, path, "a number", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _wrong_type(origin, path, "a string", value)
        return value
    if hint is dict:
        if not isinstance(value, dict):
            raise _wrong_type(origin, path, "a mapping", value)
        return dict(value)
    if hint is tuple:
        if not isinstance(value, (list, tuple)):
            raise _wrong_type(origin, path, "a list", value)
        return tuple(value)
    raise TypeError(f"schema type {hint!r} at {path} is not supported")  # our bug


def _wrong_type(origin, path, expected, value):
    return UsageError(f"{origin}: '{path}' must be {expected}, got {_describe(value)}.")


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def to_plain(section):
    """A section dataclass as plain dicts, lists and scalars (for YAML/JSON)."""
    if dataclasses.is_dataclass(section):
        return {f.name: to_plain(getattr(section, f.name)) for f in dataclasses.fields(section)}
    if isinstance(section, (list, tuple)):
        return [to_plain(item) for item in section]
    if isinstance(section, dict):
        return {key: to_plain(item) for key, item in section.items()}
    return section
