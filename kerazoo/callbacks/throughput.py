"""Adds `examples_per_second` and `learning_rate` to the logs that every
later callback (TensorBoard, history) sees, per epoch and at the steps where
TensorBoard writes step scalars (reading the learning rate syncs the device,
so not at every step)."""

import time

import keras
import numpy as np


class Throughput(keras.callbacks.Callback):
    def __init__(self, global_batch_size, log_every_steps=1):
        super().__init__()
        self.global_batch_size = global_batch_size
        self.log_every_steps = max(1, log_every_steps)
        self._epoch_start = None
        self._last_batch_end = None
        self._train_seconds = 0.0
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._last_batch_end = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if logs is not None:
            elapsed = now - self._last_batch_end
            if elapsed > 0:
                logs["examples_per_second"] = self.global_batch_size / elapsed
            if (self._steps + 1) % self.log_every_steps == 0:
                logs["learning_rate"] = self.current_learning_rate()
        self._last_batch_end = now
        self._steps += 1
        self._train_seconds = now - self._epoch_start

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self._train_seconds > 0:
            logs["examples_per_second"] = self._steps * self.global_batch_size / self._train_seconds
        logs["epoch_seconds"] = time.perf_counter() - self._epoch_start
        logs["learning_rate"] = self.current_learning_rate()

    def current_learning_rate(self):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        return float(np.asarray(keras.ops.convert_to_numpy(inner.learning_rate)))
