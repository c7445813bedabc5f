"""How fast a recipe trains or predicts here: `kerazoo benchmark`.

One measurement, the way timm's `benchmark.py` does it: build the model as
`kerazoo train` would (the plan's precision and XLA choice, the recipe's
optimizer, loss and in-model augmentation), run one step that includes
tracing and compilation (timed on its own), a few warm-up steps, then time
`steps` steps one by one, waiting for each step's result so that every
timing covers the device's work, not just its dispatch. On NVIDIA GPUs the
GPU's energy over the timed steps is read too (NVML), for examples per joule.

By default the data is one synthetic batch made on the device and fed again
every step, so the figure is the model's speed alone. With `data=` the real
tf.data pipeline feeds the steps instead, so the figure is the whole
pipeline's (that needs TensorFlow; the synthetic path never imports it, so
it runs on a JAX-only machine).

```python
from kerazoo import benchmark, recipes
result = benchmark.run_benchmark(recipes.get("resnet20"), steps=20)
result.examples_per_second
```
"""

import dataclasses
import importlib.util
import math
import resource
import statistics
import sys
import time
from typing import Optional

from kerazoo.errors import UsageError, is_out_of_device_memory

MODES = ("train", "infer")
# A training step costs about 3x the forward pass (see kerazoo/flops.py).
TRAIN_FLOPS_MULTIPLIER = 3
# Steps recorded by the profiler when a trace is asked for: enough to see
# the steady state, few enough to keep the trace small.
TRACE_STEPS = 5
# NVML's power and energy readings move in steps of about 0.1 s and its
# utilization covers the last 1/6 to 1 s: shorter timed windows read noise
# (bert_tiny's 0.1 s on an H200 read 1% busy).
MIN_ENERGY_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """The figures of one benchmark; `to_dict()` is what `--format json` prints."""

    recipe: str
    mode: str
    backend: str
    device: str
    precision: str
    precision_reason: str
    xla: bool
    batch_size: int
    data: str
    steps: int
    warmup_steps: int
    build_seconds: float
    first_step_seconds: float
    step_seconds_median: float
    step_seconds_p90: float
    step_seconds_min: float
    step_seconds_max: float
    examples_per_second: float
    parameters: int
    flops_per_example: Optional[int]
    flops_multiplier: int
    achieved_flops_per_second: Optional[float]
    peak_memory_bytes: Optional[int]
    peak_memory_source: str
    sequence_length: Optional[int] = None
    # The GPU's energy over the timed steps (NVML); None without an NVIDIA GPU.
    energy_joules: Optional[float] = None
    power_watts: Optional[float] = None
    gpu_utilization_percent: Optional[float] = None
    versions: dict = dataclasses.field(default_factory=dict)
    notes: tuple = ()

    @property
    def tokens_per_second(self):
        """Text recipes: token positions per second (examples/s x sequence length)."""
        if self.sequence_length is None:
            return None
        return self.examples_per_second * self.sequence_length

    @property
    def examples_per_joule(self):
        """Examples per joule of GPU energy over the timed steps, where NVML could tell."""
        if not self.energy_joules:
            return None
        return self.batch_size * self.steps / self.energy_joules

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["notes"] = list(self.notes)
        data["tokens_per_second"] = self.tokens_per_second
        data["examples_per_joule"] = self.examples_per_joule
        data["flops_definition"] = (
            "2 x multiply-accumulates of Conv, Dense/EinsumDense and attention matmuls, one example, "
            f"forward; training counts {TRAIN_FLOPS_MULTIPLIER}x"
        )
        return data


