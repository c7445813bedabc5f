"""Input pipelines: kerazoo's against Keras's own and against the limit.

Images, in batches of 32 at 224 px, from two generated folders of JPEGs:
JPEGs already at 224 px (the issue's case: no resize is needed), and
photo-like JPEGs of mixed sizes (256-512 px a side, so every one is
resized). Read by

* kerazoo's training pipeline (`kerazoo.data.image_pipeline.image_dataset`
  on `Examples` of files: seeded order, parallel decode, antialiased resize
  where the size differs, batching, one-hot labels, prefetch);
* `keras.utils.image_dataset_from_directory` with default settings (only
  the output size set to 224; its resize is not antialiased, so cheaper);
* kerazoo's pipeline with RandAugment on the host, as a compiled step
  gets it (ConvNeXt-T's recipe: 2 ops, magnitude 9), to see what the host
  pays for it;
* the limit: `decode_jpeg` and, where the size differs, the same
  antialiased resize, nothing else, parallel on all cores (`tf.data` map
  with AUTOTUNE, then batch).

Target: kerazoo within 10% of the limit. The page cache is warmed first,
so the disk is out of the figures.

Text: synthetic sentences of about 100 words, tokenized to 128 WordPiece
ids with segment ids and padding mask by

* kerazoo's training pipeline (`text_pipeline.text_dataset`: seeded order,
  texts gathered by index, whole batches tokenized in parallel);
* a plain tf.data baseline mapping the same keras-hub preprocessor over
  single examples, then batching (the per-example `map` of most tutorials);
* the limit: the WordPiece tokenizer alone on whole batches, parallel.

Every candidate starts a fresh iterator, skips 3 warm-up batches and times
the next `--batches`; candidates are interleaved and repeated. Run:

    python benchmarks/input_pipeline.py [--repeats 5] [--images 1280] [--skip-images] [--skip-text] [--json out.json]
"""

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _measure import describe, machine, paired_ratios, write_figures  # noqa: E402

IMAGE_SIZE = 224
BATCH = 32
WARMUP_BATCHES = 3
SEQUENCE_LENGTH = 128
TARGET = 0.90  # kerazoo's throughput over the limit's


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=1280, help="JPEGs to generate (4 classes)")
    parser.add_argument("--batches", type=int, default=25, help="timed image batches per candidate and repeat")
    parser.add_argument("--text-batches", type=int, default=300,
                        help="timed text batches per candidate and repeat (a text batch takes about 1 ms)")
    parser.add_argument("--texts", type=int, default=4096)
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-text", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if (args.batches + WARMUP_BATCHES) * BATCH > args.images:
        parser.error(f"--images must be at least (--batches + {WARMUP_BATCHES}) x {BATCH}")

    results = {}
    image_sets = {"images": ("224 px JPEG -> 224 px", False), "mixed_size_images": ("256-512 px JPEG -> 224 px", True)}
    for key, (title, mixed_sizes) in image_sets.items():
        if args.skip_images:
            break
        with tempfile.TemporaryDirectory() as root:
            folder = pathlib.Path(root) / "jpegs"
            paths, labels = write_jpegs(folder, args.images, mixed_sizes)
            warm_page_cache(paths)
            results[key] = measure(image_candidates(folder, paths, labels), args.repeats, args.batches, "images")
        report(f"{key} ({title})", results[key], "kerazoo image_dataset", "limit: decode+resize, all cores")
    if not args.skip_text:
        results["texts"] = measure(text_candidates(args.texts), args.repeats, args.text_batches, "texts")
        report(f"texts (-> {SEQUENCE_LENGTH} WordPiece ids)", results["texts"], "kerazoo text_dataset",
               "limit: tokenizer only, batched")
    if args.json:
        write_figures(args.json, args, **results)


