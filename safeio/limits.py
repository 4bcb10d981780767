"""Resource limits, checked before work starts: ``too large: N > limit, raise it with ...``.

Each limit has a default and an environment variable ``ACCELSIM_LIMIT_<NAME>`` (upper case)
that raises (or lowers) it, e.g. ``ACCELSIM_LIMIT_TILES=5000000``.
"""

from __future__ import annotations

import os

#: Most digits of an integer in YAML or JSON input (a clear error, not a slow conversion).
MAX_INT_DIGITS = 100

#: name -> (default, what it bounds). The defaults leave room for the largest zoo model
#: (ViT-Large at 384 px) on every preset, and stop inputs that would exhaust memory or time.
LIMITS: dict[str, tuple[int, str]] = {
    "input_bytes": (256 * 2**20, "bytes of one input file"),
    "ops": (200_000, "ops of one workload graph"),
    "dim": (2**31, "one tensor dimension or matmul size"),
    "elements": (2**40, "elements of one tensor"),
    "macs": (10**14, "MACs of one workload"),
    "tiles": (2_000_000, "estimated tiles of one simulation"),
    "instances": (4096, "unit instances of an architecture (chunks x units)"),
    "points": (100_000, "design points of one sweep"),
    "workers": (256, "worker processes of one sweep"),
    "img_size": (4096, "image side of a traced model, unit: pixels"),
    "number": (10**15, "magnitude of one number of an architecture"),
}


class LimitError(ValueError):
    """An input over a resource limit (bad input: exit code 2)."""


def env_name(name: str) -> str:
    return f"ACCELSIM_LIMIT_{name.upper()}"


def limit(name: str) -> int:
    """The limit ``name``: ``$ACCELSIM_LIMIT_<NAME>`` if set (a positive integer), else the
    default of ``LIMITS``."""
    default = LIMITS[name][0]
    text = os.environ.get(env_name(name), "").strip().replace("_", "")
    if not text:
        return default
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except (ValueError, OverflowError):
        raise LimitError(f"{env_name(name)}={text!r}: want a positive integer") from None
    if value <= 0:
        raise LimitError(f"{env_name(name)}={text!r}: want a positive integer")
    return value


def check_limit(name: str, value: int | float, what: str,
                error: type[Exception] = LimitError) -> None:
    """Raise ``error`` with ``what: too large: VALUE > LIMIT, raise it with ENV=N`` when
    ``value`` exceeds the limit ``name``."""
    bound = limit(name)
    if value > bound:
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
        raise error(f"{what}: too large: {shown} > {bound:,} ({LIMITS[name][1]}), raise it "
                    f"with {env_name(name)}=N")
