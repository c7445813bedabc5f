"""`kerazoo list`: the recipe catalogue, from recipe cards and the generated
catalogue file (no model is built and nothing heavy is imported)."""

import click

from kerazoo.cli.output import echo_json, echo_table, format_option
from kerazoo.recipes import TASKS

COLUMNS = [
    ("name", "name"),
    ("task", "task"),
    ("model", "model"),
    ("input", "input"),
    ("params_m", "params (M)"),
    ("gflops", "GFLOPs"),
    ("accuracy", "reported acc."),
    ("accuracy_dataset", "on"),
]


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--task", type=click.Choice(list(TASKS)), help="Only recipes of this task.")
@format_option("table", "json")
def list_command(pattern, task, output_format):
    """List recipes, optionally matching PATTERN (e.g. 'resnet*')."""
    from kerazoo import recipes

    rows = recipes.summaries(pattern, task)
    if output_format == "json":
        echo_json(rows)
        return
    if not rows:
        click.echo(f"No recipe matches '{pattern}'." if pattern else "No recipes.")
        return
    echo_table(rows, COLUMNS)
