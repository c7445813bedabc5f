"""Writes `history.json` (one object per epoch, validation included) after
every epoch, atomically, and a one-line summary to `train.log`."""

import math

import keras

EPOCH_KEYS_FIRST = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")


class HistoryFile(keras.callbacks.Callback):
    def __init__(self, run_dir, filename, log, initial=()):
        super().__init__()
        self.run_dir = run_dir
        self.filename = filename
        self.log = log
        self.epochs = list(initial)

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1}
        for key, value in (logs or {}).items():
            value = float(value)
            record[key] = value if math.isfinite(value) else str(value)
        self.epochs = [e for e in self.epochs if e["epoch"] != epoch + 1] + [record]
        self.run_dir.write_json(self.filename, self.epochs)
        self.log.write(format_epoch(record))


def format_epoch(record):
    parts = [f"epoch {record['epoch']}"]
    for key, value in record.items():
        if key == "epoch":
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return " - ".join(parts)
