"""Evaluate a trained classifier: loss, top-1 and top-5 accuracy, per-class
precision and recall, and a confusion matrix.

By default a run is measured on its own validation split, recreated exactly
as training made it: the data source and seed recorded in `plan.json` go
through the same `read_examples` split, and the same tf.data pipeline
(`training=False`: no shuffle, no augmentation). The result is written to
`RUN/evaluation/<data id>.json` and, as scalars, an image and a text table,
to TensorBoard under `RUN/tensorboard/evaluation/<data id>/`.

A language model (a `text_generation` run) is measured on next tokens
instead: mean cross-entropy over real tokens, its perplexity and next-token
accuracy (`LanguageModelEvaluation`).
"""

import dataclasses
import hashlib
import pathlib
import re
from typing import Optional

from kerazoo import inference, rundir
from kerazoo.errors import UsageError

EVALUATION_DIR = "evaluation"
OWN_SPLIT_ID = "validation"
# Top-5 accuracy only means something with more than five classes.
TOP_K = 5


@dataclasses.dataclass
class Evaluation:
    """What `evaluate` measured.

    Attributes:
        data_id: names the JSON file and the TensorBoard run (`validation` for
            the run's own split).
        source: the data source, as `--data` names it.
        split: which examples were measured, in words.
        num_examples: how many.
        loss: mean categorical cross-entropy of the float32 logits (without
            the recipe's label smoothing, so runs compare on one scale).
        accuracy: top-1 accuracy.
        top5_accuracy: top-5 accuracy, or None with five classes or fewer.
        class_names: the run's classes, in index order.
        per_class: one dict per class: `class`, `support`, `precision`,
            `recall`, `f1` and `accuracy` (the share of that class's
            examples classified correctly, the same figure as recall).
            `precision` is None for a class never predicted.
        confusion_matrix: rows are true classes, columns predicted classes.
        warnings: things to know before trusting the figures.
        path: the JSON file written, or None.
        tensorboard_dir: the TensorBoard run written, or None.
    """

    data_id: str
    source: str
    split: str
    num_examples: int
    loss: float
    accuracy: float
    top5_accuracy: Optional[float]
    class_names: list
    per_class: list
    confusion_matrix: list
    warnings: list = dataclasses.field(default_factory=list)
    path: Optional[str] = None
    tensorboard_dir: Optional[str] = None

    def to_dict(self):
        record = dataclasses.asdict(self)
        record["confusion_matrix"] = {
            "rows": "true class",
            "columns": "predicted class",
            "labels": list(self.class_names),
            "matrix": self.confusion_matrix,
        }
        return record

    def __repr__(self):
        top5 = f", top-5 {self.top5_accuracy:.4f}" if self.top5_accuracy is not None else ""
        return (
            f"Evaluation({self.data_id}: {self.num_examples} examples, loss {self.loss:.4f}, "
            f"accuracy {self.accuracy:.4f}{top5})"
        )


@dataclasses.dataclass
class LanguageModelEvaluation:
    """What `evaluate` measured for a language model.

    Attributes:
        data_id, source, split, num_examples, warnings, path,
        tensorboard_dir: as for `Evaluation` (examples are texts).
        num_tokens: next tokens predicted (padding excluded).
        loss: mean cross-entropy per token, nats, from float32 logits.
        perplexity: exp(loss).
        accuracy: share of next tokens predicted exactly (top-1).
    """

    data_id: str
    source: str
    split: str
    num_examples: int
    num_tokens: int
    loss: float
    perplexity: float
    accuracy: float
    warnings: list = dataclasses.field(default_factory=list)
    path: Optional[str] = None
    tensorboard_dir: Optional[str] = None
    # A classifier's figures, empty here, so that code written for
    # `Evaluation` reads a language model's result without special cases.
    top5_accuracy: Optional[float] = None
    class_names: list = dataclasses.field(default_factory=list)
    per_class: list = dataclasses.field(default_factory=list)
    confusion_matrix: list = dataclasses.field(default_factory=list)

    def to_dict(self):
        record = dataclasses.asdict(self)
        for key in ("top5_accuracy", "class_names", "per_class", "confusion_matrix"):
            record.pop(key)
        return record

    def __repr__(self):
        return (
            f"LanguageModelEvaluation({self.data_id}: {self.num_examples} texts, {self.num_tokens} tokens, "
            f"loss {self.loss:.4f}, perplexity {self.perplexity:.4g}, next-token accuracy {self.accuracy:.4f})"
        )


