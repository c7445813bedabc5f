"""One training run, from a resolved recipe to a finished run directory.

recipe -> plan -> data -> model -> fit -> run directory. Each step reads
what the one before produced; the plan is computed once and passed on.
"""

import os
import platform

from kerazoo import devices as devices_module
from kerazoo import rundir
from kerazoo.data import parse_source, read_examples
from kerazoo.errors import Interrupted, TrainingDiverged, UsageError
from kerazoo.plan import make_plan
from kerazoo.run import Run, load_run
from kerazoo.runlog import RunLog


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
    dry_run=False,
    verbose=True,
):
    """Train `recipe`; see `Recipe.train` and `kerazoo train --help`.

    Returns:
        The finished `Run` (for `dry_run`, the `Plan` instead).
    """
    log = RunLog(echo=verbose)
    recipe = _apply_options(recipe, overrides, epochs, steps_per_epoch, batch_size)
    source = parse_source(data, recipe)
    directory = rundir.RunDirectory(run_dir or rundir.default_path(recipe, source, seed))
    existing = _existing_run(directory, log)
    if existing is not None and not dry_run:
        return existing

    info = devices_module.probe(cpu_replicas)
    plan = make_plan(recipe, info, precision=precision, strategy=strategy, xla=xla, profile=profile_batches)
    examples = read_examples(source, recipe, seed, plan.global_batch_size)
    plan = plan.with_data(recipe, len(examples[0]))
    if dry_run:
        log.info(f"Plan for '{recipe.name}' on {source} (dry run, nothing trained):\n{plan.describe()}")
        log.info(f"Run directory would be: {directory.path}")
        return plan

    directory.create()
    log.open(directory / rundir.LOG_FILE)
    directory.set_status(rundir.RUNNING)
    try:
        return _train(recipe, source, examples, plan, info, directory, seed, log)
    except KeyboardInterrupt:
        directory.set_status(rundir.FAILED, reason="interrupted")
        raise Interrupted(
            f"Training was interrupted; the run directory is {directory.path}."
        ) from None
    except TrainingDiverged as error:
        directory.set_status(rundir.FAILED, reason="diverged", message=str(error))
        raise
    except BaseException as error:
        directory.set_status(rundir.FAILED, reason=type(error).__name__, message=str(error)[:500])
        raise
    finally:
        log.close()


def _apply_options(recipe, overrides, epochs, steps_per_epoch, batch_size):
    changes = dict(overrides or {})
    for key, value in (("train.epochs", epochs), ("train.steps_per_epoch", steps_per_epoch), ("train.batch_size", batch_size)):
        if value is not None:
            changes[key] = value
    return recipe.override(changes)


def _existing_run(directory, log):
    state = directory.state
    if state == rundir.NEW:
        return None
    if state == rundir.FINISHED:
        run = load_run(directory.path)
        accuracy = run.metric("val_accuracy")
        figure = f" (validation accuracy {accuracy:.4f})" if isinstance(accuracy, float) else ""
        log.info(
            f"Run {directory.path} already finished{figure}; nothing to train. "
            "Change the recipe, --data or --seed for a new run, or pass another --run-dir."
        )
        return run
    if state == "foreign":
        raise UsageError(
            f"'{directory.path}' exists and is not a kerazoo run directory; kerazoo will not write "
            "into it. Pass another --run-dir."
        )
    raise UsageError(
        f"Run directory {directory.path} holds an unfinished run ({directory.status().get('reason', state)}). "
        "This version cannot resume it yet; pass another --run-dir, or delete that folder to start over."
    )


