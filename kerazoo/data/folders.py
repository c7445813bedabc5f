"""Class-subfolder datasets: `root/<class>/<file>` for images and text."""

import pathlib

import numpy as np

from kerazoo.data.examples import Examples
from kerazoo.errors import UsageError


def read_class_folders(root, suffixes, kind, class_names=None):
    """List the files of a class-subfolder dataset.

    Args:
        root: the folder whose subfolders are classes.
        suffixes: file suffixes that count as examples.
        kind: "image_files" or "texts" (text files are read later).
        class_names: the classes to expect (for a validation folder, those of
            the training folder); `None` takes them from `root`.

    Returns:
        (Examples of file paths, class names)
    """
    root = pathlib.Path(root)
    what = "images" if kind == "image_files" else "text files"
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    discovering = class_names is None
    if discovering:
        class_names = found
        if not class_names:
            loose = [p for p in root.iterdir() if p.suffix.lower() in suffixes]
            hint = (
                f" It holds {len(loose)} loose file(s); move them into one subfolder per class."
                if loose
                else ""
            )
            raise UsageError(
                f"Data folder '{root}' has no class subfolders.{hint} Expected "
                f"{root}/<class name>/<{what}>, one subfolder per class."
            )
        if len(class_names) == 1:
            raise UsageError(
                f"Data folder '{root}' has only one class ('{class_names[0]}'); a classifier needs "
                "at least two. Add a subfolder per class."
            )
    else:
        unknown = sorted(set(found) - set(class_names))
        if unknown:
            raise UsageError(
                f"Folder '{root}' has classes the training split does not: {', '.join(unknown)}. "
                "Both splits need the same class subfolders."
            )
    paths, labels, empty = [], [], []
    for index, name in enumerate(class_names):
        folder = root / name
        files = sorted(
            str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
        ) if folder.is_dir() else []
        if not files:
            empty.append(name)
        paths.extend(files)
        labels.extend([index] * len(files))
    # A validation folder may lack a class; a training folder may not.
    if empty and discovering:
        raise UsageError(
            f"Class folder(s) with no {what} in '{root}': {', '.join(empty)}. "
            f"Add {what} ({', '.join(suffixes)}) or remove the empty folder(s)."
        )
    if not paths:
        raise UsageError(f"Data folder '{root}' holds no {what} ({', '.join(suffixes)}).")
    return Examples(paths, np.array(labels, dtype=np.int32), kind), class_names


def read_text_files(examples, skip_corrupt=False, log=None):
    """Replace text file paths by their contents; every non-UTF-8 file is named.

    With `skip_corrupt`, such files are left out (each one logged) instead.
    """
    texts, labels, bad = [], [], []
    for path, label in zip(examples.inputs, examples.labels):
        try:
            with open(path, encoding="utf-8") as handle:
                texts.append(handle.read())
            labels.append(label)
        except UnicodeDecodeError as error:
            bad.append(f"{path} (byte {error.start}: {error.reason})")
    from kerazoo.data import problems

    problems.non_utf8_files(bad, skip_corrupt, log)
    return Examples(texts, np.array(labels, dtype=np.int32), "texts")
