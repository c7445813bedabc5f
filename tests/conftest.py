"""Shared fixtures: small datasets written into temporary folders, and a
runner for the installed `kerazoo` command. Nothing here downloads."""

import csv
import json
import os
import pathlib
import random
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
POSITIVE = "great wonderful excellent happy loved superb delightful charming".split()
NEGATIVE = "awful terrible boring sad hated dreadful poor dull".split()
FILLER = "the movie plot actors film story scenes was and it a with very really quite".split()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """Workers for `-n auto`: one per core, at most four. Most tests spend
    their time tracing Keras graphs in one Python thread, so two workers on
    two cores took the suite from 33 to 25 minutes; each worker holds TensorFlow and a
    model or two (up to about 3 GiB), so more would trade memory for little."""
    return max(1, min(os.cpu_count() or 1, 4))


def kerazoo_env(**extra):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update({key: str(value) for key, value in extra.items()})
    return env


def run_kerazoo(*args, cwd=None, env=None, timeout=900):
    """Run the installed `kerazoo` console script; returns CompletedProcess."""
    executable = pathlib.Path(sys.executable).with_name("kerazoo")
    command = [str(executable), *map(str, args)]
    return subprocess.run(
        command, cwd=cwd, env=env or kerazoo_env(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def kerazoo(tmp_path):
    """Call as kerazoo("train", ...); runs in a fresh working directory."""

    def call(*args, **kwargs):
        kwargs.setdefault("cwd", tmp_path)
        return run_kerazoo(*args, **kwargs)

    return call


def write_image(path, array, fmt=None):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


def make_image_folder(root, classes=("circle", "square", "stripes"), per_class=24, size=40, seed=0):
    """Class subfolders of PNG and JPEG images a small CNN can tell apart."""
    rng = np.random.default_rng(seed)
    for index, name in enumerate(classes):
        for item in range(per_class):
            image = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
            if index == 0:
                yy, xx = np.mgrid[:size, :size]
                mask = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2
                image[mask] = 220
            elif index == 1:
                image[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 220
            else:
                image[:, ::4] = 220
            suffix, fmt = (".png", "PNG") if item % 2 else (".jpg", "JPEG")
            write_image(root / name / f"{item}{suffix}", image, fmt)
    return root


def sentiment_rows(count, seed=0):
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(["positive", "negative"])
        words = rng.choices(FILLER, k=10) + rng.choices(POSITIVE if label == "positive" else NEGATIVE, k=2)
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def make_csv(path, count=200, seed=0):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(sentiment_rows(count, seed))
    return path


def make_text_folder(root, count=160, seed=0):
    for index, (text, label) in enumerate(sentiment_rows(count, seed)):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{index}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def image_folder(tmp_path):
    return make_image_folder(tmp_path / "images")


@pytest.fixture
def csv_file(tmp_path):
    return make_csv(tmp_path / "reviews.csv")


@pytest.fixture
def text_folder(tmp_path):
    return make_text_folder(tmp_path / "texts")


def read_json(path):
    return json.loads(pathlib.Path(path).read_text())