def evaluate(target, data=None):
    """Measure a trained classifier on data it is given, or on its own
    validation split.

    Args:
        target: a `Run`, a run directory, or a `.keras` model file in one
            (see `kerazoo.inference.open_run`).
        data: None for the run's validation split (recreated from
            `plan.json`), or a source as `--data` takes it. A source other
            than the training one is measured whole (every example), except a
            folder with `train/` and `val/` subfolders and a TFDS dataset,
            whose validation split is measured.

    Returns:
        An `Evaluation`; its JSON file and TensorBoard summaries are written
        into the run directory.
    """
    run = inference.open_run(target)
    if inference.read_preprocessing(run.directory).get("task") == "text_generation":
        return evaluate_language_model(run, data)
    model = run.model
    class_names = run.class_names
    examples, source, split, data_id, warnings = _evaluation_examples(run, data, class_names)
    dataset = _dataset(run, examples, len(class_names))
    logits, labels = _predict_all(model, dataset)
    if len(labels) == 0:
        raise UsageError(f"No examples to evaluate in {source}.")
    result = _measure(logits, labels, class_names)
    evaluation = Evaluation(
        data_id=data_id, source=source, split=split, num_examples=int(len(labels)),
        class_names=list(class_names), warnings=warnings, **result,
    )
    evaluation.tensorboard_dir = str(_write_tensorboard(run, evaluation))
    evaluation.path = str(_write_json(run.directory, evaluation))
    return evaluation


def evaluate_trained(run, model, dataset):
    """The end of a training run: its model, on the validation pipeline it
    was validated with (no data read again), per class and with the
    confusion matrix, written like `evaluate` writes them."""
    import keras
    import numpy as np

    class_names = run.class_names
    # A direct call, not predict_on_batch: a model built under a
    # tf.distribute strategy would give each replica the whole batch.
    logits, labels = [], []
    for inputs, one_hot in dataset:
        logits.append(np.asarray(keras.ops.convert_to_numpy(model(inputs, training=False)), dtype="float32"))
        labels.append(np.argmax(np.asarray(one_hot), axis=-1))
    if not labels:
        return None
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    result = _measure(logits, labels, class_names)
    evaluation = Evaluation(
        data_id="validation", source=run.plan["data"]["source"], split="validation split, end of training",
        num_examples=int(len(labels)), class_names=list(class_names), **result,
    )
    evaluation.tensorboard_dir = str(_write_tensorboard(run, evaluation))
    evaluation.path = str(_write_json(run.directory, evaluation))
    return evaluation