def write_jpegs(folder, count, mixed_sizes, classes=4):
    """Smooth gradients with noise and a few shapes: compresses like a photo
    (about 10-20 KB at quality 90 and 224 px), not like pure noise. Either
    all 224 x 224 or, with `mixed_sizes`, each side drawn from 256-512 px."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths, labels = [], []
    for index in range(count):
        label = index % classes
        height, width = rng.integers(256, 513, size=2) if mixed_sizes else (IMAGE_SIZE, IMAGE_SIZE)
        yy, xx = np.mgrid[:height, :width].astype("float32") / max(height, width)
        phase = rng.uniform(0, 6.28, size=3)
        image = np.stack([127 + 100 * np.sin(4 * xx + 3 * yy * (c + 1) + phase[c]) for c in range(3)], axis=-1)
        image += rng.normal(0, 12, size=image.shape)
        top, left = rng.integers(0, min(height, width) - 60, size=2)
        image[top:top + 60, left:left + 60, label % 3] = 240
        path = folder / f"class_{label}" / f"{index:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(image, 0, 255).astype("uint8")).save(path, format="JPEG", quality=90)
        paths.append(str(path))
        labels.append(label)
    return paths, np.asarray(labels, dtype="int32")


def warm_page_cache(paths):
    for path in paths:
        with open(path, "rb") as handle:
            handle.read()


def image_candidates(folder, paths, labels):
    import keras
    import tensorflow as tf

    from kerazoo.data.examples import Examples
    from kerazoo.data.image_pipeline import image_dataset

    def decode_and_resize(path):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        shape = tf.shape(image)
        # An image already at the size needs no resize (kerazoo skips it too).
        same = tf.logical_and(tf.equal(shape[0], IMAGE_SIZE), tf.equal(shape[1], IMAGE_SIZE))
        return tf.cond(
            same,
            lambda: tf.cast(image, tf.float32),
            lambda: tf.image.resize(image, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear", antialias=True),
        )

    def limit():
        dataset = tf.data.Dataset.from_tensor_slices(paths).map(decode_and_resize, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(BATCH).prefetch(tf.data.AUTOTUNE)

    from kerazoo import augment, recipes

    # What a compiled step leaves to the host in ConvNeXt-T's recipe: RandAugment (2 ops, magnitude 9).
    moved = augment.pipeline_augmenter(recipes.get("convnext_tiny").augment, seed=0, compiled=True)

    def kerazoo(batch_transform=None):
        return image_dataset(
            Examples(list(paths), labels, "image_files"), image_size=IMAGE_SIZE, num_classes=4, batch_size=BATCH,
            training=True, seed=0, batch_transform=batch_transform,
        )

    return {
        "kerazoo image_dataset": kerazoo,
        "kerazoo + RandAugment on the host": lambda: kerazoo(augment.batch_transform(moved, None)),
        "keras image_dataset_from_directory": lambda: keras.utils.image_dataset_from_directory(
            str(folder), image_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=BATCH, verbose=False,
        ),
        "limit: decode+resize, all cores": limit,
    }


def text_candidates(count):
    import numpy as np
    import tensorflow as tf

    from kerazoo.data import builtin, tokenizer
    from kerazoo.data.text_pipeline import text_dataset

    examples, _ = builtin.synthetic_texts(count, 100, 2, seed=0)
    vocabulary = tokenizer.train_wordpiece(examples.inputs, 8000, True)
    preprocessor = tokenizer.make_preprocessor(vocabulary, SEQUENCE_LENGTH, True)
    texts = list(examples.inputs)
    labels = np.asarray(examples.labels)

    def plain():
        dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).repeat()
        dataset = dataset.map(lambda text, label: (preprocessor(text), label), num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(BATCH).prefetch(tf.data.AUTOTUNE)

    wordpiece = preprocessor.tokenizer.keras_hub_tokenizer()  # strings -> ragged ids, nothing else

    def limit():
        dataset = tf.data.Dataset.from_tensor_slices(texts).repeat().batch(BATCH)
        return dataset.map(wordpiece, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    return {
        "kerazoo text_dataset": lambda: text_dataset(
            examples, preprocessor=preprocessor, num_classes=2, batch_size=BATCH, training=True, seed=0,
        ),
        "plain: per-example map, then batch": plain,
        "limit: tokenizer only, batched": limit,
    }


def measure(candidates, repeats, batches, unit):
    """{name: [examples/s per repeat]}, interleaved."""
    throughput = {name: [] for name in candidates}
    for index in range(repeats):
        for name, make in candidates.items():
            seconds = time_batches(make(), batches)
            throughput[name].append(batches * BATCH / seconds)
            print(f"repeat {index + 1}: {name:<38} {throughput[name][-1]:8.1f} {unit}/s", flush=True)
    return throughput


def time_batches(dataset, count):
    iterator = iter(dataset)
    for _ in range(WARMUP_BATCHES):
        next(iterator)
    start = time.perf_counter()
    for _ in range(count):
        next(iterator)
    return time.perf_counter() - start


def report(title, throughput, ours, limit):
    print(f"machine: {machine()}")
    print(f"{title}, batch {BATCH}, examples/s:")
    for name, values in throughput.items():
        print(f"  {name:<38} {describe(values, '', 1, 1)}")
    for name in throughput:
        if name != ours:
            ratios = paired_ratios(throughput[ours], throughput[name])
            print(f"  {ours} / {name}: {describe(ratios, '', 1, 3)} per repeat")
    ratios = paired_ratios(throughput[ours], throughput[limit])
    verdict = "meets" if statistics.median(ratios) >= TARGET else "MISSES"
    print(f"  target {ours} >= {TARGET:.2f} x {limit}: {verdict}")


if __name__ == "__main__":
    main()
