"""`Run`: a finished (or loaded) training run and everything it produced."""

import json
import pathlib

from kerazoo import rundir
from kerazoo.errors import UsageError


class Run:
    """A training run: its directory, its Keras `History` and its model.

    Returned by `Recipe.train()`; `kerazoo.load_run(path)` gives the same
    object for a run on disk (the model loads on first use).

    Attributes:
        directory: the run directory (`pathlib.Path`).
        history: a `keras.callbacks.History`; `history.history["val_accuracy"]`.
        recipe: the resolved `Recipe` the run trained.
        plan: the plan it ran with, as a dict (`plan.json`).
    """

    def __init__(self, directory, recipe=None, history=None, model=None, plan=None):
        self.directory = pathlib.Path(directory)
        self._recipe = recipe
        self._history = history
        self._model = model
        self._plan = plan

    @property
    def recipe(self):
        if self._recipe is None:
            from kerazoo import recipes

            self._recipe = recipes.load(self.directory / rundir.RECIPE_FILE)
        return self._recipe

    @property
    def plan(self):
        if self._plan is None:
            self._plan = _read_json(self.directory / rundir.PLAN_FILE)
        return self._plan

    @property
    def epochs(self):
        """One dict per epoch, as in `history.json`."""
        path = self.directory / rundir.HISTORY_FILE
        return _read_json(path) if path.exists() else []

    @property
    def history(self):
        if self._history is None:
            import keras

            history = keras.callbacks.History()
            history.history = {}
            for record in self.epochs:
                for key, value in record.items():
                    if key != "epoch":
                        history.history.setdefault(key, []).append(value)
            history.epoch = [record["epoch"] - 1 for record in self.epochs]
            self._history = history
        return self._history

    @property
    def model(self):
        if self._model is None:
            import keras

            import kerazoo.models.causal_lm  # noqa: F401 - registers the language model class
            import kerazoo.optim  # noqa: F401 - registers kerazoo's serializable objects

            path = self.directory / rundir.MODEL_FILE
            if not path.exists():
                raise UsageError(f"Run '{self.directory}' has no {rundir.MODEL_FILE}: it did not finish.")
            self._model = keras.saving.load_model(path)
        return self._model

    @property
    def class_names(self):
        return _read_json(self.directory / rundir.CLASS_NAMES_FILE)

    @property
    def state(self):
        return rundir.RunDirectory(self.directory).state

    def evaluate(self, data=None):
        """Loss, accuracies, per-class figures and a confusion matrix; see
        `kerazoo.evaluation.evaluate` (default data: this run's validation split)."""
        from kerazoo import evaluation

        return evaluation.evaluate(self, data=data)

    def predict(self, inputs, top_k=5):
        """Top-k classes for image files or texts; see `kerazoo.prediction.predict`."""
        from kerazoo import prediction

        return prediction.predict(self, inputs, top_k=top_k)

    def export(self, to, out=None, tolerance=None):
        """Export to `keras`, `saved_model` or `onnx` with a parity check; see
        `kerazoo.export.export`."""
        from kerazoo import export

        return export.export(self, to, out=out, tolerance=tolerance)

    def generate(self, prompt, max_length=None, top_k=5, temperature=1.0, seed=0):
        """Continue `prompt` (a text or a list of texts) with this run's
        language model; see `kerazoo.generation.generate`."""
        from kerazoo import generation

        return generation.generate(self, prompt, max_length=max_length, top_k=top_k, temperature=temperature, seed=seed)

    def metric(self, name, epoch=-1):
        """A metric of one epoch (the last by default), or None."""
        epochs = self.epochs
        if not epochs:
            return None
        return epochs[epoch].get(name)

    def __repr__(self):
        parts = [f"Run('{self.directory}'", f"state={self.state}"]
        epochs = self.epochs
        if epochs:
            parts.append(f"epochs={len(epochs)}")
            accuracy = epochs[-1].get("val_accuracy")
            if isinstance(accuracy, float):
                parts.append(f"val_accuracy={accuracy:.4f}")
        return ", ".join(parts) + ")"


def load_run(directory):
    """Open a run directory written by `kerazoo train`."""
    path = pathlib.Path(directory)
    if not (path / rundir.RECIPE_FILE).exists():
        raise UsageError(f"'{directory}' is not a kerazoo run directory (it has no {rundir.RECIPE_FILE}).")
    return Run(path)


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