def evaluate_language_model(run, data=None):
    """Loss, perplexity and next-token accuracy of a language model run, on
    its own validation split (recreated from `plan.json`) or on `data`
    (every text of it; a folder with `train/` and `val/`: its `val/`)."""
    import math

    import numpy as np

    from kerazoo import tasks
    from kerazoo.data import Source, read_examples
    from kerazoo.data.text_pipeline import language_model_dataset

    recipe = run.recipe
    plan = inference.read_plan(run.directory)
    seed = int(plan.get("seed", 0))
    global_batch_size = int(plan.get("global_batch_size", 32))
    recorded = plan.get("data", {})
    training_source = Source.from_identity(recorded.get("source", "synthetic"))
    source = training_source if data is None else tasks.for_recipe(recipe).parse_source(data, recipe)
    warnings = []
    if source.identity == training_source.identity:
        _require_training_data(source)
        split_data = read_examples(source, recipe, seed, global_batch_size)
        examples, fingerprint = split_data.validation, split_data.fingerprint
        if recorded.get("fingerprint") and fingerprint != recorded["fingerprint"]:
            warnings.append(
                f"The data in {source} changed since training (fingerprint {fingerprint}, trained on "
                f"{recorded['fingerprint']}): the recreated validation split may hold training texts."
            )
        split, data_id = "the run's validation split (source and seed from plan.json)", OWN_SPLIT_ID
    else:
        examples, split = _other_source_texts(source, recipe, seed, global_batch_size)
        data_id = _data_id(source)
    preprocessing = inference.read_preprocessing(run.directory)
    preprocessor = inference.text_preprocessor(run.directory, sequence_length=preprocessing["sequence_length"] + 1)
    dataset = language_model_dataset(
        examples, preprocessor=preprocessor, batch_size=int(plan.get("per_replica_batch_size", 32)),
        training=False, seed=seed,
    )
    total_loss, total_correct, total_tokens = 0.0, 0, 0
    for inputs, targets, weights in dataset:
        logits = np.asarray(run.model.predict_on_batch(inputs), dtype="float64")
        targets, weights = np.asarray(targets), np.asarray(weights) > 0
        # log-softmax through log-sum-exp: exact and overflow-free
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        target_log_probabilities = np.take_along_axis(log_probabilities, targets[..., None], axis=-1)[..., 0]
        total_loss -= float(target_log_probabilities[weights].sum())
        total_correct += int((logits.argmax(axis=-1) == targets)[weights].sum())
        total_tokens += int(weights.sum())
    if total_tokens == 0:
        raise UsageError(f"No text to evaluate in {source}.")
    loss = total_loss / total_tokens
    evaluation = LanguageModelEvaluation(
        data_id=data_id, source=source.identity, split=split, num_examples=len(examples), num_tokens=total_tokens,
        loss=loss, perplexity=math.exp(min(loss, 700.0)), accuracy=total_correct / total_tokens, warnings=warnings,
    )
    evaluation.tensorboard_dir = str(_write_language_model_tensorboard(run, evaluation))
    evaluation.path = str(_write_json(run.directory, evaluation))
    return evaluation


def _other_source_texts(source, recipe, seed, global_batch_size):
    """Every text of a source other than the training one (a folder with
    `train/` and `val/`, and synthetic text: their validation split)."""
    from kerazoo.data import corpus
    from kerazoo.data.sources import split_folders

    if source.kind == "csv":
        return corpus.as_examples(corpus.read_csv_texts(source.location)), "every row's text"
    if source.kind == "text_folder" and not split_folders(source.location):
        lines = corpus.read_lines(corpus.text_files(source.location))
        return corpus.as_examples(lines), "every line of every .txt file"
    split_data = corpus.read_corpus(source, recipe, seed, global_batch_size)
    return split_data.validation, "its validation split"


def _write_language_model_tensorboard(run, evaluation):
    """Loss, perplexity and next-token accuracy as scalars, at the step of
    the last trained epoch so they line up with the training curves."""
    import tensorflow as tf

    log_dir = pathlib.Path(run.directory) / rundir.TENSORBOARD_DIR / EVALUATION_DIR / evaluation.data_id
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        step = len(run.epochs)
        tf.summary.scalar("evaluation/loss", evaluation.loss, step=step)
        tf.summary.scalar("evaluation/perplexity", evaluation.perplexity, step=step)
        tf.summary.scalar("evaluation/accuracy", evaluation.accuracy, step=step)
    writer.flush()
    writer.close()
    return log_dir


def _evaluation_examples(run, data, class_names):
    """Return (examples, source text, split words, data id, warnings)."""
    from kerazoo.data import Source, parse_source, read_examples

    recipe = run.recipe
    plan = inference.read_plan(run.directory)
    seed = int(plan.get("seed", 0))
    recorded = plan.get("data", {})
    training_source = Source.from_identity(recorded.get("source", "synthetic"))
    source = training_source if data is None else parse_source(data, recipe)
    warnings = []
    if source.identity == training_source.identity:
        _require_training_data(source)
        split_data = read_examples(source, recipe, seed, int(plan.get("global_batch_size", 32)))
        validation, names, fingerprint = split_data[1], split_data[2], split_data[3]
        _require_same_classes(names, class_names, source)
        if recorded.get("fingerprint") and fingerprint != recorded["fingerprint"]:
            warnings.append(
                f"The data in {source} changed since training (fingerprint {fingerprint}, trained on "
                f"{recorded['fingerprint']}): the recreated validation split may hold training examples."
            )
        return validation, source.identity, "the run's validation split (source and seed from plan.json)", OWN_SPLIT_ID, warnings
    examples, split = _other_source_examples(source, recipe, seed, class_names, int(plan.get("global_batch_size", 32)))
    return examples, source.identity, split, _data_id(source), warnings


