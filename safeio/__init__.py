"""safeio: the one input layer of accelsim, shared by every package (no other dependency).

* ``read_text(path, what, error)``: a regular file only (no FIFO, device, directory), at most
  ``limit("input_bytes")`` bytes, UTF-8, every failure one line ``PATH: problem``;
* ``load_yaml`` / ``yaml_scalar``: YAML with the YAML 1.2 core schema (``1e3`` is a float,
  ``010`` is 10, ``2:30`` and ``yes`` are strings), every file and every override alike;
* ``loads_json``: strict JSON (duplicate keys, NaN/Infinity and huge integers are errors);
* ``limit(name)`` / ``check_limit``: resource bounds checked before work starts, each
  configurable with an environment variable ``ACCELSIM_LIMIT_<NAME>``.
"""

from __future__ import annotations

from .files import InputFileError, read_bytes, read_text
from .jsonio import dumps_strict, loads_json
from .limits import LIMITS, LimitError, check_limit, limit
from .yaml12 import MAX_INT_DIGITS, Yaml12Loader, yaml_scalar

__all__ = [
    "LIMITS",
    "MAX_INT_DIGITS",
    "InputFileError",
    "LimitError",
    "Yaml12Loader",
    "check_limit",
    "dumps_strict",
    "limit",
    "loads_json",
    "read_bytes",
    "read_text",
    "yaml_scalar",
]
