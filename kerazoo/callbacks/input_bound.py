"""Does the input pipeline keep up with the model? One line that says so.

At the end of the profile window, `InputBoundCheck` compares two figures:

* the training step time, measured over the steps before the window (the
  profiler slows the steps inside it; step 1 is compilation), waiting for
  each step's result so the time is the device's, not the dispatch's;
* the input pipeline alone: a fresh iterator over the training dataset
  gives a few batches, timed with nothing else running.

With prefetching, a step takes about as long as the slower of the two. When
the pipeline alone needs nearly a whole step's time (`INPUT_BOUND_RATIO`)
or more, the model is waiting for data: the run is input-bound, and a
faster accelerator would not help. Otherwise it is compute-bound, and the
line gives the headroom the pipeline has. On a machine without an
accelerator the pipeline and the model share the CPU cores, so the
pipeline-alone figure is an upper bound of what it gives during training.
"""

import statistics
import time

import keras

# Pipeline time per batch over step time at or above which the model waits
# for data. Below 1 because the step time itself includes the waiting.
INPUT_BOUND_RATIO = 0.9
# Used when the plan has no profile window (profiling off).
DEFAULT_CHECK_STEP = 14


class InputBoundCheck(keras.callbacks.Callback):
    """Prints one line at the end of the profile window: input-bound or
    compute-bound, with the pipeline's and the step's time per batch.

    Args:
        dataset: the training dataset `fit` iterates (a tf.data dataset or
            any iterable of batches); iterated again, on its own, for a few
            batches.
        profile_window: the plan's `(first, last)` global steps (1-based); the
            check runs after step `last`. None: after step 14.
        global_batch_size: examples per step, for the examples/s figures.
        num_batches: batches to time the pipeline over (after 2 warm-up ones).
        log: a function of one line of text (None: print).
    """

    def __init__(self, dataset, profile_window, global_batch_size, *, num_batches=10, log=None):
        super().__init__()
        self.dataset = dataset
        self.global_batch_size = global_batch_size
        self.num_batches = num_batches
        self.log = log or print
        if profile_window:
            self.window_first, self.check_step = int(profile_window[0]), int(profile_window[1])
        else:
            self.window_first, self.check_step = None, DEFAULT_CHECK_STEP
        self.result = None  # the figures, once checked
        self._step = 0
        self._last_end = None
        self._durations = {}  # global step -> seconds

    def on_epoch_begin(self, epoch, logs=None):
        self._last_end = None  # the gap across an epoch boundary holds validation

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.result is not None or self._step > self.check_step:
            return
        loss = (logs or {}).get("loss")
        if loss is not None:
            keras.ops.convert_to_numpy(loss)  # wait for the step to finish
        now = time.perf_counter()
        if self._last_end is not None:
            self._durations[self._step] = now - self._last_end
        self._last_end = now
        if self._step == self.check_step:
            self.check()

    def on_train_end(self, logs=None):
        if self.result is None and self._durations:
            self.check()  # the run was shorter than the window

    def check(self):
        """Time the pipeline alone, compare, log the line; returns the figures."""
        step_seconds, steps_used = self._step_seconds()
        pipeline_seconds = time_pipeline(self.dataset, self.num_batches)
        self.result = verdict(pipeline_seconds, step_seconds, self.global_batch_size)
        self.result["steps_measured"] = steps_used
        self.log(describe(self.result))
        return self.result

    def _step_seconds(self):
        """Median step time, preferring steps before the profile window."""
        before = [d for step, d in self._durations.items() if step >= 2 and (self.window_first is None or step < self.window_first)]
        chosen = before if len(before) >= 3 else [d for step, d in self._durations.items() if step >= 2]
        chosen = chosen or list(self._durations.values())
        return statistics.median(chosen), len(chosen)


def time_pipeline(dataset, num_batches, warmup_batches=2):
    """Median seconds per batch of a fresh iterator over `dataset`."""
    iterator = iter(dataset)
    durations = []
    try:
        for _ in range(warmup_batches):
            next(iterator)
        for _ in range(num_batches):
            start = time.perf_counter()
            next(iterator)
            durations.append(time.perf_counter() - start)
    except StopIteration:
        pass
    finally:
        del iterator
    if not durations:
        raise ValueError("the dataset gave too few batches to time")  # our bug: training data repeats
    return statistics.median(durations)


def verdict(pipeline_seconds, step_seconds, global_batch_size):
    """The figures and the conclusion, as a dict."""
    ratio = pipeline_seconds / step_seconds if step_seconds > 0 else float("inf")
    return {
        "input_bound": ratio >= INPUT_BOUND_RATIO,
        "pipeline_seconds_per_batch": pipeline_seconds,
        "step_seconds": step_seconds,
        "pipeline_examples_per_second": global_batch_size / pipeline_seconds if pipeline_seconds > 0 else float("inf"),
        "step_examples_per_second": global_batch_size / step_seconds if step_seconds > 0 else float("inf"),
        "pipeline_to_step_ratio": ratio,
    }


def describe(result):
    """The one line a run prints."""
    figures = (
        f"input pipeline alone {result['pipeline_seconds_per_batch'] * 1000:.1f} ms/batch "
        f"({result['pipeline_examples_per_second']:,.0f} examples/s) vs training step "
        f"{result['step_seconds'] * 1000:.1f} ms ({result['step_examples_per_second']:,.0f} examples/s)"
    )
    if result["input_bound"]:
        return (
            f"  input-bound: the model waits for data; {figures}. A faster pipeline (cache, more "
            "parallel decode, smaller images on disk) would speed training up."
        )
    headroom = 1.0 / result["pipeline_to_step_ratio"] if result["pipeline_to_step_ratio"] > 0 else float("inf")
    return f"  compute-bound: the input pipeline keeps up with {headroom:.1f}x headroom; {figures}."
