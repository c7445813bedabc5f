"""kerazoo: a Keras 3 model zoo of complete, offline-first training recipes.

```python
from kerazoo import recipes
run = recipes.get("resnet20").train(data="digits", epochs=8)
```

Importing kerazoo is cheap: TensorFlow and Keras load only when a model is
built or trained.
"""

__version__ = "0.1.0"


def load_run(directory):
    """Open a run directory written by `kerazoo train` (see `kerazoo.run.Run`)."""
    from kerazoo.run import load_run as _load_run

    return _load_run(directory)


def __getattr__(name):
    # `kerazoo.recipes` without an explicit submodule import.
    if name == "recipes":
        import importlib

        return importlib.import_module("kerazoo.recipes")
    raise AttributeError(f"module 'kerazoo' has no attribute '{name}'")
