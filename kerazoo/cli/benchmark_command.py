"""`kerazoo benchmark`: how fast a recipe trains or predicts on this machine,
and at what energy per example on NVIDIA GPUs.

Runs on the JAX backend without TensorFlow installed (synthetic data, no
TensorBoard): nothing on this command's import path imports TensorFlow
unless `--data` asks for the tf.data pipeline.
"""

import click

from kerazoo.cli.output import echo_json, format_option
from kerazoo.plan import PRECISIONS, XLA_CHOICES


@click.command("benchmark")
@click.argument("name_or_file")
@click.option("--mode", type=click.Choice(["train", "infer"]), default="train", show_default=True,
              help="Time training steps (forward, backward, update) or inference (forward only).")
@click.option("--batch-size", type=int, help="Examples per step (default: the recipe's batch size).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Numeric precision policy; auto chooses as 'kerazoo train' does.")
@click.option("--xla", type=click.Choice(XLA_CHOICES), default="auto", show_default=True, help="Compile with XLA.")
@click.option("--steps", type=int, default=20, show_default=True, help="Timed steps.")
@click.option("--warmup-steps", type=int, default=5, show_default=True,
              help="Untimed steps after the first (compiling) step.")
@click.option("--data", help="Feed the real input pipeline from this source (as for 'kerazoo train --data') "
                             "instead of a synthetic batch on the device. Needs TensorFlow.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override any recipe key, e.g. --set model.args.depth=56. Repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the weights and the synthetic batch.")
@click.option("--trace-dir", type=click.Path(file_okay=False),
              help="Also record a profiler trace of a few steps after the timed ones into this folder.")
@format_option("table", "json")
def benchmark_command(name_or_file, mode, batch_size, precision, xla, steps, warmup_steps, data, settings, seed,
                      trace_dir, output_format):
    """Measure NAME_OR_FILE's examples/s, step time, memory, FLOP/s and (NVIDIA GPUs) energy.

    \b
    Examples:
      kerazoo benchmark resnet50 --batch-size 128 --precision auto
      kerazoo benchmark bert_tiny --mode infer --format json
      kerazoo benchmark resnet20 --data digits      (the whole input pipeline)
    """
    from kerazoo import recipes
    from kerazoo.cli.train_command import parse_set

    recipe = recipes.resolve(name_or_file).override(parse_set(settings))

    from kerazoo import benchmark

    echo = (lambda line: click.echo(line, err=True)) if output_format == "table" else None
    result = benchmark.run_benchmark(
        recipe, mode=mode, batch_size=batch_size, precision=precision, steps=steps,
        warmup_steps=warmup_steps, data=data, xla=xla, seed=seed, trace_dir=trace_dir, log=echo,
    )
    if output_format == "json":
        echo_json(result.to_dict())
        return
    for line in describe(result):
        click.echo(line)


def describe(result):
    """Lines of the table: each figure with what it means."""
    milliseconds = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
    versions = ", ".join(f"{name} {version}" for name, version in result.versions.items() if version)
    rows = [
        ("mode", f"{result.mode} ({'forward, backward and update' if result.mode == 'train' else 'forward only'})"),
        ("device", f"{result.device}; backend {result.backend}"),
        ("precision", f"{result.precision}  -- {result.precision_reason}"),
        ("XLA", "on" if result.xla else "off"),
        ("batch", f"{result.batch_size} examples per step"),
        ("data", result.data),
        ("build", f"{result.build_seconds:.2f} s (model, optimizer, data)"),
        ("first step", f"{result.first_step_seconds:.2f} s (tracing and compilation included)"),
        ("step time", f"median {milliseconds(result.step_seconds_median)}, p90 {milliseconds(result.step_seconds_p90)} "
                      f"(min {milliseconds(result.step_seconds_min)}, max {milliseconds(result.step_seconds_max)}) "
                      f"over {result.steps} steps after {result.warmup_steps} warm-up steps"),
        ("throughput", f"{result.examples_per_second:,.1f} examples/s"),
    ]
    if result.tokens_per_second is not None:
        rows.append(("tokens", f"{result.tokens_per_second:,.0f} token positions/s (sequence length {result.sequence_length})"))
    rows.append(("parameters", f"{result.parameters:,}"))
    if result.flops_per_example:
        rows.append(("FLOPs", f"{_si(result.flops_per_example)}FLOP per example, forward (2 x multiply-accumulates "
                              "of conv, dense and attention matmuls)"))
        factor = f"{result.flops_multiplier}x forward per example, " if result.flops_multiplier != 1 else ""
        rows.append(("achieved", f"{_si(result.achieved_flops_per_second)}FLOP/s ({factor}x examples/s)"))
    else:
        rows.append(("FLOPs", "not counted"))
    if result.energy_joules:
        parts = [f"{result.examples_per_joule:,.1f} examples per joule", f"{result.energy_joules:,.1f} J over the timed steps"]
        if result.power_watts is not None:
            parts.append(f"mean {result.power_watts:,.0f} W, GPU busy {result.gpu_utilization_percent:.0f}%")
        rows.append(("energy", "; ".join(parts) + " (NVML, first GPU)"))
    if result.peak_memory_bytes is not None:
        rows.append(("peak memory", f"{result.peak_memory_bytes / 2**30:.2f} GiB  -- {result.peak_memory_source}"))
    if versions:
        rows.append(("versions", versions))
    for note in result.notes:
        rows.append(("note", note))
    width = max(len(name) for name, _ in rows)
    yield f"Benchmark of '{result.recipe}'"
    for name, value in rows:
        yield f"  {name:<{width}}  {value}"


def _si(value):
    """1.23e9 -> '1.23 G' (the unit follows)."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}"
    return f"{value:.3g} "
