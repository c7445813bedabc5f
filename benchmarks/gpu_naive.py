"""The naive training script that kerazoo's defaults must beat on a GPU.

What a person writes first, with no kerazoo (only its step clock, so that
both sides are timed alike): a `keras.applications` model
(ResNet50 unless told otherwise) with random weights in the default
float32, `compile` with SGD and momentum, cross-entropy on its softmax
output and accuracy (Keras compiles the step with XLA on JAX by default),
and `fit` on numpy arrays. Steady-state training steps are timed two ways
in one process, on the same compiled model:

* "numpy": arrays into `fit`; Keras slices each batch on the host and
  copies it to the device every step, as a naive script does;
* "device batch": one batch already on the device, fed again every step,
  as `kerazoo benchmark` feeds its synthetic batch; so this figure against
  kerazoo's differs only in the model and compile choices.

Prints one JSON object. Run by benchmarks/gpu.py; alone:

    KERAS_BACKEND=jax python benchmarks/gpu_naive.py [--model ResNet50] [--batch-size 256] [--steps 30]
"""

import argparse
import json
import statistics
import time

import keras
import numpy as np

from kerazoo.benchmark import step_clock  # the clock `kerazoo benchmark` times with


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50", help="a keras.applications model, by its class name")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=30, help="timed steps of each way")
    parser.add_argument("--warmup-steps", type=int, default=5)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    model = getattr(keras.applications, args.model)(weights=None, input_shape=shape, classes=args.classes)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    total = 1 + args.warmup_steps + args.steps
    # One random batch repeated: the arithmetic does not care, and it is quick to make.
    x = np.tile(rng.uniform(0, 255, (args.batch_size, *shape)).astype("float32"), (total, 1, 1, 1))
    y = keras.utils.to_categorical(rng.integers(0, args.classes, len(x)), args.classes)

    clock = step_clock()
    started = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=False, callbacks=[clock], verbose=0)
    numpy_steps = clock.durations
    first_fit_seconds = time.perf_counter() - started

    batch = (keras.ops.convert_to_tensor(x[:args.batch_size]), keras.ops.convert_to_tensor(y[:args.batch_size]))

    def same_batch():
        while True:
            yield batch

    clock = step_clock()
    model.fit(same_batch(), steps_per_epoch=total, epochs=1, shuffle=False, callbacks=[clock], verbose=0)
    device_steps = clock.durations

    timed = slice(1 + args.warmup_steps, None)
    print(json.dumps({
        "model": args.model,
        "backend": keras.config.backend(),
        "precision": keras.config.dtype_policy().name,
        "xla": bool(model.jit_compile),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "first_step_seconds": numpy_steps[0],
        "first_fit_seconds": first_fit_seconds,
        "numpy_step_seconds_median": statistics.median(numpy_steps[timed]),
        "numpy_examples_per_second": args.batch_size * args.steps / sum(numpy_steps[timed]),
        "device_batch_step_seconds_median": statistics.median(device_steps[timed]),
        "device_batch_examples_per_second": args.batch_size * args.steps / sum(device_steps[timed]),
    }))


if __name__ == "__main__":
    main()
