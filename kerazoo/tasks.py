"""What differs between the tasks a recipe trains, in one place.

The trainer asks the recipe's task (its card's `task`) for the data sources
it accepts, the loss and metrics, the tokenizer a resumed run reuses, what a
run directory keeps for later use, and the line that ends a run; everything
else about a run (plan, callbacks, backup and resume) is the same for all.

- `image`: image classification (float32 logits, categorical cross-entropy).
- `text`: text classification, on a tokenizer trained for the run.
- `text_generation`: a causal language model. Next-token cross-entropy over
  real tokens only (padding has sample weight 0), in float32 from float32
  logits; next-token accuracy and perplexity as metrics; the best checkpoint
  by `val_loss` (`schema.DEFAULT_MONITOR`).

The pipelines follow the task inside `kerazoo.data.load`. Importing this
module is cheap: Keras is imported by the methods that need it.
"""

import math
import pathlib

from kerazoo import rundir
from kerazoo.errors import UsageError

# Top-5 accuracy only means something with more than five classes.
TOP_K = 5


class Task:
    """The task-specific parts of a run. Subclasses override what differs."""

    name = None

    def parse_source(self, data, recipe):
        """The `Source` that `--data` names for this task (see `kerazoo.data.sources`)."""
        from kerazoo.data.sources import parse_source

        return parse_source(data, recipe)

    def saved_tokenizer(self, directory):
        """The tokenizer a run saved, for a resumed run to reuse (None: none)."""
        return None

    def compile_arguments(self, recipe, num_classes):
        """`loss`, `metrics` and `weighted_metrics` for `model.compile`."""
        raise NotImplementedError

    def save_artifacts(self, directory, recipe, datasets):
        """Write what a later `evaluate`, `predict` or `generate` needs."""
        raise NotImplementedError

    def finished_message(self, final, epochs, path):
        """The line that ends a finished run, or None."""
        accuracy = final.get("val_accuracy")
        if isinstance(accuracy, float):
            return f"Finished: validation accuracy {accuracy:.4f} after {epochs} epoch(s). Run directory: {path}"
        return None


class Classification(Task):
    """Shared by image and text classifiers: one-hot labels, float32 logits."""

    def compile_arguments(self, recipe, num_classes):
        import keras

        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        if num_classes > TOP_K:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(k=TOP_K, name="top5_accuracy"))
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.training.label_smoothing)
        return {"loss": loss, "metrics": metrics}


class ImageClassification(Classification):
    name = "image"

    def save_artifacts(self, directory, recipe, datasets):
        directory.write_json(rundir.CLASS_NAMES_FILE, datasets.class_names)
        directory.write_json(rundir.PREPROCESSING_FILE, {
            "task": "image",
            "image_size": recipe.data.image_size,
            "resize": "bilinear, antialiased, to a square (aspect ratio not kept)",
            "input": "RGB, float32 values 0-255, shape (batch, size, size, 3)",
            "scaling_in_model": recipe.model.preprocessing,
        })


class TextClassification(Classification):
    name = "text"

    def saved_tokenizer(self, directory):
        from kerazoo.data import tokenizer

        return tokenizer.load(directory)

    def save_artifacts(self, directory, recipe, datasets):
        from kerazoo.data import tokenizer as tokenizers
        from kerazoo.models import registry

        directory.write_json(rundir.CLASS_NAMES_FILE, datasets.class_names)
        datasets.tokenizer.save(directory.path)
        inputs = list(registry.text_inputs(recipe.model.builder))
        record = {"task": "text", **datasets.tokenizer.record()}
        if datasets.tokenizer.kind == "wordpiece":
            record["vocabulary_file"] = tokenizers.VOCABULARY_FILE
        record.update(
            sequence_length=recipe.data.sequence_length,
            inputs=inputs,
            input=f"{{{', '.join(inputs)}}}: int32, (batch, sequence_length), "
                  f"'{datasets.tokenizer.special.start} text {datasets.tokenizer.special.end}' then padding",
        )
        directory.write_json(rundir.PREPROCESSING_FILE, record)


class TextGeneration(Task):
    name = "text_generation"

    def parse_source(self, data, recipe):
        # A language model reads a CSV file's `text` column, with or without labels.
        from kerazoo.data.sources import Source

        path = pathlib.Path(str(data)).expanduser() if data is not None else None
        if path is not None and path.suffix.lower() == ".csv" and path.is_file():
            return Source("csv", str(path.resolve()))
        return super().parse_source(data, recipe)

    def saved_tokenizer(self, directory):
        from kerazoo.data import tokenizer

        return tokenizer.load(directory)

    def compile_arguments(self, recipe, num_classes):
        import keras
        import keras_hub

        if recipe.training.label_smoothing:
            raise UsageError(
                f"'{recipe.name}' is a language model: train.label_smoothing is for classifiers. Remove it "
                "(--set train.label_smoothing=0)."
            )
        # The mean over real tokens: padding carries sample weight 0.
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        weighted_metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),  # next-token accuracy
            keras_hub.metrics.Perplexity(from_logits=True, name="perplexity"),
        ]
        return {"loss": loss, "weighted_metrics": weighted_metrics}

    def save_artifacts(self, directory, recipe, datasets):
        directory.write_json(rundir.CLASS_NAMES_FILE, [])
        datasets.tokenizer.save(directory.path)
        record = {"task": "text_generation", **datasets.tokenizer.record()}
        record.update(
            sequence_length=recipe.data.sequence_length,
            inputs=["token_ids", "padding_mask"],
            input="{token_ids, padding_mask}: int32, (batch, sequence_length); logits (batch, sequence_length, "
                  "vocabulary) predict each next token",
        )
        directory.write_json(rundir.PREPROCESSING_FILE, record)

    def finished_message(self, final, epochs, path):
        loss = final.get("val_loss")
        if not isinstance(loss, float):
            return None
        perplexity = final.get("val_perplexity", math.exp(min(loss, 700.0)))
        return (
            f"Finished: validation loss {loss:.4f} (perplexity {perplexity:.4g}) after {epochs} epoch(s). "
            f"Run directory: {path}"
        )


TASKS = {task.name: task for task in (ImageClassification(), TextClassification(), TextGeneration())}


def get(name):
    """The `Task` called `name` (a card's `task`)."""
    return TASKS[name]


def for_recipe(recipe):
    """The `Task` a recipe trains."""
    return TASKS[recipe.task]
