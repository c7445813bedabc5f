"""Bad data never costs a day of training: every bad file is found before
the first step, all of them are named, and --skip-corrupt trains without them."""

import numpy as np
import pytest

from conftest import make_csv, make_image_folder, make_text_folder, read_json, run_kerazoo, write_image
from kerazoo import recipes
from kerazoo.data import parse_source, read_examples, scan
from kerazoo.errors import DataError, UsageError
from kerazoo.runlog import RunLog

IMAGE = recipes.get("resnet20")
TEXT = recipes.get("bert_tiny")


class RecordingLog(RunLog):
    def __init__(self):
        super().__init__(echo=False)
        self.lines = []

    def write(self, message):
        self.lines.append(str(message))


@pytest.fixture
def messy_images(tmp_path, monkeypatch):
    """A folder with every kind of image problem, and some that are fine."""
    monkeypatch.setenv("KERAZOO_CACHE", str(tmp_path / "cache"))
    root = make_image_folder(tmp_path / "messy", per_class=6)
    rng = np.random.default_rng(0)
    good_jpeg = root / "circle" / "0.jpg"
    (root / "circle" / "truncated.jpg").write_bytes(good_jpeg.read_bytes()[: len(good_jpeg.read_bytes()) // 2])
    (root / "square" / "empty.jpg").write_bytes(b"")
    (root / "stripes" / "notes.jpg").write_text("this is not an image")
    # Fine: decoded by content, converted to RGB.
    write_image(root / "square" / "png_named.jpg", rng.integers(0, 255, (20, 20, 3), dtype=np.uint8), "PNG")
    write_image(root / "stripes" / "gray.png", rng.integers(0, 255, (20, 20), dtype=np.uint8))
    write_image(root / "stripes" / "rgba.png", rng.integers(0, 255, (20, 20, 4), dtype=np.uint8))
    return root


BAD = ("truncated.jpg", "empty.jpg", "notes.jpg")


def test_every_bad_image_is_named_before_training(messy_images):
    with pytest.raises(DataError) as error:
        read_examples(parse_source(str(messy_images), IMAGE), IMAGE, seed=0)
    message = str(error.value)
    assert "3 file(s) cannot be decoded" in message
    for name in BAD:
        assert name in message
    assert "empty file (0 bytes)" in message and "--skip-corrupt" in message
    for fine in ("png_named.jpg", "gray.png", "rgba.png"):
        assert fine not in message


def test_skip_corrupt_leaves_them_out_and_logs_each(messy_images):
    log = RecordingLog()
    data = read_examples(parse_source(str(messy_images), IMAGE), IMAGE, seed=0, skip_corrupt=True, log=log)
    assert len(data.train) + len(data.validation) == 18 + 3  # 6 per class + the 3 fine extras
    assert data.train.kind == "image_array"  # small enough: the decoded pixels are kept
    assert sum("skipped unreadable file" in line for line in log.lines) == 3
    assert any("skipped 3 unreadable file(s)" in line for line in log.lines)


def test_second_scan_reads_the_cache(messy_images, monkeypatch):
    paths = sorted(str(p) for p in messy_images.rglob("*.*"))
    first_bad, _ = scan.scan_images(paths, 32, keep_pixels=False)
    decoded = []
    original = scan._decode_all
    monkeypatch.setattr(scan, "_decode_all", lambda p, size, keep: (decoded.extend(p), original(p, size, keep))[1])
    second_bad, _ = scan.scan_images(paths, 32, keep_pixels=False)
    assert decoded == [] and [p for p, _ in second_bad] == [p for p, _ in first_bad]
    # A changed file is decoded again.
    write_image(messy_images / "circle" / "0.jpg", np.zeros((8, 8, 3), np.uint8), "JPEG")
    scan.scan_images(paths, 32, keep_pixels=False)
    assert decoded == [str(messy_images / "circle" / "0.jpg")]


def test_command_line_exit_3_then_skip_corrupt_trains(messy_images, tmp_path):
    args = ["train", "resnet20", "--data", messy_images, "--epochs", "1", "--batch-size", "4",
            "--set", "model.args.depth=8", "--no-profile"]
    failed = run_kerazoo(*args, "--run-dir", tmp_path / "a")
    assert failed.returncode == 3 and "Traceback" not in failed.stderr
    assert all(name in failed.stderr for name in BAD)
    assert not (tmp_path / "a").exists()  # stopped before creating anything
    trained = run_kerazoo(*args, "--run-dir", tmp_path / "b", "--skip-corrupt")
    assert trained.returncode == 0, trained.stderr
    assert "skipped 3 unreadable file(s)" in (tmp_path / "b" / "train.log").read_text()
    assert read_json(tmp_path / "b" / "plan.json")["data"]["num_train"] + read_json(tmp_path / "b" / "plan.json")["data"]["num_validation"] == 21


def test_non_utf8_text_is_named_or_skipped(tmp_path):
    folder = make_text_folder(tmp_path / "texts", count=40)
    (folder / "positive" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match="latin1.txt.*byte 3"):
        read_examples(parse_source(str(folder), TEXT), TEXT, seed=0)
    log = RecordingLog()
    data = read_examples(parse_source(str(folder), TEXT), TEXT, seed=0, skip_corrupt=True, log=log)
    assert len(data.train) + len(data.validation) == 40
    assert any("latin1.txt" in line for line in log.lines)


def test_csv_problems(tmp_path):
    from kerazoo.data.csv_text import read_csv

    (tmp_path / "missing.csv").write_text("sentence,label\nhello,a\n")
    with pytest.raises(DataError, match="missing: text"):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "extra.csv").write_text("text,label\nfine,a\nfine,b\ntoo,many,fields\n")
    with pytest.raises(DataError, match="line 4: 3 field"):
        read_csv(tmp_path / "extra.csv")
    log = RecordingLog()
    examples, classes = read_csv(tmp_path / "extra.csv", skip_corrupt=True, log=log)
    assert len(examples) == 2 and any("line 4" in line for line in log.lines)
    path = make_csv(tmp_path / "known.csv", count=20)
    with pytest.raises(DataError, match="label\\(s\\) the training data does not: positive"):
        read_csv(path, class_names=["negative", "neutral"])


def test_empty_class_folder_is_a_usage_error(tmp_path):
    root = make_image_folder(tmp_path / "images", classes=("a", "b"), per_class=4)
    (root / "c").mkdir()
    with pytest.raises(UsageError, match="no images"):
        read_examples(parse_source(str(root), IMAGE), IMAGE, seed=0)
