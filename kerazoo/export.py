"""Export a trained classifier with Keras's own `model.save` / `model.export`,
then prove the artifact computes what the Keras model computes.

The parity check runs a sample batch through the artifact's own runtime
(`keras.saving.load_model`, `tf.saved_model.load`, `onnxruntime`) and
compares the logits with the Keras model's. Above the tolerance the export
fails and nothing is left at the destination. Every export is a new folder
holding the artifact and what using it needs: `class_names.json`,
`preprocessing.json`, `vocabulary.txt` for text, `export.json` (the parity
figures) and a `README.md` that says how to feed the model.

What the exported model holds: input scaling (images), the network and its
float32 logits head. What it does not: resizing and tokenization (documented
beside it), and training augmentation, which lives only in the training
model (`kerazoo.models.training_model`) and is never saved.
"""

import dataclasses
import json
import os
import pathlib
import shutil
from typing import Optional

from kerazoo import __version__, inference, rundir
from kerazoo.errors import EXIT_INTERNAL, KerazooError, UsageError

FORMATS = ("keras", "saved_model", "onnx")
ARTIFACT_NAMES = {"keras": "model.keras", "saved_model": "saved_model", "onnx": "model.onnx"}
RUNTIMES = {"keras": "keras.saving.load_model", "saved_model": "tf.saved_model.load", "onnx": "onnxruntime"}
EXPORTS_DIR = "exports"
README_FILE = "README.md"
SAMPLE_SIZE = 8
# Largest absolute logit difference accepted. Reordered float32 arithmetic
# differs by about 1e-6 of the logits' scale; mixed-precision models compare
# in bfloat16/float16, whose rounding step is about 1e-2.
FLOAT32_TOLERANCE = 1e-3
MIXED_TOLERANCE = 5e-2


class ExportMismatch(KerazooError):
    """The exported artifact does not compute what the Keras model computes."""

    exit_code = EXIT_INTERNAL


@dataclasses.dataclass
class ExportResult:
    """A finished export.

    Attributes:
        format: `keras`, `saved_model` or `onnx`.
        path: the export folder.
        artifact: the model file (or SavedModel folder) inside it.
        runtime: what ran the parity check.
        max_abs_difference: the largest absolute logit difference between
            the artifact and the Keras model on the sample batch.
        tolerance: the largest difference accepted.
        sample_size: examples in the sample batch.
        notes: what else to know (a precision change, for example).
    """

    format: str
    path: str
    artifact: str
    runtime: str
    max_abs_difference: float
    tolerance: float
    sample_size: int
    notes: list = dataclasses.field(default_factory=list)

    def to_dict(self):
        return dataclasses.asdict(self)

    def __repr__(self):
        return (
            f"ExportResult({self.format} at '{self.artifact}', max abs difference "
            f"{self.max_abs_difference:.3g} <= {self.tolerance:g})"
        )


