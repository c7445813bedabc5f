"""Stops training at the first NaN or infinite loss without ending the run
"normally": Keras's `TerminateOnNaN` ends training as a success, which makes
`BackupAndRestore` delete its backup (keras-team/keras#21771). This guard
only records the step; the trainer then exits with the divergence code and
the backups stay."""

import math

import keras


class NanGuard(keras.callbacks.Callback):
    def __init__(self, steps_per_epoch):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.diverged_at = None  # (epoch, step in epoch, global step), 1-based
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged_at is not None:
            return
        if not math.isfinite(float(loss)):
            global_step = self._epoch * self.steps_per_epoch + batch + 1
            self.diverged_at = (self._epoch + 1, batch + 1, global_step)
            self.model.stop_training = True
