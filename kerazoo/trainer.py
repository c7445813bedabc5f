"""One training run, from a resolved recipe to a finished run directory.

recipe -> plan -> data -> model -> fit -> run directory. Each step reads
what the one before produced; the plan is computed once and passed on.

A run that stops early (crash, SIGTERM, Ctrl-C) leaves a backup; the same
command later continues it at the step where it stopped (see `backup`).
"""

import contextlib
import os
import platform
import shutil
import tempfile

from kerazoo import devices as devices_module
from kerazoo import rundir, tasks
from kerazoo.backup import BackupStore
from kerazoo.data import read_examples
from kerazoo.errors import Interrupted, TrainingDiverged, UsageError, is_out_of_device_memory
from kerazoo.plan import make_plan
from kerazoo.run import Run, load_run
from kerazoo.runlog import RunLog

BACKUP_DIR = "backup"
# Files of a run that --restart clears (the run directory itself stays).
RUN_OUTPUTS = (
    BACKUP_DIR, rundir.CHECKPOINT_DIR, rundir.TENSORBOARD_DIR, rundir.HISTORY_FILE,
    rundir.MODEL_FILE, rundir.STATUS_FILE,
)


def train(
    recipe,
    data=None,
    *,
    epochs=None,
    steps_per_epoch=None,
    batch_size=None,
    precision="auto",
    strategy="auto",
    xla="auto",
    cpu_replicas=None,
    run_dir=None,
    profile_batches="auto",
    seed=0,
    overrides=None,
    restart=False,
    skip_corrupt=False,
    backup_steps=None,
    backup_minutes=5.0,
    keep_checkpoints=3,
    deterministic=False,
    gradient_accumulation=1,
    pretrained=None,
    dry_run=False,
    verbose=True,
):
    """Train `recipe`; see `Recipe.train` and `kerazoo train --help`.

    Returns:
        The finished `Run` (for `dry_run`, the `Plan` instead).
    """
    log = RunLog(echo=verbose)
    if pretrained is not None:
        overrides = {**(overrides or {}), "model.pretrained": pretrained}
    recipe = _apply_options(recipe, overrides, epochs, steps_per_epoch, batch_size)
    source = tasks.for_recipe(recipe).parse_source(data, recipe)
    directory = rundir.RunDirectory(run_dir or rundir.default_path(recipe, source, seed))
    state = directory.state
    if state == "foreign":
        raise UsageError(
            f"'{directory.path}' exists and is not a kerazoo run directory; kerazoo will not write "
            "into it. Pass another --run-dir."
        )
    if state == rundir.FINISHED and not restart and not dry_run:
        return _finished_run(directory, log)
    resuming = state not in (rundir.NEW, rundir.FINISHED) and not restart

    requested = {
        "precision": precision, "strategy": strategy, "xla": xla, "cpu_replicas": cpu_replicas,
        "profile_batches": list(profile_batches) if isinstance(profile_batches, tuple) else profile_batches,
        "skip_corrupt": skip_corrupt, "deterministic": deterministic,
        "gradient_accumulation": gradient_accumulation,
    }
    info = devices_module.probe(cpu_replicas)
    devices_module.import_tensorflow()  # the input pipeline is tf.data on every backend
    plan = make_plan(recipe, info, precision=precision, strategy=strategy, xla=xla, profile=profile_batches,
                     gradient_accumulation=gradient_accumulation)
    examples = read_examples(source, recipe, seed, plan.global_batch_size, skip_corrupt=skip_corrupt, log=log)
    plan = plan.with_data(recipe, len(examples.train))
    if dry_run:
        log.info(f"Plan for '{recipe.name}' on {source} (dry run, nothing trained):\n{plan.describe()}")
        log.info(f"Run directory would be: {directory.path}" + (" (an unfinished run: it would resume)" if resuming else ""))
        return plan
    if resuming:
        _check_resumable(directory, recipe, plan, examples)

    # Every worker resumes from the chief's backup (a shared file system).
    reader = BackupStore(directory / BACKUP_DIR)
    saved = reader.load() if resuming else None
    for note in reader.fallback_notes:
        log.warning(note)
    # Only the chief writes the run directory; other workers write to a
    # private temporary folder that is removed at the end.
    writer = directory if plan.is_chief else rundir.RunDirectory(tempfile.mkdtemp(prefix="kerazoo-worker-"))
    try:
        writer.create()
        with writer.lock():
            if plan.is_chief:
                if restart or (resuming and saved is None):
                    _clear_outputs(directory)
                log.open(directory / rundir.LOG_FILE)
                directory.set_status(rundir.RUNNING)
            return _run(recipe, source, examples, plan, info, directory, writer, seed, log, requested, resuming,
                        saved, backup_steps, backup_minutes, keep_checkpoints, deterministic)
    finally:
        log.close()
        if writer is not directory:
            shutil.rmtree(writer.path, ignore_errors=True)