def _require_training_data(source):
    if source.kind in ("csv", "image_folder", "text_folder") and not pathlib.Path(source.location).exists():
        raise UsageError(
            f"The run trained on '{source.location}', which is no longer there: its validation split cannot be "
            "recreated. Pass the data to evaluate with --data."
        )


def _require_same_classes(names, class_names, source):
    if list(names) != list(class_names):
        raise UsageError(
            f"The classes of {source} ({', '.join(map(str, names))}) are not the run's "
            f"({', '.join(map(str, class_names))}). Evaluate on data with the classes the model learned."
        )


def _other_source_examples(source, recipe, seed, class_names, global_batch_size):
    """Every example of a source other than the training one, labelled with
    the run's class indices."""
    from kerazoo.data import builtin, csv_text, folders, read_examples
    from kerazoo.data.sources import IMAGE_SUFFIXES, TEXT_SUFFIXES, split_folders

    if source.kind == "digits":
        examples, names = builtin.digits(recipe.data.image_size)
        _require_same_classes(names, class_names, source)
        return examples, "every example (1,797 digits; those the run trained on included)"
    if source.kind == "csv":
        examples, _ = csv_text.read_csv(source.location, class_names=list(class_names))
        return examples, "every row"
    if source.kind in ("image_folder", "text_folder"):
        suffixes, kind = (IMAGE_SUFFIXES, "image_files") if source.kind == "image_folder" else (TEXT_SUFFIXES, "texts")
        splits = split_folders(source.location)
        root, split = (splits["validation"], "its validation folder") if splits else (source.location, "every file")
        examples, _ = folders.read_class_folders(root, suffixes, kind, list(class_names))
        if kind == "texts":
            examples = folders.read_text_files(examples)
        return examples, split
    # synthetic and TFDS data: their own validation split.
    split_data = read_examples(source, recipe, seed, global_batch_size)
    validation, names = split_data[1], split_data[2]
    _require_same_classes(names, class_names, source)
    return validation, "its validation split"


def _data_id(source):
    """A short, file-safe name for a data source, unique per source."""
    if source.location is None:
        return source.kind
    name = pathlib.Path(source.location).stem if source.kind != "tfds" else source.location
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "data"
    digest = hashlib.sha256(source.identity.encode()).hexdigest()[:8]
    return f"{source.kind}-{slug}-{digest}"


def _dataset(run, examples, num_classes):
    """The training pipeline's evaluation form: no shuffle, no augmentation,
    the last partial batch kept."""
    preprocessing = inference.read_preprocessing(run.directory)
    plan = inference.read_plan(run.directory)
    seed = int(plan.get("seed", 0))
    batch_size = int(plan.get("per_replica_batch_size", 32))
    if preprocessing["task"] == "image":
        from kerazoo.data.image_pipeline import image_dataset

        return image_dataset(
            examples, image_size=preprocessing["image_size"], num_classes=num_classes,
            batch_size=batch_size, training=False, seed=seed,
        )
    from kerazoo.data.text_pipeline import text_dataset

    return text_dataset(
        examples, preprocessor=inference.text_preprocessor(run.directory), num_classes=num_classes,
        batch_size=batch_size, training=False, seed=seed,
    )


def _predict_all(model, dataset):
    import numpy as np

    logits, labels = [], []
    for inputs, one_hot in dataset:
        logits.append(np.asarray(model.predict_on_batch(inputs), dtype="float32"))
        labels.append(np.argmax(np.asarray(one_hot), axis=-1))
    if not logits:
        return np.zeros((0, 0), "float32"), np.zeros((0,), "int64")
    return np.concatenate(logits), np.concatenate(labels)


