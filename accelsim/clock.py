"""The engine's SimPy plumbing: an integer-time environment and the prefetch slots between a
unit's loader and the unit (``accelsim.engine``)."""

from __future__ import annotations

import simpy


class Clock(simpy.Environment):
    """A SimPy environment whose time is an integer cycle count (every delay the engine
    schedules is a whole number of cycles, from time 0)."""

    @property
    def now(self) -> int:
        return self._now  # type: ignore[return-value]


class Slots:
    """The prefetch slots between a unit's loader and the unit: a counter instead of a SimPy
    ``Container``, with the same order of events (a granted slot resumes the loader one
    scheduler step later, a returned slot reaches a waiting loader two steps later) but
    without the resource machinery and without an event for a slot returned while nobody
    waits."""

    __slots__ = ("env", "free", "waiting")

    def __init__(self, env: simpy.Environment, depth: int) -> None:
        self.env, self.free = env, depth
        self.waiting: simpy.Event | None = None

    def take(self) -> simpy.Event:
        """The event the loader yields for a slot."""
        if self.free:
            self.free -= 1
            return self.env.timeout(0)
        self.waiting = self.env.event()
        return self.waiting

    def give(self) -> None:
        """Return a slot (to the waiting loader, if there is one)."""
        if self.waiting is None:
            self.free += 1
        else:
            self.env.timeout(0).callbacks.append(self._hand_over)

    def _hand_over(self, _event: simpy.Event) -> None:
        """A returned slot reaches the waiting loader; if an earlier slot returned in the same
        step already reached it, this one goes back to the free count (as a second ``put``
        into a ``Container`` with one ``get`` waiting would)."""
        ev, self.waiting = self.waiting, None
        if ev is None:
            self.free += 1
        else:
            ev.succeed()
