"""Text for language models: no labels, one example per text.

- a folder: every non-empty line of every `.txt` file under it, in any
  subfolder (no class folders needed); with `train/` and `val/` (or
  `validation/`) subfolders, those are the splits. One line, one example, as
  Hugging Face's `run_mlm.py --line_by_line`; a line longer than the context
  is cut to it.
- a CSV file: its `text` column (other columns are ignored).
- `synthetic`: generated counting texts (see `builtin.synthetic_corpus`).

Texts are labelled 0 so the shared split and order code applies unchanged.
"""

import pathlib

import numpy as np

from kerazoo.data import problems
from kerazoo.data.csv_text import read_rows
from kerazoo.data.examples import Examples, fingerprint_files, stratified_split
from kerazoo.data.sources import TEXT_SUFFIXES, split_folders
from kerazoo.errors import DataError, UsageError


def read_corpus(source, recipe, seed, global_batch_size, skip_corrupt=False, log=None):
    """Read a source into train and validation texts for a language model.

    Returns:
        A `kerazoo.data.SplitData` whose class names are empty.
    """
    from kerazoo.data import SplitData, builtin

    fraction = recipe.data.validation_split
    if source.kind == "synthetic":
        train = as_examples(builtin.synthetic_corpus(global_batch_size * 8, seed))
        validation = as_examples(builtin.synthetic_corpus(global_batch_size * 2, seed + 1))
        return SplitData(train, validation, [], f"synthetic-corpus-{seed}")
    if source.kind == "csv":
        texts = read_csv_texts(source.location, skip_corrupt, log)
        train, validation = stratified_split(as_examples(texts), fraction, seed)
        fingerprint = fingerprint_files([source.location], pathlib.Path(source.location).parent)
        return SplitData(train, validation, [], fingerprint)
    if source.kind == "text_folder":
        root = pathlib.Path(source.location)
        splits = split_folders(root)
        if splits:
            train_files, validation_files = text_files(splits["train"]), text_files(splits["validation"])
            train = as_examples(read_lines(train_files, skip_corrupt, log))
            validation = as_examples(read_lines(validation_files, skip_corrupt, log))
        else:
            train_files, validation_files = text_files(root), []
            texts = as_examples(read_lines(train_files, skip_corrupt, log))
            train, validation = stratified_split(texts, fraction, seed)
        fingerprint = fingerprint_files([*train_files, *validation_files], root)
        return SplitData(train, validation, [], fingerprint)
    if source.kind == "tfds":
        raise UsageError(
            f"'{recipe.name}' is a language model; --data tfds:NAME gives labelled examples. Give a folder of "
            ".txt files, a CSV file with a 'text' column, or 'synthetic'."
        )
    raise UsageError(f"'{source}' is image data; '{recipe.name}' is a language model and trains on text.")


def as_examples(texts):
    """Texts as `Examples`, every label 0."""
    return Examples(list(texts), np.zeros(len(texts), dtype=np.int32), "texts")


def text_files(root):
    """Every `.txt` file under `root`, sorted; at least one."""
    root = pathlib.Path(root)
    files = sorted(str(path) for path in root.rglob("*") if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise UsageError(
            f"Data folder '{root}' holds no .txt files. A language model trains on the lines of .txt files "
            "anywhere under the folder."
        )
    return files


def read_lines(paths, skip_corrupt=False, log=None):
    """The non-empty lines of text files, in file order; files that are not
    UTF-8 are named (or, with `skip_corrupt`, left out and logged)."""
    lines, bad = [], []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                lines.extend(line.strip() for line in handle if line.strip())
        except UnicodeDecodeError as error:
            bad.append(f"{path} (byte {error.start}: {error.reason})")
    problems.non_utf8_files(bad, skip_corrupt, log)
    if not lines:
        raise UsageError(f"The text files ({len(paths)}) hold no non-empty lines to train a language model on.")
    return lines


def read_csv_texts(path, skip_corrupt=False, log=None):
    """The non-empty values of a CSV file's `text` column."""
    header, rows = read_rows(path)
    header = header or []
    if "text" not in header:
        raise DataError(
            f"CSV file '{path}' has columns {header} but a language model needs a 'text' column. The first "
            "line must name the columns, e.g. 'text'."
        )
    column = header.index("text")
    texts, bad = [], []
    for line, row in rows:
        if len(row) != len(header):
            bad.append(f"line {line}: {len(row)} field(s), expected {len(header)}")
            continue
        if row[column].strip():
            texts.append(row[column])
    problems.malformed_rows(path, bad, skip_corrupt, log)
    if not texts:
        raise DataError(f"CSV file '{path}' has no non-empty 'text' values.")
    return texts


__all__ = ["as_examples", "read_corpus", "read_csv_texts", "read_lines", "text_files"]
