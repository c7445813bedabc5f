"""TensorBoard as a run writes it: scalars per epoch and every N steps, the
resolved recipe as HParams, and a profiler trace of a short window."""

import keras


class ResumableTensorBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback, counting steps across `fit` calls.

    Keras numbers step-level summaries and the profile window with a counter
    it resets at every `fit`; a resumed run sets `initial_step` to the global
    step it starts at, so summaries continue where they stopped and a profile
    window already traced is not traced again.
    """

    def __init__(self, *args, initial_step=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial_step = initial_step

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._global_train_batch = self.initial_step  # Keras's per-fit counter


def tensorboard_callback(log_dir, plan, log_every_steps, initial_step=0):
    """The TensorBoard callback configured from the plan.

    `profile_batch` counts global training steps from 1 (not step 1 itself:
    it is mostly tracing and compilation).
    """
    profile = tuple(plan.profile_window) if plan.profile_window else 0
    return ResumableTensorBoard(
        log_dir=str(log_dir),
        update_freq=log_every_steps,
        profile_batch=profile,
        write_graph=False,
        initial_step=initial_step,
    )


def log_every_steps(steps_per_epoch):
    """Step-level scalars about five times an epoch, at most every 100 steps."""
    return max(1, min(100, steps_per_epoch // 5))


def write_hparams(log_dir, hparams, trial_id):
    """Record the run's hyperparameters for TensorBoard's HParams dashboard."""
    try:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp
    except ImportError:
        return False
    with tf.summary.create_file_writer(str(log_dir)).as_default():
        hp.hparams(hparams, trial_id=trial_id)
    return True


def flatten_hparams(recipe, plan):
    """Scalars only: HParams accepts bool, int, float and str values."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        elif isinstance(value, (bool, int, float, str)):
            out[prefix] = value
        elif value is not None:
            out[prefix] = str(value)

    recipe_dict = recipe.to_dict()
    recipe_dict.pop("card", None)
    walk("", recipe_dict)
    for key in ("precision", "strategy", "num_replicas", "global_batch_size", "learning_rate", "xla"):
        walk(f"plan.{key}", getattr(plan, key))
    return out
