"""Printing for commands: tables for people, JSON and YAML for programs.
`--format` always means the format of what a command prints."""

import json

import click


def format_option(*choices, default=None):
    default = default or choices[0]
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Format of the printed output.",
    )


def echo_json(data):
    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(rows, columns):
    """Print dict rows as aligned columns; `columns` is [(key, header)]."""
    cells = [[header for _, header in columns]]
    for row in rows:
        cells.append([_cell(row.get(key)) for key, _ in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for index, line in enumerate(cells):
        click.echo("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