def resume(run_dir, *, restart=False, verbose=True, **changes):
    """Continue the run in `run_dir` with the recipe, data and options it was started with."""
    from kerazoo import recipes
    from kerazoo.data.sources import Source

    directory = rundir.RunDirectory(run_dir)
    if not (directory / rundir.RECIPE_FILE).exists() or not (directory / rundir.PLAN_FILE).exists():
        raise UsageError(
            f"'{run_dir}' is not a kerazoo run directory that can be resumed (it needs recipe.yaml and plan.json)."
        )
    recipe = recipes.load(directory / rundir.RECIPE_FILE)
    record = directory.read_json(rundir.PLAN_FILE)
    options = dict(record.get("requested", {}))
    if isinstance(options.get("profile_batches"), list):
        options["profile_batches"] = tuple(options["profile_batches"])
    options.update({key: value for key, value in changes.items() if value is not None})
    data = Source.from_identity(record["data"]["source"]).as_argument()
    return train(recipe, data=data, seed=record["seed"], run_dir=directory.path, restart=restart, verbose=verbose, **options)


def _run(recipe, source, examples, plan, info, directory, writer, seed, log, requested, resuming, saved,
         backup_steps, backup_minutes, keep_checkpoints, deterministic):
    import keras

    from kerazoo import augment, data, finetune, keras_compat, models, signals, tensorboard_events
    from kerazoo.callbacks import run_callbacks
    from kerazoo.callbacks.backup import StopForSignal
    from kerazoo.callbacks.nan_guard import Diverged
    from kerazoo.callbacks.progress import Progress
    from kerazoo.callbacks.tensorboard import flatten_hparams, write_hparams
    from kerazoo.distribute import Distribution
    from kerazoo.models.training_model import compile_for_training

    keras.utils.set_random_seed(seed)
    if deterministic:
        _enable_determinism()
    store = BackupStore(writer / BACKUP_DIR)
    meta, arrays = saved if saved else ({}, None)
    progress = Progress(plan.steps_per_epoch, meta.get("epoch", 0), meta.get("step_in_epoch", 0), meta.get("global_step", 0))

    if saved and progress.epoch >= plan.epochs:
        log.info(f"Run {directory.path} trained all {plan.epochs} epoch(s) but stopped before saving the model; saving it now.")
    elif saved:
        log.info(f"Resuming '{recipe.name}' in {directory.path} at epoch {progress.epoch + 1}, "
                 f"step {progress.step_in_epoch} of {plan.steps_per_epoch} (global step {progress.global_step}).")
    elif resuming:
        log.info(f"Run {directory.path} stopped before its first backup; starting it over.")
    else:
        log.info(f"Training '{recipe.name}' on {source} -> {directory.path}")
    log.info(plan.describe())
    task = tasks.for_recipe(recipe)
    # A resumed run keeps the tokenizer it started with: ids must not move.
    tokenizer = task.saved_tokenizer(directory.path) if saved else None
    datasets = data.load(source, recipe, plan, seed, examples=examples, start_step=progress.global_step, tokenizer=tokenizer)
    for note in datasets.notes:
        log.info(f"  data: {note}")
    if plan.is_chief:
        directory.write_text(rundir.RECIPE_FILE, recipe.to_yaml())
        directory.write_json(rundir.PLAN_FILE, _plan_record(plan, info, datasets, directory, seed, source, requested))
        task.save_artifacts(directory, recipe, datasets)
        if saved:
            dropped = tensorboard_events.truncate(directory / rundir.TENSORBOARD_DIR, progress.epoch, progress.global_step)
            if dropped:
                log.write(f"removed {dropped} TensorBoard event(s) written after the backup")

    all_phases = finetune.phases(recipe, plan)
    phase = finetune.phase_at(all_phases, progress.epoch)
    if len(all_phases) > 1:
        for each in all_phases:
            log.info(f"  phase {each.index + 1}: {each.describe()}")
    distribution = Distribution(plan)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(plan.precision)
    try:
        with distribution.scope():
            classifier = models.build_classifier(
                recipe,
                num_classes=datasets.num_classes,
                vocabulary_size=len(datasets.vocabulary) if datasets.vocabulary else None,
                batchnorm_momentum=plan.batchnorm_momentum,
            )
            model = compile_for_training(
                classifier, recipe, plan, datasets.num_classes, plan.steps_per_epoch, seed,
                phase if len(all_phases) > 1 else None,
            )
        if plan.strategy == "multi_worker":
            keras_compat.patch_multi_worker_log_reduction()
        keras_compat.build_before_fit(model, datasets.train.element_spec, plan.global_batch_size, distribution.strategy)
        restore_metrics = None
        if saved:
            from kerazoo import training_state

            # A backup from the previous fine-tuning phase holds that phase's
            # optimizer: the weights carry over, the new phase's optimizer starts fresh.
            same_phase = meta.get("phase", 0) == phase.index
            training_state.restore(model, arrays, meta["variables"], ("model", "optimizer") if same_phase else ("model",))
            if progress.step_in_epoch:
                restore_metrics = (arrays, meta["variables"])
        log.info(
            f"  model: {classifier.count_params():,} parameters; augmentation: "
            f"{augment.describe(recipe.augment) if recipe.task == 'image' else 'none'}"
        )
        if plan.is_chief and not saved:
            write_hparams(directory / rundir.TENSORBOARD_DIR, flatten_hparams(recipe, plan), directory.path.name)

        with signals.graceful_stop() as stop_request:
            callbacks = run_callbacks(
                writer, plan, recipe, progress, log, store,
                history=meta.get("history", []),
                best=meta.get("best", {}),
                fingerprints=_fingerprints(recipe, plan, datasets),
                stop_request=stop_request,
                restore_metrics=restore_metrics,
                backup_steps=backup_steps,
                backup_seconds=backup_minutes * 60 if backup_minutes else None,
                keep_checkpoints=keep_checkpoints,
                train_dataset=datasets.train,
                extra_meta=lambda: {"phase": current_phase[0].index},
            )
            current_phase = [phase]
            if progress.epoch < plan.epochs:
                _fit(model, classifier, datasets, plan, progress, callbacks, log, source, recipe, seed, examples,
                     all_phases, current_phase, distribution)
    except Diverged as error:
        if plan.is_chief:
            directory.set_status(rundir.FAILED, reason="diverged", step=error.global_step)
        last = BackupStore(directory / BACKUP_DIR).latest_step()
        kept = f"The last good backup (step {last}) is kept." if last is not None else ""
        raise TrainingDiverged(
            f"The loss became NaN or infinite at epoch {error.epoch}, step {error.step} (global step "
            f"{error.global_step}). Common causes: a learning rate too high for this batch size (try --set "
            f"train.learning_rate={recipe.training.learning_rate / 10:g}), no warmup (--set "
            "train.warmup_epochs=1), float16 overflow (try --precision float32 or mixed_bfloat16), or "
            f"bad inputs. {kept}"
        ) from None
    except StopForSignal as stop:
        if plan.is_chief:
            directory.set_status(rundir.FAILED, reason="interrupted", signal=stop.signal_name, step=stop.global_step)
        raise Interrupted(
            f"Stopped by {stop.signal_name} at global step {stop.global_step}, after saving a backup. "
            f"Run the same command again, or 'kerazoo resume {directory.path}', to continue."
        ) from None
    except KeyboardInterrupt:
        if plan.is_chief:
            directory.set_status(rundir.FAILED, reason="interrupted")
        raise Interrupted(
            f"Stopped at once (second Ctrl-C); the last backup stands. 'kerazoo resume {directory.path}' continues from it."
        ) from None
    except BaseException as error:
        if is_out_of_device_memory(error):
            if plan.is_chief:
                directory.set_status(rundir.FAILED, reason="out of memory")
            raise UsageError(
                f"Out of device memory at {plan.per_replica_batch_size} examples per replica "
                f"({type(error).__name__}). Try --batch-size {max(1, plan.per_replica_batch_size // 2)}."
            ) from None
        if plan.is_chief:
            directory.set_status(rundir.FAILED, reason=type(error).__name__, message=str(error)[:500])
        raise
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        distribution.close()

    if callbacks.checkpoints.stopped_early:
        model.load_weights(callbacks.checkpoints.best_path)
        log.info(
            f"Stopped early: {recipe.training.monitor} did not improve for {recipe.training.early_stopping_patience} "
            f"epoch(s); the model keeps the best epoch's weights (epoch {callbacks.checkpoints.best_epoch})."
        )
    _save_model(classifier, writer)
    history = callbacks.history.epochs
    final = history[-1] if history else {}
    if plan.is_chief:
        directory.set_status(rundir.FINISHED, final=final)
    run = Run(directory.path, recipe=recipe, model=classifier)  # its plan: plan.json, data included
    if plan.is_chief and recipe.task != "text_generation":
        _evaluate_per_class(run, classifier, datasets.validation, log)
    message = task.finished_message(final, len(history) or plan.epochs, directory.path)
    if message:
        log.info(message)
    return run


