"""The text catalogue: every text recipe, shrunk, learns one fixed batch;
language models keep float32 logits under mixed_bfloat16 and survive a save;
tokenizers trained offline reload to the same ids; a from-scratch encoder
learns a generated task far above chance. All in process, nothing downloads."""

import json

import keras
import numpy as np
import pytest

from kerazoo import recipes, schema
from kerazoo.data import tokenizer as tokenizers
from kerazoo.data.builtin import NUMBER_WORDS
from kerazoo.errors import UsageError

TEXT_RECIPES = [name for name in recipes.list() if recipes.get(name).task in ("text", "text_generation")]
# Every text recipe at test size: the layout of the recipe, the size of a toy.
TINY = {
    "data.sequence_length": 16,
    "data.vocabulary_size": 300,  # byte-level BPE needs 262 or more
    "model.args.num_layers": 1,
    "model.args.num_heads": 2,
    "model.args.hidden_dim": 32,
    "model.args.intermediate_dim": 64,
    "model.args.dropout": 0.0,
}
BATCH = 8


def tiny(name):
    recipe = recipes.get(name)
    overrides = dict(TINY)
    if recipe.task == "text":
        overrides["model.dropout"] = 0.0
    return recipe.override(overrides)


def fixed_batch(recipe, model, rng):
    """One batch of random token ids shaped as the model's inputs, with a
    padded tail, and targets for its task."""
    length, vocabulary = recipe.data.sequence_length, recipe.data.vocabulary_size
    token_ids = rng.integers(5, vocabulary, (BATCH, length)).astype("int32")
    mask = np.ones((BATCH, length), "int32")
    mask[:, length - 4:] = 0  # the last 4 positions are padding
    values = {"token_ids": token_ids, "padding_mask": mask, "segment_ids": np.zeros_like(token_ids)}
    inputs = {tensor.name: values[tensor.name] for tensor in model.inputs}
    if recipe.task == "text_generation":
        targets = np.roll(token_ids, -1, axis=1)
        return inputs, targets, mask.astype("float32")
    return inputs, keras.utils.to_categorical(np.arange(BATCH) % 2, 2), None


@pytest.mark.parametrize("name", TEXT_RECIPES)
def test_every_text_recipe_overfits_one_fixed_batch(name):
    """Built at test size, with dropout off, 20 steps on one batch bring the
    loss below 0.7 x the first; logits are float32 of the task's shape."""
    from kerazoo import tasks

    recipe = tiny(name)
    keras.utils.set_random_seed(0)
    model = recipe.build_model(num_classes=2)
    inputs, targets, weights = fixed_batch(recipe, model, np.random.default_rng(0))
    arguments = tasks.for_recipe(recipe).compile_arguments(recipe, num_classes=2)
    # 1e-2: a language model memorises 8 x 12 random next tokens within 20 steps
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **arguments)
    losses = [float(model.train_on_batch(inputs, targets, sample_weight=weights, return_dict=True)["loss"])
              for _ in range(20)]
    assert np.isfinite(losses).all(), losses
    assert losses[-1] < 0.7 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    logits = model(inputs, training=False)
    assert keras.ops.convert_to_numpy(logits).dtype == np.float32
    expected = (BATCH, 16, recipe.data.vocabulary_size) if recipe.task == "text_generation" else (BATCH, 2)
    assert tuple(logits.shape) == expected


def test_language_model_logits_are_float32_under_mixed_bfloat16_and_survive_a_save(tmp_path):
    from kerazoo.models import all_layers
    from kerazoo.models.causal_lm import TiedEmbeddingLogits

    recipe = tiny("gpt2_small")
    model = recipe.build_model(precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert model.output.dtype == "float32"
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in all_layers(model))
    head = model.get_layer("logits")
    assert isinstance(head, TiedEmbeddingLogits) and head.dtype_policy.name == "float32"
    # Weight tying: the head owns no weights, GPT-2's count has no output matrix.
    assert model.count_params() == model.backbone.count_params()
    inputs, _, _ = fixed_batch(recipe, model, np.random.default_rng(1))
    logits = keras.ops.convert_to_numpy(model(inputs, training=False))
    assert logits.dtype == np.float32 and np.isfinite(logits).all()
    # The logits are the bfloat16 hidden states times the float32 embedding
    # matrix, multiplied in float32 (not rounded to bfloat16 afterwards).
    hidden = keras.ops.convert_to_numpy(keras.ops.cast(model.backbone(inputs), "float32"))
    embeddings = keras.ops.convert_to_numpy(model.backbone.token_embedding.embeddings)
    np.testing.assert_allclose(logits, hidden @ embeddings.T, rtol=1e-4, atol=1e-4)
    model.save(tmp_path / "lm.keras")
    loaded = keras.saving.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs, training=False)), logits, rtol=1e-5, atol=1e-5)
    assert loaded.get_layer("logits").embedding is loaded.backbone.token_embedding  # still tied


TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Über café naïve, 123 numbers and punctuation!",
    "the the the quick quick brown",
] * 20


@pytest.mark.parametrize("kind, task", [("wordpiece", "text"), ("byte_bpe", "text"), ("byte_bpe", "text_generation")])
def test_a_trained_tokenizer_saves_and_reloads_to_the_same_ids(tmp_path, kind, task):
    special = tokenizers.special_tokens(kind, task)
    trained = tokenizers.train(kind, TEXTS, 300, lowercase=kind == "wordpiece", special=special)
    assert list(trained.vocabulary[:len(special.reserved)]) == list(special.reserved)
    written = trained.save(tmp_path)
    assert sorted(path.name for path in written) == sorted(trained.files)
    # Equal tokenizers give equal ids: the preprocessor is a function of these fields.
    assert tokenizers.load(tmp_path, trained.record()) == trained
    if kind == "wordpiece":  # byte-level BPE is packed in the next test (tracing it takes seconds)
        packed = tokenizers.TextPreprocessor(trained, 24)(TEXTS[:3])
        assert sorted(packed) == ["padding_mask", "segment_ids", "token_ids"]
        ids = packed["token_ids"].numpy()
        assert ids.shape == (3, 24) and (ids[:, 0] == trained.token_id("[CLS]")).all()


