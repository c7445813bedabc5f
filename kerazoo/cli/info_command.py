"""`kerazoo info`: one recipe, fully resolved, with its card."""

import click

from kerazoo.cli.output import echo_json, format_option


@click.command("info")
@click.argument("name_or_file")
@format_option("yaml", "json")
def info_command(name_or_file, output_format):
    """Show the resolved recipe NAME_OR_FILE (a built-in name or a .yaml file)."""
    from kerazoo import catalog, recipes, yaml_io

    recipe = recipes.resolve(name_or_file)
    summary = catalog.summary(recipe)
    if output_format == "json":
        echo_json({"recipe": recipe.to_dict(), "source": recipe.source, "catalog": summary})
        return
    click.echo(f"# {recipe.name}: {recipe.card.description}".rstrip(": "))
    click.echo(f"# source: {recipe.source}")
    if summary.get("params_built") is not None:
        click.echo(f"# built: {summary['params_built']:,} parameters, {summary['gflops']} GFLOPs per example")
    click.echo(yaml_io.dump(recipe.to_dict()), nl=False)