def _evaluate_per_class(run, classifier, validation, log):
    """Per-class figures and the confusion matrix of the final model."""
    from kerazoo import evaluation

    result = evaluation.evaluate_trained(run, classifier, validation)
    if result is None:
        return
    recalls = [(row["recall"], row["class"]) for row in result.per_class if row["recall"] is not None]
    if recalls:
        worst, name = min(recalls)
        log.info(
            f"  per class: lowest recall {worst:.3f} ('{name}') over {len(recalls)} classes; "
            f"{rundir.EVALUATION_FILE} and TensorBoard have every class and the confusion matrix"
        )


def _fit(model, classifier, datasets, plan, progress, callbacks, log, source, recipe, seed, examples,
         all_phases, current_phase, distribution):
    """Train the remaining steps, as few `fit` calls as the run needs: the rest
    of a half-done epoch, then whole epochs, split where a fine-tuning phase
    begins (the backbone unfreezes and a new optimizer starts)."""
    from kerazoo import data, finetune, keras_compat
    from kerazoo.models.training_model import compile_phase

    verbose = 2 if log.echo else 0
    segments = _segments(progress, plan, all_phases)
    for index, (first_epoch, end_epoch, steps) in enumerate(segments):
        phase = finetune.phase_at(all_phases, first_epoch)
        if phase.index != current_phase[0].index:
            log.info(f"Phase {phase.index + 1}: {phase.describe()}")
            with distribution.scope():
                compile_phase(model, classifier, recipe, plan, datasets.num_classes, plan.steps_per_epoch, phase)
            keras_compat.build_before_fit(model, datasets.train.element_spec, plan.global_batch_size, distribution.strategy)
            current_phase[0] = phase
        if index:
            # A new stream, starting at this segment's first step.
            datasets = data.load(source, recipe, plan, seed, examples=examples, start_step=progress.global_step,
                                 tokenizer=datasets.tokenizer)
        callbacks.tensorboard.initial_step = progress.global_step
        with _final_fit(model, index == len(segments) - 1):
            model.fit(
                datasets.train,
                validation_data=datasets.validation,
                initial_epoch=first_epoch,
                epochs=end_epoch,
                steps_per_epoch=steps,
                callbacks=callbacks.all,
                verbose=verbose,
                shuffle=False,
            )
        if callbacks.checkpoints.stopped_early:
            return


