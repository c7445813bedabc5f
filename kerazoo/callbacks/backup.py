"""Writes the run's backup every N steps or M minutes, at every epoch end,
and when SIGTERM/SIGINT asks to stop (then stops at once)."""

import time

import keras

from kerazoo import faults, training_state
from kerazoo.backup import BackupWriteError


class StopForSignal(Exception):
    """Raised out of `fit` after the backup, when a signal asked to stop."""

    def __init__(self, signal_name, global_step):
        super().__init__(signal_name)
        self.signal_name, self.global_step = signal_name, global_step


class Backup(keras.callbacks.Callback):
    """Args:
        store: the run's `BackupStore`.
        progress: the shared `Progress`.
        meta: a function returning the JSON state to save with the variables
            (history, best checkpoint, fingerprints); called at save time.
        every_steps: also back up every this many steps (None: by time only).
        every_seconds: also back up when this long passed since the last one.
        stop_request: the `StopRequest` from `signals.graceful_stop`.
        restore_metrics: metric arrays to put back at the start of a resumed,
            half-done epoch (Keras resets metrics at every epoch start).
        log: the run log.
    """

    def __init__(self, store, progress, meta, every_steps=None, every_seconds=300, stop_request=None, restore_metrics=None, log=None):
        super().__init__()
        self.store = store
        self.progress = progress
        self.meta = meta
        self.every_steps = every_steps
        self.every_seconds = every_seconds
        self.stop_request = stop_request
        self.restore_metrics = restore_metrics
        self.log = log
        self.last_saved_step = progress.global_step
        self._last_time = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        if self.restore_metrics is not None:
            arrays, layout = self.restore_metrics
            training_state.restore(self.model, arrays, layout, groups=("metrics",))
            self.restore_metrics = None

    def on_train_batch_end(self, batch, logs=None):
        faults.maybe_crash("step")
        faults.maybe_run_out_of_memory()
        p = self.progress
        if p.step_in_epoch >= p.steps_per_epoch:
            # The epoch's last step: validation and the epoch-end backup come
            # next, and a backup here would resume into an epoch never validated.
            return
        stop = self.stop_request is not None and self.stop_request.requested
        due_steps = self.every_steps and p.global_step - self.last_saved_step >= self.every_steps
        due_time = self.every_seconds and time.monotonic() - self._last_time >= self.every_seconds
        if stop or due_steps or due_time:
            self.save()
        if stop:
            raise StopForSignal(self.stop_request.signal_name, p.global_step)

    def on_epoch_end(self, epoch, logs=None):
        self.save()
        if self.stop_request is not None and self.stop_request.requested:
            raise StopForSignal(self.stop_request.signal_name, self.progress.global_step)

    def save(self):
        arrays, layout = training_state.collect(self.model)
        p = self.progress
        meta = dict(self.meta(), epoch=p.epoch, step_in_epoch=p.step_in_epoch, global_step=p.global_step, variables=layout)
        try:
            self.store.save(meta, arrays)
        except BackupWriteError as error:
            previous = self.store.latest_step()
            kept = f"the previous backup (step {previous}) is kept" if previous is not None else "there is no earlier backup"
            if self.log:
                self.log.warning(f"could not write a backup at step {p.global_step} ({error}); {kept}.")
        else:
            self.last_saved_step = p.global_step
        self._last_time = time.monotonic()
