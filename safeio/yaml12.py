"""A PyYAML ``SafeLoader`` that follows the YAML 1.2 core schema for plain scalars.

PyYAML implements YAML 1.1: ``010`` is 8, ``2:30`` is 150, ``yes`` is true, ``1e3`` a string and
dates are timestamps. Here, as in YAML 1.2 (and JSON): integers are decimal, ``0o17`` or
``0x1f``; floats have a dot or an exponent (``1e3``, ``1.5e-7``, ``.inf``, ``.nan``); booleans are
``true``/``false``; null is ``null``, ``~`` or empty; everything else is a string. Integers
longer than ``MAX_INT_DIGITS`` digits are refused (a clear error, not a slow conversion).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_INT_DIGITS = 100

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars (see the module docstring)."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
        ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
        ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
        ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789."),
        ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), "<")):
    Yaml12Loader.add_implicit_resolver(_tag, _regexp, list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    body = text.lstrip("+-")
    if len(body) > MAX_INT_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"integer of {len(body)} digits: too large (at most {MAX_INT_DIGITS})",
            node.start_mark)
    try:
        if body.startswith("0o"):
            value = int(body[2:], 8)
        elif body.startswith("0x"):
            value = int(body[2:], 16)
        else:
            value = int(body, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"not an integer: {text!r}", node.start_mark) from None
    return -value if text.startswith("-") else value


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = str(loader.construct_scalar(node)).lower()  # type: ignore[arg-type]
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == ".inf":
        return sign * float("inf")
    if body == ".nan":
        return float("nan")
    if len(body) > MAX_INT_DIGITS + 20:
        raise yaml.constructor.ConstructorError(
            None, None, f"number of {len(body)} characters: too long", node.start_mark)
    try:
        return sign * float(body)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a number: {text!r}", node.start_mark) from None


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def yaml_scalar(text: str) -> Any:
    """One value (``--set PATH=VALUE``, a sweep override) parsed as YAML 1.2; raises
    ``yaml.YAMLError``. An empty text is ``None``."""
    if not text.strip():
        return None
    loader = Yaml12Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
