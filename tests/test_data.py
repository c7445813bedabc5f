"""Data sources: what `--data` accepts, the messages for what it does not,
and the pipelines' shapes and contents."""

import itertools
import os

import numpy as np
import pytest

from conftest import make_csv, make_image_folder, make_text_folder, write_image
from kerazoo import recipes
from kerazoo.data import parse_source, read_examples
from kerazoo.data.examples import Examples, stratified_split
from kerazoo.errors import DataError, UsageError

IMAGE = recipes.get("resnet20")
TEXT = recipes.get("bert_tiny")


def test_named_sources():
    assert parse_source("digits", IMAGE).kind == "digits"
    assert parse_source("synthetic", TEXT).kind == "synthetic"
    assert parse_source("tfds:cifar10", IMAGE).identity == "tfds:cifar10"


def test_paths_become_folder_or_csv_sources(tmp_path, image_folder, csv_file):
    assert parse_source(str(image_folder), IMAGE).kind == "image_folder"
    assert parse_source(str(image_folder), TEXT).kind == "text_folder"
    source = parse_source(str(csv_file), TEXT)
    assert source.kind == "csv" and os.path.isabs(source.location)


@pytest.mark.parametrize(
    "data, recipe, message",
    [
        ("/nonexistent/folder", IMAGE, "does not exist"),
        ("digits", TEXT, "'digits' is image data"),
        ("tfds:", IMAGE, "needs a dataset name"),
    ],
)
def test_bad_sources_explain_the_choices(data, recipe, message):
    with pytest.raises(UsageError, match=message):
        parse_source(data, recipe)


def test_csv_for_an_image_recipe_and_other_files(tmp_path, csv_file):
    with pytest.raises(UsageError, match="CSV file holds 'text,label' rows for text recipes"):
        parse_source(str(csv_file), IMAGE)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(UsageError, match="not a .csv file"):
        parse_source(str(other), TEXT)


def test_missing_reference_dataset_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAZOO_DATA", str(tmp_path))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(UsageError) as error:
        parse_source(None, recipes.get("resnet50"))
    message = str(error.value)
    assert "imagenet2012" in message and str(tmp_path) in message and "--data" in message


def test_reference_dataset_found_under_kerazoo_data(tmp_path, monkeypatch):
    make_image_folder(tmp_path / "cifar10")
    monkeypatch.setenv("KERAZOO_DATA", str(tmp_path))
    source = parse_source(None, IMAGE)
    assert source.kind == "image_folder" and source.location.endswith("cifar10")


def test_image_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no class subfolders"):
        read_examples(parse_source(str(empty), IMAGE), IMAGE, seed=0)
    one = make_image_folder(tmp_path / "one", classes=("only",), per_class=4)
    with pytest.raises(UsageError, match="only one class"):
        read_examples(parse_source(str(one), IMAGE), IMAGE, seed=0)
    hole = make_image_folder(tmp_path / "hole", classes=("a", "b"), per_class=4)
    (hole / "c").mkdir()
    with pytest.raises(UsageError, match="Class folder\\(s\\) with no images.*: c"):
        read_examples(parse_source(str(hole), IMAGE), IMAGE, seed=0)


def test_train_and_val_subfolders_are_the_splits(tmp_path):
    make_image_folder(tmp_path / "data" / "train", per_class=6)
    make_image_folder(tmp_path / "data" / "val", per_class=2)
    train, validation, classes, fingerprint, _ = read_examples(parse_source(str(tmp_path / "data"), IMAGE), IMAGE, seed=0)
    assert (len(train), len(validation)) == (18, 6)
    assert classes == ["circle", "square", "stripes"]
    assert len(fingerprint) == 16


def test_fingerprint_changes_when_a_file_changes(tmp_path):
    folder = make_image_folder(tmp_path / "data", per_class=4)
    source = parse_source(str(folder), IMAGE)
    before = read_examples(source, IMAGE, seed=0)[3]
    assert read_examples(source, IMAGE, seed=0)[3] == before
    write_image(folder / "circle" / "extra.png", np.zeros((8, 8, 3), np.uint8))
    assert read_examples(source, IMAGE, seed=0)[3] != before


