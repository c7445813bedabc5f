"""What a trained model needs around it after training: which run a
`RUN_DIR|MODEL` argument names, and the preprocessing saved with that run.

`evaluate`, `predict` and `export` all start here, so a run directory, its
`model.keras` file and a `kerazoo export --to keras` folder are read the same
way. Images are decoded and resized exactly as the training pipeline does
(`kerazoo.data.image_pipeline.decode_image`); texts are tokenized by the
preprocessor rebuilt from the tokenizer the run saved (WordPiece's
`vocabulary.txt`, or byte-level BPE's `vocabulary.json` and `merges.txt`).
"""

import json
import pathlib

from kerazoo import rundir
from kerazoo.errors import UsageError

# Written by `kerazoo export` beside every artifact (see kerazoo/export.py).
EXPORT_RECORD_FILE = "export.json"
MODEL_SUFFIX = ".keras"


def open_run(target):
    """The `Run` that `target` names.

    Args:
        target: a `Run`, a run directory, a `.keras` model file inside a run
            directory, or a folder written by `kerazoo export --to keras`.

    Raises:
        UsageError: the path is missing, is not a run, or holds no Keras model.
    """
    from kerazoo.run import Run

    if isinstance(target, Run):
        return target
    path = pathlib.Path(target).expanduser()
    if not path.exists():
        raise UsageError(
            f"'{target}' does not exist. Give a run directory (such as runs/resnet20-3f0c9a1e) "
            "or the model.keras file inside one."
        )
    if path.is_file():
        if path.suffix != MODEL_SUFFIX:
            raise UsageError(
                f"'{target}' is not a Keras model file (.keras). Give a run directory or its model.keras."
            )
        folder = path.parent
        _require_run_files(folder, f"The model file '{target}'")
        import keras

        _register_custom_objects(folder)
        return Run(folder, model=keras.saving.load_model(path))
    _require_run_files(path, f"'{target}'")
    if not (path / rundir.MODEL_FILE).exists():
        record = path / EXPORT_RECORD_FILE
        if record.exists():
            exported = json.loads(record.read_text()).get("format", "another format")
            raise UsageError(
                f"'{target}' holds an export in {exported} format, which kerazoo cannot load back. Evaluate or "
                "predict with the run directory it came from, or export with --to keras; the README.md "
                "there shows how to load this one."
            )
        raise UsageError(f"Run '{target}' has no {rundir.MODEL_FILE}: it did not finish training.")
    _register_custom_objects(path)
    return Run(path)


def _require_run_files(folder, what):
    missing = [name for name in (rundir.RECIPE_FILE, rundir.CLASS_NAMES_FILE, rundir.PREPROCESSING_FILE)
               if not (folder / name).exists()]
    if missing:
        raise UsageError(
            f"{what} is not in a kerazoo run directory (missing {', '.join(missing)} in '{folder}'). "
            "Give a run directory written by 'kerazoo train', or a folder written by "
            "'kerazoo export --to keras'."
        )


def _register_custom_objects(folder):
    # Text models hold keras-hub layers: importing keras_hub registers them.
    import kerazoo.optim  # noqa: F401 - kerazoo's own serializable objects

    task = read_preprocessing(folder).get("task")
    if task in ("text", "text_generation"):
        import keras_hub  # noqa: F401
    if task == "text_generation":
        import kerazoo.models.causal_lm  # noqa: F401 - the language model and its tied head


def read_preprocessing(folder):
    """The run's `preprocessing.json` as a dict."""
    return json.loads((pathlib.Path(folder) / rundir.PREPROCESSING_FILE).read_text())


def read_plan(folder):
    """The run's `plan.json`: the plan plus the data source, its fingerprint
    and the seed (a `Run` returned by training holds the plan only)."""
    return json.loads((pathlib.Path(folder) / rundir.PLAN_FILE).read_text())


def text_preprocessor(folder, sequence_length=None, add_end=True):
    """The preprocessor a text run trained with, rebuilt from its saved
    tokenizer: strings in, the model's inputs (token ids, padding mask and,
    for BERT, segment ids) out.

    Args:
        folder: the run directory (or an export folder holding the files).
        sequence_length: pack to this many tokens instead of the run's.
        add_end: end each text with the end token (a prompt does not).
    """
    from kerazoo.data import tokenizer

    preprocessing = read_preprocessing(folder)
    trained = tokenizer.load(folder, preprocessing)
    inputs = preprocessing.get("inputs", tokenizer.DEFAULT_INPUTS)
    return tokenizer.TextPreprocessor(
        trained, sequence_length or preprocessing["sequence_length"], inputs, add_end=add_end
    )


def load_images(paths, image_size):
    """Decode image files by content and resize as training did.

    Returns:
        float32 array of shape (count, image_size, image_size, 3), values 0-255.

    Raises:
        UsageError: a path is not a file, or not an image TensorFlow can decode.
    """
    import numpy as np
    import tensorflow as tf

    from kerazoo.data.image_pipeline import decode_image

    images = []
    for path in paths:
        if not pathlib.Path(path).is_file():
            raise UsageError(f"Image file '{path}' does not exist.")
        try:
            images.append(decode_image(str(path), image_size).numpy())
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            raise UsageError(
                f"'{path}' is not an image kerazoo can read: JPEG, PNG, BMP and GIF files are decoded by content."
            ) from None
    return np.stack(images).astype("float32")


def as_model_inputs(model, inputs):
    """Cast a dict of arrays to the dtypes the model declares (keras-hub's
    preprocessor gives a boolean padding mask; the model's input is int32)."""
    import numpy as np

    if not isinstance(inputs, dict):
        return np.asarray(inputs, dtype="float32")
    declared = {tensor.name: tensor.dtype for tensor in model.inputs} if isinstance(model.inputs, list) else {}
    return {name: np.asarray(value).astype(declared.get(name, np.asarray(value).dtype)) for name, value in inputs.items()}


def softmax(logits):
    """Probabilities from float logits, in float64 for a stable sum."""
    import numpy as np

    logits = np.asarray(logits, dtype="float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
