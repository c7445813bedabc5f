"""What `--data` names, checked before anything heavy starts.

`parse_source` turns the user's string into a `Source` and fails with a
message that lists the choices when it cannot work; it imports neither
TensorFlow nor Keras, so a wrong path costs nothing.
"""

import dataclasses
import os
import pathlib
from typing import Optional

from kerazoo.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
TEXT_SUFFIXES = (".txt",)
SPLIT_NAMES = {"train": ("train",), "validation": ("val", "validation")}

_CHOICES = (
    "Choose data with --data: 'digits' (built in, offline), 'synthetic' (random data of the "
    "recipe's shape), a folder with one subfolder per class (images for image recipes, .txt "
    "files for text recipes), a CSV file with 'text,label' columns, or 'tfds:NAME'."
)


@dataclasses.dataclass(frozen=True)
class Source:
    """One data source: its kind and where it lives."""

    kind: str  # synthetic | digits | image_folder | text_folder | csv | tfds
    location: Optional[str] = None

    @property
    def identity(self):
        """A stable text naming the source, part of a run's identity."""
        return self.kind if self.location is None else f"{self.kind}:{self.location}"

    def __str__(self):
        return self.identity

    @classmethod
    def from_identity(cls, identity):
        """The inverse of `identity` (for resuming a run from its plan.json)."""
        kind, _, location = identity.partition(":")
        return cls(kind, location or None)

    def as_argument(self):
        """The `--data` value that names this source again."""
        if self.kind == "tfds":
            return f"tfds:{self.location}"
        return self.location or self.kind


def parse_source(text, recipe):
    """Check a `--data` value (or its absence) against the recipe's task."""
    task = recipe.task
    if text is None:
        return _reference_source(recipe)
    text = str(text)
    if text == "synthetic":
        return Source("synthetic")
    if text == "digits":
        if task != "image":
            raise UsageError(
                f"'digits' is image data, but '{recipe.name}' is a {task} recipe. " + _CHOICES
            )
        return Source("digits")
    if text.startswith("tfds:"):
        name = text[len("tfds:"):]
        if not name:
            raise UsageError("--data tfds: needs a dataset name, such as tfds:cifar10.")
        return Source("tfds", name)
    path = pathlib.Path(text).expanduser()
    if not path.exists():
        raise UsageError(f"Data path '{text}' does not exist. " + _CHOICES)
    path = path.resolve()
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise UsageError(f"Data file '{text}' is not a .csv file. " + _CHOICES)
        if task != "text":
            raise UsageError(
                f"A CSV file holds 'text,label' rows for text recipes, but '{recipe.name}' is an "
                "image recipe: give a folder of images in class subfolders."
            )
        return Source("csv", str(path))
    kind = "image_folder" if task == "image" else "text_folder"
    return Source(kind, str(path))


def _reference_source(recipe):
    """The recipe's own dataset, if it is already on this machine."""
    name = recipe.data.dataset
    if not name:
        raise UsageError(f"Recipe '{recipe.name}' names no reference dataset. " + _CHOICES)
    looked = []
    root = os.environ.get("KERAZOO_DATA")
    if root:
        folder = pathlib.Path(root).expanduser() / name
        looked.append(str(folder))
        if folder.is_dir():
            kind = "image_folder" if recipe.task == "image" else "text_folder"
            return Source(kind, str(folder.resolve()))
    else:
        looked.append("$KERAZOO_DATA/<name> (KERAZOO_DATA is not set)")
    tfds_dir = pathlib.Path(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")).expanduser()
    looked.append(str(tfds_dir / name))
    if (tfds_dir / name).is_dir():
        return Source("tfds", name)
    raise UsageError(
        f"Recipe '{recipe.name}' trains on '{name}' by default, which is not on this machine "
        f"(looked in {' and '.join(looked)}). " + _CHOICES
    )


def split_folders(root):
    """Return {"train": path, "validation": path} when `root` has both splits."""
    root = pathlib.Path(root)
    found = {}
    for split, names in SPLIT_NAMES.items():
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    return found if len(found) == 2 else None
