"""`kerazoo resume`: continue a run from its own recipe, data and options."""

import click


@click.command("resume")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--restart", is_flag=True, help="Discard the run's progress and train it from the start.")
@click.option("--backup-steps", type=int, help="Also write a backup every N steps.")
@click.option("--quiet", is_flag=True, help="Print only the final result.")
def resume_command(run_dir, restart, backup_steps, quiet):
    """Continue the run in RUN_DIR where it stopped (epoch and step).

    Uses the recipe.yaml, data source, seed and options saved in the run
    directory; the result is the same as if it had never stopped.
    """
    from kerazoo import trainer
    from kerazoo.cli.train_command import echo_result

    run = trainer.resume(run_dir, restart=restart, verbose=not quiet, backup_steps=backup_steps)
    if quiet:
        echo_result(run)
