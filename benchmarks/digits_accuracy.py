"""The small image recipes on scikit-learn's digits: validation accuracy and
wall time of a short run on this machine.

Each recipe trains with its own optimizer, schedule and head at 32 px, with
the changes digits need and nothing else: no flips (a mirrored digit is
another digit), no random-resized crop (an 8% crop of a 32 px digit is a
blur) and no RandAugment (its colour and shear operations are tuned for
photographs). Run:

    python benchmarks/digits_accuracy.py [--epochs 10] [--seeds 0 1 2] [--recipes resnet20 mobilenet_v2 ...]
"""

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import machine  # noqa: E402

SMALL_RECIPES = ["resnet20", "resnet56", "mobilenet_v3_small", "mobilenet_v2", "efficientnet_b0", "resnet18"]
FOR_DIGITS = {
    "data.image_size": 32,
    "augment.flip": "none",
    "augment.random_resized_crop_scale": [],
    "augment.randaugment_magnitude": 0.0,
    "augment.random_erasing": 0.0,
}


def train_on_digits(name, root, epochs=10, batch_size=32, seed=0):
    """Train recipe `name` on digits as above; returns (final, best, seconds)."""
    from kerazoo import recipes

    recipe = recipes.get(name).override(FOR_DIGITS)
    start = time.perf_counter()
    run = recipe.train(
        data="digits", epochs=epochs, batch_size=batch_size, seed=seed, verbose=False,
        profile_batches=False, run_dir=f"{root}/{name}-{seed}",
    )
    seconds = time.perf_counter() - start
    accuracies = [record["val_accuracy"] for record in run.epochs]
    return accuracies[-1], max(accuracies), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--recipes", nargs="+", default=SMALL_RECIPES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        for name in args.recipes:
            for seed in args.seeds:
                final, best, seconds = train_on_digits(name, root, args.epochs, args.batch_size, seed)
                print(f"{name:20s} seed {seed}  final {final:.4f}  best {best:.4f}  {seconds:6.0f} s", flush=True)
    print(f"machine: {machine()}; {args.epochs} epochs, batch {args.batch_size}, 32 px")


if __name__ == "__main__":
    main()
