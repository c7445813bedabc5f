"""Tiny finished runs shared by the after-training tests (evaluate, predict,
export, TensorBoard): each is trained once per pytest session, whichever
test module asks first, so the suite pays for training only once.

They are trained through the Python API in the test process; the end-to-end
`kerazoo train` command has its own tests in test_train.py.
"""

from conftest import make_csv

# A 1-block-per-stage CIFAR ResNet without flips (a mirrored digit is another
# digit); the recipe's 4-pixel pad-and-crop augmentation stays on, so the
# export tests can check that it never reaches an exported model.
IMAGE_OVERRIDES = {"model.args.depth": 8, "augment.flip": "none"}
TEXT_OVERRIDES = {"data.sequence_length": 32, "model.args.num_layers": 1, "data.vocabulary_size": 300}

_trained = {}


def _root(tmp_path_factory):
    if "root" not in _trained:
        _trained["root"] = tmp_path_factory.mktemp("shared-runs")
    return _trained["root"]


def image_run(tmp_path_factory):
    """resnet20 (depth 8) on digits: 2 epochs at batch 32, with a profile
    window, so it has scalars, HParams and a trace. About 20 s on 2 cores."""
    if "image" not in _trained:
        from kerazoo import recipes

        recipe = recipes.get("resnet20").override(IMAGE_OVERRIDES)
        _trained["image"] = recipe.train(
            data="digits", epochs=2, batch_size=32, run_dir=_root(tmp_path_factory) / "image", verbose=False
        )
    return _trained["image"]


def text_csv(tmp_path_factory):
    """The sentiment CSV the text run trains on."""
    path = _root(tmp_path_factory) / "reviews.csv"
    if not path.exists():
        make_csv(path, count=200, seed=0)
    return path


def text_run(tmp_path_factory):
    """bert_tiny (1 layer, 32 tokens, 300-token vocabulary) on a 200-row
    sentiment CSV: 2 epochs at batch 16."""
    if "text" not in _trained:
        from kerazoo import recipes

        recipe = recipes.get("bert_tiny").override(TEXT_OVERRIDES)
        _trained["text"] = recipe.train(
            data=str(text_csv(tmp_path_factory)), epochs=2, batch_size=16,
            run_dir=_root(tmp_path_factory) / "text", verbose=False,
        )
    return _trained["text"]


def mixed_precision_run(tmp_path_factory):
    """resnet20 (depth 8) under mixed_bfloat16 on synthetic data: 2 steps."""
    if "mixed" not in _trained:
        from kerazoo import recipes

        recipe = recipes.get("resnet20").override(IMAGE_OVERRIDES)
        _trained["mixed"] = recipe.train(
            data="synthetic", epochs=1, steps_per_epoch=2, batch_size=4, precision="mixed_bfloat16",
            profile_batches=False, run_dir=_root(tmp_path_factory) / "mixed", verbose=False,
        )
    return _trained["mixed"]
