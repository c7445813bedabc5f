"""The generated catalogue: figures that need a built model (parameter
count, FLOPs), computed ahead of time so that `kerazoo list` can show them
without importing TensorFlow. Regenerate with `python -m kerazoo.catalog_build`
(definitions of every figure are in that module and in the file itself)."""

import functools
import hashlib
import json
import pathlib

CATALOG_FILE = pathlib.Path(__file__).with_name("catalog.json")

# The recipe fields the built figures depend on (see `fingerprint`).
_SHAPE_FIELDS = ("num_classes", "image_size", "sequence_length", "vocabulary_size")


def read(path=CATALOG_FILE):
    """The whole catalogue file as a dict, or None when there is none."""
    path = pathlib.Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def entries():
    """{recipe name: {"input", "params_built": {"total", "trainable"},
    "flops", "macs", "fingerprint"}}, or {} without a catalogue file."""
    data = read()
    return data["recipes"] if data else {}


def fingerprint(recipe):
    """A hash of what the built figures depend on: the task, the model
    section and the input shape and classes. Training settings and the card
    do not change them, so editing those does not make the catalogue stale."""
    plain = recipe.to_dict()
    relevant = {
        "task": recipe.task,
        "model": plain["model"],
        "data": {field: plain["data"].get(field) for field in _SHAPE_FIELDS},
    }
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def input_description(recipe):
    """`224px` for an image recipe, `128 tok` for a text recipe."""
    if recipe.task == "image":
        return f"{recipe.data.image_size}px"
    return f"{recipe.data.sequence_length} tok"


def model_description(recipe):
    """A short name for the network a recipe builds."""
    args = recipe.model.args
    builder = recipe.model.builder
    if "architecture" in args:
        return args["architecture"]
    if builder in ("resnet_cifar", "keras_hub_resnet"):
        return f"{builder}{args.get('depth', '')}"
    if builder == "vit":
        return f"ViT-{args.get('num_layers')}x{args.get('hidden_dim')}/{args.get('patch_size', 16)}"
    return builder


def summary(recipe):
    """One listing row (`kerazoo list --format json` prints these): the
    card's reported figures, every card field, and the built counts."""
    from kerazoo import schema

    card = recipe.card
    built = entries().get(recipe.name, {})
    params_built = built.get("params_built") or {}
    flops = built.get("flops")
    return {
        "name": recipe.name,
        "task": recipe.task,
        "model": model_description(recipe),
        "input": input_description(recipe),
        "image_size": recipe.data.image_size,
        "sequence_length": recipe.data.sequence_length,
        "preprocessing": recipe.model.preprocessing if recipe.task == "image" else None,
        "params_m": round(card.params / 1e6, 2) if card.params else None,
        "params_reported": card.params,
        "params_counting": card.params_counting,
        "params_built": params_built.get("total"),
        "params_built_trainable": params_built.get("trainable"),
        "gflops": round(flops / 1e9, 3) if flops else None,
        "flops": flops,
        "macs_reported": card.macs_reported,
        "catalog_current": bool(built) and built.get("fingerprint") == fingerprint(recipe),
        "accuracy": card.accuracy.value if card.accuracy else None,
        "accuracy_metric": card.accuracy.metric if card.accuracy else None,
        "accuracy_dataset": card.accuracy.dataset if card.accuracy else None,
        "accuracy_source": card.accuracy.source if card.accuracy else None,
        "description": card.description,
        "hyperparameters_source": card.hyperparameters_source,
        "weights_license": card.weights_license,
        "reproduced": card.reproduced,
        # Every card field, as written (the flat keys above are for tables).
        "card": schema.to_plain(card),
    }
