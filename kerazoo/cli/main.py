"""The root `kerazoo` group.

Subcommands are imported only when run, so `kerazoo --help`, `list` and
`info` start without TensorFlow or Keras. A `KerazooError` becomes its
message and exit code; anything else is our bug and keeps its traceback.
"""

import importlib
import sys

import click

from kerazoo import __version__
from kerazoo.errors import KerazooError

COMMANDS = {
    "list": "kerazoo.cli.list_command:list_command",
    "info": "kerazoo.cli.info_command:info_command",
    "env": "kerazoo.cli.env_command:env_command",
    "train": "kerazoo.cli.train_command:train_command",
    "resume": "kerazoo.cli.resume_command:resume_command",
    "evaluate": "kerazoo.cli.evaluate_command:evaluate_command",
    "predict": "kerazoo.cli.predict_command:predict_command",
    "generate": "kerazoo.cli.generate_command:generate_command",
    "export": "kerazoo.cli.export_command:export_command",
    "benchmark": "kerazoo.cli.benchmark_command:benchmark_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and name not in COMMANDS and not name.startswith("-"):
            from kerazoo.errors import did_you_mean

            raise click.UsageError(f"No such command '{name}'.{did_you_mean(name, COMMANDS)} Run 'kerazoo --help'.", ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KerazooError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kerazoo")
def cli():
    """kerazoo: complete Keras 3 training recipes that pick precision,
    strategy and profiling by themselves.

    \b
    Start here:
      kerazoo list                       every recipe, with its card
      kerazoo train resnet20 --data digits --epochs 8
    """


def main():
    cli(prog_name="kerazoo")


if __name__ == "__main__":
    sys.exit(main())
