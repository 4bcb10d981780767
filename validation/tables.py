"""Markdown helpers shared by the validation sections: tables, numbers, statistics.

Each section of ``docs/validation.md`` is a ``Section``: a title, markdown text and the data
behind it (kept so that tests and plots read numbers, not markdown).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    """One part of the report: ``title`` (a level-2 heading), ``body`` (markdown) and ``data``."""

    key: str
    title: str
    body: str
    data: dict[Any, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def markdown(self) -> str:
        return f"## {self.title}\n\n{self.body.strip()}\n"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A GitHub markdown table. ``align`` has one letter per column, ``l`` or ``r`` (default:
    the first column left, the others right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def command(cmd: str, note: str = "") -> str:
    """The line under a table that names the command producing it."""
    return f"*Produced by* `{cmd}`" + (f" — {note}" if note else "") + "."


def num(x: float | int | None, digits: int = 0) -> str:
    """Thousands-separated number; ``-`` for None."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def ratio(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}x"


def pct(x: float, digits: int = 1) -> str:
    return f"{x * 100:+.{digits}f}%"


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """min, p10, median, p90, max of ``values`` (nearest-rank percentiles; NaN when empty)."""
    if not values:
        nan = float("nan")
        return {"min": nan, "p10": nan, "median": nan, "p90": nan, "max": nan}
    v = sorted(values)

    def rank(q: float) -> float:
        return v[min(len(v) - 1, max(0, math.ceil(q * len(v)) - 1))]

    return {"min": v[0], "p10": rank(0.10), "median": statistics.median(v), "p90": rank(0.90),
            "max": v[-1]}


def geomean(values: Iterable[float]) -> float:
    vals = [v for v in values if v > 0]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else float("nan")