def export(target, to, out=None, tolerance=None):
    """Export a run's classifier and check it against the Keras model.

    Args:
        target: a `Run`, a run directory, or a `.keras` model file in one.
        to: `"keras"`, `"saved_model"` or `"onnx"` (ONNX needs the `onnx`
            extra: `pip install 'kerazoo[onnx]'`).
        out: the export folder to create; it must not exist. Default:
            `RUN/exports/<to>`.
        tolerance: the largest absolute logit difference accepted (default
            1e-3 for float32 models, 5e-2 for mixed-precision ones).

    Returns:
        An `ExportResult`.

    Raises:
        UsageError: unknown format, an existing destination, a missing extra.
        ExportMismatch: the artifact's logits differ by more than `tolerance`.
    """
    if to not in FORMATS:
        raise UsageError(f"Unknown export format '{to}'. Choose one of: {', '.join(FORMATS)}.")
    if tolerance is not None and not _is_non_negative_number(tolerance):
        raise UsageError(f"The tolerance must be a number of 0 or more, got {tolerance!r}.")
    run = inference.open_run(target)
    destination = pathlib.Path(out).expanduser() if out else run.directory / EXPORTS_DIR / to
    if destination.exists() or destination.is_symlink():
        raise UsageError(
            f"'{destination}' already exists; kerazoo never overwrites an export. "
            "Pass another --out, or delete that one first."
        )
    if to == "onnx":
        _require_onnx_packages()

    model = run.model
    sample = sample_batch(run, model)
    # A freshly loaded model must be called once before `export` (Keras needs
    # the traced call for ONNX; DESIGN.md, known traps).
    model(sample, training=False)
    exported_model, notes = model, []
    mixed = _is_mixed_precision(model)
    if to == "onnx" and mixed:
        # Keras exports ONNX from float32 models only, and ONNX Runtime's CPU
        # kernels reject bfloat16 convolutions: export a float32 copy.
        exported_model = float32_copy(model)
        exported_model(sample, training=False)
        change = _max_difference(_keras_logits(exported_model, sample), _keras_logits(model, sample))
        notes.append(
            f"The run trained under a mixed precision policy; ONNX holds a float32 copy with the same "
            f"weights (largest logit difference from the mixed-precision model: {change:.3g})."
        )
    if tolerance is None:
        exported_in_low_precision = mixed and exported_model is model
        tolerance = MIXED_TOLERANCE if exported_in_low_precision else FLOAT32_TOLERANCE
    tolerance = float(tolerance)
    reference = _keras_logits(exported_model, sample)

    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"Cannot create '{destination.parent}' ({error.strerror or error}).") from None
    staging = destination.parent / f".{destination.name}.partial-{os.getpid()}"
    try:
        staging.mkdir()
        artifact = staging / ARTIFACT_NAMES[to]
        _write_artifact(exported_model, to, artifact)
        outputs = _run_artifact(to, artifact, sample)
        difference = _max_difference(outputs, reference)
        if not difference <= tolerance:
            raise ExportMismatch(
                f"The {to} export does not match the Keras model: the largest absolute logit difference on "
                f"{SAMPLE_SIZE} sample inputs is {difference:.3g}, above the tolerance {tolerance:g}. Nothing was "
                f"written to '{destination}'. This is a converter problem; please report it with the run's "
                "plan.json. To accept the difference, pass a larger --tolerance."
            )
        result = ExportResult(
            format=to, path=str(destination), artifact=str(destination / ARTIFACT_NAMES[to]),
            runtime=RUNTIMES[to], max_abs_difference=difference, tolerance=tolerance,
            sample_size=SAMPLE_SIZE, notes=notes,
        )
        _write_companions(run, exported_model, staging, result)
        os.rename(staging, destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _is_non_negative_number(value):
    try:
        return float(value) >= 0  # False for NaN too
    except (TypeError, ValueError):
        return False


def _require_onnx_packages():
    import importlib.util

    missing = [name for name in ("tf2onnx", "onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"ONNX export needs {', '.join(missing)}: pip install 'kerazoo[onnx]'."
        )


def sample_batch(run, model):
    """A fixed batch of model inputs for the parity check: random pixels for
    images; for text, texts of the run's own words of many lengths (short,
    padded, and longer than the sequence length)."""
    import numpy as np

    preprocessing = inference.read_preprocessing(run.directory)
    generator = np.random.default_rng(0)
    if preprocessing["task"] == "image":
        size = preprocessing["image_size"]
        return generator.uniform(0.0, 255.0, size=(SAMPLE_SIZE, size, size, 3)).astype("float32")
    from kerazoo.data import tokenizer

    vocabulary = tokenizer.load_vocabulary(run.directory)
    words = [token for token in vocabulary if token not in tokenizer.RESERVED_TOKENS and not token.startswith("##")]
    words = words or ["x"]
    length = preprocessing["sequence_length"]
    counts = np.linspace(1, 2 * length, SAMPLE_SIZE).astype(int)
    texts = [" ".join(generator.choice(words, size=count)) for count in counts]
    packed = inference.text_preprocessor(run.directory)(texts)
    return inference.as_model_inputs(model, {name: np.asarray(value) for name, value in packed.items()})


def _is_mixed_precision(model):
    from kerazoo.models import all_layers

    return any(layer.dtype_policy.name.startswith("mixed_") for layer in all_layers(model))


def float32_copy(model):
    """The same model and weights under the float32 policy throughout."""
    import keras

    def to_float32(value):
        if isinstance(value, dict):
            if value.get("class_name") == "DTypePolicy" and str(value.get("config", {}).get("name", "")).startswith("mixed_"):
                return {**value, "config": {**value["config"], "name": "float32"}}
            return {key: to_float32(item) for key, item in value.items()}
        if isinstance(value, list):
            return [to_float32(item) for item in value]
        return value

    config = to_float32(keras.saving.serialize_keras_object(model))
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def _keras_logits(model, sample):
    import numpy as np

    return np.asarray(model.predict(sample, verbose=0), dtype="float32")


def _write_artifact(model, to, artifact):
    if to == "keras":
        model.save(artifact)
    elif to == "saved_model":
        model.export(str(artifact), format="tf_saved_model", verbose=False)
    else:
        model.export(str(artifact), format="onnx", verbose=False)


def _run_artifact(to, artifact, sample):
    """Logits of the artifact on `sample`, through the artifact's own runtime."""
    import numpy as np

    if to == "keras":
        import keras

        return _keras_logits(keras.saving.load_model(artifact), sample)
    if to == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(artifact))
        inputs = {name: tf.constant(value) for name, value in sample.items()} if isinstance(sample, dict) else tf.constant(sample)
        outputs = loaded.serve(inputs)
        return np.asarray(outputs, dtype="float32")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    declared = session.get_inputs()
    if isinstance(sample, dict):
        feeds = {spec.name: sample[spec.name].astype(_onnx_numpy_type(spec.type)) for spec in declared}
    else:
        feeds = {declared[0].name: sample.astype(_onnx_numpy_type(declared[0].type))}
    return np.asarray(session.run(None, feeds)[0], dtype="float32")


def _onnx_numpy_type(onnx_type):
    import numpy as np

    types = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}
    if onnx_type not in types:
        raise ValueError(f"unexpected ONNX input type {onnx_type}")  # our bug: a model input kerazoo never builds
    return types[onnx_type]