def _segments(progress, plan, all_phases):
    """[(first epoch, end epoch, steps per epoch)] still to train."""
    segments = []
    epoch = progress.epoch
    if progress.step_in_epoch:
        segments.append((epoch, epoch + 1, plan.steps_per_epoch - progress.step_in_epoch))
        epoch += 1
    for phase in all_phases:
        first = max(phase.first_epoch, epoch)
        if first < phase.end_epoch:
            segments.append((first, phase.end_epoch, plan.steps_per_epoch))
    return segments


@contextlib.contextmanager
def _final_fit(model, final):
    """Keras replaces the weights by their moving average (use_ema) at the
    end of every `fit`; only the run's last `fit` may do that."""
    if final:
        yield
        return
    optimizer = model.optimizer
    optimizer.finalize_variable_values = lambda variables: None
    try:
        yield
    finally:
        del optimizer.finalize_variable_values


def _apply_options(recipe, overrides, epochs, steps_per_epoch, batch_size):
    changes = dict(overrides or {})
    for key, value in (("train.epochs", epochs), ("train.steps_per_epoch", steps_per_epoch), ("train.batch_size", batch_size)):
        if value is not None:
            changes[key] = value
    return recipe.override(changes)


def _finished_run(directory, log):
    run = load_run(directory.path)
    final = run.epochs[-1] if run.epochs else {}
    if run.recipe.task == "text_generation":
        loss = final.get("val_loss")
        figure = f" (validation loss {loss:.4f})" if isinstance(loss, float) else ""
    else:
        accuracy = final.get("val_accuracy")
        figure = f" (validation accuracy {accuracy:.4f})" if isinstance(accuracy, float) else ""
    log.info(
        f"Run {directory.path} already finished{figure}; nothing to train. "
        "Change the recipe, --data or --seed for a new run, pass another --run-dir, or --restart to train it again."
    )
    return run


