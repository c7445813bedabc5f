"""kerazoo's defaults against a naive script: is the zoo's way faster?

The naive script is what a person writes first: the recipe's model, numpy
arrays straight into `fit`, a default `compile` (SGD with momentum, the
loss, accuracy; nothing about XLA or steps per execution), validation on
the same arrays. kerazoo trains the same recipe on the same digits split
with every default (`kerazoo train resnet20 --data digits`). Augmentation
is off in both, so both do the same arithmetic. Figures, epochs 2 and later:
steady-state examples/s within an epoch, the epoch's wall time (validation
included), and each whole run's wall time (model building, compilation and
every epoch).

`--explore` adds candidates that find out where a difference comes from
and what would make the defaults faster: the naive script fed by kerazoo's
input pipeline instead of arrays, the naive script with kerazoo's optimizer
(schedule and weight decay), and kerazoo with XLA on (`--xla on`), with
mixed bfloat16 (`--precision mixed_bfloat16`: oneDNN runs bfloat16 on the
AMX units of recent Xeons) or with `steps_per_execution` (injected into
`compile`: Keras then runs several steps per call and calls the step
callbacks once per call). `--only` keeps the candidates whose names
contain one of its words (the naive script always runs). Run:

    python benchmarks/defaults_vs_naive.py [--repeats 5] [--explore [--only bfloat16 ...]] [--json out.json]

KERAS_BACKEND chooses the backend as usual.
"""

import argparse
import contextlib
import math
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import describe, machine, paired_ratios, steady_state_clock, write_figures  # noqa: E402
from overhead import clock_in_fit  # noqa: E402

NAIVE = "naive script"
DEFAULTS = "kerazoo defaults"
STEPS_PER_EXECUTION = 4  # divides the 44 steps of an epoch of digits at batch 32


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--explore", action="store_true", help="also time kerazoo with XLA on and with steps_per_execution")
    parser.add_argument("--only", nargs="+", help="with --explore: keep only candidates whose names contain these")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from kerazoo import recipes
    from kerazoo.data import parse_source, read_examples

    recipe = recipes.get(args.recipe).override({"augment.flip": "none", "augment.crop_padding": 0})
    split = read_examples(parse_source("digits", recipe), recipe, 0, args.batch_size)
    train_count = len(split[0])
    with tempfile.TemporaryDirectory() as root:
        counter = iter(range(10**6))
        candidates = {
            NAIVE: lambda: naive_run(recipe, split, args),
            DEFAULTS: lambda: kerazoo_run(recipe, args, f"{root}/run{next(counter)}"),
        }
        if args.explore:
            candidates["naive, kerazoo's input pipeline"] = lambda: naive_run(recipe, split, args, pipeline=True)
            candidates["naive, kerazoo's optimizer"] = lambda: naive_run(recipe, split, args, optimizer=True)
            candidates["kerazoo, XLA on"] = lambda: kerazoo_run(recipe, args, f"{root}/run{next(counter)}", xla="on")
            candidates[f"kerazoo, steps_per_execution {STEPS_PER_EXECUTION}"] = lambda: kerazoo_run(
                recipe, args, f"{root}/run{next(counter)}", steps_per_execution=STEPS_PER_EXECUTION
            )
            candidates["kerazoo, mixed_bfloat16"] = lambda: kerazoo_run(
                recipe, args, f"{root}/run{next(counter)}", precision="mixed_bfloat16"
            )
        if args.only:
            candidates = {
                name: run for name, run in candidates.items()
                if name == NAIVE or any(word in name for word in args.only)
            }
        figures = {name: {"examples_per_second": [], "epoch_seconds": [], "run_seconds": []} for name in candidates}
        for index in range(args.repeats):  # interleaved
            for name, run in candidates.items():
                started = time.perf_counter()
                clock, examples_between = run()
                run_seconds = time.perf_counter() - started
                steady = statistics.median(clock.epoch_seconds_per_step[1:])
                steps_between = (examples_between + args.batch_size - 1) // args.batch_size
                record = figures[name]
                record["examples_per_second"].append(examples_between / (steady * steps_between))
                record["epoch_seconds"].append(statistics.median(clock.epoch_seconds[1:]))
                record["run_seconds"].append(run_seconds)
                print(f"repeat {index + 1}: {name:<34} {record['examples_per_second'][-1]:7.1f} examples/s, "
                      f"{record['epoch_seconds'][-1]:.2f} s/epoch, {run_seconds:.1f} s run", flush=True)
    report(args, figures, train_count)


