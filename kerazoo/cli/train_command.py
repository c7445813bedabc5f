"""`kerazoo train`: train a recipe; every choice has a sensible default."""

import click

from kerazoo.errors import UsageError
from kerazoo.plan import PRECISIONS, STRATEGIES, XLA_CHOICES


def parse_set(values):
    """`--set a.b=v` pairs into {"a.b": parsed v}."""
    from kerazoo import yaml_io

    overrides = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set needs KEY=VALUE, such as --set train.epochs=3; got '{item}'.")
        overrides[key.strip()] = yaml_io.parse_value(value)
    return overrides


def parse_profile_batches(text):
    try:
        first, last = (int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--profile-batches needs FIRST,LAST step numbers such as 10,14; got '{text}'.") from None
    return first, last


@click.command("train")
@click.argument("name_or_file")
@click.option("--data", help="digits | synthetic | a folder | a .csv file | tfds:NAME. Default: the recipe's dataset.")
@click.option("--epochs", type=int, help="Override train.epochs.")
@click.option("--steps-per-epoch", type=int, help="Override the steps per epoch (default: one pass over the data).")
@click.option("--batch-size", type=int, help="Per-replica batch size; the global batch is this times the replicas.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True, help="Numeric precision policy.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="auto", show_default=True, help="Distribution strategy.")
@click.option("--xla", type=click.Choice(XLA_CHOICES), default="auto", show_default=True, help="Compile with XLA.")
@click.option("--cpu-replicas", type=int, help="Split the CPU into N logical devices (multi-replica training without a GPU).")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Run directory (default: runs/<recipe>-<hash>).")
@click.option("--profile-batches", help="Profile global steps FIRST,LAST (default: a short window after start-up).")
@click.option("--no-profile", is_flag=True, help="Do not record a profiler trace.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Override any recipe key, e.g. --set train.learning_rate=0.05. Repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the split, the order of examples, augmentation and weights.")
@click.option("--restart", is_flag=True, help="Discard an unfinished (or finished) run's progress and train it from the start.")
@click.option("--skip-corrupt", is_flag=True, help="Leave out files that cannot be read (each is logged) instead of stopping.")
@click.option("--backup-steps", type=int, help="Also write a backup every N steps (default: by time and at every epoch end).")
@click.option("--backup-minutes", type=float, default=5.0, show_default=True, help="Write a backup when this long passed since the last (0: off).")
@click.option("--keep-checkpoints", type=int, default=3, show_default=True, help="Per-epoch weight checkpoints to keep (plus the best).")
@click.option("--pretrained", metavar="NAME_OR_PATH", help="Start from pretrained weights: 'imagenet' or a weights file (keras.applications recipes), a keras-hub preset name or local preset directory (keras-hub recipes).")
@click.option("--grad-accum", "gradient_accumulation", type=int, default=1, show_default=True, help="Apply the optimizer every N batches (an N times larger effective batch; the learning rate scales with it).")
@click.option("--deterministic", is_flag=True, help="Deterministic ops (slower), so reruns and resumes match bit for bit where the backend allows.")
@click.option("--dry-run", is_flag=True, help="Print the plan and exit without training.")
@click.option("--quiet", is_flag=True, help="Print only the final result.")
def train_command(name_or_file, data, epochs, steps_per_epoch, batch_size, precision, strategy, xla, cpu_replicas,
                  run_dir, profile_batches, no_profile, settings, seed, restart, skip_corrupt, backup_steps,
                  backup_minutes, keep_checkpoints, pretrained, gradient_accumulation, deterministic, dry_run, quiet):
    """Train NAME_OR_FILE (a built-in recipe name or a .yaml file).

    The same command continues an unfinished run where it stopped.
    """
    from kerazoo import recipes

    if profile_batches and no_profile:
        raise UsageError("Use either --profile-batches or --no-profile, not both.")
    for flag, value in (("--epochs", epochs), ("--steps-per-epoch", steps_per_epoch), ("--batch-size", batch_size),
                        ("--backup-steps", backup_steps), ("--keep-checkpoints", keep_checkpoints),
                        ("--grad-accum", gradient_accumulation)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be 1 or more, got {value}.")
    if backup_minutes < 0:
        raise UsageError(f"--backup-minutes must be 0 (off) or more, got {backup_minutes}.")
    profile = False if no_profile else (parse_profile_batches(profile_batches) if profile_batches else "auto")
    recipe = recipes.resolve(name_or_file)

    from kerazoo import trainer

    result = trainer.train(
        recipe,
        data=data,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        batch_size=batch_size,
        precision=precision,
        strategy=strategy,
        xla=xla,
        cpu_replicas=cpu_replicas,
        run_dir=run_dir,
        profile_batches=profile,
        seed=seed,
        overrides=parse_set(settings),
        restart=restart,
        skip_corrupt=skip_corrupt,
        backup_steps=backup_steps,
        backup_minutes=backup_minutes,
        keep_checkpoints=keep_checkpoints,
        pretrained=pretrained,
        gradient_accumulation=gradient_accumulation,
        deterministic=deterministic,
        dry_run=dry_run,
        verbose=not quiet,
    )
    if quiet and not dry_run:
        echo_result(result)


def echo_result(run):
    accuracy = run.metric("val_accuracy")
    if isinstance(accuracy, float):
        click.echo(f"validation accuracy {accuracy:.4f} ({run.directory})")