def _train(recipe, source, examples, plan, info, directory, seed, log):
    import keras

    from kerazoo import augment, data, models, optim
    from kerazoo.callbacks import standard_callbacks
    from kerazoo.callbacks.tensorboard import flatten_hparams, write_hparams
    from kerazoo.distribute import Distribution
    from kerazoo.models.training_model import training_model

    log.info(f"Training '{recipe.name}' on {source} -> {directory.path}")
    log.info(plan.describe())
    directory.write_text(rundir.RECIPE_FILE, recipe.to_yaml())
    keras.utils.set_random_seed(seed)

    datasets = data.load(source, recipe, plan, seed, examples=examples)
    for note in datasets.notes:
        log.info(f"  data: {note}")
    directory.write_json(rundir.PLAN_FILE, _plan_record(plan, info, datasets, directory, seed, source))
    _save_artifacts(directory, recipe, datasets)

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
            augmenter = augment.build_augmenter(recipe.augment, recipe.data.image_size, seed) if recipe.task == "image" else None
            model = training_model(classifier, augmenter)
            optimizer = optim.build_optimizer(recipe.training, plan.learning_rate, plan.steps_per_epoch)
            if plan.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            model.compile(
                optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.training.label_smoothing),
                metrics=_metrics(datasets.num_classes),
                jit_compile=plan.xla,
            )
        log.info(
            f"  model: {classifier.count_params():,} parameters; augmentation: {augment.describe(recipe.augment) if recipe.task == 'image' else 'none'}"
        )
        callbacks, nan_guard, history_file = standard_callbacks(directory, plan, recipe.training.monitor, log)
        write_hparams(directory / rundir.TENSORBOARD_DIR, flatten_hparams(recipe, plan), directory.path.name)
        history = model.fit(
            datasets.train,
            validation_data=datasets.validation,
            epochs=plan.epochs,
            steps_per_epoch=plan.steps_per_epoch,
            callbacks=callbacks,
            verbose=2 if log.echo else 0,
            shuffle=False,
        )
    except _out_of_memory_errors() as error:
        raise UsageError(
            f"Out of device memory at {plan.per_replica_batch_size} examples per replica "
            f"({type(error).__name__}). Try --batch-size {max(1, plan.per_replica_batch_size // 2)}."
        ) from None
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        distribution.close()

    if nan_guard.diverged_at is not None:
        epoch, step, global_step = nan_guard.diverged_at
        raise TrainingDiverged(
            f"The loss became NaN or infinite at epoch {epoch}, step {step} (global step {global_step}). "
            "Common causes: a learning rate too high for this batch size (try --set "
            f"train.learning_rate={recipe.training.learning_rate / 10:g}), no warmup (--set "
            "train.warmup_epochs=1), float16 overflow (try --precision float32), or bad inputs. "
            f"Checkpoints of the last good epoch are in {directory / rundir.CHECKPOINT_DIR}."
        )
    _save_model(classifier, directory)
    final = history_file.epochs[-1] if history_file.epochs else {}
    directory.set_status(rundir.FINISHED, final=final)
    accuracy = final.get("val_accuracy")
    if isinstance(accuracy, float):
        log.info(f"Finished: validation accuracy {accuracy:.4f} after {plan.epochs} epoch(s). Run directory: {directory.path}")
    return Run(directory.path, recipe=recipe, history=history, model=classifier, plan=plan.to_dict())


def _metrics(num_classes):
    import keras

    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if num_classes > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(k=5, name="top5_accuracy"))
    return metrics


def _plan_record(plan, info, datasets, directory, seed, source):
    record = plan.to_dict()
    record.update(
        run_id=directory.path.name,
        seed=seed,
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


def _save_artifacts(directory, recipe, datasets):
    """What a later `predict` needs: class names, preprocessing, vocabulary."""
    from kerazoo.data import tokenizer

    directory.write_json(rundir.CLASS_NAMES_FILE, datasets.class_names)
    if recipe.task == "image":
        preprocessing = {
            "task": "image",
            "image_size": recipe.data.image_size,
            "resize": "bilinear, antialiased, to a square (aspect ratio not kept)",
            "input": "RGB, float32 values 0-255, shape (batch, size, size, 3)",
            "scaling_in_model": recipe.model.preprocessing,
        }
    else:
        tokenizer.save_vocabulary(datasets.vocabulary, directory.path)
        preprocessing = {
            "task": "text",
            "tokenizer": "wordpiece",
            "vocabulary_file": tokenizer.VOCABULARY_FILE,
            "lowercase": recipe.data.lowercase,
            "sequence_length": recipe.data.sequence_length,
            "input": "{token_ids, segment_ids, padding_mask} from keras_hub BertTextClassifierPreprocessor",
        }
    directory.write_json(rundir.PREPROCESSING_FILE, preprocessing)


def _save_model(classifier, directory):
    """Save atomically: a crash mid-save never leaves a half `model.keras`."""
    partial = directory / f".partial-{os.getpid()}.keras"
    classifier.save(partial)
    os.replace(partial, directory / rundir.MODEL_FILE)


def _out_of_memory_errors():
    try:
        import tensorflow as tf

        return (tf.errors.ResourceExhaustedError,)
    except ImportError:
        return ()

