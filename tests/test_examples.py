"""The examples as a user meets them: the notebook runs top to bottom in a
real Jupyter kernel, the text fine-tuning script runs as a script, and the
recipe file inherits from a built-in recipe and plans a run."""

import re
import subprocess
import sys

import pytest

from conftest import REPO, kerazoo_env

EXAMPLES = REPO / "examples"


def outputs_of(notebook):
    """(all text output, MIME types seen) of an executed notebook."""
    texts, kinds = [], set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            kinds.update(output.get("data", {}).keys())
            texts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts), kinds


def test_quickstart_notebook_runs_in_a_real_kernel(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "commit the notebook without outputs"
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell

    text, kinds = outputs_of(notebook)
    assert "'resnet20'" in text  # recipes.list()
    assert "image/png" in kinds, "the learning-curve plot produced no image"
    match = re.search(r"Evaluation\(validation: (\d+) examples, loss [\d.]+, accuracy ([\d.]+)", text)
    assert match, text
    assert int(match.group(1)) == 359 and float(match.group(2)) > 0.5, "the small ResNet should learn the digits"
    assert len(re.findall(r"Prediction\('digit_\d\.png'", text)) == 2
    assert list((tmp_path / "runs").glob("resnet20-*/model.keras")), "the run was not written in the notebook's folder"


def test_text_finetuning_script_trains_evaluates_and_predicts(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "finetune_text_csv.py"), "--epochs", "3"],
        cwd=tmp_path, env=kerazoo_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "reviews.csv").is_file()
    match = re.search(r"Evaluation\(validation: \d+ examples, loss [\d.]+, accuracy ([\d.]+)\)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) >= 0.8, result.stdout
    assert "Prediction('a wonderful and moving film': positive" in result.stdout, result.stdout
    assert list((tmp_path / "runs").glob("bert_tiny-*/vocabulary.txt"))


def test_text_finetuning_script_reads_a_given_csv(tmp_path):
    """--csv with a file of the user's own, checked before any training."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "finetune_text_csv.py"), "--csv", str(tmp_path / "missing.csv")],
        cwd=tmp_path, env=kerazoo_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_own_recipe_inherits_from_resnet20_and_plans_a_run():
    from kerazoo import recipes

    mine = recipes.load(EXAMPLES / "my_resnet.yaml")
    base = recipes.get("resnet20")
    assert mine.name == "my_resnet"
    assert mine.model.args["depth"] == 14 and mine.augment.flip == "none" and mine.training.epochs == 12
    # Inherited, not restated:
    assert mine.model.builder == base.model.builder == "resnet_cifar"
    assert mine.augment.crop_padding == base.augment.crop_padding and mine.training.optimizer == base.training.optimizer
    plan = mine.train(data="digits", dry_run=True, verbose=False)
    assert plan.global_batch_size == 64 and plan.learning_rate == pytest.approx(0.05)