def test_byte_bpe_ids_match_the_tokenizers_package_and_decode_exactly(tmp_path):
    """keras-hub applies the merges the `tokenizers` package learned exactly
    as that package does (GPT-2's pre-tokenization on both sides), and byte
    level BPE gives back any text, even one with unseen characters."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    trained = tokenizers.train("byte_bpe", TEXTS, 300, lowercase=False, special=tokenizers.ROBERTA_SPECIAL)
    reference = Tokenizer(models.BPE(
        vocab={token: index for index, token in enumerate(trained.vocabulary)},
        merges=[tuple(merge.split(" ")) for merge in trained.merges],
    ))
    reference.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    preprocessor = tokenizers.TextPreprocessor(trained, 64, ("token_ids", "padding_mask"))
    texts = [*TEXTS[:3], "Unseen: ✓ 日本 and\nnew lines, it's 2024"]
    packed = preprocessor(texts)
    for row, mask, text in zip(packed["token_ids"].numpy(), packed["padding_mask"].numpy(), texts):
        ids = reference.encode(text).ids
        assert preprocessor.encode(text) == ids, text
        # <s> text </s> then <pad>, and the mask covers exactly the real tokens
        assert row[:len(ids) + 2].tolist() == [0, *ids, 2] and (row[len(ids) + 2:] == 1).all()
        assert mask.sum() == len(ids) + 2
        assert preprocessor.decode(ids) == text
    # Training is deterministic: the same texts give the same tokenizer.
    assert tokenizers.train("byte_bpe", TEXTS, 300, lowercase=False, special=tokenizers.ROBERTA_SPECIAL) == trained


def test_text_generation_recipes_default_to_val_loss_and_need_a_shape(tmp_path):
    assert recipes.get("gpt2_small").training.monitor == "val_loss"
    assert recipes.get("bert_tiny").training.monitor == "val_accuracy"
    assert recipes.get("roberta_base").data.tokenizer == "byte_bpe"
    assert recipes.get("bert_tiny").data.tokenizer == "wordpiece"  # the default
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: gpt2_small\ntrain:\n  epochs: 1\n")
    assert recipes.load(mine).training.monitor == "val_loss" and recipes.load(mine).task == "text_generation"
    with pytest.raises(UsageError, match="Did you mean 'byte_bpe'"):
        recipes.get("roberta_base").override({"data.tokenizer": "byte_pbe"})
    with pytest.raises(UsageError, match="256 byte symbols"):
        recipes.get("roberta_base").override({"data.vocabulary_size": 200})
    with pytest.raises(UsageError, match="sequence_length"):
        schema.parse_recipe_dict({"model": {"builder": "gpt2"}, "train": {"epochs": 1, "learning_rate": 1.0},
                                  "card": {"task": "text_generation"}}, "x.yaml")
    with pytest.raises(UsageError, match="builds text_generation models, but card.task is 'text'"):
        recipes.get("bert_tiny").override({"model.builder": "gpt2"})


def test_language_model_data_reads_folders_csv_text_and_synthetic(tmp_path):
    from kerazoo import tasks
    from kerazoo.data import read_examples

    recipe = tiny("gpt2_small")
    task = tasks.for_recipe(recipe)
    (tmp_path / "corpus" / "deep").mkdir(parents=True)
    (tmp_path / "corpus" / "a.txt").write_text("one two three\n\nfour five\n", encoding="utf-8")
    (tmp_path / "corpus" / "deep" / "b.txt").write_text("six seven\n", encoding="utf-8")
    (tmp_path / "texts.csv").write_text("text,label\nhello world,x\n\"a, b\",y\nthird row,z\n", encoding="utf-8")
    folder = read_examples(task.parse_source(str(tmp_path / "corpus"), recipe), recipe, seed=0)
    assert sorted([*folder.train.inputs, *folder.validation.inputs]) == ["four five", "one two three", "six seven"]
    assert folder.class_names == [] and len(folder.validation) >= 1
    source = task.parse_source(str(tmp_path / "texts.csv"), recipe)  # a classifier's CSV needs labels
    assert source.kind == "csv"
    table = read_examples(source, recipe, seed=0)
    assert sorted([*table.train.inputs, *table.validation.inputs]) == ["a, b", "hello world", "third row"]
    synthetic = read_examples(task.parse_source("synthetic", recipe), recipe, seed=0, global_batch_size=4)
    assert len(synthetic.train) == 32 and len(synthetic.validation) == 8
    for text in synthetic.train.inputs:  # each counts up, word by word
        positions = [NUMBER_WORDS.index(word) for word in text.split()]
        assert positions == list(range(positions[0], positions[0] + len(positions))), text
    with pytest.raises(UsageError, match="language model"):
        read_examples(task.parse_source("tfds:imdb_reviews", recipe), recipe, seed=0)


def test_predict_refuses_a_language_model_and_generate_refuses_a_classifier(tmp_path):
    from kerazoo import generation, prediction, rundir

    for task, name in (("text_generation", "lm"), ("text", "classifier")):
        folder = tmp_path / name
        folder.mkdir()
        directory = rundir.RunDirectory(folder)
        directory.write_text(rundir.RECIPE_FILE, recipes.get("gpt2_small" if name == "lm" else "bert_tiny").to_yaml())
        directory.write_json(rundir.CLASS_NAMES_FILE, [])
        directory.write_json(rundir.PREPROCESSING_FILE, {"task": task, "sequence_length": 16})
        (folder / rundir.MODEL_FILE).write_text("not read")
    with pytest.raises(UsageError, match="kerazoo generate"):
        prediction.predict(tmp_path / "lm", ["a text"])
    with pytest.raises(UsageError, match="not a language model.*kerazoo predict"):
        generation.generate(tmp_path / "classifier", "a text")
    with pytest.raises(UsageError, match="top_k"):
        generation.generate(tmp_path / "lm", "a text", top_k=0)


def test_from_scratch_encoder_learns_a_generated_task_far_above_chance(tmp_path):
    """The transformer_encoder recipe, narrowed (one block of width 32, 32
    tokens), on four classes of synthetic text whose marker words differ:
    chance is 0.25; it must reach 0.9 in 3 short epochs."""
    recipe = recipes.get("transformer_encoder").override({
        "data.sequence_length": 32, "data.vocabulary_size": 400, "data.num_classes": 4,
        "model.args.hidden_dim": 32, "model.args.intermediate_dim": 64,
        "train.learning_rate": 3e-3, "train.epochs": 3,
    })
    run = recipe.train(data="synthetic", batch_size=16, run_dir=tmp_path / "run", verbose=False)
    accuracy = run.history.history["val_accuracy"][-1]
    assert accuracy >= 0.9, run.history.history


def test_byte_bpe_classifier_trains_end_to_end_and_predicts(kerazoo, tmp_path, csv_file):
    """`kerazoo train roberta_base` (shrunk) on a CSV: a byte-level BPE
    tokenizer trained offline and saved beside the model; `kerazoo predict`
    rebuilds it and answers with the run's classes."""
    from click.testing import CliRunner

    from conftest import read_json
    from kerazoo.cli.main import cli

    run = tmp_path / "run"
    result = kerazoo(
        "train", "roberta_base", "--data", csv_file, "--epochs", "1", "--batch-size", "16", "--run-dir", run,
        "--no-profile", *[item for key, value in TINY.items() for item in ("--set", f"{key}={value}")],
        "--set", "data.vocabulary_size=400",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "byte-level BPE vocabulary of" in result.stdout
    assert "ran out of data" not in result.stderr  # Keras knows the validation set's length
    assert {"vocabulary.json", "merges.txt"} <= {path.name for path in run.iterdir()}
    assert not (run / "vocabulary.txt").exists()
    preprocessing = read_json(run / "preprocessing.json")
    assert preprocessing["tokenizer"] == "byte_bpe" and preprocessing["inputs"] == ["token_ids", "padding_mask"]
    assert preprocessing["start_token"] == "<s>" and preprocessing["lowercase"] is False
    predicted = CliRunner().invoke(
        cli, ["predict", str(run), "a wonderful film", "an awful plot", "--format", "json"], prog_name="kerazoo"
    )
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(predicted.output[predicted.output.index("["):])
    assert [row["input"] for row in rows] == ["a wonderful film", "an awful plot"]
    for row in rows:
        assert sorted(item["label"] for item in row["predictions"]) == ["negative", "positive"]
        assert abs(sum(item["probability"] for item in row["predictions"]) - 1) < 1e-5
