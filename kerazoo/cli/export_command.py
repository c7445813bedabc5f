"""`kerazoo export`: a trained model in another format, checked against the
Keras model (the logic is in `kerazoo.export`; this adds printing)."""

import click

from kerazoo.cli.output import echo_json, format_option
from kerazoo.export import FORMATS  # a light module: TensorFlow loads only when exporting


@click.command("export", short_help="Export to keras, saved_model or ONNX, with a parity check.")
@click.argument("target", metavar="RUN_DIR")
@click.option("--to", "to", type=click.Choice(FORMATS), required=True, help="The format to export to.")
@click.option("--out", type=click.Path(), help="The export folder to create (must not exist). Default: RUN_DIR/exports/<format>.")
@click.option("--tolerance", type=float, help="Largest absolute logit difference accepted by the parity check "
              "(default 1e-3; 5e-2 for mixed-precision models).")
@format_option("table", "json")
def export_command(target, to, out, tolerance, output_format):
    """Export RUN_DIR's model with Keras's own save/export, then run the
    artifact through its own runtime on a sample batch and fail (exit 1) if
    its logits differ from the Keras model's by more than the tolerance.
    Class names, preprocessing and a README are written beside it."""
    from kerazoo import export as export_module

    result = export_module.export(target, to, out=out, tolerance=tolerance)
    if output_format == "json":
        echo_json(result.to_dict())
        return
    click.echo(f"Exported {to}: {result.artifact}")
    click.echo(
        f"  parity   largest logit difference {result.max_abs_difference:.3g} on {result.sample_size} sample "
        f"inputs through {result.runtime} (tolerance {result.tolerance:g})"
    )
    for note in result.notes:
        click.echo(f"  note     {note}")
    click.echo(f"  usage    {result.path}/README.md (inputs, preprocessing, loading)")
