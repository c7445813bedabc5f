"""BatchNorm momentum on a small dataset: Keras's default 0.99 against the
plan's 0.9 for short runs, side by side on the same seeds.

Trains resnet20 on scikit-learn's digits (the README's main job settings)
with `model.batchnorm_momentum` pinned to each value and prints validation
accuracy per epoch. Run:

    python benchmarks/batchnorm_small_data.py [--seeds 0 1 2] [--epochs 10]
"""

import argparse
import pathlib
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import machine  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    from kerazoo import recipes

    base = recipes.get("resnet20").override({"augment.flip": "none"})
    finals = {0.99: [], 0.9: []}
    with tempfile.TemporaryDirectory() as root:
        for seed in args.seeds:
            for momentum in finals:  # interleaved per seed
                recipe = base.override({"model.batchnorm_momentum": momentum})
                run = recipe.train(
                    data="digits", epochs=args.epochs, batch_size=32, seed=seed, verbose=False,
                    profile_batches=False, run_dir=f"{root}/m{momentum}-s{seed}",
                )
                curve = [round(e["val_accuracy"], 3) for e in run.epochs]
                finals[momentum].append(curve[-1])
                print(f"momentum {momentum:<5} seed {seed}: val_accuracy by epoch {curve}", flush=True)
    print(f"machine: {machine()}")
    for momentum, values in finals.items():
        print(f"momentum {momentum}: final val_accuracy median {statistics.median(values):.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f}) over seeds {args.seeds}")


if __name__ == "__main__":
    main()
