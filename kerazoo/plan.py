"""The plan: every decision a run takes by itself, each with its reason.

A plan is a pure function of the recipe, the probed `DeviceInfo` and the
user's choices, so each rule can be tested with GPUs described by hand.
It is computed once, printed, written to `plan.json`, and passed on.
"""

import dataclasses
import os
import sys
from typing import Optional

from kerazoo.errors import UsageError, did_you_mean

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "data_parallel")
XLA_CHOICES = ("auto", "on", "off")

# A run shorter than this many steps gets BatchNorm momentum 0.9 (DESIGN.md:
# with 0.99 the moving statistics average the last ~100 steps and lag).
SHORT_RUN_STEPS = 5000
SHORT_RUN_BN_MOMENTUM = 0.9
# Profile these global training steps by default (1-based, inclusive): late
# enough that tracing, compilation and the input pipeline's warm-up are over.
DEFAULT_PROFILE_WINDOW = (10, 14)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one run will execute. Read `reasons` for why."""

    backend: str
    devices: tuple
    precision: str
    strategy: str
    num_replicas: int
    per_replica_batch_size: int
    global_batch_size: int
    learning_rate: float
    xla: bool
    reasons: dict
    num_workers: int = 1
    is_chief: bool = True
    gradient_accumulation: int = 1
    # Known once the data is loaded (see `with_data`).
    steps_per_epoch: Optional[int] = None
    epochs: Optional[int] = None
    profile_window: Optional[tuple] = None
    batchnorm_momentum: Optional[float] = None
    requested_profile: object = "auto"

    def with_data(self, recipe, num_train_examples):
        """Fill in what depends on the size of the training split."""
        global_batch = self.global_batch_size
        if num_train_examples < global_batch:
            raise UsageError(
                f"The training split has {num_train_examples} examples, fewer than one global batch "
                f"of {global_batch} ({self.per_replica_batch_size} per replica x {self.num_replicas} "
                f"replica(s)). Use a smaller --batch-size, such as "
                f"{max(1, num_train_examples // (self.num_replicas * 2))}."
            )
        reasons = dict(self.reasons)
        if recipe.training.steps_per_epoch:
            steps = recipe.training.steps_per_epoch
            reasons["steps_per_epoch"] = "set by the recipe or --steps-per-epoch"
        else:
            steps = num_train_examples // global_batch
            reasons["steps_per_epoch"] = (
                f"{num_train_examples} training examples // global batch {global_batch} "
                "(the last partial batch is dropped so shapes stay static)"
            )
        total = steps * recipe.training.epochs
        momentum, reasons["batchnorm_momentum"] = _batchnorm_momentum(recipe, total)
        window, reasons["profile"] = _profile_window(self.requested_profile, self.backend, total)
        return dataclasses.replace(
            self,
            steps_per_epoch=steps,
            epochs=recipe.training.epochs,
            profile_window=window,
            batchnorm_momentum=momentum,
            reasons=reasons,
        )

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["devices"] = list(self.devices)
        data["profile_window"] = list(self.profile_window) if self.profile_window else None
        data.pop("requested_profile")
        return data

    def describe(self):
        """Lines for the terminal: each decision and why."""
        rows = [
            ("backend", self.backend, self.reasons.get("backend")),
            ("devices", ", ".join(self.devices), None),
            ("precision", self.precision, self.reasons.get("precision")),
            ("strategy", f"{self.strategy} ({self.num_replicas} replica(s))", self.reasons.get("strategy")),
            (
                "batch",
                f"{self.per_replica_batch_size} per replica, {self.global_batch_size} global",
                self.reasons.get("batch"),
            ),
            ("learning rate", f"{self.learning_rate:.6g}", self.reasons.get("learning_rate")),
            *([("accumulation", f"{self.gradient_accumulation} batches per step", self.reasons.get("gradient_accumulation"))]
              if self.gradient_accumulation > 1 else []),
            ("XLA", "on" if self.xla else "off", self.reasons.get("xla")),
        ]
        if self.num_workers > 1:
            rows.insert(4, ("workers", f"{self.num_workers} (this is {'the chief' if self.is_chief else 'a worker'})", None))
        if self.steps_per_epoch is not None:
            rows.append(("steps", f"{self.steps_per_epoch} per epoch x {self.epochs} epochs", self.reasons.get("steps_per_epoch")))
            window = f"steps {self.profile_window[0]}-{self.profile_window[1]}" if self.profile_window else "off"
            rows.append(("profile", window, self.reasons.get("profile")))
            if self.batchnorm_momentum is not None:
                rows.append(("BN momentum", f"{self.batchnorm_momentum:g}", self.reasons.get("batchnorm_momentum")))
        width = max(len(name) for name, _, _ in rows)
        lines = []
        for name, value, reason in rows:
            lines.append(f"  {name:<{width}}  {value}" + (f"  -- {reason}" if reason else ""))
        return "\n".join(lines)


def make_plan(recipe, devices, *, precision="auto", strategy="auto", xla="auto", batch_size=None, profile="auto",
              gradient_accumulation=1):
    """Decide precision, strategy, batch, learning rate and XLA for a run.

    Args:
        recipe: the resolved `Recipe`.
        devices: the `DeviceInfo` from `devices.probe()` (or built by hand).
        precision: one of `PRECISIONS`.
        strategy: one of `STRATEGIES`.
        xla: `"auto"`, `"on"` or `"off"`.
        batch_size: per-replica batch size; defaults to the recipe's.
        profile: `"auto"`, `False`, or a `(first, last)` window of steps.
        gradient_accumulation: apply the optimizer every N batches, with
            their averaged gradients (an N times larger effective batch).
    """
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("strategy", strategy, STRATEGIES)
    _check_choice("xla", xla, XLA_CHOICES)
    reasons = {"backend": _backend_reason(devices.backend)}
    chosen_precision, reasons["precision"] = choose_precision(devices, precision)
    chosen_strategy, device_names, reasons["strategy"] = choose_strategy(devices, strategy)
    num_workers, task_index = _cluster(devices, chosen_strategy)
    per_replica = batch_size or recipe.training.batch_size
    if per_replica < 1:
        raise UsageError(f"The batch size must be a positive number of examples per replica, got {per_replica}.")
    replicas = len(device_names) * num_workers
    global_batch = per_replica * replicas
    reasons["batch"] = f"{per_replica} per replica x {replicas} replica(s)" + (
        f" ({len(device_names)} on each of {num_workers} workers)" if num_workers > 1 else ""
    )
    accumulation, reasons["gradient_accumulation"] = _gradient_accumulation(gradient_accumulation, chosen_strategy, replicas)
    reference = recipe.training.reference_batch_size
    effective = global_batch * accumulation
    learning_rate = recipe.training.learning_rate * effective / reference
    reasons["learning_rate"] = (
        f"{recipe.training.learning_rate:g} at reference batch {reference}, scaled linearly "
        f"to the {'effective batch ' + str(effective) + ' (global batch x accumulation)' if accumulation > 1 else 'global batch ' + str(global_batch)} "
        "(Goyal et al., 2017)"
    )
    use_xla, reasons["xla"] = choose_xla(devices, chosen_strategy, chosen_precision, xla)
    return Plan(
        backend=devices.backend,
        devices=tuple(device_names),
        precision=chosen_precision,
        strategy=chosen_strategy,
        num_replicas=replicas,
        per_replica_batch_size=per_replica,
        global_batch_size=global_batch,
        learning_rate=learning_rate,
        xla=use_xla,
        reasons=reasons,
        num_workers=num_workers,
        is_chief=task_index == 0,
        requested_profile=profile,
        gradient_accumulation=accumulation,
    )


def _gradient_accumulation(steps, strategy, replicas):
    """Return (steps, reason)."""
    if steps is None or steps == 1:
        return 1, "off"
    if steps < 1:
        raise UsageError(f"--grad-accum must be 1 or more, got {steps}.")
    if strategy in ("mirrored", "multi_worker"):
        raise UsageError(
            f"--grad-accum {steps} cannot run under {strategy} ({replicas} replicas): Keras's gradient "
            "accumulation fails under tf.distribute strategies (keras-team/keras#20582). Use more "
            "replicas instead (the global batch grows with them), --strategy default on one device, "
            "or the JAX backend (KERAS_BACKEND=jax), where accumulation works with DataParallel."
        )
    return steps, f"the optimizer steps every {steps} batches with their mean gradient"


def choose_precision(devices, requested="auto"):
    """Return (policy name, reason)."""
    if requested != "auto":
        note = ""
        if requested != "float32" and not devices.accelerators:
            note = "; on a CPU mixed precision is usually slower than float32"
        gpus = devices.gpus
        if requested == "mixed_bfloat16" and gpus and _min_cc(gpus) < (8, 0):
            note = "; GPUs below compute capability 8.0 have no bfloat16 tensor cores"
        return requested, f"requested with --precision{note}"
    if devices.tpus:
        return "mixed_bfloat16", "TPU: bfloat16 is its native matrix format"
    gpus = devices.gpus
    if not gpus:
        return "float32", "no GPU or TPU: mixed precision rarely speeds up a CPU"
    cc = _min_cc(gpus)
    cc_text = f"{cc[0]}.{cc[1]}"
    if cc >= (8, 0):
        return "mixed_bfloat16", (
            f"GPU compute capability {cc_text} >= 8.0 has bfloat16 tensor cores; "
            "bfloat16 keeps float32's range, so no loss scaling"
        )
    if cc >= (7, 0):
        return "mixed_float16", (
            f"GPU compute capability {cc_text} has float16 tensor cores but no bfloat16; "
            "dynamic loss scaling is on"
        )
    return "float32", f"GPU compute capability {cc_text} < 7.0 has no tensor cores"


def _min_cc(gpus):
    return min((gpu.compute_capability or (0, 0)) for gpu in gpus)


def choose_strategy(devices, requested="auto"):
    """Return (strategy name, device names, reason)."""
    backend = devices.backend
    gpus = devices.gpus
    if gpus:
        names = [f"/gpu:{i}" for i in range(len(gpus))]
    else:
        names = [f"/cpu:{i}" for i in range(devices.cpu_replicas)]
    many = len(names) > 1
    what = f"{len(gpus)} GPUs" if gpus else f"{devices.cpu_replicas} CPU replicas"

    if backend == "torch":
        if requested not in ("auto", "default"):
            raise UsageError(
                f"--strategy {requested} is not available on the torch backend, which kerazoo runs on "
                "one device. Use KERAS_BACKEND=tensorflow (mirrored, multi_worker) or jax (data_parallel)."
            )
        return "default", names[:1], "torch backend: kerazoo trains on a single device"

    if backend == "jax":
        if requested in ("mirrored", "multi_worker"):
            raise UsageError(
                f"--strategy {requested} is a TensorFlow strategy; on the JAX backend use "
                "--strategy data_parallel (it also spans several processes)."
            )
        cluster = devices.cluster
        if requested == "data_parallel" or (requested == "auto" and (many or cluster)):
            reason = "keras.distribution.DataParallel over " + what
            if cluster:
                reason += f" in each of {cluster['num_workers']} JAX processes"
            return "data_parallel", names, reason
        return "default", names[:1], "one device"

    # TensorFlow.
    if requested == "data_parallel":
        raise UsageError(
            "--strategy data_parallel is the JAX backend's strategy; on TensorFlow use "
            "--strategy mirrored (one machine) or multi_worker (several)."
        )
    cluster = devices.cluster
    if requested == "multi_worker" and not cluster:
        raise UsageError(
            "--strategy multi_worker needs a cluster description: set TF_CONFIG on every worker "
            "(or run under SLURM). See docs/distributed.md. On one machine use --strategy mirrored."
        )
    if requested == "multi_worker" or (requested == "auto" and cluster):
        if not gpus:
            names, what = names[:1], "one CPU device"  # the collective strategy uses one CPU per worker
        return "multi_worker", names, (
            f"MultiWorkerMirroredStrategy ({cluster['source']}, {cluster['num_workers']} workers) "
            f"over {what} per worker"
        )
    if requested == "mirrored":
        return "mirrored", names, f"requested with --strategy: MirroredStrategy over {what}"
    if requested == "auto" and many:
        return "mirrored", names, f"MirroredStrategy over all {what}"
    if requested == "default" and many:
        return "default", names[:1], f"requested with --strategy: one device of {what}"
    return "default", names[:1], "one device"


def choose_xla(devices, strategy, precision, requested="auto"):
    """Return (use XLA, reason)."""
    if devices.backend == "jax":
        if requested == "off":
            return False, "requested with --xla: JAX then runs each step op by op, for debugging (much slower)"
        return True, "JAX compiles each step with XLA"
    if devices.backend == "torch":
        if requested == "on":
            raise UsageError("--xla on needs the tensorflow or jax backend.")
        return False, "not used on the torch backend"
    if requested == "on":
        if strategy in ("mirrored", "multi_worker") and precision == "mixed_float16":
            return True, ("requested with --xla; warning: MirroredStrategy + XLA + float16 has "
                          "crashed or hung in Keras 3 (keras-team/keras#20763, #21366)")
        return True, "requested with --xla"
    if requested == "off":
        return False, "requested with --xla"
    if strategy in ("mirrored", "multi_worker"):
        return False, ("off under tf.distribute strategies: jit_compile with MirroredStrategy has "
                       "crashed or hung in Keras 3 (keras-team/keras#20763, #21366)")
    if not devices.accelerators:
        return False, "off on a CPU: compile time rarely pays back and some ops lack CPU kernels"
    return True, "single accelerator: XLA fuses ops and usually trains faster"


def _profile_window(requested, backend, total_steps):
    """Return ((first, last) or None, reason); steps are 1-based and global."""
    if requested is False:
        return None, "off (--no-profile)"
    if backend == "torch":
        return None, "off: Keras's TensorBoard callback refuses profile_batch on the torch backend"
    if backend == "jax" and sys.version_info < (3, 12):
        return None, "off: JAX profiler traces through Keras need Python >= 3.12"
    if requested == "auto" or requested is None:
        first, last = DEFAULT_PROFILE_WINDOW
        if total_steps < 3:
            return None, f"off: the run has only {total_steps} step(s); step 1 is mostly compilation"
        if total_steps < last:
            span = last - first
            last = total_steps
            first = max(2, last - span)
            return (first, last), f"moved to fit a run of {total_steps} steps (not step 1: compilation)"
        return (first, last), "a short window after compilation and input warm-up"
    first, last = requested
    if first < 1 or last < first:
        raise UsageError(f"--profile-batches needs FIRST,LAST with 1 <= FIRST <= LAST, got {first},{last}.")
    if first > total_steps:
        return None, f"off: the requested window starts at step {first} but the run has {total_steps} steps"
    if last > total_steps:
        return (first, total_steps), f"requested, clamped to the run's {total_steps} steps"
    return (first, last), "requested with --profile-batches"


def _batchnorm_momentum(recipe, total_steps):
    if recipe.model.batchnorm_momentum is not None:
        return recipe.model.batchnorm_momentum, "set by the recipe"
    if total_steps < SHORT_RUN_STEPS:
        return SHORT_RUN_BN_MOMENTUM, (
            f"{total_steps} training steps < {SHORT_RUN_STEPS}: momentum 0.99 would make the "
            "BatchNorm statistics lag the weights"
        )
    return None, "the builder's own value"


def _cluster(devices, strategy):
    cluster = devices.cluster
    if strategy in ("multi_worker", "data_parallel") and cluster:
        return cluster["num_workers"], cluster["task_index"]
    return 1, 0


def _backend_reason(backend):
    if os.environ.get("KERAS_BACKEND"):
        return "from KERAS_BACKEND"
    return "Keras's configured backend (set KERAS_BACKEND to change)"


def _check_choice(name, value, choices):
    if value not in choices:
        raise UsageError(
            f"Unknown {name} '{value}'.{did_you_mean(value, choices)} Choose one of: {', '.join(choices)}."
        )
