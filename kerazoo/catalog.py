"""The generated catalogue: figures that need a built model (parameter
count, FLOPs), computed ahead of time so that `kerazoo list` can show them
without importing TensorFlow. Regenerate with `python -m kerazoo.catalog_build`."""

import functools
import json
import pathlib

CATALOG_FILE = pathlib.Path(__file__).with_name("catalog.json")


@functools.lru_cache(maxsize=1)
def entries():
    """{recipe name: {"params_built", "flops", "recipe_fingerprint"}} or {}."""
    if not CATALOG_FILE.exists():
        return {}
    return json.loads(CATALOG_FILE.read_text())["recipes"]


def summary(recipe):
    """One listing row: the card's reported figures and the built counts."""
    card = recipe.card
    built = entries().get(recipe.name, {})
    size = f"{recipe.data.image_size}px" if recipe.task == "image" else f"{recipe.data.sequence_length} tok"
    args = recipe.model.args
    model = args.get("architecture") or recipe.model.builder
    if recipe.model.builder == "resnet_cifar":
        model = f"resnet_cifar{args.get('depth', 20)}"
    flops = built.get("flops")
    return {
        "name": recipe.name,
        "task": recipe.task,
        "model": model,
        "input": size,
        "params_m": round(card.params / 1e6, 2) if card.params else None,
        "params_reported": card.params,
        "params_built": built.get("params_built"),
        "gflops": round(flops / 1e9, 3) if flops else None,
        "flops": flops,
        "accuracy": card.accuracy.value if card.accuracy else None,
        "accuracy_metric": card.accuracy.metric if card.accuracy else None,
        "accuracy_dataset": card.accuracy.dataset if card.accuracy else None,
        "accuracy_source": card.accuracy.source if card.accuracy else None,
        "description": card.description,
        "hyperparameters_source": card.hyperparameters_source,
        "weights_license": card.weights_license,
        "reproduced": card.reproduced,
    }
