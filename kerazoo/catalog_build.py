"""Generate `kerazoo/catalog.json`: the figures that need a built model.

Run after changing a recipe's model or input shape (a test fails until you do):

    python -m kerazoo.catalog_build            # every recipe
    python -m kerazoo.catalog_build resnet50   # only these, keeping the rest

For each recipe it builds the classifier at the card's size (random weights,
float32, `data.num_classes` outputs) and records:

- `params_built`: `total` (every weight, BatchNorm moving statistics
  included: Keras's `count_params()`) and `trainable`;
- `flops`: FLOPs per example = 2 x multiply-accumulates of one example
  (batch 1) in inference at the card's input size (`data.image_size`, or
  `data.sequence_length` tokens), counting convolutions, `Dense`,
  `EinsumDense` and the two attention products (`kerazoo.flops`); and
  `macs` = flops / 2, the unit most papers call "FLOPs";
- `fingerprint`: `catalog.fingerprint(recipe)`, a hash of the recipe fields
  those figures depend on, so a test can tell when the file is stale.
"""

import argparse
import json
import sys

from kerazoo import catalog
from kerazoo.errors import KerazooError, UsageError

# Bump when what is counted, or how, changes: every entry is then stale.
GENERATOR_VERSION = 1

DEFINITIONS = {
    "params_built": (
        "parameters of the classifier built at the card's size with data.num_classes outputs: "
        "total = every weight (BatchNorm moving statistics included, Keras count_params), "
        "trainable = learned weights only (torch's convention)"
    ),
    "flops": (
        "2 x multiply-accumulates for one example (batch 1), inference, at the card's input size; "
        "counts Conv*, DepthwiseConv*, SeparableConv*, Dense, EinsumDense and the two attention "
        "products; not normalization, activations, pooling or element-wise adds (kerazoo.flops)"
    ),
    "macs": "flops / 2 (what many papers and torchvision call FLOPs or MAdds)",
    "fingerprint": "kerazoo.catalog.fingerprint(recipe): hash of the model section, task and input shape",
}


def measure(recipe):
    """Build `recipe` at its card size and count it.

    Returns:
        The catalogue entry: a dict with `input`, `params_built`, `flops`,
        `macs` and `fingerprint`.
    """
    import numpy as np

    from kerazoo import flops

    model = recipe.build_model(precision="float32")
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    forward_flops = flops.count_flops(model)
    return {
        "input": catalog.input_description(recipe),
        "params_built": {"total": int(model.count_params()), "trainable": trainable},
        "flops": int(forward_flops),
        "macs": int(forward_flops) // 2,
        "fingerprint": catalog.fingerprint(recipe),
    }


def build(names=None, previous=None, report=print):
    """The catalogue as a dict, measuring `names` (default: every recipe).

    Entries of other recipes are kept from `previous` when it was written by
    this generator version; entries of recipes that no longer exist are dropped.
    """
    from kerazoo import recipes

    all_names = recipes.list()
    unknown = sorted(set(names or ()) - set(all_names))
    if unknown:
        raise UsageError(f"Unknown recipe(s): {', '.join(unknown)}. Run 'kerazoo list' to see all.")
    import keras  # after the names are checked: a typo should not wait for TensorFlow
    import keras_hub

    kept = {}
    if previous and previous.get("generator_version") == GENERATOR_VERSION:
        kept = {name: entry for name, entry in previous.get("recipes", {}).items() if name in all_names}
    entries = dict(kept) if names else {}
    for name in names or all_names:
        entry = measure(recipes.get(name))
        entries[name] = entry
        report(f"{name:24s} {entry['params_built']['total']:>12,d} params  {entry['flops'] / 1e9:8.3f} GFLOPs")
        keras.backend.clear_session()
    return {
        "generator": "python -m kerazoo.catalog_build",
        "generator_version": GENERATOR_VERSION,
        "definitions": DEFINITIONS,
        "built_with": {"keras": keras.__version__, "keras_hub": keras_hub.__version__, "backend": keras.backend.backend()},
        "recipes": dict(sorted(entries.items())),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kerazoo.catalog_build", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="recipes to re-measure (default: all)")
    parser.add_argument("--output", default=str(catalog.CATALOG_FILE), help="where to write the catalogue")
    arguments = parser.parse_args(argv)
    previous = catalog.read(arguments.output)
    try:
        data = build(arguments.names, previous=previous)
    except KerazooError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    with open(arguments.output, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=False)
        handle.write("\n")
    print(f"Wrote {len(data['recipes'])} entries to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
