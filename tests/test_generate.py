"""A causal language model end to end: `kerazoo train gpt2_small` (shrunk)
on a folder of generated text, killed mid-epoch and resumed with its saved
tokenizer; then `kerazoo generate` continues a prompt, `run.generate` and
`evaluate` agree with training's metrics, and `kerazoo predict` points to
`generate`. The text counts up in words ("seven eight nine"), so a model that
learned anything continues a count."""

import hashlib
import json
import signal

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import kerazoo_env, read_json, run_kerazoo
from kerazoo.data.builtin import synthetic_corpus

TINY_LM = [
    "--set", "model.args.num_layers=1", "--set", "model.args.num_heads=2", "--set", "model.args.hidden_dim=64",
    "--set", "model.args.intermediate_dim=128", "--set", "data.sequence_length=32",
    "--set", "data.vocabulary_size=300", "--set", "data.validation_split=0.2",
    # 3e-3 at the run's own batch: the recipe's 6e-4 at 480 sequences would
    # scale to 2e-5 here, too little for 60 steps.
    "--set", "train.reference_batch_size=16", "--set", "train.learning_rate=3e-3", "--set", "train.warmup_epochs=0.2",
]
# 400 lines: 320 for training, 20 steps of 16 per epoch; a backup every 5 steps.
ARGS = ["--epochs", "3", "--batch-size", "16", "--backup-steps", "5", "--no-profile", *TINY_LM]
CRASH_STEP = 27  # epoch 2, step 7: the backup of step 25 is where it resumes


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    """The run, killed once and resumed; returns (run_dir, crash_result,
    resume_result, tokenizer file digests right after the crash)."""
    root = tmp_path_factory.mktemp("language-model")
    corpus = root / "corpus"
    (corpus / "more").mkdir(parents=True)
    lines = synthetic_corpus(400, seed=7)
    (corpus / "part1.txt").write_text("\n".join(lines[:250]) + "\n", encoding="utf-8")
    (corpus / "more" / "part2.txt").write_text("\n\n".join(lines[250:]) + "\n", encoding="utf-8")
    run_dir = root / "run"
    command = ["train", "gpt2_small", "--data", corpus, "--run-dir", run_dir, *ARGS]
    crashed = run_kerazoo(*command, env=kerazoo_env(KERAZOO_CRASH_AT=f"step:{CRASH_STEP}"))
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    digests = {name: digest(run_dir / name) for name in ("vocabulary.json", "merges.txt")}
    resumed = ok(run_kerazoo(*command))
    return run_dir, crashed, resumed, digests


def test_a_killed_language_model_run_resumes_with_its_saved_tokenizer(language_model):
    run_dir, crashed, resumed, digests = language_model
    assert "byte-level BPE vocabulary of" in crashed.stdout  # trained once, at the start
    assert "Resuming 'gpt2_small'" in resumed.stdout and "global step 25" in resumed.stdout, resumed.stdout
    assert "vocabulary of" not in resumed.stdout  # reused, not retrained
    assert {name: digest(run_dir / name) for name in digests} == digests
    assert read_json(run_dir / "status.json")["state"] == "finished"
    history = read_json(run_dir / "history.json")
    assert [epoch["epoch"] for epoch in history] == [1, 2, 3]
    for key in ("loss", "accuracy", "perplexity", "val_loss", "val_accuracy", "val_perplexity"):
        assert np.isfinite(history[-1][key]), key
    assert "Finished: validation loss" in resumed.stdout
    preprocessing = read_json(run_dir / "preprocessing.json")
    assert preprocessing["task"] == "text_generation" and preprocessing["tokenizer"] == "byte_bpe"
    assert read_json(run_dir / "class_names.json") == []
    # The best checkpoint follows val_loss, the language model's monitor.
    assert read_json(run_dir / "plan.json")["data"]["num_train"] == 320
    assert (run_dir / "checkpoints" / "best.weights.h5").is_file()


def test_it_learned_far_above_chance(language_model):
    """300 tokens: chance is 1/300 next-token accuracy and perplexity 300."""
    run_dir = language_model[0]
    last = read_json(run_dir / "history.json")[-1]
    assert last["val_accuracy"] > 0.5 and last["val_perplexity"] < 20, last


def test_generate_command_continues_the_count(language_model):
    from kerazoo.cli.main import cli

    run_dir = language_model[0]
    result = CliRunner().invoke(
        cli, ["generate", str(run_dir), "three four", "twelve", "--top-k", "1", "--max-length", "10", "--format", "json"],
        prog_name="kerazoo",
    )
    assert result.exit_code == 0, result.output
    generations = json.loads(result.output[result.output.index("["):])
    assert [item["prompt"] for item in generations] == ["three four", "twelve"]
    first = generations[0]
    assert first["text"].startswith("three four") and first["num_tokens"] >= 1
    assert first["continuation"].split()[0] == "five", first  # greedy: the count goes on
    assert first["stopped"] in ("end_token", "max_length")


def test_python_generate_and_evaluate_agree_with_training(language_model):
    from kerazoo import evaluation, load_run
    from kerazoo.data import tokenizer

    run_dir = language_model[0]
    run = load_run(run_dir)
    assert run.model.output.dtype == "float32"
    sampled = run.generate(["seven eight", "one"], max_length=8, seed=3)
    assert [item.prompt for item in sampled] == ["seven eight", "one"]
    assert sampled == run.generate(["seven eight", "one"], max_length=8, seed=3)  # seeded: repeatable
    result = evaluation.evaluate(run)
    last = read_json(run_dir / "history.json")[-1]
    # Token-weighted, as the weighted metrics of training were.
    np.testing.assert_allclose(result.accuracy, last["val_accuracy"], rtol=1e-3)
    np.testing.assert_allclose(result.perplexity, last["val_perplexity"], rtol=1e-3)
    np.testing.assert_allclose(result.perplexity, np.exp(result.loss), rtol=1e-9)
    assert read_json(run_dir / "evaluation" / "validation.json")["num_tokens"] == result.num_tokens
    # The saved tokenizer reloads to what training used.
    saved = tokenizer.load(run_dir)
    assert saved.kind == "byte_bpe" and saved.special == tokenizer.GPT2_SPECIAL
    assert len(saved) == run.model.backbone.vocabulary_size


def test_predict_on_a_language_model_says_to_use_generate(language_model):
    from kerazoo.cli.main import cli

    run_dir = language_model[0]
    result = CliRunner().invoke(cli, ["predict", str(run_dir), "three four"], prog_name="kerazoo")
    assert result.exit_code == 2, result.output
    assert "kerazoo generate" in result.output and "Traceback" not in result.output