def test_stratified_split_is_seeded_and_keeps_every_class():
    examples = Examples(np.arange(100), np.repeat(np.arange(4), 25).astype(np.int32), "image_array")
    train, validation = stratified_split(examples, 0.2, seed=3)
    assert len(validation) == 20 and set(validation.labels) == {0, 1, 2, 3}
    again, _ = stratified_split(examples, 0.2, seed=3)
    assert np.array_equal(train.inputs, again.inputs)
    other, _ = stratified_split(examples, 0.2, seed=4)
    assert not np.array_equal(train.inputs, other.inputs)
    assert not set(train.inputs) & set(validation.inputs)


def test_csv_reading_and_errors(tmp_path):
    from kerazoo.data.csv_text import read_csv

    examples, classes = read_csv(make_csv(tmp_path / "ok.csv", count=50))
    assert classes == ["negative", "positive"] and len(examples) == 50
    (tmp_path / "cols.csv").write_text("sentence,label\nhi,a\n")
    with pytest.raises(DataError, match="missing: text"):
        read_csv(tmp_path / "cols.csv")
    (tmp_path / "ragged.csv").write_text("text,label\nfine,a\nextra,b,c\nshort\n")
    with pytest.raises(DataError, match="2 malformed row\\(s\\): line 3.*line 4"):
        read_csv(tmp_path / "ragged.csv")
    (tmp_path / "one.csv").write_text("text,label\na,x\nb,x\n")
    with pytest.raises(UsageError, match="only one label"):
        read_csv(tmp_path / "one.csv")


def test_text_folder_rejects_non_utf8_files_by_name(tmp_path):
    folder = make_text_folder(tmp_path / "texts", count=20)
    bad = folder / "positive" / "latin1.txt"
    bad.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    with pytest.raises(DataError, match="latin1.txt"):
        read_examples(parse_source(str(folder), TEXT), TEXT, seed=0)


def test_digits_are_resized_rgb_uint8():
    train, validation, classes, _, _ = read_examples(parse_source("digits", IMAGE), IMAGE, seed=0)
    assert train.inputs.shape[1:] == (32, 32, 3) and train.inputs.dtype == np.uint8
    assert len(train) + len(validation) == 1797 and classes == [str(i) for i in range(10)]
    assert train.inputs.max() > 200  # scaled from 0..16 to 0..255


def test_image_pipeline_decodes_mixed_files_to_batches(tmp_path):
    from kerazoo.data.image_pipeline import image_dataset

    folder = tmp_path / "mixed"
    rng = np.random.default_rng(0)
    write_image(folder / "a" / "gray.png", rng.integers(0, 255, (20, 30), dtype=np.uint8))
    write_image(folder / "a" / "rgba.png", rng.integers(0, 255, (25, 25, 4), dtype=np.uint8))
    write_image(folder / "b" / "png_named.jpg", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), "PNG")
    write_image(folder / "b" / "photo.jpeg", rng.integers(0, 255, (50, 40, 3), dtype=np.uint8), "JPEG")
    from kerazoo.data.folders import read_class_folders
    from kerazoo.data.sources import IMAGE_SUFFIXES

    examples, _ = read_class_folders(folder, IMAGE_SUFFIXES, "image_files")
    dataset = image_dataset(examples, image_size=32, num_classes=2, batch_size=2, training=False, seed=0)
    batches = list(dataset)
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255
    assert labels.shape == (4, 2) and np.allclose(labels.sum(axis=1), 1)


def test_training_pipeline_repeats_with_static_batches():
    from kerazoo.data.image_pipeline import image_dataset

    examples = Examples(np.zeros((10, 32, 32, 3), np.uint8), np.arange(10, dtype=np.int32) % 2, "image_array")
    dataset = image_dataset(examples, image_size=32, num_classes=2, batch_size=4, training=True, seed=0)
    assert dataset.element_spec[0].shape.as_list() == [4, 32, 32, 3]
    assert len(list(dataset.take(7))) == 7  # repeats past the 2 full batches of one pass


def test_synthetic_text_and_images_have_the_recipe_shape():
    train, validation, classes, _, _ = read_examples(parse_source("synthetic", TEXT), TEXT, seed=0, global_batch_size=8)
    assert len(train) == 64 and len(validation) == 16 and len(classes) == 2
    train, _, classes, _, _ = read_examples(parse_source("synthetic", IMAGE), IMAGE, seed=0, global_batch_size=4)
    assert train.inputs.shape == (32, 32, 32, 3) and len(classes) == 10


