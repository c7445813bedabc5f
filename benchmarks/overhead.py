"""kerazoo's own overhead: `kerazoo train` (profiler off) against a
hand-written plain Keras `model.fit` of the same model, data and batch.

Both train the same recipe's model on the same digits split, fed by a
tf.data pipeline of the same arrays, with the same optimizer, loss and
metrics, and validate on the same split; augmentation is off in both, so
the only difference is kerazoo's machinery: its input pipeline code and its
callbacks (progress, NaN guard, throughput, TensorBoard scalars, history,
checkpoints, backups). Two figures, from epochs 2 and later (epoch 1 holds
compilation):

* the steady-state step time, within each epoch from the end of its first
  step to the end of its last (the epoch boundary stays out). Target:
  within the noise and no worse than 5%;
* the epoch's wall time, validation included, so kerazoo's epoch-end work
  (checkpoints, backup, history) shows too.

Run:

    python benchmarks/overhead.py [--repeats 5] [--batch-size 32] [--json out.json]

KERAS_BACKEND chooses the backend as usual.
"""

import argparse
import contextlib
import pathlib
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import describe, machine, paired_ratios, steady_state_clock, summary, write_figures  # noqa: E402

TARGET = 1.05


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from kerazoo import recipes

    recipe = recipes.get(args.recipe).override({"augment.flip": "none", "augment.crop_padding": 0})
    with tempfile.TemporaryDirectory() as root:
        candidates = {
            "kerazoo train": lambda index: kerazoo_run(recipe, args, f"{root}/run{index}"),
            "plain model.fit": lambda index: plain_run(recipe, args),
        }
        steps = {name: [] for name in candidates}
        epochs = {name: [] for name in candidates}
        for index in range(args.repeats):  # interleaved: A, B, A, B, ...
            for name, run in candidates.items():
                clock = run(index)
                # Epoch 1 holds compilation; the steady state is the later epochs.
                steps[name].append(statistics.median(clock.epoch_seconds_per_step[1:]))
                epochs[name].append(statistics.median(clock.epoch_seconds[1:]))
                print(f"repeat {index + 1}: {name:<16} {steps[name][-1] * 1000:.1f} ms/step, "
                      f"{epochs[name][-1]:.2f} s/epoch", flush=True)
    report(args, steps, epochs)


def kerazoo_run(recipe, args, run_dir):
    """`recipe.train` as `kerazoo train --no-profile` runs it, with the
    clock appended after kerazoo's own callbacks."""
    clock = steady_state_clock(args.steps_per_epoch)
    with clock_in_fit(clock):
        recipe.train(
            data="digits", epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
            profile_batches=False, verbose=False, run_dir=run_dir,
        )
    return clock


@contextlib.contextmanager
def clock_in_fit(clock):
    """Append `clock` to the callbacks of every `fit` inside the block, so it
    runs last and times kerazoo's callbacks too, without depending on how
    the trainer assembles them."""
    import keras

    original = keras.Model.fit

    def fit(self, *arguments, callbacks=None, **keywords):
        return original(self, *arguments, callbacks=[*(callbacks or []), clock], **keywords)

    keras.Model.fit = fit
    try:
        yield
    finally:
        keras.Model.fit = original


def plain_run(recipe, args):
    """What a person writes by hand with Keras and tf.data."""
    import keras
    import tensorflow as tf

    from kerazoo.data import parse_source, read_examples

    split = read_examples(parse_source("digits", recipe), recipe, 0, args.batch_size)
    train, validation, class_names = split[0], split[1], split[2]
    num_classes = len(class_names)

    def to_model_inputs(x, y):
        return tf.cast(x, tf.float32), tf.one_hot(y, num_classes)

    dataset = (
        tf.data.Dataset.from_tensor_slices((train.inputs, train.labels))
        .shuffle(len(train))
        .repeat()
        .batch(args.batch_size, drop_remainder=True)
        .map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation_dataset = (
        tf.data.Dataset.from_tensor_slices((validation.inputs, validation.labels))
        .batch(args.batch_size)
        .map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    keras.utils.set_random_seed(0)
    model = recipe.build_model(num_classes=num_classes)
    training = recipe.training
    model.compile(
        optimizer=keras.optimizers.SGD(
            learning_rate=training.learning_rate * args.batch_size / training.reference_batch_size,
            momentum=training.momentum,
            # The recipe's L2 decay as Keras's decoupled decay (see kerazoo/optim.py).
            weight_decay=training.weight_decay / (1 - training.momentum),
        ),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"), keras.metrics.TopKCategoricalAccuracy(k=5)],
    )
    clock = steady_state_clock(args.steps_per_epoch)
    model.fit(dataset, validation_data=validation_dataset, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
              callbacks=[clock], verbose=0)
    return clock


def report(args, steps, epochs):
    import keras

    print(f"machine: {machine()}; Keras {keras.__version__}, backend {keras.config.backend()}")
    print(f"recipe {args.recipe}, batch {args.batch_size}, {args.epochs} epochs x {args.steps_per_epoch} steps, "
          "augmentation off in both; epochs 2+:")
    figures = {}
    for title, values, unit, scale in (("steady-state step time", steps, "ms", 1000), ("epoch wall time", epochs, "s", 1)):
        kerazoo_values, plain_values = values["kerazoo train"], values["plain model.fit"]
        ratios = paired_ratios(kerazoo_values, plain_values)
        noise = summary(plain_values)["max"] / summary(plain_values)["min"] - 1.0
        print(f"{title}:")
        for name, series in values.items():
            print(f"  {name:<16} {describe(series, unit, scale, 1 if unit == 'ms' else 2)}")
        print(f"  kerazoo / plain  {describe(ratios, '', 1, 3)} per-repeat ratios; ratio of medians "
              f"{statistics.median(kerazoo_values) / statistics.median(plain_values):.3f}; "
              f"plain alone spreads {noise:.1%} (max/min)")
        figures[title] = {"seconds": values, "paired_ratios": ratios}
    verdict = "meets" if statistics.median(figures["steady-state step time"]["paired_ratios"]) <= TARGET else "MISSES"
    print(f"step-time target (kerazoo / plain <= {TARGET:.2f}): {verdict}")
    if args.json:
        write_figures(args.json, args, backend=keras.config.backend(), figures=figures)


if __name__ == "__main__":
    main()