def run_benchmark(
    recipe,
    *,
    mode="train",
    batch_size=None,
    precision="auto",
    steps=20,
    warmup_steps=5,
    data=None,
    xla="auto",
    seed=0,
    trace_dir=None,
    log=None,
):
    """Measure `recipe`'s step time and throughput on this machine.

    Args:
        recipe: a resolved `Recipe`.
        mode: `"train"` (forward, backward and the optimizer's update) or
            `"infer"` (forward only, `training=False`).
        batch_size: examples per step; defaults to the recipe's batch size.
        precision: `"auto"` or a policy name; `"auto"` chooses as
            `kerazoo train` does (`plan.choose_precision`).
        steps: timed steps, after the first step and the warm-up steps.
        warmup_steps: untimed steps after the first (compiling) step.
        data: `None` for a synthetic batch on the device; otherwise a
            `--data` source whose tf.data pipeline then feeds every step.
        xla: `"auto"`, `"on"` or `"off"`, as for `kerazoo train`.
        seed: seeds the weights and the synthetic batch.
        trace_dir: also record a profiler trace of `TRACE_STEPS` more steps
            after the timed ones (JAX or TensorFlow profiler) into this
            folder; the timed steps run without the profiler.
        log: a function of one line of text for progress, or None.

    Returns:
        A `BenchmarkResult`.
    """
    from kerazoo import devices as devices_module
    from kerazoo.plan import make_plan

    _check_arguments(mode, steps, warmup_steps, batch_size)
    log = log or (lambda line: None)
    trace_steps = TRACE_STEPS if trace_dir else 0
    source = _parse_data(data, recipe)
    info = devices_module.probe()
    plan = make_plan(recipe, info, precision=precision, strategy="default", xla=xla, batch_size=batch_size, profile=False)
    if trace_dir and info.backend not in ("jax", "tensorflow"):
        raise UsageError(f"--trace-dir needs the jax or tensorflow backend, not {info.backend}.")

    import keras

    from kerazoo import models

    keras.utils.set_random_seed(seed)
    notes = []
    started = time.perf_counter()
    if source is None:
        num_classes = recipe.data.num_classes or 10
        vocabulary_size = recipe.data.vocabulary_size if recipe.task != "image" else None
        data_description = "synthetic, one batch made on the device and fed every step"
    else:
        datasets, plan = _load_pipeline(source, recipe, plan, seed)
        num_classes = datasets.num_classes
        vocabulary_size = len(datasets.vocabulary) if datasets.vocabulary else None
        data_description = f"{source} through kerazoo's tf.data pipeline ({datasets.description})"
        notes.extend(datasets.notes)
    with models.dtype_policy(plan.precision):
        classifier = models.build_classifier(recipe, num_classes=num_classes, vocabulary_size=vocabulary_size)
        model = _prepare_model(classifier, recipe, plan, mode, seed, steps + warmup_steps + 1)
        if source is None:
            inputs = _synthetic_batch(classifier, plan.global_batch_size, num_classes, vocabulary_size, seed)
            feed = _feed(inputs, info.backend)
        else:
            feed = datasets.train
        build_seconds = time.perf_counter() - started
        log(f"built '{recipe.name}' in {build_seconds:.1f} s; timing {1 + warmup_steps + steps} {mode} steps")
        memory = _PeakMemory(info)
        energy, energy_note = None, None
        if info.accelerators:
            energy, energy_note = energy_window(1 + warmup_steps, steps)
        trace = _trace_window(info.backend, trace_dir, 1 + warmup_steps + steps) if trace_dir else None
        try:
            extra_callbacks = [callback for callback in (energy, trace) if callback is not None]
            durations = _time_steps(model, feed, mode, 1 + warmup_steps + steps + trace_steps, extra_callbacks)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is re-raised as ours
            if is_out_of_device_memory(error):
                raise UsageError(
                    f"Out of device memory at batch size {plan.global_batch_size} ({type(error).__name__}). "
                    f"Try --batch-size {max(1, plan.global_batch_size // 2)}."
                ) from None
            raise
        peak_bytes, peak_source = memory.peak()
        flops = _count_flops(classifier, notes)
    if energy is not None:
        energy_note = energy.note
    if energy_note:  # only set where there is a GPU to measure
        notes.append(f"energy not measured: {energy_note}")
    compiled_with_xla = bool(model.jit_compile)
    if plan.xla and not compiled_with_xla:
        notes.append(_jit_refused_note(model, info.backend))

    first_step = durations[0]
    timed = durations[1 + warmup_steps:1 + warmup_steps + steps]
    if trace_dir:
        notes.append(f"profiler trace of {trace_steps} steps after the timed ones in {trace_dir}")
    examples_per_second = plan.global_batch_size * len(timed) / sum(timed)
    multiplier = TRAIN_FLOPS_MULTIPLIER if mode == "train" else 1
    achieved = flops * multiplier * examples_per_second if flops else None
    if source is None and info.backend == "tensorflow" and info.accelerators:
        notes.append("TensorFlow: tf.data repeats the synthetic batch and copies it to the device every step")
    return BenchmarkResult(
        recipe=recipe.name,
        mode=mode,
        backend=info.backend,
        device=_describe_device(info),
        precision=plan.precision,
        precision_reason=plan.reasons["precision"],
        xla=compiled_with_xla,
        batch_size=plan.global_batch_size,
        data=data_description,
        steps=len(timed),
        warmup_steps=warmup_steps,
        build_seconds=build_seconds,
        first_step_seconds=first_step,
        step_seconds_median=statistics.median(timed),
        step_seconds_p90=percentile(timed, 90),
        step_seconds_min=min(timed),
        step_seconds_max=max(timed),
        examples_per_second=examples_per_second,
        parameters=classifier.count_params(),
        flops_per_example=flops,
        flops_multiplier=multiplier,
        achieved_flops_per_second=achieved,
        peak_memory_bytes=peak_bytes,
        peak_memory_source=peak_source,
        sequence_length=recipe.data.sequence_length if recipe.task == "text" else None,
        **(energy.figures if energy is not None else {}),
        versions=dict(info.versions),
        notes=tuple(notes),
    )


