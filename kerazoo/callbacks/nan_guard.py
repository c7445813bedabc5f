"""Stops training at the first NaN or infinite loss, at once.

Keras's `TerminateOnNaN` ends training *normally*: the epoch still ends,
checkpoints save NaN weights, and `BackupAndRestore` deletes its backup
(keras-team/keras#21771). This guard raises instead, before any later
callback can save the diverged state, so the last good backup stays.
"""

import math

import keras

from kerazoo import faults


class Diverged(Exception):
    """Raised out of `fit`; carries (epoch, step in epoch, global step), 1-based."""

    def __init__(self, epoch, step, global_step):
        super().__init__(f"loss not finite at epoch {epoch}, step {step}")
        self.epoch, self.step, self.global_step = epoch, step, global_step


class NanGuard(keras.callbacks.Callback):
    def __init__(self, progress):
        super().__init__()
        self.progress = progress

    def on_train_batch_end(self, batch, logs=None):
        loss = faults.maybe_poison((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(float(loss)):
            p = self.progress
            raise Diverged(p.epoch + 1, p.step_in_epoch, p.global_step)
