"""RandAugment on the host: kerazoo's layer against Keras's, side by side.

When the training step is XLA-compiled, RandAugment runs in the tf.data
pipeline on the host's CPU cores (Keras cannot compile it), so the host
must augment as fast as the GPU trains. Keras's `RandAugment` applies all
11 of its operations to every batch and keeps the drawn ones; kerazoo's
(`kerazoo.augment.RandAugment`) runs only the drawn branches and gives the
same images (tests/test_augment.py). Both run in a tf.data `map` over
batches of 32 random images at 224 px (ConvNeXt-T's recipe: 2 operations,
magnitude 9), parallel on all cores; decoding is left out, so the figure
is the augmentation's cost alone. Candidates interleaved. Run:

    python benchmarks/randaugment.py [--repeats 5] [--batches 10] [--json out.json]
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import describe, machine, paired_ratios, write_figures  # noqa: E402

BATCH = 32
IMAGE_SIZE = 224
KERAZOO = "kerazoo RandAugment"
KERAS = "keras.layers.RandAugment"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per candidate and repeat")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from kerazoo import augment, recipes

    recipe_augment = recipes.get("convnext_tiny").augment
    settings = dict(value_range=(0, 255), num_ops=recipe_augment.randaugment_ops,
                    factor=recipe_augment.randaugment_magnitude / 10.0, seed=0)
    images = np.random.default_rng(0).uniform(0, 255, (BATCH, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")

    def pipeline(layer):
        return (tf.data.Dataset.from_tensors(images).repeat()
                .map(lambda x: layer(x, training=True), num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))

    candidates = {KERAZOO: lambda: augment.RandAugment(**settings), KERAS: lambda: keras.layers.RandAugment(**settings)}
    throughput = {name: [] for name in candidates}
    for index in range(args.repeats):
        for name, make in candidates.items():
            iterator = iter(pipeline(make()))
            next(iterator)  # traced and warm
            started = time.perf_counter()
            for _ in range(args.batches):
                next(iterator)
            throughput[name].append(args.batches * BATCH / (time.perf_counter() - started))
            print(f"repeat {index + 1}: {name:<26} {throughput[name][-1]:8.1f} images/s", flush=True)

    print(f"machine: {machine()}; Keras {keras.__version__}, TensorFlow {tf.__version__}")
    print(f"RandAugment ({settings['num_ops']} operations, magnitude {recipe_augment.randaugment_magnitude:g}), "
          f"batches of {BATCH} at {IMAGE_SIZE} px in tf.data, all cores, images/s:")
    for name, values in throughput.items():
        print(f"  {name:<26} {describe(values, '', 1, 1)}")
    ratios = paired_ratios(throughput[KERAZOO], throughput[KERAS])
    print(f"  {KERAZOO} / {KERAS}: {describe(ratios, '', 1, 2)} per repeat")
    per_core = statistics.median(throughput[KERAZOO]) / len(os.sched_getaffinity(0))
    print(f"  {KERAZOO}: about {per_core:,.0f} images/s per core")
    if args.json:
        write_figures(args.json, args, throughput=throughput, ratios=ratios)


if __name__ == "__main__":
    main()
