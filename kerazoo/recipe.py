"""`Recipe`: one resolved, validated training recipe.

A recipe says *what* to train (model, data shape, augmentation, optimiser,
schedule) and what it is known to reach (its card); never *where*: precision,
strategy and devices are decided by the plan at run time.
"""

import copy
import dataclasses
import hashlib
import json
from typing import Optional

from kerazoo import schema, yaml_io
from kerazoo.errors import UsageError, did_you_mean


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A complete training recipe, as loaded from one YAML file.

    Get one with `kerazoo.recipes.get("resnet20")` or
    `kerazoo.recipes.load("mine.yaml")`; derive variants with `override`.

    Example:

    ```python
    from kerazoo import recipes
    recipe = recipes.get("resnet20").override({"train.epochs": 3})
    run = recipe.train(data="digits")
    run.history.history["val_accuracy"][-1]
    ```
    """

    name: str
    model: schema.ModelSection
    data: schema.DataSection
    augment: schema.AugmentSection
    training: schema.TrainSection  # the file's `train:` section (`train()` trains)
    card: schema.CardSection
    source: Optional[str] = dataclasses.field(default=None, compare=False)

    @classmethod
    def from_dict(cls, raw, origin, name=None, source=None):
        """Validate a merged mapping (no `base:` left) into a `Recipe`."""
        from kerazoo.models import registry

        sections = schema.parse_recipe_dict(raw, origin)
        name = raw.get("name") or name
        if not name or not isinstance(name, str):
            raise UsageError(f"{origin}: the recipe has no 'name'.")
        registry.check(sections["model"], sections["card"].task, origin)
        _check_shapes(sections, origin)
        sections["training"] = sections.pop("train")
        return cls(name=name, source=source, **sections)

    @property
    def task(self):
        """`"image"` or `"text"`."""
        return self.card.task

    def to_dict(self):
        """The resolved recipe as plain data, exactly what `recipe.yaml` holds."""
        out = {"name": self.name}
        for section in schema.SECTIONS:
            out[section] = schema.to_plain(self.section(section))
        return out

    def section(self, name):
        """A section by its name in the file: model, data, augment, train, card."""
        return self.training if name == "train" else getattr(self, name)

    def to_yaml(self):
        return yaml_io.dump(self.to_dict())

    def fingerprint(self):
        """A hash of everything that changes training (the card does not)."""
        training = {k: v for k, v in self.to_dict().items() if k != "card"}
        text = json.dumps(training, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def override(self, overrides):
        """Return a new recipe with dotted keys replaced.

        Args:
            overrides: a mapping such as `{"train.epochs": 3,
                "model.args.depth": 56}`. Values are checked against the
                schema exactly as if they were written in the file.
        """
        if not overrides:
            return self
        raw = self.to_dict()
        for dotted, value in overrides.items():
            _set_dotted(raw, dotted, value, self.name)
        return Recipe.from_dict(raw, origin=f"recipe '{self.name}' with overrides", source=self.source)

    def build_model(self, num_classes=None, *, vocabulary_size=None, precision=None):
        """Build the classifier this recipe trains, with random weights.

        Args:
            num_classes: classes of the head; defaults to the reference
                dataset's (`data.num_classes`).
            vocabulary_size: text recipes only; defaults to `data.vocabulary_size`.
            precision: a Keras dtype policy name to build under, such as
                `"mixed_bfloat16"`; `None` keeps the current global policy.

        Returns:
            A `keras.Model` that maps inputs to float32 logits.
        """
        from kerazoo import models

        return models.build_classifier(
            self, num_classes=num_classes, vocabulary_size=vocabulary_size, precision=precision
        )

    def train(self, data=None, **options):
        """Train this recipe and return the finished `Run`.

        Args:
            data: `"digits"`, `"synthetic"`, a folder, a CSV file or
                `"tfds:NAME"`; `None` looks for the recipe's reference dataset.
            **options: the `kerazoo train` options as keyword arguments:
                `epochs`, `steps_per_epoch`, `batch_size`, `precision`,
                `strategy`, `cpu_replicas`, `run_dir`, `profile_batches`,
                `seed`, `xla`, `verbose`.
        """
        from kerazoo import trainer

        return trainer.train(self, data=data, **options)

    def __repr__(self):
        shape = (
            f"{self.data.image_size} px"
            if self.task == "image"
            else f"{self.data.sequence_length} tokens"
        )
        args = ", ".join(f"{k}={v}" for k, v in self.model.args.items())
        return (
            f"Recipe('{self.name}', task={self.task}, model={self.model.builder}({args}), "
            f"{shape}, {self.training.epochs} epochs, {self.training.optimizer} "
            f"lr {self.training.learning_rate:g} @ batch {self.training.reference_batch_size})"
        )

    def _repr_pretty_(self, printer, cycle):  # IPython / Jupyter
        printer.text(repr(self) if cycle else self.to_yaml())


def _set_dotted(raw, dotted, value, name):
    parts = dotted.split(".")
    valid = schema.all_keys()
    section = parts[0]
    free_form = len(parts) >= 3 and parts[:2] == ["model", "args"]
    if not free_form and (len(parts) != 2 or dotted not in valid):
        raise UsageError(
            f"Cannot set '{dotted}' on recipe '{name}': no such key."
            f"{did_you_mean(dotted, valid)} Keys look like 'train.epochs' or 'model.args.depth'."
        )
    node = raw.setdefault(section, {})
    for part in parts[1:-1]:
        child = node.get(part)
        node[part] = child = copy.deepcopy(child) if isinstance(child, dict) else {}
        node = child
    node[parts[-1]] = value


def _check_shapes(sections, origin):
    """The data section must give the shape the task needs."""
    data, task = sections["data"], sections["card"].task
    if task == "image" and not data.image_size:
        raise UsageError(f"{origin}: image recipes need 'data.image_size'.")
    if task == "text" and not (data.sequence_length and data.vocabulary_size):
        raise UsageError(f"{origin}: text recipes need 'data.sequence_length' and 'data.vocabulary_size'.")
    train = sections["train"]
    for key in ("epochs", "batch_size", "reference_batch_size"):
        if getattr(train, key) < 1:
            raise UsageError(f"{origin}: 'train.{key}' must be 1 or more, got {getattr(train, key)}.")
    if train.steps_per_epoch is not None and train.steps_per_epoch < 1:
        raise UsageError(f"{origin}: 'train.steps_per_epoch' must be 1 or more, got {train.steps_per_epoch}.")
    if train.learning_rate <= 0:
        raise UsageError(f"{origin}: 'train.learning_rate' must be positive, got {train.learning_rate}.")
    if not 0 < data.validation_split < 1:
        raise UsageError(f"{origin}: 'data.validation_split' must be between 0 and 1, got {data.validation_split}.")
