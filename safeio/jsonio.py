"""Strict JSON in and out: duplicate keys, NaN/Infinity and huge integers are refused."""

from __future__ import annotations

import json
from typing import Any

from .limits import MAX_INT_DIGITS


class JSONInputError(ValueError):
    """Raised inside the decoder; ``loads_json`` turns it into the caller's error."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONInputError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONInputError(f"integer of {len(text.lstrip('-'))} digits: too large "
                             f"(at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_INT_DIGITS + 20:
        raise JSONInputError(f"number of {len(text)} characters: too long")
    return float(text)


def _constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not JSON (want a finite number)")


def loads_json(text: str, source: str, error: type[Exception] = ValueError) -> Any:
    """Parse strict JSON; any problem raises ``error("SOURCE[:LINE]: invalid JSON: ...")``."""
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float,
                          parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except JSONInputError as exc:
        raise error(f"{source}: invalid JSON: {exc}") from None
    except RecursionError:
        raise error(f"{source}: invalid JSON: nested too deeply") from None


def dumps_strict(value: Any, **kw: Any) -> str:
    """``json.dumps`` that refuses NaN and infinities (``allow_nan=False``): output is always
    JSON any parser reads."""
    return json.dumps(value, allow_nan=False, **kw)
