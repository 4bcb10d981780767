"""arch: architecture configs (pydantic v2) loaded from YAML/JSON, presets, component graph.

``load(name_or_path, overrides)`` takes a preset name (``presets()``), a ``.yaml``/``.yml``/
``.json`` file or ``scalesim:PATH.cfg``; every problem is a one-line ``ConfigError``. No torch.

Only ``ConfigError`` is imported with the package; every other name is loaded on first use
(PEP 562), so that ``arch.errors`` (which the CLI needs before it parses its arguments) costs
nothing and pydantic and yaml load only when an architecture does (networkx only for
``build_graph``).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from safeio.lazy import lazy_getattr

from .errors import ConfigError

if TYPE_CHECKING:
    from .graph import (
        build_graph,
        check_runnable,
        component_graph,
        native_attention,
        path_from_dram,
        required_units,
        sram_for,
        units_for,
    )
    from .loader import load, loads, presets
    from .schema import Architecture

#: Public name -> the submodule that defines it.
_LAZY = {"build_graph": "graph", "check_runnable": "graph", "component_graph": "graph",
         "native_attention": "graph",
         "path_from_dram": "graph", "required_units": "graph", "sram_for": "graph",
         "units_for": "graph", "load": "loader", "loads": "loader", "presets": "loader",
         "Architecture": "schema"}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def to_yaml(arch: Architecture) -> str:
    """The architecture as YAML, every field explicit; ``load`` of it gives ``arch`` back."""
    import yaml

    return yaml.safe_dump(arch.model_dump(mode="json"), sort_keys=False, allow_unicode=True,
                          width=100, default_flow_style=False)


def schema() -> dict:
    """The JSON Schema of ``Architecture`` (with every field's description and unit)."""
    from .schema import Architecture

    out = Architecture.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return out


class _Package(types.ModuleType):
    """The package's module type: ``arch.schema`` stays the function above when the submodule
    of the same name is first imported (the import system sets it as an attribute; the
    submodule itself is reached as ``sys.modules["arch.schema"]`` or ``from arch.schema``)."""

    @property
    def schema(self):
        return _schema

    @schema.setter
    def schema(self, value: Any) -> None:
        if not isinstance(value, types.ModuleType):
            raise AttributeError("arch.schema is the JSON Schema function")


_schema = schema
sys.modules[__name__].__class__ = _Package


def schema_json() -> str:
    import json

    return json.dumps(_schema(), indent=2) + "\n"


__all__ = [
    "Architecture",
    "ConfigError",
    "build_graph",
    "check_runnable",
    "component_graph",
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
