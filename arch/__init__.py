"""arch: architecture configs (pydantic v2) loaded from YAML/JSON, presets, component graph."""

from .errors import ConfigError

__all__ = ["ConfigError"]
