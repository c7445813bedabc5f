"""Where training is: epoch, step within the epoch and global step.

Keras numbers batches from 0 in every `fit` call, and a resumed run calls
`fit` from the middle of an epoch, so kerazoo keeps its own count. Every
callback that needs a position reads this one object.
"""

import dataclasses

import keras


@dataclasses.dataclass
class Progress:
    steps_per_epoch: int
    epoch: int = 0  # 0-based epoch in progress
    step_in_epoch: int = 0  # steps finished in that epoch
    global_step: int = 0  # steps finished in the whole run


class ProgressTracker(keras.callbacks.Callback):
    """Runs first: moves `progress` one step after every training batch."""

    def __init__(self, progress):
        super().__init__()
        self.progress = progress

    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self.progress.epoch:  # a new, whole epoch
            self.progress.epoch, self.progress.step_in_epoch = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.progress.step_in_epoch += 1
        self.progress.global_step += 1

    def on_epoch_end(self, epoch, logs=None):
        self.progress.epoch, self.progress.step_in_epoch = epoch + 1, 0
