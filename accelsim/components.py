"""Simulated components: one shared core for queueing and interval recording; each component
class states only its own timing and energy policy.

``Recorder`` keeps what a component instance did as intervals: busy, or stalled for a cause.
Whatever is neither is idle, so busy + stall + idle equals the makespan exactly.
``Server`` adds queueing in closed form: a request reserves the earliest free gap of the server
after it is ready, for as long as its size takes; reservations never overlap. Memories (DRAM channels,
SRAM ports, NoC links) are servers; compute units are recorders driven by engine processes.
"""

from __future__ import annotations

import math
from collections import defaultdict

from arch.schema import Dram, Noc, Sram


class Recorder:
    """Intervals of one component instance. States: "busy" or "stall:<cause>"."""

    __slots__ = ("busy_cycles", "intervals", "keep", "kind", "name", "stalls")

    def __init__(self, name: str, kind: str, keep_intervals: bool = True) -> None:
        self.name = name
        self.kind = kind  # the component's name within its chunk, or its memory name
        self.busy_cycles = 0
        self.stalls: dict[str, int] = defaultdict(int)
        self.keep = keep_intervals
        #: (start, end, state, label, bytes)
        self.intervals: list[tuple[int, int, str, str, int]] = []

    def busy(self, start: int, end: int, label: str = "", nbytes: int = 0) -> None:
        if end > start:
            self.busy_cycles += end - start
            if self.keep:
                self.intervals.append((start, end, "busy", label, nbytes))

    def stall(self, start: int, end: int, cause: str, label: str = "") -> None:
        if end > start:
            self.stalls[cause] += end - start
            if self.keep:
                self.intervals.append((start, end, f"stall:{cause}", label, 0))

    @property
    def stall_cycles(self) -> int:
        return sum(self.stalls.values())


class Server(Recorder):
    """A server moving bytes at ``bytes_per_cycle`` with a fixed ``latency`` (cycles).

    Requests are served as soon as the server has a free gap long enough after they are ready
    (earliest-fit, a transfer is never split), so a request made early for data that arrives
    late does not block shorter requests that fit in front of it.
    """

    __slots__ = ("bytes_per_cycle", "calendar", "latency", "moved_bytes")

    def __init__(self, name: str, kind: str, bytes_per_cycle: float, latency: int,
                 keep_intervals: bool = True) -> None:
        super().__init__(name, kind, keep_intervals)
        if bytes_per_cycle <= 0:
            raise ValueError(f"{name}: bandwidth must be positive, got {bytes_per_cycle}")
        self.bytes_per_cycle = bytes_per_cycle
        self.latency = latency
        self.moved_bytes = 0
        #: reservations that end in the future, sorted by start: [start, end] pairs
        self.calendar: list[list[int]] = []

    @property
    def free_at(self) -> int:
        return self.calendar[-1][1] if self.calendar else 0

    def duration(self, nbytes: int) -> int:
        return math.ceil(nbytes / self.bytes_per_cycle)

    def reserve(self, now: int, arrive: int, data_done: int, nbytes: int,
                label: str) -> tuple[int, int]:
        """Reserve the server for ``nbytes`` that start arriving at ``arrive`` and have all
        arrived by ``data_done``; returns (start, end) of its own transfer, which ends no
        earlier than the data it forwards (cut-through streaming)."""
        dur = self.duration(nbytes)
        cal = self.calendar
        while cal and cal[0][1] <= now:
            cal.pop(0)
        start = max(arrive, data_done - dur)
        pos = 0
        for pos, (s, e) in enumerate(cal):  # noqa: B007 - pos is used after the loop
            if start + dur <= s:
                break
            start = max(start, e)
        else:
            pos = len(cal)
        end = start + dur
        cal.insert(pos, [start, end])
        self.moved_bytes += nbytes
        self.busy(start, end, label, nbytes)
        return start, end


def transfer(stages: list[Server], now: int, nbytes: int, label: str) -> int:
    """Stream ``nbytes`` through ``stages`` in order (cut-through); returns when the last byte
    has left the last stage, latencies included."""
    arrive = data_done = now
    for server in stages:
        start, end = server.reserve(now, arrive, data_done, nbytes, label)
        arrive, data_done = start + server.latency, end + server.latency
    return data_done


def cycles_of_ns(ns: float, clock_mhz: float) -> int:
    return math.ceil(ns * clock_mhz / 1000)


def dram_channels(name: str, spec: Dram, clock_mhz: float, keep: bool) -> list[Server]:
    """DRAM: ``channels`` servers sharing the bandwidth equally, each with the access latency."""
    per_channel = spec.bandwidth_gbps * 1e9 / (clock_mhz * 1e6) / spec.channels
    latency = cycles_of_ns(spec.latency_ns, clock_mhz)
    return [Server(f"{name}.ch{i}", name, per_channel, latency, keep)
            for i in range(spec.channels)]


def sram_port(name: str, spec: Sram, keep: bool) -> Server:
    """SRAM: one port of the total bandwidth (banks interleaved), one cycle of access latency."""
    return Server(name, name, spec.bandwidth_bytes_per_cycle, 1, keep)


def noc_link(name: str, spec: Noc, keep: bool) -> Server:
    """NoC: a shared link of fixed width; each hop adds router and wire delay."""
    return Server(name, name, spec.bandwidth_bytes_per_cycle,
                  spec.hops * spec.latency_cycles_per_hop, keep)
