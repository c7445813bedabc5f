"""The catalogue's slower check: a small keras.applications recipe reaches
0.95 validation accuracy on digits with its own optimizer, schedule and head
(resnet20, kerazoo's own builder, is checked by the README's main job in
test_train.py). The run is `benchmarks/digits_accuracy.py`'s, so this checks
the same training that docs/performance.md reports."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
from digits_accuracy import train_on_digits  # noqa: E402


@pytest.mark.slow
def test_mobilenet_v2_reaches_095_on_digits(tmp_path):
    final, best, _ = train_on_digits("mobilenet_v2", tmp_path, epochs=10, batch_size=32, seed=0)
    assert final >= 0.95, f"mobilenet_v2 on digits: final {final:.4f}, best {best:.4f}"
