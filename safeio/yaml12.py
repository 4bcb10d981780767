"""A PyYAML ``SafeLoader`` that follows the YAML 1.2 core schema for plain scalars.

PyYAML implements YAML 1.1: ``010`` is 8, ``2:30`` is 150, ``yes`` is true, ``1e3`` a string and
dates are timestamps. Here, as in YAML 1.2 (and JSON): integers are decimal, ``0o17`` or
``0x1f``; floats have a dot or an exponent (``1e3``, ``1.5e-7``, ``.inf``, ``.nan``); booleans are
``true``/``false``; null is ``null``, ``~`` or empty; everything else is a string. Integers
longer than ``MAX_INT_DIGITS`` digits are refused (a clear error, not a slow conversion).

``FastYaml12Loader`` (``None`` without libyaml) reads the same documents about ten times faster:
libyaml's scanner and parser (the C part of PyYAML, whose events carry the same marks, so every
node still knows its line) under PyYAML's own composer, resolvers and constructors. Its errors
are libyaml's, worded differently: callers that report errors re-read a failing document with
``Yaml12Loader`` (see ``arch.loader``). libyaml also accepts a few texts PyYAML refuses (tabs
as separators, ``|#``) and reads a bare ``!`` tag differently, so ``fast_loader_for(text)``
offers it only for ASCII texts without tabs, ``!`` or a block-scalar header before ``#``
(tests/test_startup.py checks that the two readers then agree).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .limits import MAX_INT_DIGITS

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


FastYaml12Loader: Any = None
if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _FastYaml12Loader(yaml.composer.Composer, CParser,  # type: ignore[misc]
                            yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml events, PyYAML's composer (Python recursion, so a too-deep document is a
        ``RecursionError`` as with ``Yaml12Loader``) and ``Yaml12Loader``'s scalars."""

        yaml_implicit_resolvers = Yaml12Loader.yaml_implicit_resolvers
        yaml_constructors = Yaml12Loader.yaml_constructors

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    FastYaml12Loader = _FastYaml12Loader


_LIBYAML_DIFFERS = re.compile(r"[\t!]|[|>][-+0-9]*#")


def fast_loader_for(text: str) -> Any:
    """``FastYaml12Loader`` if it reads ``text`` as ``Yaml12Loader`` would (or fails), else
    ``None`` (see the module docstring)."""
    if FastYaml12Loader is None or not text.isascii() or _LIBYAML_DIFFERS.search(text):
        return None
    return FastYaml12Loader


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
