"""arch: architecture configs (pydantic v2) loaded from YAML/JSON, presets, component graph.

``load(name_or_path, overrides)`` takes a preset name (``presets()``), a ``.yaml``/``.yml``/
``.json`` file or ``scalesim:PATH.cfg``; every problem is a one-line ``ConfigError``. No torch.
"""

from __future__ import annotations

import json

import yaml

from .errors import ConfigError
from .graph import (
    build_graph,
    check_runnable,
    native_attention,
    path_from_dram,
    required_units,
    sram_for,
    units_for,
)
from .loader import load, loads, presets
from .schema import Architecture


def to_yaml(arch: Architecture) -> str:
    """The architecture as YAML, every field explicit; ``load`` of it gives ``arch`` back."""
    return yaml.safe_dump(arch.model_dump(mode="json"), sort_keys=False, allow_unicode=True,
                          width=100, default_flow_style=False)


def schema() -> dict:
    """The JSON Schema of ``Architecture`` (with every field's description and unit)."""
    out = Architecture.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return out


def schema_json() -> str:
    return json.dumps(schema(), indent=2) + "\n"


__all__ = [
    "Architecture",
    "ConfigError",
    "build_graph",
    "check_runnable",
    "load",
    "loads",
    "native_attention",
    "path_from_dram",
    "presets",
    "required_units",
    "schema",
    "schema_json",
    "sram_for",
    "to_yaml",
    "units_for",
]
