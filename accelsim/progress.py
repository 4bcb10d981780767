"""A tiny progress printer for long runs (no dependency): a bar on stderr when it is a terminal.

The engine calls ``update(tiles_done)`` every 256 completed tiles (no extra simulation events,
so a run's results never depend on whether a bar is drawn) and ``close`` at the end.

``update`` is cheap: it redraws at most every ``min_interval`` seconds, and does nothing at all
when disabled (stderr not a terminal, e.g. in CI or with ``--json`` piped), so it never changes
what a run writes to stdout or to ``--out``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``[#########.........]  45%  12,345/27,000 tiles  1.2 s`` redrawn in place."""

    def __init__(self, total: int, label: str = "", unit: str = "tiles",
                 stream: TextIO | None = None, enabled: bool | None = None,
                 min_interval: float = 0.1, width: int = 30) -> None:
        if total < 0:
            raise ValueError(f"progress total must be >= 0, got {total}")
        self.total, self.label, self.unit, self.width = total, label, unit, width
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.min_interval = min_interval
        self.t0 = time.monotonic()
        self._last = -float("inf")
        self._drawn = False

    def line(self, done: int) -> str:
        frac = min(done / self.total, 1.0) if self.total else 1.0
        fill = int(frac * self.width)
        head = f"{self.label} " if self.label else ""
        return (f"{head}[{'#' * fill}{'.' * (self.width - fill)}] {frac:4.0%}  "
                f"{done:,}/{self.total:,} {self.unit}  {time.monotonic() - self.t0:.1f} s")

    def update(self, done: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        self.stream.write("\r" + self.line(done) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    __call__ = update

    def close(self, done: int | None = None) -> None:
        """End the line (when anything was drawn), after drawing ``done`` if given."""
        if self.enabled and self._drawn:
            if done is not None:
                self.update(done, force=True)
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
