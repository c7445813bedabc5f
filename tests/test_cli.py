"""The `kerazoo` command as a user meets it: help, listings, and every user
mistake answered with a message and exit code 2, never a traceback."""

import json
import subprocess
import sys

import pytest

from conftest import make_image_folder
from kerazoo.cli.main import COMMANDS


def assert_usage_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_every_command_has_help(kerazoo, command):
    result = kerazoo(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: kerazoo" in result.stdout


def test_python_dash_m_is_the_same_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kerazoo", "list", "--format", "json"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)


def test_list_table_and_json(kerazoo):
    table = kerazoo("list")
    assert table.returncode == 0
    for name in ("resnet20", "resnet50", "efficientnet_b0", "mobilenet_v3_small", "bert_tiny"):
        assert name in table.stdout
    rows = json.loads(kerazoo("list", "resnet5*", "--format", "json").stdout)
    assert [row["name"] for row in rows] == ["resnet50", "resnet56"]
    assert rows[0]["params_reported"] == 25_636_712 and rows[0]["accuracy_source"]
    texts = json.loads(kerazoo("list", "--task", "text", "--format", "json").stdout)
    assert {row["task"] for row in texts} == {"text"}


def test_info_yaml_and_json(kerazoo, tmp_path):
    yaml_out = kerazoo("info", "resnet20")
    assert yaml_out.returncode == 0 and "builder: resnet_cifar" in yaml_out.stdout
    data = json.loads(kerazoo("info", "bert_tiny", "--format", "json").stdout)
    assert data["recipe"]["train"]["optimizer"] == "adamw"
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: resnet20\ntrain:\n  epochs: 2\n")
    data = json.loads(kerazoo("info", str(mine), "--format", "json").stdout)
    assert data["recipe"]["name"] == "mine" and data["recipe"]["train"]["epochs"] == 2


def test_light_commands_do_not_import_tensorflow_or_keras():
    code = (
        "import sys\n"
        "from kerazoo.cli.main import cli\n"
        "for args in (['list'], ['list', '--format', 'json'], ['info', 'resnet50'], ['--help']):\n"
        "    try:\n"
        "        cli(args, prog_name='kerazoo')\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'keras_hub', 'jax', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_env_reports_devices_and_auto_choices(kerazoo):
    result = kerazoo("env", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "tensorflow"
    assert data["versions"]["tensorflow"] and "cuda_build" in data["versions"]
    assert data["auto"]["precision"]["value"] == "float32"
    assert data["auto"]["strategy"]["reason"]
    table = kerazoo("env")
    assert "auto would choose" in table.stdout and "precision" in table.stdout


def test_unknown_recipe_and_command(kerazoo):
    assert_usage_error(kerazoo("train", "resnt20", "--data", "digits"), "Unknown recipe 'resnt20'", "Did you mean 'resnet20'?", "kerazoo list")
    assert_usage_error(kerazoo("info", "bert_tinny"), "Did you mean 'bert_tiny'?")
    assert_usage_error(kerazoo("trian"), "Did you mean 'train'?")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--set", "train.lerning_rate=0.1"], ["train.lerning_rate", "Did you mean 'train.learning_rate'?"]),
        (["--set", "train.epochs"], ["KEY=VALUE"]),
        (["--set", "train.epochs=many"], ["must be an integer"]),
        (["--batch-size", "-8"], ["--batch-size must be 1 or more"]),
        (["--epochs", "0"], ["--epochs must be 1 or more"]),
        (["--precision", "fp16"], ["Invalid value for '--precision'", "mixed_float16"]),
        (["--strategy", "data_parallel"], ["JAX backend's strategy"]),
        (["--strategy", "multi_worker"], ["needs a cluster description", "TF_CONFIG"]),
        (["--profile-batches", "ten"], ["FIRST,LAST"]),
        (["--profile-batches", "3,5", "--no-profile"], ["not both"]),
    ],
)
def test_bad_train_options(kerazoo, args, fragments):
    assert_usage_error(kerazoo("train", "resnet20", "--data", "digits", "--dry-run", *args), *fragments)


def test_bad_data_sources(kerazoo, tmp_path):
    assert_usage_error(kerazoo("train", "resnet20", "--data", str(tmp_path / "missing")), "does not exist", "digits")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_usage_error(kerazoo("train", "resnet20", "--data", str(empty)), "no class subfolders")
    one = make_image_folder(tmp_path / "one", classes=("cats",), per_class=3)
    assert_usage_error(kerazoo("train", "resnet20", "--data", str(one)), "only one class ('cats')")
    assert_usage_error(kerazoo("train", "bert_tiny", "--data", "digits"), "'digits' is image data")


def test_no_data_and_no_reference_dataset_explains_choices(kerazoo, tmp_path):
    env = dict(__import__("os").environ, KERAZOO_DATA=str(tmp_path), TFDS_DATA_DIR=str(tmp_path / "tfds"))
    result = kerazoo("train", "resnet50", env=env)
    assert_usage_error(result, "trains on 'imagenet2012' by default", "--data", "digits", "synthetic")


def test_too_few_examples_for_the_global_batch(kerazoo, tmp_path):
    folder = make_image_folder(tmp_path / "small", per_class=3)
    result = kerazoo("train", "resnet20", "--data", str(folder), "--dry-run")
    assert_usage_error(result, "fewer than one global batch of 128", "--batch-size")


def test_dry_run_prints_the_plan_and_trains_nothing(kerazoo, tmp_path):
    result = kerazoo("train", "resnet20", "--data", "digits", "--dry-run", "--run-dir", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    for word in ("precision", "float32", "strategy", "learning rate", "XLA", "profile", "steps"):
        assert word in result.stdout
    assert not (tmp_path / "run").exists()


def test_cpu_replicas_plan_mirrored_strategy(kerazoo):
    result = kerazoo("train", "resnet20", "--data", "digits", "--cpu-replicas", "2", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "mirrored (2 replica(s))" in result.stdout and "256 global" in result.stdout


def test_unwritable_run_directory_fails_before_training(kerazoo, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = kerazoo("train", "resnet20", "--data", "digits", "--epochs", "1", "--run-dir", blocker / "run")
    assert_usage_error(result, "Cannot write the run directory")


def test_foreign_directory_is_never_overwritten(kerazoo, tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = kerazoo("train", "resnet20", "--data", "digits", "--epochs", "1", "--run-dir", precious)
    assert_usage_error(result, "is not a kerazoo run directory")
    assert [p.name for p in precious.iterdir()] == ["thesis.tex"]
