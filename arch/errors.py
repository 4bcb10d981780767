"""The one error type of the arch package: a bad architecture config."""

from __future__ import annotations


class ConfigError(ValueError):
    """An architecture file or override is invalid.

    The message is one line naming the file, the field path and (for YAML) the line, e.g.
    ``my.yaml:12: chunks.units.sa_general.rows: must be > 0``.
    """
