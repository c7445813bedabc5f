"""The model `fit` trains: the classifier, with augmentation in front of it
on the accelerator in training only.

It is always a wrapper, even with nothing to augment: the wrapper is what
gets compiled, so the classifier saved as `model.keras` never carries an
optimizer (whose config would name kerazoo's schedule classes and need
kerazoo to load).
"""

import keras


class TrainingModel(keras.Model):
    """Applies `augmenter` (if any) to training batches, then `classifier`."""

    def __init__(self, classifier, augmenter=None, **kwargs):
        super().__init__(name=f"{classifier.name}_training", **kwargs)
        self.classifier = classifier
        self.augmenter = augmenter

    def build(self, input_shape):
        if self.augmenter is not None:
            self.augmenter.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        if training and self.augmenter is not None:
            inputs = self.augmenter(inputs, training=True)
        return self.classifier(inputs, training=training)


def training_model(classifier, augmenter):
    """The uncompiled training wrapper around `classifier`."""
    model = TrainingModel(classifier, augmenter)
    if augmenter is not None:
        model.build(classifier.input.shape)
    return model


def compile_for_training(classifier, recipe, plan, num_classes, steps_per_epoch, seed, phase=None):
    """The model `fit` trains, compiled as every kerazoo run compiles it.

    Augmentation in front (images; without the layers XLA cannot compile
    when the plan compiles), then `compile_phase`. Call inside the
    distribution scope. The benchmark uses the same function, so a timed
    step is a training step.
    """
    from kerazoo import augment

    augmenter = None
    if recipe.task == "image":
        augmenter = augment.build_augmenter(recipe.augment, recipe.data.image_size, seed, compiled=plan.xla)
    model = training_model(classifier, augmenter)
    compile_phase(model, classifier, recipe, plan, num_classes, steps_per_epoch, phase)
    return model


def compile_phase(model, classifier, recipe, plan, num_classes, steps_per_epoch, phase=None):
    """(Re)compile the training model for a phase: the recipe's optimizer and
    schedule at the phase's learning rate, loss scaling under float16, the
    task's loss and metrics, XLA as planned.

    Args:
        phase: a `kerazoo.finetune.Phase`: freeze the backbone or not, and
            the phase's learning rate and span; None: the whole run at once.
    """
    import keras

    from kerazoo import models, optim, tasks

    epochs = warmup_epochs = None
    learning_rate = plan.learning_rate
    if phase is not None:
        if recipe.task != "text_generation":
            models.backbone(classifier).trainable = phase.backbone_trainable
        epochs, warmup_epochs, learning_rate = phase.epochs, phase.warmup_epochs, phase.learning_rate
    optimizer = optim.build_optimizer(
        recipe.training, learning_rate, steps_per_epoch, epochs=epochs, warmup_epochs=warmup_epochs,
        gradient_accumulation=plan.gradient_accumulation,
    )
    if plan.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, jit_compile=plan.xla, **tasks.for_recipe(recipe).compile_arguments(recipe, num_classes))
