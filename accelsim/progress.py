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


class Stages:
    """Named stages of one long step (tracing: build model, export, convert), on one line of
    stderr when it is a terminal: ``trace deit_tiny: export ...  (build model 0.3 s)`` while it
    runs, ``trace deit_tiny: build model 0.3 s, export 1.0 s, convert 0.1 s`` at the end.

    Call the object with each stage's name as it starts; ``close`` ends the line. Disabled (not
    a terminal) it does nothing at all, so pipes, CI and ``--json`` output never see it.
    """

    def __init__(self, label: str, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.done: list[tuple[str, float]] = []
        self.current: tuple[str, float] | None = None

    def _finish_current(self) -> None:
        if self.current is not None:
            name, t0 = self.current
            self.done.append((name, time.monotonic() - t0))
            self.current = None

    def _times(self) -> str:
        return ", ".join(f"{name} {secs:.1f} s" for name, secs in self.done)

    def __call__(self, stage: str) -> None:
        if not self.enabled:
            return
        self._finish_current()
        self.current = (stage, time.monotonic())
        past = f"  ({self._times()})" if self.done else ""
        self.stream.write(f"\r{self.label}: {stage} ...{past}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """End the line with every stage's time (when anything was drawn)."""
        if not self.enabled or (self.current is None and not self.done):
            return
        self._finish_current()
        self.stream.write(f"\r{self.label}: {self._times()}\x1b[K\n")
        self.stream.flush()
        self.done = []

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
