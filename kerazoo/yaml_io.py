"""YAML reading and writing with the number rules people expect.

PyYAML follows YAML 1.1, where `1e-4` is a *string*; recipes are full of
such learning rates and weight decays, so floats in exponent form without a
dot are resolved as floats here (yaml/pyyaml#173).
"""

import re

import yaml


class _Loader(yaml.SafeLoader):
    pass


_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def load(text):
    """Parse YAML text into plain Python values."""
    return yaml.load(text, Loader=_Loader)


def parse_value(text):
    """Parse one `--set` value the way it would read inside a recipe file."""
    try:
        return load(text)
    except yaml.YAMLError:
        return text


def dump(data):
    """Write plain data as block-style YAML, keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
