"""`kerazoo env`: this machine as kerazoo sees it, and what `auto` would pick."""

import click

from kerazoo.cli.output import echo_json, format_option


@click.command("env")
@click.option("--cpu-replicas", type=int, default=None, help="Split the CPU into N logical devices first.")
@format_option("table", "json")
def env_command(cpu_replicas, output_format):
    """Show backend, devices, build versions and the automatic choices."""
    from kerazoo import devices, plan

    info = devices.probe(cpu_replicas)
    precision, precision_reason = plan.choose_precision(info)
    strategy, names, strategy_reason = plan.choose_strategy(info)
    xla, xla_reason = plan.choose_xla(info, strategy, precision)
    data = info.to_dict()
    data["auto"] = {
        "precision": {"value": precision, "reason": precision_reason},
        "strategy": {"value": strategy, "replicas": len(names), "reason": strategy_reason},
        "xla": {"value": xla, "reason": xla_reason},
    }
    if output_format == "json":
        echo_json(data)
        return
    click.echo(f"backend      {info.backend}")
    for key, value in info.versions.items():
        click.echo(f"{key:<12} {value}")
    click.echo(f"CPU cores    {info.cpu_count} ({info.cpu_replicas} logical CPU device(s))")
    if info.accelerators:
        for index, accelerator in enumerate(info.accelerators):
            click.echo(f"device {index:<5} {accelerator.describe()}")
    else:
        click.echo("accelerators none")
    if info.cluster:
        click.echo(f"cluster      {info.cluster}")
    click.echo("")
    click.echo("auto would choose:")
    click.echo(f"  precision  {precision}  -- {precision_reason}")
    click.echo(f"  strategy   {strategy} ({len(names)} replica(s))  -- {strategy_reason}")
    click.echo(f"  XLA        {'on' if xla else 'off'}  -- {xla_reason}")
