"""Text classification data from a CSV file with `text,label` columns."""

import csv

import numpy as np

from kerazoo.data import problems
from kerazoo.data.examples import Examples
from kerazoo.errors import DataError, UsageError

REQUIRED = ("text", "label")


def read_rows(path):
    """A CSV file's header, stripped and lower-cased (None when the file is
    empty), and its non-blank rows as (line number, fields)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = [(line, row) for line, row in enumerate(reader, start=2) if row]
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error}). Save it as UTF-8.") from None
    return (None if header is None else [name.strip().lower() for name in header]), rows


def read_csv(path, class_names=None, skip_corrupt=False, log=None):
    """Read `text,label` rows.

    Returns:
        (Examples of texts, class names). Labels are sorted class names
        (numerically when they are all integers).
    """
    header, rows = read_rows(path)
    if header is None:
        raise DataError(f"CSV file '{path}' is empty. It needs a 'text,label' header and one row per example.")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise DataError(
            f"CSV file '{path}' has columns {header} but needs {list(REQUIRED)}; missing: "
            f"{', '.join(missing)}. The first line must name the columns, e.g. 'text,label'."
        )
    text_col, label_col = header.index("text"), header.index("label")
    texts, raw_labels, bad = [], [], []
    for line, row in rows:
        if len(row) != len(header):
            bad.append(f"line {line}: {len(row)} field(s), expected {len(header)}")
            continue
        label = row[label_col].strip()
        if not label:
            bad.append(f"line {line}: empty label")
            continue
        texts.append(row[text_col])
        raw_labels.append(label)
    problems.malformed_rows(path, bad, skip_corrupt, log)
    if not texts:
        raise DataError(f"CSV file '{path}' has a header but no usable rows.")
    if class_names is None:
        class_names = _sorted_labels(set(raw_labels))
        if len(class_names) < 2:
            raise UsageError(f"CSV file '{path}' has only one label ('{class_names[0]}'); a classifier needs at least two.")
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise DataError(
            f"CSV file '{path}' has label(s) the training data does not: {', '.join(unknown[:20])}."
        )
    labels = np.array([index[label] for label in raw_labels], dtype=np.int32)
    return Examples(texts, labels, "texts"), class_names


def _sorted_labels(labels):
    try:
        return sorted(labels, key=int)
    except ValueError:
        return sorted(labels)