def _measure(logits, labels, class_names):
    """Loss, accuracies, per-class figures and the confusion matrix."""
    import numpy as np

    num_classes = len(class_names)
    logits = logits.astype("float64")
    # log-softmax through log-sum-exp: exact and overflow-free
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = float(-log_probabilities[np.arange(len(labels)), labels].mean())
    predicted = np.argmax(logits, axis=-1)
    accuracy = float((predicted == labels).mean())
    top5 = None
    if num_classes > TOP_K:
        best = np.argsort(-logits, axis=-1)[:, :TOP_K]
        top5 = float((best == labels[:, None]).any(axis=-1).mean())
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = []
    for index, name in enumerate(class_names):
        support = int(matrix[index].sum())
        predicted_count = int(matrix[:, index].sum())
        correct = int(matrix[index, index])
        precision = correct / predicted_count if predicted_count else None
        recall = correct / support if support else None
        f1 = (2 * precision * recall / (precision + recall)) if precision and recall else (0.0 if support else None)
        per_class.append({
            "class": name, "support": support, "precision": precision,
            "recall": recall, "f1": f1, "accuracy": recall,
        })
    return {
        "loss": loss, "accuracy": accuracy, "top5_accuracy": top5,
        "per_class": per_class, "confusion_matrix": matrix.tolist(),
    }


def _write_json(directory, evaluation):
    folder = pathlib.Path(directory) / EVALUATION_DIR
    folder.mkdir(exist_ok=True)
    name = f"{EVALUATION_DIR}/{evaluation.data_id}.json"
    record = evaluation.to_dict()
    record.pop("path", None)
    rundir.RunDirectory(directory).write_json(name, record)
    return pathlib.Path(directory) / name


def _write_tensorboard(run, evaluation):
    """Scalars, the confusion matrix as an image and as a table, at the step
    of the last trained epoch so they line up with the training curves."""
    import numpy as np
    import tensorflow as tf

    log_dir = pathlib.Path(run.directory) / rundir.TENSORBOARD_DIR / EVALUATION_DIR / evaluation.data_id
    step = len(run.epochs)
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        tf.summary.scalar("evaluation/loss", evaluation.loss, step=step)
        tf.summary.scalar("evaluation/accuracy", evaluation.accuracy, step=step)
        if evaluation.top5_accuracy is not None:
            tf.summary.scalar("evaluation/top5_accuracy", evaluation.top5_accuracy, step=step)
        image = confusion_matrix_image(np.asarray(evaluation.confusion_matrix))
        tf.summary.image(
            "evaluation/confusion_matrix", image[None], step=step,
            description="Rows: true class, columns: predicted class; darker is a larger share of the row.",
        )
        tf.summary.text("evaluation/confusion_matrix_table", confusion_matrix_markdown(evaluation), step=step)
    writer.flush()
    writer.close()
    return log_dir


def confusion_matrix_image(matrix, size=320):
    """Render a confusion matrix as an RGB uint8 heat map (rows normalised,
    white = 0, dark blue = the whole row), with a grid between cells.

    Args:
        matrix: square array of counts, rows true, columns predicted.
        size: about the image's side in pixels.
    """
    import numpy as np

    matrix = np.asarray(matrix, dtype="float64")
    count = matrix.shape[0]
    cell = int(max(4, min(48, size // max(count, 1))))
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    white, dark = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    colours = white + shares[..., None] * (dark - white)
    image = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
    image[::cell, :, :] = 200.0
    image[:, ::cell, :] = 200.0
    return np.clip(np.round(image), 0, 255).astype("uint8")


def confusion_matrix_markdown(evaluation):
    """The confusion matrix as a Markdown table with class names."""
    names = [str(name) for name in evaluation.class_names]
    lines = [
        f"{evaluation.num_examples} examples of {evaluation.source} ({evaluation.split}); "
        "rows: true class, columns: predicted class.",
        "",
        "| true \\ predicted | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for name, row in zip(names, evaluation.confusion_matrix):
        lines.append(f"| **{name}** | " + " | ".join(str(value) for value in row) + " |")
    return "\n".join(lines)