def percentile(values, percent):
    """The `percent`-th percentile with linear interpolation (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * percent / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _check_arguments(mode, steps, warmup_steps, batch_size):
    if mode not in MODES:
        raise UsageError(f"Unknown mode '{mode}'. Choose one of: {', '.join(MODES)}.")
    if steps < 1:
        raise UsageError(f"--steps must be 1 or more timed steps, got {steps}.")
    if warmup_steps < 0:
        raise UsageError(f"--warmup-steps must be 0 or more, got {warmup_steps}.")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size must be 1 or more, got {batch_size}.")


def _parse_data(data, recipe):
    """None for synthetic-on-device; else the parsed source, checked early."""
    if data is None:
        return None
    from kerazoo.data import parse_source

    source = parse_source(data, recipe)
    if not _tensorflow_installed():
        raise UsageError(
            "--data measures kerazoo's tf.data input pipeline, which needs TensorFlow, and it is not "
            "installed here. Leave out --data to measure the model on synthetic data, or install tensorflow."
        )
    return source


def _tensorflow_installed():
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def _load_pipeline(source, recipe, plan, seed):
    from kerazoo import data as data_module

    examples = data_module.read_examples(source, recipe, seed, plan.global_batch_size)
    plan = plan.with_data(recipe, len(examples[0]))
    return data_module.load(source, recipe, plan, seed, examples=examples), plan


def _prepare_model(classifier, recipe, plan, mode, seed, total_steps):
    """The model `fit` would train, compiled as the trainer compiles it."""
    if mode == "infer":
        classifier.compile(jit_compile=plan.xla)
        return classifier
    from kerazoo.models.training_model import compile_for_training

    num_classes = classifier.output.shape[-1]
    return compile_for_training(classifier, recipe, plan, num_classes, total_steps, seed)


def _synthetic_batch(classifier, batch_size, num_classes, vocabulary_size, seed):
    """(inputs, one-hot labels) made directly on the default device."""
    import keras

    def make(spec):
        shape = (batch_size, *spec.shape[1:])
        dtype = str(spec.dtype)
        if spec.name == "token_ids":
            return keras.random.randint(shape, 0, vocabulary_size, seed=seed, dtype=dtype)
        if "int" in dtype or dtype == "bool":
            # Segment ids 0 and no padding: every position is attended to.
            fill = 1 if spec.name == "padding_mask" else 0
            return keras.ops.full(shape, fill, dtype=dtype)
        # Pixels 0-255 in float32, as the image pipeline yields them.
        return keras.random.uniform(shape, 0.0, 255.0, seed=seed, dtype=dtype)

    inputs = keras.tree.map_structure(make, classifier.input)
    if isinstance(inputs, dict) and len(classifier.output.shape) == 3:
        # A language model: the next token at every position, all of them real.
        targets = keras.random.randint(inputs["token_ids"].shape, 0, vocabulary_size, seed=seed + 1)
        return inputs, targets, keras.ops.ones(targets.shape, dtype="float32")
    labels = keras.random.randint((batch_size,), 0, num_classes, seed=seed + 1)
    return inputs, keras.ops.one_hot(labels, num_classes, dtype="float32")


def _feed(batch, backend):
    """What `fit` and `predict` iterate: the same on-device batch forever."""
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensors(batch).repeat()

    def repeat():
        while True:
            yield batch

    return repeat()


def _time_steps(model, feed, mode, total_steps, extra_callbacks=()):
    """Run `total_steps` steps; return each step's seconds (step 1 compiles).
    `extra_callbacks` run after the clock, so each step has finished on the
    device when they see its end."""
    callbacks = [step_clock(), *extra_callbacks]
    if mode == "train":
        model.fit(feed, epochs=1, steps_per_epoch=total_steps, callbacks=callbacks, verbose=0, shuffle=False)
    else:
        model.predict(feed, steps=total_steps, callbacks=callbacks, verbose=0)
    return callbacks[0].durations


def _trace_window(backend, trace_dir, after_steps):
    """A callback that starts the profiler once `after_steps` steps have
    finished (the clock, before it, has waited for the last one) and stops
    it when the steps end."""

    def start():
        if backend == "jax":
            import jax

            jax.profiler.start_trace(str(trace_dir))
        else:
            import tensorflow as tf

            tf.profiler.experimental.start(str(trace_dir))

    def stop(finished):
        if backend == "jax":
            import jax

            jax.profiler.stop_trace()
        else:
            import tensorflow as tf

            tf.profiler.experimental.stop()

    return _step_window(after_steps, None, start, stop)


def _step_window(open_after, close_after, on_open, on_close):
    """A callback that calls `on_open()` once `open_after` steps have
    finished, then `on_close(True)` once `close_after` steps have, or
    `on_close(False)` if the steps end first (`close_after` None: at the
    end). Training and inference steps alike."""
    import keras

    class StepWindow(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.finished_steps = 0
            self.is_open = False

        def _step_end(self):
            self.finished_steps += 1
            if self.finished_steps == open_after:
                on_open()
                self.is_open = True
            elif self.finished_steps == close_after:
                self._close(True)

        def _close(self, finished):
            if self.is_open:
                self.is_open = False
                on_close(finished)

        def on_train_batch_end(self, batch, logs=None):
            self._step_end()

        def on_predict_batch_end(self, batch, logs=None):
            self._step_end()

        def on_train_end(self, logs=None):
            self._close(False)

        def on_predict_end(self, logs=None):
            self._close(False)

    return StepWindow()


def energy_window(after_steps, steps, nvml=None):
    """Return (callback or None, note or None): a callback that reads the
    first GPU's energy counter (NVML) when `after_steps` steps have finished
    and again `steps` steps later, and samples its power and utilization in
    between; its `figures` then hold `energy_joules`, `power_watts` and
    `gpu_utilization_percent`, or stay empty, with the reason in `note`, when
    the window lasted under `MIN_ENERGY_SECONDS`. None, with the reason,
    where NVML cannot tell. `nvml`: a module to use instead of `pynvml`
    (tests pass a fake)."""
    import keras

    from kerazoo.callbacks.monitoring import open_gpus

    # Sampled 10x a second: the timed steps of a fast model last seconds.
    sampler, note = open_gpus(nvml, interval_seconds=0.1, count=1)
    if sampler is None:
        return None, note
    opened = []

    def begin():
        sampler.begin_epoch()
        sampler.start()
        opened.append(time.perf_counter())

    def end(finished):
        figures = sampler.end_epoch()
        sampler.close()
        seconds = time.perf_counter() - opened[0]
        if not finished:
            window.note = "the timed steps did not finish"
        elif seconds < MIN_ENERGY_SECONDS:
            window.note = (f"the timed steps lasted {seconds:.2f} s, too short for NVML's readings "
                           f"(at least {MIN_ENERGY_SECONDS:g} s); time more --steps")
        else:
            window.figures = {
                "energy_joules": figures["gpu_energy_joules"],
                "power_watts": figures.get("gpu0_power_watts"),
                "gpu_utilization_percent": figures.get("gpu0_utilization_percent"),
            }

    window = _step_window(after_steps, after_steps + steps, begin, end)
    window.figures, window.note = {}, None
    return window, None


def step_clock():
    """A callback noting each training or inference step's seconds in
    `.durations`, the device's work included."""
    import keras

    class StepClock(keras.callbacks.Callback):
        """Waits for each step's result, then notes the time: with
        asynchronous dispatch (JAX, GPUs) the host would otherwise run ahead
        of the device and time only the dispatch."""

        def __init__(self):
            super().__init__()
            self.durations = []
            self._last = None

        def on_epoch_begin(self, epoch, logs=None):
            self._last = time.perf_counter()

        def on_predict_begin(self, logs=None):
            self._last = time.perf_counter()

        def _stop(self, value):
            keras.ops.convert_to_numpy(value)
            now = time.perf_counter()
            self.durations.append(now - self._last)
            self._last = now

        def on_train_batch_end(self, batch, logs=None):
            self._stop(logs["loss"])

        def on_predict_batch_end(self, batch, logs=None):
            self._stop(keras.tree.flatten(logs["outputs"])[0])

    return StepClock()


