"""Fine-tune kerazoo's `bert_tiny` text classifier on a CSV file, then
evaluate it and predict a few sentences.

    python examples/finetune_text_csv.py                          # writes a small CSV of its own first
    python examples/finetune_text_csv.py --csv reviews.csv --epochs 4

The CSV needs a header with `text` and `label` columns. Without pretrained
weights (nothing is downloaded), the WordPiece vocabulary is trained on your
training split and the encoder starts at random, so the settings below make
the model small (one layer, 32 tokens) and the learning rate higher than the
recipe's fine-tuning rate. Pass --full-size for the recipe as it is.
"""

import argparse
import csv
import pathlib
import random
import sys

# Small enough to train in seconds on a CPU; each is a `--set` key of `kerazoo train`.
SMALL_MODEL = {
    "data.sequence_length": 32,
    "data.vocabulary_size": 300,
    "model.args.num_layers": 1,
    "train.learning_rate": 1.0e-3,
}
POSITIVE = "great wonderful excellent happy loved superb delightful charming moving brilliant".split()
NEGATIVE = "awful terrible boring sad hated dreadful poor dull tedious clumsy".split()
FILLER = "the movie plot actors film story scenes was and it a with very really quite this".split()


def write_example_csv(path, count=600, seed=0):
    """A sentiment CSV whose label is told by a few words among filler."""
    generator = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(count):
            label = generator.choice(["positive", "negative"])
            words = generator.choices(FILLER, k=10) + generator.choices(POSITIVE if label == "positive" else NEGATIVE, k=2)
            generator.shuffle(words)
            writer.writerow([" ".join(words), label])
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fine-tune bert_tiny on a CSV of text,label rows.")
    parser.add_argument("--csv", type=pathlib.Path, help="the CSV file (default: write a small one to ./reviews.csv)")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs (default 4)")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per step (default 16)")
    parser.add_argument("--run-dir", help="the run directory (default: runs/bert_tiny-<hash>)")
    parser.add_argument("--full-size", action="store_true", help="train the recipe as it is, not the small model")
    arguments = parser.parse_args(argv)

    from kerazoo import recipes

    data = arguments.csv
    if data is None:
        data = pathlib.Path("reviews.csv")
        if not data.exists():
            write_example_csv(data)
            print(f"Wrote an example CSV: {data}")
    recipe = recipes.get("bert_tiny")
    if not arguments.full_size:
        recipe = recipe.override(SMALL_MODEL)
    run = recipe.train(data=str(data), epochs=arguments.epochs, batch_size=arguments.batch_size, run_dir=arguments.run_dir)

    evaluation = run.evaluate()
    print(evaluation)
    for row in evaluation.per_class:
        print(f"  {row['class']}: recall {row['recall']:.3f} over {row['support']} examples")
    for prediction in run.predict(["a wonderful and moving film", "the plot was dull and tedious"], top_k=2):
        print(prediction)
    print(f"Run directory: {run.directory}")
    return run


if __name__ == "__main__":
    from kerazoo.errors import KerazooError

    try:
        main()
    except KerazooError as error:  # a message for people, as the kerazoo command prints it
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
