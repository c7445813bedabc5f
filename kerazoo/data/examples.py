"""`Examples`: one split of a dataset before it becomes a tf.data pipeline.

Inputs are either in memory (uint8 image arrays, text strings) or file paths
to decode later; labels are class indices into `class_names`.
"""

import dataclasses
import hashlib
import os

import numpy as np


@dataclasses.dataclass
class Examples:
    inputs: object  # np.ndarray of uint8 images, or a list of str (texts or paths)
    labels: np.ndarray
    kind: str  # "image_array" | "image_files" | "texts" | "dataset" (a tf.data dataset of TFDS pairs)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        if isinstance(self.inputs, np.ndarray):
            inputs = self.inputs[indices]
        else:
            inputs = [self.inputs[i] for i in indices]
        return Examples(inputs, self.labels[indices], self.kind)

    def first(self, count):
        """The first `count` examples, whatever holds them."""
        if self.kind == "dataset":
            return Examples(self.inputs.take(count), self.labels[:count], self.kind)
        return self.subset(np.arange(count))


def stratified_split(examples, fraction, seed):
    """Split into (train, validation), keeping every class in both when it can."""
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for label in np.unique(examples.labels):
        idx = np.flatnonzero(examples.labels == label)
        rng.shuffle(idx)
        count = int(round(len(idx) * fraction))
        if len(idx) > 1:
            count = min(max(count, 1), len(idx) - 1)
        else:
            count = 0
        val_idx.extend(idx[:count])
        train_idx.extend(idx[count:])
    train_idx = np.array(sorted(train_idx), dtype=np.int64)
    val_idx = np.array(sorted(val_idx), dtype=np.int64)
    return examples.subset(train_idx), examples.subset(val_idx)


def fingerprint_files(paths, root):
    """Hash of relative paths, sizes and modification times: cheap and
    changes whenever a file is added, removed or rewritten."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        stat = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def fingerprint_arrays(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        if isinstance(array, np.ndarray):
            digest.update(np.ascontiguousarray(array).tobytes())
        else:
            for item in array:
                digest.update(str(item).encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()[:16]
