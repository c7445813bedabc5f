"""The callbacks every run gets, in the order they must run."""

import keras

from kerazoo import rundir
from kerazoo.callbacks.history_file import HistoryFile
from kerazoo.callbacks.nan_guard import NanGuard
from kerazoo.callbacks.tensorboard import log_every_steps, tensorboard_callback
from kerazoo.callbacks.throughput import Throughput


def standard_callbacks(run_dir, plan, monitor, log):
    """Return (callbacks, nan_guard, history_file) for one run.

    Throughput runs first so that TensorBoard and history see its figures.
    """
    throughput = Throughput(plan.global_batch_size)
    nan_guard = NanGuard(plan.steps_per_epoch)
    history = HistoryFile(run_dir, rundir.HISTORY_FILE, log)
    checkpoints = run_dir / rundir.CHECKPOINT_DIR
    callbacks = [
        throughput,
        nan_guard,
        tensorboard_callback(run_dir / rundir.TENSORBOARD_DIR, plan, log_every_steps(plan.steps_per_epoch)),
        history,
        keras.callbacks.ModelCheckpoint(
            str(checkpoints / "best.weights.h5"), monitor=monitor, save_best_only=True, save_weights_only=True
        ),
        keras.callbacks.ModelCheckpoint(str(checkpoints / "last.weights.h5"), save_weights_only=True),
    ]
    return callbacks, nan_guard, history
