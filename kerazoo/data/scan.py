"""Decode every image once before training, so a bad file costs seconds, not a day.

The scan decodes all files in parallel with the same decoder as training.
Files that fail (truncated, empty, not an image) are all reported together.
Results are cached by path, size and modification time, so a second run only
decodes what changed; when the decoded images fit in memory the scan keeps
them, and training reads them from memory instead of decoding again.
"""

import hashlib
import json
import os
import pathlib

import numpy as np

from kerazoo.errors import DataError

CACHE_VERSION = 1
# Keep decoded images in memory when they take at most this share of the
# memory available now.
MEMORY_SHARE = 0.25


def cache_dir():
    root = os.environ.get("KERAZOO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "kerazoo"
    )
    return pathlib.Path(root) / "scans"


def fits_in_memory(count, image_size):
    """(fits, note): whether `count` decoded images fit the memory budget."""
    needed = count * image_size * image_size * 3
    available = available_memory()
    if available and needed <= MEMORY_SHARE * available:
        return True, f"decoded images kept in memory ({needed / 2**20:.0f} MiB of {available / 2**30:.1f} GiB free)"
    return False, f"decoded on the fly each epoch: {needed / 2**30:.1f} GiB would exceed {MEMORY_SHARE:.0%} of free memory"


def available_memory():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def scan_images(paths, image_size, keep_pixels):
    """Decode `paths`; return (bad [(path, reason)], pixels or None).

    Args:
        paths: image file paths.
        image_size: decode and resize as training will.
        keep_pixels: return the decoded uint8 images (N, size, size, 3) of
            the good files, in order; otherwise decode only what the cache
            has not seen.
    """
    cache_file = cache_dir() / f"{_digest(sorted(set(os.path.dirname(p) for p in paths)))}.json"
    cache = _read_cache(cache_file)
    stats = [_stat(path) for path in paths]
    to_decode = [
        i for i, (path, stat) in enumerate(zip(paths, stats))
        if keep_pixels or stat is None or cache.get(path, {}).get("stat") != stat
    ]
    ok, pixels = _decode_all([paths[i] for i in to_decode], image_size, keep_pixels)
    good = {}
    for position, index in enumerate(to_decode):
        good[index] = ok[position]
        cache[paths[index]] = {"stat": stats[index], "ok": bool(ok[position])}
    for index, path in enumerate(paths):
        if index not in good:
            good[index] = cache[path]["ok"]
    bad = [(paths[i], _reason(paths[i])) for i in range(len(paths)) if not good[i]]
    _write_cache(cache_file, cache)
    kept = None
    if keep_pixels:  # then every file was decoded, in order
        kept = pixels[np.array([good[i] for i in range(len(paths))], dtype=bool)]
    return bad, kept


def check(bad, skip_corrupt, log):
    """Stop on bad files (all listed), or leave them out when asked to."""
    if not bad:
        return
    if skip_corrupt:
        for path, reason in bad:
            log.warning(f"skipped unreadable file {path}: {reason}")
        log.info(f"  data: skipped {len(bad)} unreadable file(s) (--skip-corrupt)")
        return
    listing = "\n".join(f"  {path}: {reason}" for path, reason in bad[:100])
    more = f"\n  ... and {len(bad) - 100} more" if len(bad) > 100 else ""
    raise DataError(
        f"{len(bad)} file(s) cannot be decoded as images:\n{listing}{more}\n"
        "Fix or remove them, or pass --skip-corrupt to train without them."
    )


def _decode_all(paths, image_size, keep_pixels):
    import tensorflow as tf

    from kerazoo.data.image_pipeline import decode_image

    count = len(paths)
    ok = np.zeros(count, dtype=bool)
    pixels = np.zeros((count, image_size, image_size, 3), np.uint8) if keep_pixels else None
    if not count:
        return ok, pixels
    dataset = tf.data.Dataset.from_tensor_slices((tf.range(count, dtype=tf.int64), list(paths)))
    dataset = dataset.map(
        lambda index, path: (index, decode_image(path, image_size)), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = dataset.ignore_errors().batch(256).prefetch(2)
    for indices, images in dataset:
        indices = indices.numpy()
        ok[indices] = True
        if keep_pixels:
            pixels[indices] = images.numpy()
    return ok, pixels


def _reason(path):
    """The decoder's own words for one bad file (a few files: decode again)."""
    import tensorflow as tf

    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty file (0 bytes)"
        tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    except Exception as error:  # TensorFlow raises InvalidArgumentError and friends
        message = str(error).strip().splitlines()
        return (message[0] if message else type(error).__name__)[:200]
    return "cannot be decoded"


def _stat(path):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _digest(parts):
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _read_cache(path):
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if data.get("version") == CACHE_VERSION else {}


def _write_cache(path, files):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps({"version": CACHE_VERSION, "files": files}))
        os.replace(partial, path)
    except OSError:
        pass  # a cache that cannot be written only costs time next run
