"""Bad items in text data: name every one (exit 3), or with --skip-corrupt
leave them out, logging each. Shared by the classifier and language-model
readers, so both say the same thing."""

from kerazoo.errors import DataError


def non_utf8_files(bad, skip_corrupt, log):
    """`bad`: "path (byte N: reason)" entries for files that are not UTF-8."""
    if bad and not skip_corrupt:
        listing = "\n  ".join(bad)
        raise DataError(
            f"{len(bad)} text file(s) are not UTF-8:\n  {listing}\nRe-save them as UTF-8, remove them, "
            "or pass --skip-corrupt to train without them."
        )
    for entry in bad:
        log.warning(f"skipped text file that is not UTF-8: {entry}")


def malformed_rows(path, bad, skip_corrupt, log):
    """`bad`: "line N: what is wrong" entries for rows of a CSV file."""
    if bad and not skip_corrupt:
        listing = "; ".join(bad[:20]) + (f"; and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise DataError(
            f"CSV file '{path}' has {len(bad)} malformed row(s): {listing}. Fix them (quote texts that contain "
            "commas) or pass --skip-corrupt to train without them."
        )
    for entry in bad:
        log.warning(f"skipped malformed row of {path}: {entry}")
