"""Simulated components: one shared core for queueing, occupancy and interval recording; one
class per memory kind that states only its own timing and energy policy.

The core:

* ``Recorder`` keeps what a component instance did as typed ``Interval`` records: busy, or
  stalled for a cause. Whatever is neither is idle, so busy + stall + idle = makespan exactly.
* ``Server`` adds queueing in closed form: a request reserves the earliest free gap of the
  server after it is ready, for as long as its size takes; reservations never overlap.
* ``Striped`` is a server over several channels interleaved in fixed-size stripes (DRAM at
  ``interleave_bytes``), in closed form: a long stream reaches the summed bandwidth, concurrent
  streams share it, a short one moves at the rate of the channels it touches; one
  reservation per request, no per-burst events.
* ``Fanout`` sends one request down several servers at once (a NoC multicast).
* ``Pool`` is a buffer region's byte budget: a request that fits is granted, one that does not
  waits in FIFO order (the engine records the wait as a ``capacity`` stall); the level never
  exceeds the capacity.

Memory kinds (``MEMORY_MODELS``, registered by their YAML ``type``) say how many servers they
have, which one a chunk uses, what one byte moved costs in actions, and what an action costs
in energy: ``DramModel``, ``SramModel``, ``NocModel``. A new memory kind is one class.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import ClassVar, NamedTuple

import simpy

from arch.schema import Architecture, Dram, Noc, Sram

#: Why a unit can be stalled (``Interval.cause``).
STALL_CAUSES = ("dependency", "input", "capacity", "psum", "output")
#: Slowest server accepted (bytes/cycle): below it a transfer's cycles overflow.
MIN_BYTES_PER_CYCLE = 1e-9
#: Width of the fixed windows a server counts its bytes in (``Server.window_bytes``), for the
#: peak bandwidth of a memory: its busiest window's bytes over the window's length.
BANDWIDTH_WINDOW_CYCLES = 256


class Interval(NamedTuple):
    """One recorded interval of a component. ``state`` is "busy" or "stall"; ``cause`` the
    stall cause (``STALL_CAUSES``, "" when busy); ``op`` the plan op index (-1: none);
    ``nbytes`` bytes moved (memories); ``what`` the transfer's purpose on memories ("dma",
    "input", "output", "psum", "spill"), "" for compute."""

    start: int
    end: int
    state: str
    cause: str
    op: int
    nbytes: int
    what: str


class Recorder:
    """Intervals of one component instance. Totals are kept even without intervals:
    ``busy_cycles``, ``stalls`` {cause: cycles} and ``op_stalls`` {(op, cause): cycles}."""

    __slots__ = ("busy_cycles", "intervals", "keep", "kind", "name", "op_stalls", "stalls")

    def __init__(self, name: str, kind: str, keep_intervals: bool = True) -> None:
        self.name = name
        self.kind = kind  # the component's name within its chunk, or its memory name
        self.busy_cycles = 0
        self.stalls: dict[str, int] = defaultdict(int)
        self.op_stalls: dict[tuple[int, str], int] = defaultdict(int)
        self.keep = keep_intervals
        self.intervals: list[Interval] = []

    def busy(self, start: int, end: int, op: int = -1, nbytes: int = 0, what: str = "") -> None:
        if end > start:
            self.busy_cycles += end - start
            if self.keep:
                self.intervals.append(Interval(start, end, "busy", "", op, nbytes, what))

    def stall(self, start: int, end: int, cause: str, op: int = -1) -> None:
        if end > start:
            self.stalls[cause] += end - start
            if op >= 0:
                self.op_stalls[op, cause] += end - start
            if self.keep:
                self.intervals.append(Interval(start, end, "stall", cause, op, 0, ""))

    @property
    def stall_cycles(self) -> int:
        return sum(self.stalls.values())


class Server(Recorder):
    """A server moving bytes at ``bytes_per_cycle`` with a fixed ``latency`` (cycles).

    Requests are served as soon as the server has a free gap long enough after they are ready
    (earliest-fit, a transfer is never split), so a request made early for data that arrives
    late does not block shorter requests that fit in front of it.
    """

    __slots__ = ("_whole", "bytes_per_cycle", "calendar", "latency", "moved_bytes", "op_bytes",
                 "window_bytes", "window_steps")

    def __init__(self, name: str, kind: str, bytes_per_cycle: float, latency: int,
                 keep_intervals: bool = True) -> None:
        super().__init__(name, kind, keep_intervals)
        if bytes_per_cycle <= 0:
            raise ValueError(f"{name}: bandwidth must be positive, got {bytes_per_cycle}")
        if bytes_per_cycle < MIN_BYTES_PER_CYCLE:  # durations would overflow (a denormal)
            from .errors import InputError

            raise InputError(f"{name}: bandwidth {bytes_per_cycle:g} bytes/cycle is below "
                             f"{MIN_BYTES_PER_CYCLE:g} (one byte per 1e9 cycles)")
        self.bytes_per_cycle = bytes_per_cycle
        self._whole = float(bytes_per_cycle).is_integer()  # integer ceil-division is exact
        if self._whole:
            self.bytes_per_cycle = int(bytes_per_cycle)
        self.latency = latency
        #: bytes this server moved in all and per op: not counted per reservation but added
        #: once after the run by whoever made the reservations (``paths.expand_route_bytes``,
        #: from its bytes per op and route: the same sums)
        self.moved_bytes = 0
        self.op_bytes: dict[int, int] = defaultdict(int)
        #: bytes per ``BANDWIDTH_WINDOW_CYCLES`` window (each transfer's bytes spread evenly
        #: over its reservation): the windows a transfer covers in part in ``window_bytes``,
        #: those it covers whole as steps of a running sum (``window_steps``: +bytes per
        #: window from its first whole window, - after its last), so a long transfer costs
        #: two entries, not one per window
        self.window_bytes: dict[int, float] = defaultdict(float)
        self.window_steps: dict[int, float] = defaultdict(float)
        #: reservations that end in the future, sorted by start: [start, end] pairs
        self.calendar: list[list[int]] = []

    @property
    def servers(self) -> tuple[Server]:
        """The servers a request on this port occupies (itself; a ``Fanout``'s are several)."""
        return (self,)

    def duration(self, nbytes: int) -> int:
        return math.ceil(nbytes / self.bytes_per_cycle)

    def reserve(self, now: int, arrive: int, data_done: int, nbytes: int, op: int,
                what: str) -> tuple[int, int]:
        """Reserve the server for ``nbytes`` that start arriving at ``arrive`` and have all
        arrived by ``data_done``; returns (start, end) of its own transfer, which ends no
        earlier than the data it forwards (cut-through streaming)."""
        dur = (int(-(-nbytes // self.bytes_per_cycle)) if self._whole
               else math.ceil(nbytes / self.bytes_per_cycle))  # ``duration``, inlined
        cal = self.calendar
        if cal and cal[0][1] <= now:
            drop = 1
            while drop < len(cal) and cal[drop][1] <= now:
                drop += 1
            del cal[:drop]
        start = data_done - dur
        if start < arrive:
            start = arrive
        if not cal or start >= cal[-1][1]:  # after every reservation: the common case
            end = start + dur
            cal.append([start, end])
        else:
            pos = len(cal)
            for i, (s, e) in enumerate(cal):
                if start + dur <= s:
                    pos = i
                    break
                start = max(start, e)
            end = start + dur
            cal.insert(pos, [start, end])
        # the bytes per window (``_count_windows``, inlined: this is the engine's hottest path)
        w = BANDWIDTH_WINDOW_CYCLES
        first, last = start // w, (end - 1) // w
        if first >= last:
            self.window_bytes[first] += nbytes
        else:
            self._count_windows(start, end, nbytes, first, last)
        if end > start:  # ``busy``, inlined
            self.busy_cycles += end - start
            if self.keep:
                self.intervals.append(Interval(start, end, "busy", "", op, nbytes, what))
        return start, end

    def _count_windows(self, start: int, end: int, nbytes: int, first: int, last: int) -> None:
        """Spread a transfer that spans windows ``first`` .. ``last`` over them."""
        w = BANDWIDTH_WINDOW_CYCLES
        rate = nbytes / (end - start)
        self.window_bytes[first] += rate * ((first + 1) * w - start)
        self.window_bytes[last] += rate * (end - last * w)
        if last > first + 1:
            self.window_steps[first + 1] += rate * w
            self.window_steps[last] -= rate * w


class Striped(Server):
    """``channels`` interleaved every ``stripe_bytes``, in closed form on one calendar.

    A request of B bytes is ``ceil(B / stripe)`` stripes dealt round-robin over the channels,
    so its busiest channel moves ``ceil(stripes / channels)`` stripes (at most B bytes) at the
    per-channel rate: that sets when its last byte is out. It occupies the shared calendar
    only for its share of the summed bandwidth, ``B / bandwidth``: one long stream reaches the
    full bandwidth, concurrent streams share it, and a short request finishes at one channel's
    rate without holding the others. Not modelled: two short requests colliding on one
    channel (``docs/engine.md``)."""

    __slots__ = ("channel_bytes_per_cycle", "channels", "stripe")

    def __init__(self, name: str, kind: str, bytes_per_cycle: float, latency: int,
                 channels: int, stripe_bytes: int, keep_intervals: bool = True) -> None:
        super().__init__(name, kind, bytes_per_cycle, latency, keep_intervals)
        self.channels, self.stripe = channels, stripe_bytes
        self.channel_bytes_per_cycle = bytes_per_cycle / channels

    def busiest_share(self, nbytes: int) -> int:
        """Bytes the busiest channel moves for a request of ``nbytes``."""
        stripes = -(-nbytes // self.stripe)
        return min(nbytes, -(-stripes // self.channels) * self.stripe)

    def reserve(self, now: int, arrive: int, data_done: int, nbytes: int, op: int,
                what: str) -> tuple[int, int]:
        start, end = super().reserve(now, arrive, data_done, nbytes, op, what)
        if self.channels > 1:
            end = max(end, start + math.ceil(self.busiest_share(nbytes)
                                             / self.channel_bytes_per_cycle))
        return start, end


class Fanout:
    """One request carried by every server of ``servers`` at once (a multicast): it ends when
    the last of them has delivered it."""

    __slots__ = ("kind", "latency", "servers")

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.latency = max(s.latency for s in servers)
        self.kind = servers[0].kind  # the memory it belongs to, as a Server's

    def reserve(self, now: int, arrive: int, data_done: int, nbytes: int, op: int,
                what: str) -> tuple[int, int]:
        spans = [s.reserve(now, arrive, data_done, nbytes, op, what) for s in self.servers]
        return min(a for a, _ in spans), max(b for _, b in spans)


Port = Server | Fanout


def transfer(stages: list[Port], now: int, nbytes: int, op: int, what: str) -> int:
    """Stream ``nbytes`` through ``stages`` in order (cut-through); returns when the last byte
    has left the last stage, latencies included."""
    return transfer_via(stages, now, nbytes, op, what)[1]


def transfer_via(stages: list[Port], now: int, nbytes: int, op: int, what: str,
                 arrive: int = -1, data_done: int = -1) -> tuple[int, int, str]:
    """``transfer``, returning (when its bytes start arriving, when its last byte is out of
    the last stage, the memory (``Recorder.kind``) that held the stream up most). The bytes
    arrive at the rate of the slowest stage (the longest reservation), ending with the last
    byte: each other stage is reserved as one burst at its own rate, the burst placed as late
    as the data allows, which says when its port is busy, not when bytes trickle through it.
    A stage passes the stream's first byte on as it comes unless its queue delays it. The
    memory that held the stream up is the stage with the longest time from when its data
    could start arriving to its end (its queueing plus its transfer time; the first such stage
    on a tie). The data is all there at ``now`` unless it is still being produced: from
    ``arrive`` until ``data_done`` (a result streamed out while its tile computes)."""
    if arrive < 0:
        arrive = data_done = now
    worst, via, longest = -1, "", 0
    for port in stages:
        start, end = port.reserve(now, arrive, data_done, nbytes, op, what)
        if end - arrive > worst:
            worst = end - arrive
            via = port.kind
        if end - start > longest:
            longest = end - start
        # cut-through: the stream's first byte goes on at once unless the stage queued it
        # (its reservation starts later than a free stage would have put it)
        free_start = data_done - (end - start)
        delay = start - (free_start if free_start > arrive else arrive)
        arrive, data_done = arrive + delay + port.latency, end + port.latency
    return data_done - longest, data_done, via


class Pool:
    """The byte budget of one buffer region, shared by two kinds of holders:

    * *transient* bytes (operands staged from DRAM, partial sums, weight blocks): ``take``
      grants them, FIFO, whenever they fit in the capacity;
    * *resident outputs* of the ops in ``resident`` ({op: bytes}): ``take_resident`` grants
      them only while all resident outputs stay within ``budget`` (the capacity less the
      mapper's reserve for one tile's staging) *counting the outputs of earlier ops not yet
      granted*, so an op may run ahead of earlier ones only into room they do not need.

    The first rule keeps the level at or under the capacity; together they guarantee progress
    (``docs/engine.md``, Capacity). Each call returns None when granted at once, else an event
    that fires when the bytes are granted. ``series`` is the level over time."""

    def __init__(self, env: simpy.Environment, name: str, capacity: int,
                 budget: int | None = None, resident: dict[int, int] | None = None) -> None:
        self.env, self.name, self.capacity = env, name, capacity
        self.budget = capacity if budget is None else budget
        self.level = self.out_level = 0
        self.series: list[tuple[int, int]] = [(0, 0)]
        self._size = dict(resident or {})
        self._ungranted = sorted(self._size)
        self._waiting: deque[tuple[int, simpy.Event]] = deque()
        self._out_waiting: dict[int, simpy.Event] = {}

    def take(self, nbytes: int) -> simpy.Event | None:
        if nbytes <= 0:
            return None
        if not self._waiting and self.level + nbytes <= self.capacity:
            self._change(nbytes)
            return None
        ev = self.env.event()
        self._waiting.append((nbytes, ev))
        return ev

    def grow(self, ev: simpy.Event, nbytes: int) -> None:
        """Ask ``nbytes`` more for the waiting ``take`` whose event is ``ev`` (it stays
        all or nothing: a request never holds part of its room while it waits)."""
        for i, (n, e) in enumerate(self._waiting):
            if e is ev:
                self._waiting[i] = (n + nbytes, e)
                return
        raise AssertionError(f"{self.name}: no waiting request to grow")

    def take_resident(self, op: int) -> simpy.Event | None:
        if self._may_grant(op):
            self._grant(op)
            return None
        ev = self._out_waiting[op] = self.env.event()
        return ev

    def give(self, nbytes: int, resident: bool = False) -> None:
        if nbytes <= 0:
            return
        if resident:
            self.out_level -= nbytes
        self._change(-nbytes)
        self._retry()

    def _may_grant(self, op: int) -> bool:
        n = self._size[op]
        if self.level + n > self.capacity:
            return False
        earlier = 0
        for q in self._ungranted:
            if q >= op:
                break
            earlier += self._size[q]
        return self.out_level + n + earlier <= self.budget

    def _grant(self, op: int) -> None:
        n = self._size[op]
        self._ungranted.remove(op)
        self.out_level += n
        self._change(n)

    def _retry(self) -> None:
        progress = True
        while progress:
            progress = False
            while self._waiting and self.level + self._waiting[0][0] <= self.capacity:
                n, ev = self._waiting.popleft()
                self._change(n)
                ev.succeed()
                progress = True
            for op in sorted(self._out_waiting):
                if self._may_grant(op):
                    self._grant(op)
                    self._out_waiting.pop(op).succeed()
                    progress = True

    def _change(self, delta: int) -> None:
        self.level += delta
        now = int(self.env.now)
        if self.series[-1][0] == now:
            self.series[-1] = (now, self.level)
        else:
            self.series.append((now, self.level))

    @property
    def peak(self) -> int:
        return max(v for _, v in self.series)


def cycles_of_ns(ns: float, clock_mhz: float) -> int:
    return math.ceil(ns * clock_mhz / 1000)


# -- memory kinds ------------------------------------------------------------------------------
class MemoryModel:
    """A memory component kind: its servers, which port a chunk's transfers use, and the cost
    of what crosses it. Subclasses override ``_servers``, ``port`` and ``actions`` /
    ``energy_pj``; nothing else knows a kind's policy."""

    kind: ClassVar[str] = ""

    def __init__(self, name: str, spec, arch: Architecture, keep: bool) -> None:
        self.name, self.spec = name, spec
        self.servers: list[Server] = self._servers(arch, keep)

    def _servers(self, arch: Architecture, keep: bool) -> list[Server]:
        raise NotImplementedError

    def port(self, chunk: int, fanout: list[int] | None = None) -> Port:
        """The port a transfer of ``chunk`` (or a multicast to ``fanout`` chunks) uses: the
        one server, or with a server per chunk (NoC links, chunk-local copies) the chunk's,
        or every destination's at once."""
        if len(self.servers) == 1:
            return self.servers[0]
        if fanout and len(fanout) > 1:
            return Fanout([self.servers[c] for c in fanout])
        return self.servers[chunk]

    @classmethod
    def actions(cls, spec, direction: str, nbytes: int, fanout: int = 1) -> list[tuple[str, int]]:
        """Action counts of ``nbytes`` crossing this memory: ``direction`` is "read" (data
        leaves it), "write" (data lands in it) or "through" (written, then read)."""
        raise NotImplementedError

    @classmethod
    def energy_pj(cls, spec, actions: dict[str, int]) -> dict[str, float]:
        raise NotImplementedError


MEMORY_MODELS: dict[str, type[MemoryModel]] = {}


def register(cls: type[MemoryModel]) -> type[MemoryModel]:
    MEMORY_MODELS[cls.kind] = cls
    return cls


@register
class DramModel(MemoryModel):
    """DRAM: ``channels`` of ``bandwidth / channels`` each, interleaved every
    ``interleave_bytes`` (``Striped``); every request pays the access latency once."""

    kind = "dram"
    spec: Dram

    def _servers(self, arch: Architecture, keep: bool) -> list[Server]:
        spec = self.spec
        bandwidth = spec.bandwidth_gbps * 1e9 / (arch.clock_mhz * 1e6)
        latency = cycles_of_ns(spec.latency_ns, arch.clock_mhz)
        return [Striped(self.name, self.name, bandwidth, latency, spec.channels,
                        spec.interleave_bytes, keep)]

    @classmethod
    def actions(cls, spec, direction: str, nbytes: int, fanout: int = 1) -> list[tuple[str, int]]:
        return [("read_bytes" if direction == "read" else "write_bytes", nbytes)]

    @classmethod
    def energy_pj(cls, spec, actions: dict[str, int]) -> dict[str, float]:
        return {"read": actions.get("read_bytes", 0) * 8 * spec.read_energy_pj_per_bit,
                "write": actions.get("write_bytes", 0) * 8 * spec.write_energy_pj_per_bit}


@register
class SramModel(MemoryModel):
    """SRAM: one port of the whole buffer's bandwidth, one cycle of access latency. A
    chunk-local one (``local: true``) is a copy per chunk, each with its own port; a multicast
    writes (and reads) every destination chunk's copy."""

    kind = "sram"
    spec: Sram

    def _servers(self, arch: Architecture, keep: bool) -> list[Server]:
        n = arch.chunks.count if self.spec.local else 1
        names = [f"{self.name}.c{i}" for i in range(n)] if n > 1 else [self.name]
        return [Server(nm, self.name, self.spec.bandwidth_bytes_per_cycle, 1, keep)
                for nm in names]

    @classmethod
    def actions(cls, spec, direction: str, nbytes: int, fanout: int = 1) -> list[tuple[str, int]]:
        n = nbytes * fanout if spec.local else nbytes  # a shared buffer is read once
        if direction == "read":
            return [("read_bytes", n)]
        if direction == "write":
            return [("write_bytes", n)]
        return [("write_bytes", n), ("read_bytes", n)]

    @classmethod
    def energy_pj(cls, spec, actions: dict[str, int]) -> dict[str, float]:
        return {"read": actions.get("read_bytes", 0) * spec.read_energy_pj_per_byte,
                "write": actions.get("write_bytes", 0) * spec.write_energy_pj_per_byte}


@register
class NocModel(MemoryModel):
    """NoC: a link per chunk (``links: per_chunk``) or one shared link, each of the given
    width; every hop adds router and wire delay. A multicast occupies every destination link
    and costs its byte-hops on each."""

    kind = "noc"
    spec: Noc

    def _servers(self, arch: Architecture, keep: bool) -> list[Server]:
        spec = self.spec
        n = arch.chunks.count if spec.links == "per_chunk" else 1
        latency = spec.hops * spec.latency_cycles_per_hop
        names = [f"{self.name}.c{i}" for i in range(n)] if n > 1 else [self.name]
        return [Server(nm, self.name, spec.bandwidth_bytes_per_cycle, latency, keep)
                for nm in names]

    @classmethod
    def actions(cls, spec, direction: str, nbytes: int, fanout: int = 1) -> list[tuple[str, int]]:
        return [("byte_hops", nbytes * spec.hops * fanout)]

    @classmethod
    def energy_pj(cls, spec, actions: dict[str, int]) -> dict[str, float]:
        return {"transfer": actions.get("byte_hops", 0) * spec.energy_pj_per_byte_hop}
