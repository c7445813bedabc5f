"""`kerazoo evaluate`: measure a trained model (the logic is in
`kerazoo.evaluation`; this adds printing)."""

import click

from kerazoo.cli.output import echo_json, echo_table, format_option

# Print the confusion matrix in the table output up to this many classes
# (larger ones are in the JSON file and TensorBoard).
MATRIX_PRINT_LIMIT = 20


@click.command("evaluate", short_help="Loss, accuracy, per-class figures and a confusion matrix.")
@click.argument("target", metavar="RUN_DIR|MODEL")
@click.option(
    "--data",
    help="digits | synthetic | a folder | a .csv file | tfds:NAME. Default: the run's own validation split, "
    "recreated from plan.json. Another source is measured whole (a folder with train/ and val/: its val/).",
)
@format_option("table", "json")
def evaluate_command(target, data, output_format):
    """Evaluate RUN_DIR (or a MODEL .keras file inside a run directory):
    loss, top-1 and top-5 accuracy, per-class precision and recall, and a
    confusion matrix (written to RUN_DIR/evaluation/ and to TensorBoard)."""
    from kerazoo import evaluation as evaluation_module

    evaluation = evaluation_module.evaluate(target, data=data)
    if output_format == "json":
        echo_json(evaluation.to_dict())
        return
    click.echo(f"Evaluated on {evaluation.source}: {evaluation.split}, {evaluation.num_examples} examples")
    for warning in evaluation.warnings:
        click.echo(f"  warning: {warning}")
    click.echo(f"  loss           {evaluation.loss:.4f}")
    if hasattr(evaluation, "perplexity"):  # a language model: no classes to tabulate
        click.echo(f"  perplexity     {evaluation.perplexity:.4g}")
        click.echo(f"  next-token acc {evaluation.accuracy:.4f} over {evaluation.num_tokens} tokens")
        click.echo("")
        click.echo(f"Written: {evaluation.path}")
        click.echo(f"TensorBoard: {evaluation.tensorboard_dir}")
        return
    click.echo(f"  accuracy       {evaluation.accuracy:.4f}")
    if evaluation.top5_accuracy is not None:
        click.echo(f"  top-5 accuracy {evaluation.top5_accuracy:.4f}")
    click.echo("")
    echo_table(
        evaluation.per_class,
        [("class", "class"), ("support", "examples"), ("precision", "precision"), ("recall", "recall"), ("f1", "F1")],
    )
    if len(evaluation.class_names) <= MATRIX_PRINT_LIMIT:
        click.echo("")
        click.echo("Confusion matrix (rows: true class, columns: predicted class)")
        rows = [
            {"class": str(name), **{str(index): count for index, count in enumerate(row)}}
            for name, row in zip(evaluation.class_names, evaluation.confusion_matrix)
        ]
        columns = [("class", "true \\ predicted")] + [(str(index), str(name)) for index, name in enumerate(evaluation.class_names)]
        echo_table(rows, columns)
    click.echo("")
    click.echo(f"Written: {evaluation.path}")
    click.echo(f"TensorBoard: {evaluation.tensorboard_dir}")
