"""safeio: the one input layer of accelsim, shared by every package (no other dependency).

* ``read_text(path, what, error)``: a regular file only (no FIFO, device, directory), at most
  ``limit("input_bytes")`` bytes, UTF-8, every failure one line ``PATH: problem``;
* ``Yaml12Loader`` / ``yaml_scalar``: YAML with the YAML 1.2 core schema (``1e3`` is a float,
  ``010`` is 10, ``2:30`` and ``yes`` are strings), every file and every override alike;
  ``FastYaml12Loader`` is the same reader on libyaml, ``fast_loader_for(text)`` says when it
  may be used (``safeio.yaml12``);
* ``loads_json``: strict JSON (duplicate keys, NaN/Infinity and huge integers are errors);
* ``limit(name)`` / ``check_limit``: resource bounds checked before work starts, each
  configurable with an environment variable ``ACCELSIM_LIMIT_<NAME>``.

The YAML names are loaded on first use (PEP 562), so that the error types cost no yaml import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .files import InputFileError, read_bytes, read_text
from .jsonio import dumps_strict, loads_json
from .limits import LIMITS, MAX_INT_DIGITS, LimitError, check_limit, limit

if TYPE_CHECKING:
    from .yaml12 import FastYaml12Loader, Yaml12Loader, fast_loader_for, yaml_scalar

__all__ = [
    "LIMITS",
    "MAX_INT_DIGITS",
    "FastYaml12Loader",
    "InputFileError",
    "LimitError",
    "Yaml12Loader",
    "check_limit",
    "dumps_strict",
    "fast_loader_for",
    "limit",
    "loads_json",
    "read_bytes",
    "read_text",
    "yaml_scalar",
]


def __getattr__(name: str) -> Any:
    if name in ("FastYaml12Loader", "Yaml12Loader", "fast_loader_for", "yaml_scalar"):
        from . import yaml12

        value = getattr(yaml12, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
