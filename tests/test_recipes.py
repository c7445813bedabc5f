"""Recipe files: loading, inheritance, overrides and validation messages."""

import pytest

from kerazoo import recipes
from kerazoo.errors import UsageError


def write(path, text):
    path.write_text(text)
    return path


def test_builtin_recipes_are_listed_and_load():
    names = recipes.list()
    assert {"resnet20", "resnet50", "efficientnet_b0", "mobilenet_v3_small", "bert_tiny"} <= set(names)
    for name in names:
        recipe = recipes.get(name)
        assert recipe.name == name
        assert recipe.card.accuracy is not None and recipe.card.accuracy.source
        assert recipe.card.hyperparameters_source


def test_list_filters_by_pattern_and_task():
    assert recipes.list("resnet2*") == ["resnet20"]
    assert {"resnet20", "resnet50", "resnet56"} <= set(recipes.list("resnet*"))
    assert all(name.startswith("resnet") for name in recipes.list("resnet*"))
    assert "bert_tiny" in recipes.list(task="text")
    assert "bert_tiny" not in recipes.list(task="image")
    assert recipes.list(task="text_generation") == ["gpt2_small"]
    with pytest.raises(UsageError, match="Unknown task"):
        recipes.list(task="audio")


def test_unknown_recipe_suggests_the_closest_name():
    with pytest.raises(UsageError, match=r"Unknown recipe 'resnt50'\. Did you mean 'resnet50'\?"):
        recipes.get("resnt50")


def test_inheritance_merges_sections_and_does_not_inherit_the_card(tmp_path):
    path = write(tmp_path / "mine.yaml", "base: resnet20\ntrain:\n  epochs: 3\nmodel:\n  args:\n    depth: 32\n")
    mine = recipes.load(path)
    base = recipes.get("resnet20")
    assert mine.name == "mine"
    assert mine.training.epochs == 3
    assert mine.model.args == {"depth": 32}
    assert mine.training.learning_rate == base.training.learning_rate
    assert mine.augment == base.augment
    # A card is one recipe's published figures: only the task carries over.
    assert mine.card.task == "image"
    assert mine.card.accuracy is None and mine.card.params is None


def test_inheritance_from_a_relative_file_and_cycles(tmp_path):
    write(tmp_path / "a.yaml", "base: resnet20\ntrain:\n  epochs: 5\n")
    b = recipes.load(write(tmp_path / "b.yaml", "base: a.yaml\ntrain:\n  batch_size: 16\n"))
    assert (b.training.epochs, b.training.batch_size) == (5, 16)
    write(tmp_path / "x.yaml", "base: y.yaml\n")
    write(tmp_path / "y.yaml", "base: x.yaml\n")
    with pytest.raises(UsageError, match="inheritance loops"):
        recipes.load(tmp_path / "x.yaml")


def test_unknown_key_names_file_key_and_closest_valid_key(tmp_path):
    path = write(tmp_path / "typo.yaml", "base: resnet20\ntrain:\n  lerning_rate: 0.1\n")
    with pytest.raises(UsageError) as error:
        recipes.load(path)
    message = str(error.value)
    assert "typo.yaml" in message
    assert "'train.lerning_rate'" in message
    assert "Did you mean 'train.learning_rate'?" in message


def test_unknown_section_and_builder_argument(tmp_path):
    with pytest.raises(UsageError, match="unknown key 'trian'.*Did you mean 'train'"):
        recipes.load(write(tmp_path / "s.yaml", "base: resnet20\ntrian: {}\n"))
    with pytest.raises(UsageError, match="model.args.dept.*Did you mean 'depth'"):
        recipes.load(write(tmp_path / "a.yaml", "base: resnet20\nmodel:\n  args:\n    dept: 20\n"))


def test_wrong_types_are_named(tmp_path):
    with pytest.raises(UsageError, match=r"'train\.epochs' must be an integer, got 'ten'"):
        recipes.load(write(tmp_path / "t.yaml", "base: resnet20\ntrain:\n  epochs: ten\n"))
    with pytest.raises(UsageError, match=r"'train\.optimizer' must be one of .*Did you mean 'rmsprop'"):
        recipes.load(write(tmp_path / "o.yaml", "base: resnet20\ntrain:\n  optimizer: rmsprp\n"))
    with pytest.raises(UsageError, match=r"'augment\.mixup_alpha' must be a number"):
        recipes.load(write(tmp_path / "m.yaml", "base: resnet20\naugment:\n  mixup_alpha: yes\n"))


def test_exponent_floats_parse_as_numbers(tmp_path):
    # YAML 1.1 reads 1e-4 as a string; recipes must not.
    recipe = recipes.load(write(tmp_path / "e.yaml", "base: resnet20\ntrain:\n  weight_decay: 5e-4\n"))
    assert recipe.training.weight_decay == pytest.approx(5e-4)


def test_override_returns_a_new_validated_recipe():
    base = recipes.get("resnet20")
    changed = base.override({"train.epochs": 3, "model.args.depth": 56, "augment.flip": "none"})
    assert changed.training.epochs == 3 and changed.model.args["depth"] == 56
    assert changed.augment.flip == "none"
    assert base.training.epochs == 164  # unchanged: recipes are frozen
    with pytest.raises(UsageError, match="Did you mean 'train.epochs'"):
        base.override({"train.epoch": 3})
    with pytest.raises(UsageError, match="must be an integer"):
        base.override({"train.epochs": "many"})
    with pytest.raises(UsageError, match="must be 1 or more"):
        base.override({"train.batch_size": -4})


def test_resolved_recipe_round_trips_through_yaml(tmp_path):
    recipe = recipes.get("efficientnet_b0")
    path = write(tmp_path / "resolved.yaml", recipe.to_yaml())
    again = recipes.load(path)
    assert again.to_dict() == {**recipe.to_dict(), "name": "efficientnet_b0"}
    assert again.fingerprint() == recipe.fingerprint()


def test_fingerprint_ignores_the_card_but_not_training():
    recipe = recipes.get("resnet20")
    assert recipe.override({"card.description": "mine"}).fingerprint() == recipe.fingerprint()
    assert recipe.override({"train.epochs": 2}).fingerprint() != recipe.fingerprint()


def test_repr_is_useful():
    text = repr(recipes.get("resnet20"))
    assert "resnet20" in text and "32 px" in text and "sgd" in text


def test_recipe_files_ship_inside_the_wheel_and_are_found_there(tmp_path):
    import os
    import subprocess
    import sys
    import zipfile

    from conftest import REPO

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("kerazoo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in recipes.names():
        task = recipes.get(name).task
        assert f"kerazoo/builtin_recipes/{task}/{name}.yaml" in names
    # Installed from the wheel (unpacked, first on the path, away from the
    # checkout), kerazoo finds every one of them. It found none once: the
    # recipes' folder is a namespace package, and importlib.resources gave
    # a MultiplexedPath that was read as a folder name.
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    found = subprocess.run(
        [sys.executable, "-c", "from kerazoo import recipes; print(recipes.__file__); print(' '.join(recipes.names()))"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
    )
    assert found.returncode == 0, found.stderr
    module_file, names_found = found.stdout.splitlines()
    assert module_file.startswith(str(installed)) and names_found.split() == recipes.names()
