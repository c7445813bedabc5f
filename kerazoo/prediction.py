"""Predict with a trained classifier: the top-k labels and probabilities for
image files or texts, using the class names and preprocessing saved with the
run (images decoded and resized as in training; texts tokenized with the
run's own vocabulary)."""

import dataclasses
import numbers
import pathlib

from kerazoo import inference
from kerazoo.errors import UsageError

# `@FILE` reads one input per line from FILE; `@@text` is the text '@text'.
LIST_FILE_PREFIX = "@"
DEFAULT_TOP_K = 5


@dataclasses.dataclass
class Prediction:
    """The top-k classes for one input.

    Attributes:
        input: the image path or the text, as given.
        labels: class names, most probable first.
        probabilities: their softmax probabilities.
        indices: their class indices.
    """

    input: str
    labels: list
    probabilities: list
    indices: list

    @property
    def label(self):
        """The most probable class."""
        return self.labels[0]

    def to_dict(self):
        return {
            "input": self.input,
            "predictions": [
                {"label": label, "index": index, "probability": probability}
                for label, index, probability in zip(self.labels, self.indices, self.probabilities)
            ],
        }

    def __repr__(self):
        shown = ", ".join(f"{label} {probability:.3f}" for label, probability in zip(self.labels, self.probabilities))
        return f"Prediction({self.input!r}: {shown})"


def predict(target, inputs, top_k=DEFAULT_TOP_K):
    """Classify image files or texts.

    Args:
        target: a `Run`, a run directory, or a `.keras` model file in one.
        inputs: a list of inputs (a single string is one input). For image
            models each is an image file (JPEG, PNG, BMP or GIF, decoded by
            content); for text models each is a text. `@FILE` stands for the
            lines of FILE, one input per non-empty line (image paths relative
            to FILE's folder); write `@@...` for a text that starts with '@'.
        top_k: how many classes to return per input, most probable first;
            at most the number of classes.

    Returns:
        A list of `Prediction`, one per input, in order.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
        raise UsageError(f"top_k (--top-k) must be a whole number of 1 or more, got {top_k!r}.")
    run = inference.open_run(target)
    preprocessing = inference.read_preprocessing(run.directory)
    task = preprocessing["task"]
    if task == "text_generation":
        raise UsageError(
            f"'{run.directory}' is a language model: it continues texts rather than classifying them. Use "
            f"'kerazoo generate {run.directory} PROMPT' (or run.generate(prompt) in Python)."
        )
    items = expand_inputs([inputs] if isinstance(inputs, (str, pathlib.Path)) else list(inputs), task)
    if not items:
        raise UsageError("Nothing to predict: give at least one image file or text (or an @FILE with lines).")
    model = run.model
    if task == "image":
        batch = inference.load_images(items, preprocessing["image_size"])
    else:
        batch = inference.as_model_inputs(model, inference.text_preprocessor(run.directory)(list(items)))
    probabilities = inference.softmax(model.predict(batch, verbose=0))
    return top_classes(items, probabilities, run.class_names, top_k)


def expand_inputs(inputs, task):
    """Replace each `@FILE` by the non-empty lines of FILE; `@@x` is `@x`."""
    items = []
    for item in inputs:
        text = str(item)
        if text.startswith(LIST_FILE_PREFIX * 2):
            items.append(text[1:])
        elif text.startswith(LIST_FILE_PREFIX) and len(text) > 1:
            items.extend(_read_list_file(pathlib.Path(text[1:]), task))
        else:
            items.append(text)
    return items


def _read_list_file(path, task):
    if not path.is_file():
        raise UsageError(
            f"Input list file '{path}' (from @{path}) does not exist. '@FILE' reads one input per line; "
            "write '@@' to predict a text that starts with '@'."
        )
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError:
        raise UsageError(f"Input list file '{path}' is not UTF-8 text.") from None
    lines = [line for line in lines if line]
    if task == "image":
        return [str(path.parent / line) if not pathlib.Path(line).is_absolute() else line for line in lines]
    return lines


def top_classes(items, probabilities, class_names, top_k):
    """One `Prediction` per row of probabilities, most probable first."""
    import numpy as np

    count = min(top_k, len(class_names))
    results = []
    for item, row in zip(items, probabilities):
        # stable sort: equal probabilities keep class order
        best = np.argsort(-row, kind="stable")[:count]
        results.append(Prediction(
            input=str(item),
            labels=[class_names[index] for index in best],
            probabilities=[float(row[index]) for index in best],
            indices=[int(index) for index in best],
        ))
    return results
