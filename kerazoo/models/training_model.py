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
