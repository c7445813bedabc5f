"""The callbacks every run gets, in the order they must run."""

import dataclasses

import keras

from kerazoo import rundir
from kerazoo.callbacks.backup import Backup
from kerazoo.callbacks.checkpoints import Checkpoints
from kerazoo.callbacks.history_file import HistoryFile
from kerazoo.callbacks.input_bound import InputBoundCheck
from kerazoo.callbacks.monitoring import ResourceMonitor
from kerazoo.callbacks.nan_guard import NanGuard
from kerazoo.callbacks.progress import ProgressTracker
from kerazoo.callbacks.tensorboard import log_every_steps, tensorboard_callback
from kerazoo.callbacks.throughput import Throughput


@dataclasses.dataclass
class RunCallbacks:
    all: list
    history: HistoryFile
    tensorboard: object
    checkpoints: Checkpoints
    backup: Backup


def run_callbacks(writer, plan, recipe, progress, log, store, *, history, best, fingerprints, stop_request,
                  restore_metrics, backup_steps, backup_seconds, keep_checkpoints, train_dataset, extra_meta=dict):
    """Build one run's callbacks.

    Order matters: the position moves first; the NaN guard raises before
    anything can save a diverged state; throughput and resource figures join
    the logs before TensorBoard and the history read them; the input-bound
    check reads the pipeline after the profile window has closed; the backup
    comes last, so it saves the history and best checkpoint of the epoch
    just finished.
    """
    history_file = HistoryFile(writer, rundir.HISTORY_FILE, log, initial=history)
    checkpoints = Checkpoints(
        writer / rundir.CHECKPOINT_DIR, recipe.training.monitor, keep_checkpoints,
        best=best.get("best"), best_epoch=best.get("best_epoch"), patience=recipe.training.early_stopping_patience,
    )
    tensorboard = tensorboard_callback(
        writer / rundir.TENSORBOARD_DIR, plan, log_every_steps(plan.steps_per_epoch), progress.global_step
    )

    def meta():
        return {"history": history_file.epochs, "best": checkpoints.state(), "fingerprints": fingerprints, **extra_meta()}

    backup = Backup(store, progress, meta, backup_steps, backup_seconds, stop_request, restore_metrics, log)
    ordered = [
        ProgressTracker(progress),
        NanGuard(progress),
        Throughput(plan.global_batch_size, log_every_steps(plan.steps_per_epoch)),
        ResourceMonitor(plan.global_batch_size, log=log.info),
        tensorboard,
    ]
    if plan.is_chief and progress.global_step == 0:
        # Once per run, early: a resumed run was checked when it started.
        window = plan.profile_window
        ordered.append(InputBoundCheck(train_dataset, window, plan.global_batch_size, log=log.info))
    if recipe.training.use_ema:
        # Validate with the averaged weights, as they are what the run saves.
        ordered.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=False))
    ordered += [history_file, checkpoints, backup]
    return RunCallbacks(ordered, history_file, tensorboard, checkpoints, backup)
