"""`kerazoo predict`: top-k classes for image files or texts (the logic is
in `kerazoo.prediction`; this adds printing)."""

import click

from kerazoo.cli.output import echo_json, echo_table, format_option


@click.command("predict", short_help="Top-k classes for image files or texts.")
@click.argument("target", metavar="RUN_DIR|MODEL")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("--top-k", "top_k", type=int, default=5, show_default=True,
              help="How many classes to show per input (at most the number of classes).")
@format_option("table", "json")
def predict_command(target, inputs, top_k, output_format):
    """Classify INPUTs with RUN_DIR (or a MODEL .keras file inside a run
    directory).

    \b
    Image models: each INPUT is an image file (JPEG, PNG, BMP, GIF).
    Text models:  each INPUT is a text; quote it.
    @FILE         stands for the lines of FILE, one input per line
                  (image paths relative to FILE's folder).
    @@TEXT        is the text '@TEXT'.
    """
    from kerazoo import prediction

    predictions = prediction.predict(target, list(inputs), top_k=top_k)
    if output_format == "json":
        echo_json([item.to_dict() for item in predictions])
        return
    rows = []
    for item in predictions:
        shown = _shorten(item.input)
        for rank, (label, probability) in enumerate(zip(item.labels, item.probabilities), start=1):
            rows.append({"input": shown if rank == 1 else "", "rank": rank, "label": label, "probability": f"{probability:.4f}"})
    echo_table(rows, [("input", "input"), ("rank", "rank"), ("label", "label"), ("probability", "probability")])


def _shorten(text, width=60):
    """Keep both ends: a path's file name and a text's beginning."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head = (width - 3) // 2
    return text[:head] + "..." + text[-(width - 3 - head):]
