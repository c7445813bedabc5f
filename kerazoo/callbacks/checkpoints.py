"""Per-epoch weight checkpoints, bounded: the last K epochs plus the best;
and early stopping on the same monitored value.

`checkpoints/epoch-0007.weights.h5` for the last `keep` epochs, and
`checkpoints/best.weights.h5` for the best value of `monitor` so far. The
best value travels in the backup, so a resumed run keeps comparing against
the true best.
"""

import math
import os
import pathlib
import shutil

import keras


class Checkpoints(keras.callbacks.Callback):
    def __init__(self, directory, monitor="val_accuracy", keep=3, best=None, best_epoch=None, patience=None):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.monitor = monitor
        self.keep = max(1, keep)
        self.mode_max = not monitor.endswith("loss")
        self.best = best
        self.best_epoch = best_epoch
        # Early stopping lives here because the best epoch does: both travel
        # in the backup, so a resumed run stops exactly where it would have.
        self.patience = patience
        self.stopped_early = False

    @property
    def best_path(self):
        return self.directory / "best.weights.h5"

    def state(self):
        return {"best": self.best, "best_epoch": self.best_epoch}

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        epoch_file = self.directory / f"epoch-{epoch + 1:04d}.weights.h5"
        self._save(epoch_file)
        for old in sorted(self.directory.glob("epoch-*.weights.h5"))[:-self.keep]:
            old.unlink(missing_ok=True)
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.best is None or (value > self.best if self.mode_max else value < self.best):
            self.best, self.best_epoch = value, epoch + 1
            # A file copy: saving the weights a second time costs far more.
            best = self.directory / "best.weights.h5"
            partial = best.with_name(f".partial-{os.getpid()}-{best.name}")
            shutil.copyfile(epoch_file, partial)
            os.replace(partial, best)
        if self.patience and self.best_epoch is not None and epoch + 1 - self.best_epoch >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True

    def _save(self, path):
        partial = path.with_name(f".partial-{os.getpid()}-{path.name}")
        self.model.save_weights(partial)
        os.replace(partial, path)
