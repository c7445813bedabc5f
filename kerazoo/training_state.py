"""Read and write every variable a resumed run needs, in a fixed order.

Three groups: the model's variables (weights, BatchNorm statistics, and the
seed-generator states of dropout and augmentation layers, so RNG continues),
the optimizer's (iteration count, hence the schedule position; slots; loss
scale; EMA averages) and the compiled metrics' accumulators (so an epoch cut
in half still reports the mean over all its steps).
"""

import numpy as np

from kerazoo.errors import UsageError


def _groups(model):
    return {
        "model": model.variables,
        "optimizer": model.optimizer.variables,
        "metrics": model.metrics_variables,
    }


def collect(model):
    """Return ({array name: numpy array}, {group: [variable paths]})."""
    arrays, layout = {}, {}
    for group, variables in _groups(model).items():
        layout[group] = [variable.path for variable in variables]
        for index, variable in enumerate(variables):
            # .numpy() also aggregates SyncOnRead metric variables under tf.distribute.
            arrays[f"{group}.{index:05d}"] = np.asarray(variable.numpy())
    return arrays, layout


def restore(model, arrays, layout, groups=("model", "optimizer")):
    """Assign saved arrays back, after checking the structure is the same.

    Raises:
        UsageError: the backup was written by a different model or optimizer.
    """
    current = _groups(model)
    for group in groups:
        variables = current[group]
        saved = [_comparable(group, path) for path in layout[group]]
        paths = [_comparable(group, variable.path) for variable in variables]
        if paths != saved:
            missing = sorted(set(saved) ^ set(paths))[:5]
            raise UsageError(
                f"The backup's {group} variables do not match this run's ({len(saved)} saved, "
                f"{len(paths)} now; differing: {', '.join(missing) or 'order'}). The recipe, "
                "precision or optimizer changed since the backup. Use --restart to start over."
            )
        for index, variable in enumerate(variables):
            value = arrays[f"{group}.{index:05d}"]
            if tuple(value.shape) != tuple(variable.shape):
                raise UsageError(
                    f"The backup's {variable.path} has shape {value.shape}, this run's {variable.shape}. "
                    "Use --restart to start over."
                )
            variable.assign(value)


def _comparable(group, path):
    # An optimizer's variables start with its name, which Keras numbers by
    # creation order ("sgd_1"); what they are is the rest of the path.
    return path.split("/", 1)[-1] if group == "optimizer" else path