class _PeakMemory:
    """Peak memory during the timed steps, from the best source the backend has."""

    def __init__(self, info):
        self.info = info
        self.backend = info.backend
        if self.backend == "tensorflow" and info.accelerators:
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")
        elif self.backend == "torch" and info.accelerators:
            import torch

            torch.cuda.reset_peak_memory_stats()

    def peak(self):
        """Return (bytes or None, what the figure is)."""
        if self.info.accelerators:
            if self.backend == "jax":
                import jax

                stats = jax.local_devices()[0].memory_stats() or {}
                if "peak_bytes_in_use" in stats:
                    return int(stats["peak_bytes_in_use"]), "device peak since start (jax memory_stats)"
            elif self.backend == "tensorflow":
                import tensorflow as tf

                return int(tf.config.experimental.get_memory_info("GPU:0")["peak"]), (
                    "device peak (tf.config.experimental.get_memory_info)"
                )
            elif self.backend == "torch":
                import torch

                return int(torch.cuda.max_memory_allocated()), "device peak (torch.cuda.max_memory_allocated)"
        return host_peak_rss(), "host: peak resident memory of this process (the CPU has no separate device memory)"


def host_peak_rss():
    """This process's peak resident set size in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def _count_flops(classifier, notes):
    from kerazoo.flops import count_flops

    try:
        return count_flops(classifier)
    except Exception as error:  # noqa: BLE001 - a count is a nice-to-have, never a failure
        notes.append(f"FLOPs not counted: {type(error).__name__}: {error}")
        return None


def _jit_refused_note(model, backend):
    refusing = sorted({type(layer).__name__ for layer in model._flatten_layers() if not layer.supports_jit})
    effect = "JAX runs the step op by op, uncompiled" if backend == "jax" else "the step runs without XLA"
    return (
        f"XLA was asked for but Keras turned it off: {', '.join(refusing) or 'a layer'} "
        f"declare(s) supports_jit=False, so {effect}"
    )


def _describe_device(info):
    if info.accelerators:
        first = info.accelerators[0].describe()
        more = len(info.accelerators) - 1
        return first + (f" (1 of {more + 1}; the benchmark uses one)" if more else "")
    return f"CPU ({info.cpu_count} cores)"