def _max_difference(outputs, reference):
    import numpy as np

    outputs = np.asarray(outputs, dtype="float64")
    reference = np.asarray(reference, dtype="float64")
    if outputs.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(outputs - reference))) if outputs.size else 0.0


def _write_companions(run, model, folder, result):
    """What using the artifact needs, beside it."""
    preprocessing = inference.read_preprocessing(run.directory)
    for name in (rundir.CLASS_NAMES_FILE, rundir.PREPROCESSING_FILE, rundir.RECIPE_FILE, rundir.PLAN_FILE):
        source = run.directory / name
        if source.exists():
            shutil.copyfile(source, folder / name)
    if preprocessing["task"] != "image":
        from kerazoo.data import tokenizer

        for name in preprocessing.get("tokenizer_files", [tokenizer.VOCABULARY_FILE]):
            shutil.copyfile(run.directory / name, folder / name)
    inputs = [{"name": tensor.name, "dtype": str(tensor.dtype), "shape": list(tensor.shape)} for tensor in model.inputs]
    record = {
        **result.to_dict(),
        "path": None,  # the folder itself; may be moved
        "artifact": ARTIFACT_NAMES[result.format],
        "run": str(run.directory),
        "inputs": inputs,
        "outputs": {"name": "logits", "dtype": "float32", "shape": [None, len(run.class_names)]},
        "versions": _versions(result.format),
    }
    (folder / inference.EXPORT_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (folder / README_FILE).write_text(readme(run, result, preprocessing, inputs), encoding="utf-8")


def _versions(to):
    import importlib.metadata

    versions = {"kerazoo": __version__}
    names = ["keras", "tensorflow"] + (["tf2onnx", "onnx", "onnxruntime"] if to == "onnx" else [])
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def readme(run, result, preprocessing, inputs):
    """The README.md written beside an exported model."""
    artifact = ARTIFACT_NAMES[result.format]
    classes = len(run.class_names)
    lines = [
        f"# {run.recipe.name}, exported as {result.format}",
        "",
        f"Exported by kerazoo {__version__} from the run `{run.directory.resolve()}`.",
        "",
        "## Output",
        "",
        f"`logits`: float32, shape `(batch, {classes})`. Apply a softmax for probabilities; index `i` is",
        "the class named at position `i` of `class_names.json`.",
        "",
        "## Inputs and preprocessing",
        "",
    ]
    if preprocessing["task"] == "image":
        size = preprocessing["image_size"]
        lines += [
            f"`images`: float32, shape `(batch, {size}, {size}, 3)`, RGB values 0-255.",
            "",
            f"- **Inside the model**: input scaling (`{preprocessing.get('scaling_in_model')}`), so feed plain 0-255 pixels.",
            f"- **Yours to do**: decode the image to RGB and resize it to {size}x{size} pixels, bilinear",
            "  with antialiasing, aspect ratio not kept, rounded back to whole 0-255 values, as training did:",
            "",
            "```python",
            "import tensorflow as tf",
            "image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)",
            f"image = tf.image.resize(image, ({size}, {size}), method=\"bilinear\", antialias=True)",
            "images = tf.clip_by_value(tf.round(image), 0, 255)[None]  # float32, batch of one",
            "```",
        ]
    elif preprocessing.get("tokenizer", "wordpiece") != "wordpiece":
        length = preprocessing["sequence_length"]
        names = ", ".join(f"`{name}`" for name in preprocessing.get("inputs", ["token_ids", "padding_mask"]))
        output = (
            f"logits of shape `(batch, {length}, vocabulary)`: each position predicts the next token"
            if preprocessing["task"] == "text_generation" else "one logit per class"
        )
        lines += [
            f"int32 tensors of shape `(batch, {length})`: {names} (1 for a token, 0 for padding); {output}.",
            "",
            "- **Yours to do**: tokenize with the byte-level BPE in `vocabulary.json` and `merges.txt`, as",
            f"  `{preprocessing.get('start_token')} tokens {preprocessing.get('end_token')}`, cut to {length} tokens "
            f"and padded with `{preprocessing.get('pad_token')}`. kerazoo rebuilds exactly what training did from",
            "  the files in this folder:",
            "",
            "```python",
            "from kerazoo import inference",
            "preprocessor = inference.text_preprocessor(\".\")  # this folder",
            "inputs = {name: value.numpy() for name, value in preprocessor([\"a text\"]).items()}",
            "```",
        ]
    else:
        length = preprocessing["sequence_length"]
        lines += [
            f"Three int32 tensors of shape `(batch, {length})`: `token_ids`, `segment_ids` (all 0) and",
            "`padding_mask` (1 for a token, 0 for padding).",
            "",
            f"- **Yours to do**: tokenize with WordPiece and the vocabulary in `vocabulary.txt` (lowercase: "
            f"{str(preprocessing.get('lowercase')).lower()}),",
            f"  as `[CLS] tokens [SEP]`, cut to {length} tokens and padded with `[PAD]` (id 0). keras-hub does",
            "  exactly what training did:",
            "",
            "```python",
            "import keras_hub",
            "vocabulary = open(\"vocabulary.txt\", encoding=\"utf-8\").read().splitlines()",
            f"tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase={preprocessing.get('lowercase')})",
            f"preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer=tokenizer, sequence_length={length})",
            "inputs = {name: value.numpy().astype(\"int32\") for name, value in preprocessor([\"a text\"]).items()}",
            "```",
        ]
    feed = "images" if preprocessing["task"] == "image" else "inputs"
    lines += ["", "## Load and run", "", "```python"]
    if result.format == "keras":
        if preprocessing["task"] == "text":
            lines.append("import keras_hub  # registers the keras-hub layers")
        elif preprocessing["task"] == "text_generation":
            lines.append("import kerazoo.models.causal_lm  # registers the language model's tied output layer")
        lines += ["import keras", f"model = keras.saving.load_model(\"{artifact}\")", f"logits = model.predict({feed})"]
    elif result.format == "saved_model":
        lines += ["import tensorflow as tf", f"model = tf.saved_model.load(\"{artifact}\")", f"logits = model.serve({feed})"]
    else:
        lines += [
            "import onnxruntime",
            f"session = onnxruntime.InferenceSession(\"{artifact}\")",
            "logits = session.run(None, {\"images\": images.numpy()})[0]" if preprocessing["task"] == "image"
            else "logits = session.run(None, inputs)[0]",
        ]
    lines += [
        "```",
        "",
        "## Parity check",
        "",
        f"On {result.sample_size} sample inputs, {result.runtime} gave logits within "
        f"{result.max_abs_difference:.3g} of the Keras model (tolerance {result.tolerance:g}).",
    ]
    lines += [f"{note}" for note in result.notes]
    lines += [
        "",
        "## Not in this model",
        "",
        "Training augmentation (crops, flips, RandAugment, MixUp, CutMix, random erasing) and dropout at",
        "training time: the exported model is the inference-mode classifier only.",
        "",
    ]
    return "\n".join(lines)
