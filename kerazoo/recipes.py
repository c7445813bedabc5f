"""The recipe registry: one way in, for the command line and notebooks alike.

```python
from kerazoo import recipes
recipes.list("resnet*", task="image")   # ['resnet20', 'resnet50', ...]
recipe = recipes.get("resnet20")
mine = recipes.load("mine.yaml")         # may say `base: resnet20`
```

Built-in recipes are the YAML files under the top-level `recipes/` folder,
shipped inside the wheel as `kerazoo/builtin_recipes/`. No TensorFlow or
Keras is imported here.
"""

import fnmatch
import functools
import pathlib
import typing

from kerazoo import yaml_io
from kerazoo.errors import UsageError, did_you_mean
from kerazoo.recipe import Recipe
from kerazoo.schema import Task

_MAX_BASE_DEPTH = 16
TASKS = typing.get_args(Task)


def builtin_dir():
    """The folder holding the built-in recipe files."""
    # An installed wheel: kerazoo/builtin_recipes/ (pyproject.toml maps the
    # top-level recipes/ there). It is a namespace package, for which
    # importlib.resources returns a MultiplexedPath, not a folder: look
    # beside this module instead.
    packaged = pathlib.Path(__file__).resolve().parent / "builtin_recipes"
    if packaged.is_dir():
        return packaged
    # A source checkout or an editable install: the top-level recipes/.
    return pathlib.Path(__file__).resolve().parent.parent / "recipes"


@functools.lru_cache(maxsize=1)
def _builtin_files():
    files = {}
    for path in sorted(builtin_dir().rglob("*.yaml")):
        if path.stem in files:
            raise RuntimeError(f"two built-in recipes are named '{path.stem}': {files[path.stem]} and {path}")
        files[path.stem] = path
    return files


def names():
    """All built-in recipe names, sorted."""
    return sorted(_builtin_files())


def list(pattern=None, task=None):  # noqa: A001 - mirrors timm.list_models
    """Names of built-in recipes, optionally filtered.

    Args:
        pattern: a shell-style pattern such as `"resnet*"`.
        task: `"image"`, `"text"` or `"text_generation"`.
    """
    if task is not None and task not in TASKS:
        raise UsageError(f"Unknown task '{task}'.{did_you_mean(task, TASKS)} Use one of: {', '.join(TASKS)}.")
    found = []
    for name in names():
        if pattern and not fnmatch.fnmatch(name, pattern):
            continue
        if task and _raw_task(name) != task:
            continue
        found.append(name)
    return found


def get(name):
    """The built-in recipe called `name`.

    Raises:
        UsageError: no such recipe; the message suggests the closest name.
    """
    files = _builtin_files()
    if name not in files:
        raise UsageError(
            f"Unknown recipe '{name}'.{did_you_mean(name, files)} Run 'kerazoo list' to see all."
        )
    return _load_file(files[name])


def load(path):
    """A recipe from a YAML file of your own (it may inherit with `base:`)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"Recipe file '{path}' does not exist. Give a path to a .yaml file or a built-in name.")
    return _load_file(path.resolve())


def resolve(name_or_path):
    """A built-in name or a path to a file, as the command line accepts."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or pathlib.Path(text).is_file():
        return load(text)
    return get(text)


def _load_file(path):
    raw = _merged_raw(path, chain=())
    return Recipe.from_dict(raw, origin=str(path), name=path.stem, source=str(path))


def _read_yaml(path):
    try:
        data = yaml_io.load(path.read_text(encoding="utf-8"))
    except Exception as error:  # yaml.YAMLError, UnicodeDecodeError
        raise UsageError(f"{path}: not a readable YAML file ({error}).") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a recipe must be a mapping of sections.")
    return data


def _merged_raw(path, chain):
    """Read `path` and merge it over its `base:` chain."""
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise UsageError(f"Recipe inheritance loops: {cycle}.")
    if len(chain) > _MAX_BASE_DEPTH:
        raise UsageError(f"{path}: `base:` chain deeper than {_MAX_BASE_DEPTH}.")
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    raw.setdefault("name", path.stem)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise UsageError(f"{path}: 'base' must be a recipe name or a file path, got {base!r}.")
    base_path = _base_path(base, path)
    merged = _merged_raw(base_path, (*chain, path))
    # A card describes one recipe's published figures, so only its task is inherited.
    merged["card"] = {"task": merged.get("card", {}).get("task")}
    return _deep_merge(merged, raw)


def _base_path(base, child):
    candidate = (child.parent / base)
    if base.endswith((".yaml", ".yml")) or "/" in base:
        if not candidate.is_file():
            raise UsageError(f"{child}: base file '{base}' not found (looked at {candidate}).")
        return candidate.resolve()
    files = _builtin_files()
    if base not in files:
        raise UsageError(
            f"{child}: base recipe '{base}' is not a built-in recipe.{did_you_mean(base, files)}"
            " Run 'kerazoo list' to see all, or give a relative path to a .yaml file."
        )
    return files[base]


def _deep_merge(base, override):
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@functools.lru_cache(maxsize=None)
def _raw_task(name):
    return get(name).task


def summaries(pattern=None, task=None):
    """One plain dict per recipe for listings: card figures and the
    generated catalogue's counts (params, FLOPs), without building models."""
    from kerazoo import catalog

    rows = []
    for name in list(pattern, task):
        recipe = get(name)
        rows.append(catalog.summary(recipe))
    return rows


__all__ = ["builtin_dir", "get", "list", "load", "names", "resolve", "summaries"]