@pytest.mark.parametrize("in_graph", [True, False], ids=["texts-in-graph", "texts-looked-up-in-python"])
def test_text_training_pipeline_follows_the_seeded_order_and_resumes(monkeypatch, in_graph):
    """Texts are gathered by index from a table (or, for corpora too big for
    the graph, looked up in Python): either way batch k holds exactly the
    texts `order.batch_indices` names, across passes and after a resume."""
    from kerazoo.data import text_pipeline, tokenizer
    from kerazoo.data.order import batch_indices

    if not in_graph:
        monkeypatch.setattr(text_pipeline, "IN_GRAPH_TEXT_BYTES", 0)
    words = ["alpha", "beta", "γαμμα", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]  # not only ASCII
    texts = [" ".join(words[:index + 1]) for index in range(10)]  # text i has i + 1 words
    examples = Examples(texts, np.arange(10, dtype=np.int32) % 3, "texts")
    preprocessor = tokenizer.make_preprocessor([*tokenizer.RESERVED_TOKENS, *words], 16, True)
    common = dict(preprocessor=preprocessor, num_classes=3, batch_size=4, training=True, seed=5)
    steps = 70  # more than one generator call (64 batches) and many passes of 2 batches
    assert _batch_size_keras_can_shard(text_pipeline.text_dataset(examples, **common)) == 4
    run = list(text_pipeline.text_dataset(examples, **common).take(steps))
    expected = list(itertools.islice(batch_indices(10, 4, 5), steps))
    for (inputs, labels), indices in zip(run, expected):
        assert inputs["token_ids"].shape == (4, 16)
        # [CLS] + one token per word + [SEP]
        np.testing.assert_array_equal(inputs["padding_mask"].numpy().sum(axis=1), indices + 3)
        np.testing.assert_array_equal(labels.numpy().argmax(axis=1), indices % 3)
    resumed = list(text_pipeline.text_dataset(examples, start_step=65, **common).take(3))
    for got, want in zip(resumed, run[65:68]):
        np.testing.assert_array_equal(got[0]["token_ids"], want[0]["token_ids"])
    language_model = text_pipeline.language_model_dataset(
        examples, preprocessor=preprocessor, batch_size=4, training=True, seed=5, start_step=3,
    )
    inputs, targets, weights = next(iter(language_model))
    np.testing.assert_array_equal(weights.numpy().sum(axis=1), expected[3] + 2)  # words + [SEP] predicted


def test_text_evaluation_pipeline_keeps_every_text_in_order():
    from kerazoo.data import text_pipeline, tokenizer

    texts = ["one", "one two", "one two three", "one two three four", "one two three four five"]
    examples = Examples(texts, np.array([0, 1, 0, 1, 0], np.int32), "texts")
    preprocessor = tokenizer.make_preprocessor([*tokenizer.RESERVED_TOKENS, *texts[-1].split()], 8, True)
    dataset = text_pipeline.text_dataset(
        examples, preprocessor=preprocessor, num_classes=2, batch_size=2, training=False, seed=0,
    )
    assert _batch_size_keras_can_shard(dataset) == 2
    assert int(dataset.cardinality()) == 3  # a length Keras knows: no "ran out of data" warning
    batches = list(dataset)
    assert [len(labels) for _, labels in batches] == [2, 2, 1]  # the last batch is partial, nothing dropped
    assert _batch_size_keras_can_shard(text_pipeline.language_model_dataset(
        examples, preprocessor=preprocessor, batch_size=2, training=False, seed=0,
    )) == 2
    masks = np.concatenate([inputs["padding_mask"].numpy() for inputs, _ in batches])
    np.testing.assert_array_equal(masks.sum(axis=1), [3, 4, 5, 6, 7])


def _batch_size_keras_can_shard(dataset):
    """What Keras's multi-process sharding (`distribute_tf_dataset`) reads:
    -1 when a transformation after the last `batch` hides the batch size."""
    from tensorflow.python.data.experimental.ops.distribute import compute_batch_size

    return int(compute_batch_size(dataset))