def naive_run(recipe, split, args, pipeline=False, optimizer=False):
    """Numpy arrays into `fit` with a default compile; `pipeline` feeds
    kerazoo's tf.data training pipeline instead, `optimizer` compiles with
    kerazoo's optimizer."""
    import keras

    from kerazoo import optim

    train, validation, class_names = split[0], split[1], split[2]
    num_classes = len(class_names)
    x = train.inputs.astype("float32")
    y = keras.utils.to_categorical(train.labels, num_classes)
    x_validation = validation.inputs.astype("float32")
    y_validation = keras.utils.to_categorical(validation.labels, num_classes)
    keras.utils.set_random_seed(0)
    model = recipe.build_model(num_classes=num_classes)
    training = recipe.training
    learning_rate = training.learning_rate * args.batch_size / training.reference_batch_size
    steps = math.ceil(len(x) / args.batch_size)
    model.compile(
        optimizer=(
            optim.build_optimizer(training, learning_rate, steps) if optimizer
            else keras.optimizers.SGD(learning_rate=learning_rate, momentum=training.momentum)
        ),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    validation_data = (x_validation, y_validation)
    if pipeline:
        steps = len(x) // args.batch_size
        clock = steady_state_clock(steps)
        model.fit(kerazoo_pipeline(recipe, split, args), steps_per_epoch=steps, epochs=args.epochs,
                  validation_data=validation_data, callbacks=[clock], verbose=0)
        return clock, (steps - 1) * args.batch_size
    clock = steady_state_clock(steps)
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=validation_data,
              callbacks=[clock], verbose=0)
    # Examples from the end of the first step to the end of the last (a partial batch).
    return clock, len(x) - args.batch_size


def kerazoo_pipeline(recipe, split, args):
    """The training dataset `kerazoo train` would fit on."""
    from kerazoo import data, devices
    from kerazoo.plan import make_plan

    plan = make_plan(recipe, devices.probe(), strategy="default", batch_size=args.batch_size, profile=False)
    plan = plan.with_data(recipe, len(split[0]))
    return data.load(data.parse_source("digits", recipe), recipe, plan, 0, examples=split).train


def kerazoo_run(recipe, args, run_dir, xla="auto", steps_per_execution=None, precision="auto"):
    """`kerazoo train` with its defaults (profile window included)."""
    from kerazoo.data import parse_source, read_examples

    steps = len(read_examples(parse_source("digits", recipe), recipe, 0, args.batch_size)[0]) // args.batch_size
    clock = steady_state_clock(steps)
    with clock_in_fit(clock), compile_with(steps_per_execution):
        recipe.train(data="digits", epochs=args.epochs, batch_size=args.batch_size, xla=xla, precision=precision,
                     verbose=False, run_dir=run_dir)
    return clock, (steps - 1) * args.batch_size if not steps_per_execution else (steps - steps_per_execution) * args.batch_size


@contextlib.contextmanager
def compile_with(steps_per_execution):
    """Inject `steps_per_execution` into every `compile` inside the block."""
    if not steps_per_execution:
        yield
        return
    import keras

    original = keras.Model.compile

    def compile(self, *arguments, **keywords):
        keywords["steps_per_execution"] = steps_per_execution
        return original(self, *arguments, **keywords)

    keras.Model.compile = compile
    try:
        yield
    finally:
        keras.Model.compile = original


def report(args, figures, train_count):
    import keras

    print(f"machine: {machine()}; Keras {keras.__version__}, backend {keras.config.backend()}")
    print(f"recipe {args.recipe} on digits ({train_count} training examples), batch {args.batch_size}, "
          f"{args.epochs} epochs, augmentation off in both; epochs 2+ for the per-epoch figures:")
    naive = figures[NAIVE]
    for key, title, unit, digits in (
        ("examples_per_second", "steady-state examples/s", "", 1),
        ("epoch_seconds", "epoch wall time", "s", 2),
        ("run_seconds", "whole run wall time", "s", 1),
    ):
        print(f"{title}:")
        for name, record in figures.items():
            line = f"  {name:<34} {describe(record[key], unit, 1, digits)}"
            if name != NAIVE:
                ratios = paired_ratios(record[key], naive[key])
                line += f"   vs naive {describe(ratios, '', 1, 3)}"
            print(line)
    if args.json:
        write_figures(args.json, args, backend=keras.config.backend(), figures=figures)


if __name__ == "__main__":
    main()