def _fingerprints(recipe, plan, datasets):
    return {"recipe": recipe.fingerprint(), "global_batch_size": plan.global_batch_size, "data": datasets.fingerprint}


def _check_resumable(directory, recipe, plan, examples):
    """Refuse a resume whose recipe, global batch or data changed."""
    try:
        saved = directory.read_json(rundir.PLAN_FILE)
        from kerazoo import recipes

        saved_recipe = recipes.load(directory / rundir.RECIPE_FILE)
    except (OSError, ValueError):
        return  # crashed before writing them: nothing to compare, nothing to lose
    changes = []
    if saved_recipe.fingerprint() != recipe.fingerprint():
        changes.append("the recipe (model, optimizer or schedule)")
    if saved.get("global_batch_size") != plan.global_batch_size:
        changes.append(f"the global batch ({saved.get('global_batch_size')} then, {plan.global_batch_size} now)")
    if saved.get("data", {}).get("fingerprint") != examples.fingerprint:
        changes.append("the data (files added, removed or changed)")
    if changes:
        raise UsageError(
            f"Cannot resume {directory.path}: {'; '.join(changes)} changed since it started. "
            "Restore what changed, or pass --restart to discard its progress and start over."
        )


def _clear_outputs(directory):
    for name in RUN_OUTPUTS:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (directory / rundir.TENSORBOARD_DIR).mkdir(exist_ok=True)
    (directory / rundir.CHECKPOINT_DIR).mkdir(exist_ok=True)


def _enable_determinism():
    try:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    except ImportError:
        pass


def _plan_record(plan, info, datasets, directory, seed, source, requested):
    record = plan.to_dict()
    record.update(
        run_id=directory.path.name,
        seed=seed,
        requested=requested,
        data={
            "source": source.identity,
            "fingerprint": datasets.fingerprint,
            "num_train": datasets.num_train,
            "num_validation": datasets.num_validation,
            "num_classes": datasets.num_classes,
        },
        environment={**info.to_dict(), "python": platform.python_version(), "host": platform.node()},
    )
    return record


def _save_model(classifier, directory):
    """Save atomically: a crash mid-save never leaves a half `model.keras`."""
    partial = directory / f".partial-{os.getpid()}.keras"
    classifier.save(partial)
    os.replace(partial, directory / rundir.MODEL_FILE)
