"""Optimizer and learning-rate schedule from the recipe and the plan."""

import keras

# Decoupled weight decay is not applied to biases and normalization scales
# and offsets (as in timm and torchvision recipes): decaying them only hurts.
NO_DECAY = ["bias", "gamma", "beta"]


@keras.saving.register_keras_serializable(package="kerazoo")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak` over `warmup_steps`, then `after`."""

    def __init__(self, peak, warmup_steps, after):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.after = after

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(self.warmup_steps, 1)
        later = self.after(keras.ops.maximum(step - self.warmup_steps, 0.0))
        return keras.ops.where(step < self.warmup_steps, warm, later)

    def get_config(self):
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "after": keras.optimizers.schedules.serialize(self.after),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerazoo")
class Constant(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, value):
        self.value = value

    def __call__(self, step):
        return keras.ops.cast(self.value, "float32") + 0.0 * keras.ops.cast(step, "float32")

    def get_config(self):
        return {"value": self.value}


def learning_rate_schedule(train, learning_rate, steps_per_epoch, epochs=None, warmup_epochs=None):
    """The schedule for `train.schedule` over `epochs` (default: all of
    them), with `warmup_epochs` (default: the recipe's) of linear warmup."""
    epochs = train.epochs if epochs is None else epochs
    warmup_epochs = train.warmup_epochs if warmup_epochs is None else warmup_epochs
    total = max(1, epochs * steps_per_epoch)
    warmup = min(int(round(warmup_epochs * steps_per_epoch)), total - 1)
    remaining = max(1, total - warmup)
    if train.schedule == "cosine":
        after = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=remaining, alpha=0.0)
    elif train.schedule == "linear":
        after = keras.optimizers.schedules.PolynomialDecay(learning_rate, decay_steps=remaining, end_learning_rate=0.0)
    elif train.schedule == "exponential":
        after = keras.optimizers.schedules.ExponentialDecay(
            learning_rate,
            decay_steps=max(1, int(round(train.decay_epochs * steps_per_epoch))),
            decay_rate=train.decay_rate,
            staircase=True,
        )
    elif train.schedule == "step":
        boundaries = sorted({int(round(m * total)) - warmup for m in train.step_milestones})
        boundaries = [b for b in boundaries if 0 < b < remaining]
        values = [learning_rate * train.step_factor**i for i in range(len(boundaries) + 1)]
        after = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values) if boundaries else Constant(learning_rate)
    else:
        after = Constant(learning_rate)
    if warmup <= 0:
        return after
    return WarmupSchedule(learning_rate, warmup, after)


def build_optimizer(train, learning_rate, steps_per_epoch, *, epochs=None, warmup_epochs=None, gradient_accumulation=1):
    """A Keras optimizer configured by the recipe's `train` section.

    Args:
        train: the recipe's `TrainSection`.
        learning_rate: the peak rate, already scaled by the plan.
        steps_per_epoch: batches per epoch (the schedule counts batches,
            also under gradient accumulation: Keras advances it every batch).
        epochs, warmup_epochs: the span the schedule covers (a fine-tuning
            phase covers part of the run); default: the recipe's.
        gradient_accumulation: apply the update every N batches.
    """
    schedule = learning_rate_schedule(train, learning_rate, steps_per_epoch, epochs, warmup_epochs)
    common = {"learning_rate": schedule}
    if train.use_ema:
        common.update(use_ema=True, ema_momentum=train.ema_momentum)
    if gradient_accumulation > 1:
        common["gradient_accumulation_steps"] = gradient_accumulation
    weight_decay = decoupled_weight_decay(train)
    if weight_decay:
        common["weight_decay"] = weight_decay
    if train.gradient_clip_norm:
        common["global_clipnorm"] = train.gradient_clip_norm
    name = train.optimizer
    if name == "sgd":
        optimizer = keras.optimizers.SGD(momentum=train.momentum, nesterov=train.nesterov, **common)
    elif name == "adam":
        optimizer = keras.optimizers.Adam(**common)
    elif name == "adamw":
        common.setdefault("weight_decay", 0.0)
        optimizer = keras.optimizers.AdamW(**common)
    elif name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(momentum=train.momentum, **common)
    else:
        optimizer = keras.optimizers.Lamb(**common)
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer


def decoupled_weight_decay(train):
    """The recipe's weight decay as Keras applies it (decoupled: w -= lr*wd*w).

    SGD recipes (torchvision, the papers) state L2 decay, which flows through
    momentum: in steady state it shrinks weights by lr*wd/(1 - momentum) per
    step. Keras decays outside the momentum, so the same strength needs
    wd/(1 - momentum). Other optimizers take the value as decoupled decay.
    """
    if not train.weight_decay:
        return 0.0
    if train.optimizer == "sgd" and train.momentum < 1:
        return train.weight_decay / (1.0 - train.momentum)
    return train.weight_decay
