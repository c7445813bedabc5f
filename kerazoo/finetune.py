"""Training phases: fine-tuning trains the new head alone first.

With `train.freeze_backbone_epochs: F`, epochs [0, F) train only the head
(the backbone frozen, its BatchNorm layers in inference mode) at
`train.head_learning_rate`, and epochs [F, end) train everything at
`train.learning_rate`, each phase with its own optimizer and schedule (the
Keras transfer-learning guide's recipe). Without it, a run is one phase.
"""

import dataclasses

from kerazoo.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Phase:
    index: int
    first_epoch: int
    end_epoch: int
    backbone_trainable: bool
    learning_rate: float  # scaled to the run's batch, like the plan's
    warmup_epochs: float

    @property
    def epochs(self):
        return self.end_epoch - self.first_epoch

    def describe(self):
        what = "everything" if self.backbone_trainable else "the head only (backbone frozen)"
        return f"epochs {self.first_epoch + 1}-{self.end_epoch}: {what} at learning rate {self.learning_rate:.6g}"


def phases(recipe, plan):
    """The run's phases, in order."""
    train = recipe.training
    frozen = train.freeze_backbone_epochs
    if frozen <= 0:
        return [Phase(0, 0, train.epochs, True, plan.learning_rate, train.warmup_epochs)]
    if frozen >= train.epochs:
        raise UsageError(
            f"train.freeze_backbone_epochs ({frozen}) must be less than train.epochs ({train.epochs}): "
            "the backbone would never train."
        )
    if recipe.task == "text_generation":
        raise UsageError("train.freeze_backbone_epochs is for classifiers: a language model has no separate head.")
    scale = plan.learning_rate / train.learning_rate  # the plan's batch scaling
    head_rate = (train.head_learning_rate or train.learning_rate) * scale
    return [
        Phase(0, 0, frozen, False, head_rate, 0.0),
        Phase(1, frozen, train.epochs, True, plan.learning_rate, train.warmup_epochs),
    ]


def phase_at(all_phases, epoch):
    for phase in all_phases:
        if phase.first_epoch <= epoch < phase.end_epoch:
            return phase
    return all_phases[-1]
