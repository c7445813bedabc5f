"""The model `fit` trains: augmentation in front of the classifier, on the
accelerator, in training only. Only the classifier is ever saved."""

import keras


class AugmentedClassifier(keras.Model):
    """Applies `augmenter` to training batches, then `classifier`."""

    def __init__(self, classifier, augmenter, **kwargs):
        super().__init__(name=f"{classifier.name}_training", **kwargs)
        self.classifier = classifier
        self.augmenter = augmenter

    def build(self, input_shape):
        self.augmenter.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        if training:
            inputs = self.augmenter(inputs, training=True)
        return self.classifier(inputs, training=training)


def training_model(classifier, augmenter):
    """`classifier` itself when there is nothing to augment."""
    if augmenter is None:
        return classifier
    model = AugmentedClassifier(classifier, augmenter)
    model.build(classifier.input.shape)
    return model


def compile_for_training(classifier, recipe, plan, num_classes, steps_per_epoch, seed):
    """The model `fit` trains, compiled as every kerazoo run compiles it.

    Augmentation in front (images), the recipe's optimizer and schedule at the
    plan's learning rate, loss scaling under float16, the task's loss and
    metrics, XLA as planned. Call inside the distribution scope. The
    benchmark uses the same function, so a timed step is a training step.
    """
    import keras

    from kerazoo import augment, optim, tasks

    augmenter = augment.build_augmenter(recipe.augment, recipe.data.image_size, seed) if recipe.task == "image" else None
    model = training_model(classifier, augmenter)
    optimizer = optim.build_optimizer(recipe.training, plan.learning_rate, steps_per_epoch)
    if plan.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, jit_compile=plan.xla, **tasks.for_recipe(recipe).compile_arguments(recipe, num_classes))
    return model
