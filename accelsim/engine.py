"""The SimPy engine: replays a Plan on the architecture's components.

Processes (per unit instance of every chunk, plus one DMA engine):

* **DMA** walks the weight blocks in order, waits for room in the weight buffer, streams each
  block DRAM -> weight SRAM; room is returned when the block's last tile has computed.
* **loader** (one per unit) stages its tiles' operands in order, at most ``prefetch_depth``
  tiles ahead: waits for the tile's weight block and for its producer tiles, then streams its
  inputs (DRAM -> input SRAM -> NoC, SRAM -> NoC) into the unit.
* **unit** runs its tiles in order: stalled on *dependency* while producer tiles are not done,
  on *input* while operands are still arriving, busy for the tile's closed-form cycles, stalled
  on *output* while its output queue (``prefetch_depth`` tiles) is full.
* results drain over the NoC into SRAM (or on to DRAM); when written, the tile is done, which
  releases the tiles waiting for it.

The engine only records what happens (``RunRecord``); ``accelsim.result`` turns that into the
summary, and reports read the summary and the recorded intervals, never the components.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial

import simpy

from arch.graph import build_graph, dram_of, path_from_dram, sram_for
from arch.schema import Architecture

from .components import Recorder, Server, dram_channels, noc_link, sram_port, transfer
from .errors import DeadlockError, InputError
from .plan import Plan
from .progress import Progress


@dataclass
class RunRecord:
    """What a simulation produced: timing per tile and op, component intervals, traffic."""

    makespan: int
    units: dict[str, Recorder]
    servers: dict[str, Server]
    tile_start: list[int]
    tile_end: list[int]  # compute end
    tile_done: list[int]  # output written
    sram_occupancy: dict[str, list[tuple[int, int]]]  # sram -> [(cycle, bytes)]
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # memory -> action -> n
    events: int = 0


def _free_at(server: Server) -> tuple[int, str]:
    return server.free_at, server.name


class Engine:
    """One simulation of ``plan`` on ``arch``; call ``run()`` once."""

    def __init__(self, arch: Architecture, plan: Plan, keep_intervals: bool = True,
                 progress: Progress | None = None) -> None:
        self.arch, self.plan = arch, plan
        self.progress = progress
        self.env = simpy.Environment()
        clock = arch.clock_mhz
        self.dram: list[Server] = []
        self.mem: dict[str, Server] = {}
        for name, spec in arch.memories.items():
            if spec.type == "dram":
                self.dram = dram_channels(name, spec, clock, keep_intervals)
            elif spec.type == "sram":
                self.mem[name] = sram_port(name, spec, keep_intervals)
            else:
                self.mem[name] = noc_link(name, spec, keep_intervals)
        self.units = {u: Recorder(u, u.split(".", 1)[1], keep_intervals) for u in plan.queues}
        n = len(plan.tiles)
        self.pending = [len(t.deps) for t in plan.tiles]
        # flags, with SimPy events made only when a process actually has to wait on one
        self.is_ready = [False] * n
        self.block_done = [False] * len(plan.weight_blocks)
        self._waiters: dict[tuple[str, int], simpy.Event] = {}
        self.dependents = plan.dependents()
        self.start = [-1] * n
        self.end = [-1] * n
        self.done = [-1] * n
        self.completed = 0
        self.op_left = [len(op.tiles) for op in plan.ops]
        #: per op: (memory, action) -> count
        self.op_actions: list[dict[tuple[str, str], int]] = [defaultdict(int) for _ in plan.ops]
        self._routes: dict[tuple[str, str], tuple[list, list]] = {}
        self._shared: dict[tuple, int] = {}  # multicast key -> cycle its transfer completes
        self._setup_memory_paths()
        self._setup_weight_buffer()

    # -- paths --------------------------------------------------------------------------------
    def _setup_memory_paths(self) -> None:
        """Memory components each unit's data crosses, per kind of transfer (arch.graph picks
        the SRAM of each operand role)."""
        g = build_graph(self.arch)
        self.dram_name = dram_of(g)
        mems = self.arch.memories

        def memories(path: list[str]) -> list[str]:
            return [n for n in path if n in mems]

        self.paths: dict[str, dict[str, list[str]]] = {}
        for inst, queue in self.plan.queues.items():
            if not queue:
                continue
            full = {role: memories(path_from_dram(g, inst, role))
                    for role in ("input", "weight", "output")}
            sram = {role: sram_for(g, inst, role) for role in full}

            def tail(role: str) -> list[str]:
                return full[role][full[role].index(sram[role]):]  # noqa: B023

            self.paths[inst] = {
                "dram_in": full["input"],
                "reread": tail("input"),
                "weight": tail("weight"),
                "sram_in": tail("output"),
                "out": tail("output")[::-1],
                "spill": full["output"][::-1],
                "dma": full["weight"][: full["weight"].index(sram["weight"]) + 1],
            }

    def _setup_weight_buffer(self) -> None:
        """The weight SRAM's staging room, as a container the DMA takes blocks out of."""
        cap = self.plan.weight_capacity_bytes
        for b in self.plan.weight_blocks:
            if b.bytes > cap:
                op = self.plan.ops[b.op].name
                raise InputError(f"op {op!r} needs {b.bytes} weight bytes staged at once but the "
                                 f"weight buffer holds {cap}; enlarge the SRAM")
        self.wbuf = simpy.Container(self.env, capacity=max(1, cap), init=max(1, cap))
        self.occupancy: dict[str, list[tuple[int, int]]] = {"weights": [(0, 0)],
                                                            "activations": [(0, 0)]}

    def _move(self, kind: str, inst: str, nbytes: int, op: int) -> int:
        """Stream ``nbytes`` of op ``op`` along the ``kind`` path of ``inst``; returns the
        finish cycle."""
        key = (inst, kind)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._route(kind, self.paths[inst][kind])
        stages, actions = route
        acts = self.op_actions[op]
        for akey, mult in actions:
            acts[akey] += nbytes * mult
        servers = [s if s is not None else min(self.dram, key=_free_at) for s in stages]
        label = self.plan.ops[op].name
        return transfer(servers, int(self.env.now), nbytes,
                        f"dma {label}" if kind == "dma" else label)

    def _route(self, kind: str, names: list[str]) -> tuple[list, list]:
        """Servers of a path (None: pick a DRAM channel per transfer) and the actions one byte
        along it performs, per memory component (for energy)."""
        stages = [None if n == self.dram_name else self.mem[n] for n in names]
        actions: list[tuple[tuple[str, str], int]] = []
        for n in names:
            spec = self.arch.memories[n]
            if spec.type == "dram":
                actions.append(((n, "read_bytes" if kind in ("dram_in", "dma")
                                 else "write_bytes"), 1))
            elif spec.type == "noc":
                actions.append(((n, "byte_hops"), spec.hops))
            elif kind in ("sram_in", "weight", "reread") and n == names[0]:
                actions.append(((n, "read_bytes"), 1))  # data resident there
            elif kind in ("out", "dma") and n == names[-1]:
                actions.append(((n, "write_bytes"), 1))  # data lands there
            else:  # a stream passing through: written, then read
                actions += [((n, "read_bytes"), 1), ((n, "write_bytes"), 1)]
        return stages, actions

    # -- processes ------------------------------------------------------------------------
    def _dma(self):
        env = self.env
        for b in self.plan.dma_order():
            if b.bytes <= 0:
                self._signal("block", b.index)
                continue
            yield self.wbuf.get(b.bytes)
            self._level("weights", b.bytes)
            inst = next(iter(self.paths))
            end = self._move("dma", inst, b.bytes, b.op)
            env.timeout(end - env.now).callbacks.append(
                lambda _e, i=b.index: self._signal("block", i))

    def _level(self, which: str, delta: int) -> None:
        series = self.occupancy[which]
        level = series[-1][1] + delta
        now = int(self.env.now)
        if series[-1][0] == now:
            series[-1] = (now, level)
        else:
            series.append((now, level))

    def _loader(self, inst: str, queue: list[int], slots: simpy.Container):
        env, tiles = self.env, self.plan.tiles
        for ti in queue:
            yield slots.get(1)
            t = tiles[ti]
            if t.weight_block >= 0 and not self.block_done[t.weight_block]:
                yield self._wait("block", t.weight_block)
            if self.pending[ti]:
                yield self._wait("deps", ti)
            end = int(env.now)
            if t.dram_in_bytes:
                end = max(end, self._move("dram_in", inst, t.dram_in_bytes, t.op))
            if t.reread_bytes:
                end = max(end, self._move("reread", inst, t.reread_bytes, t.op))
            if t.sram_in_bytes:
                end = max(end, self._move("sram_in", inst, t.sram_in_bytes, t.op))
            if t.weight_in_bytes:
                end = max(end, self._move("weight", inst, t.weight_in_bytes, t.op))
            if t.shared_key is not None:
                end = max(end, self._multicast(inst, t))
            if end > env.now:
                yield env.timeout(end - env.now)
            self._signal("ready", ti)

    def _unit(self, inst: str, queue: list[int], slots: simpy.Container):
        """Run the unit's tiles in order. Results leave through an output queue of
        ``prefetch_depth`` entries drained over the NoC; a full queue stalls the unit."""
        env, tiles, rec = self.env, self.plan.tiles, self.units[inst]
        depth = self.arch.mapping.prefetch_depth
        writes: list[int] = []  # finish cycles of results still in the output queue
        for ti in queue:
            t = tiles[ti]
            label = self.plan.ops[t.op].name
            t0 = int(env.now)
            if self.pending[ti]:
                yield self._wait("deps", ti)
                rec.stall(t0, int(env.now), "dependency", label)
            t1 = int(env.now)
            if not self.is_ready[ti]:
                yield self._wait("ready", ti)
                rec.stall(t1, int(env.now), "input", label)
            start = int(env.now)
            self.start[ti] = start
            self._on_start(t)
            if t.cycles:
                yield env.timeout(t.cycles)
            now = self.end[ti] = int(env.now)
            rec.busy(start, now, label)
            slots.put(1)
            writes = [w for w in writes if w > now]
            if len(writes) >= depth:  # wait for the first write to finish (any order)
                yield env.timeout(min(writes) - now)
                rec.stall(now, int(env.now), "output", label)
                now = int(env.now)
                writes = [w for w in writes if w > now]
            end = now
            if t.out_bytes:
                end = self._move("spill" if t.out_dram else "out", inst, t.out_bytes, t.op)
            if end > now:
                writes.append(end)
                env.timeout(end - now).callbacks.append(partial(self._on_written, ti))
            else:
                self._complete(ti)

    def _multicast(self, inst: str, t) -> int:
        """Operands every chunk of an op reads (the same rows for each column slice): the first
        chunk to ask moves them once over the multicast NoC, the others receive that transfer."""
        done = self._shared.get(t.shared_key)
        if done is None:
            done = int(self.env.now)
            for kind, nbytes in t.shared_in:
                done = max(done, self._move(kind, inst, nbytes, t.op))
            self._shared[t.shared_key] = done
        return done

    # -- bookkeeping -------------------------------------------------------------------------
    def _wait(self, what: str, i: int) -> simpy.Event:
        """The event a process waits on until ``_signal(what, i)``; made on first use."""
        ev = self._waiters.get((what, i))
        if ev is None:
            ev = self._waiters[(what, i)] = self.env.event()
        return ev

    def _signal(self, what: str, i: int) -> None:
        if what == "ready":
            self.is_ready[i] = True
        elif what == "block":
            self.block_done[i] = True
        ev = self._waiters.pop((what, i), None)
        if ev is not None:
            ev.succeed()

    def _on_start(self, t) -> None:
        """An op's output occupies SRAM from when its first tile starts."""
        op = self.plan.ops[t.op]
        if op.resident and t.index == op.tiles[0]:
            self._level("activations", op.out_bytes)

    def _on_written(self, ti: int, _event: simpy.Event) -> None:
        self._complete(ti)

    def _complete(self, ti: int) -> None:
        self.done[ti] = int(self.env.now)
        self.completed += 1
        if self.progress is not None and self.completed % 256 == 0:
            self.progress.update(self.completed)
        for d in self.dependents[ti]:
            self.pending[d] -= 1
            if self.pending[d] == 0:
                self._signal("deps", d)
        t = self.plan.tiles[ti]
        for b in self._blocks_ending.get(ti, ()):
            self.wbuf.put(b.bytes)
            self._level("weights", -b.bytes)
        self.op_left[t.op] -= 1
        if self.op_left[t.op] == 0:
            for p in self._frees.get(t.op, ()):
                self._level("activations", -self.plan.ops[p].out_bytes)

    def run(self) -> RunRecord:
        plan, env = self.plan, self.env
        self._blocks_ending: dict[int, list] = {}
        for b in plan.weight_blocks:
            if b.bytes > 0:  # an empty block takes no room, so it gives none back
                self._blocks_ending.setdefault(b.last_tile, []).append(b)
        self._frees: dict[int, list[int]] = {}
        for op in plan.ops:
            if op.resident and op.last_consumer >= 0:
                self._frees.setdefault(op.last_consumer, []).append(op.index)
        depth = self.arch.mapping.prefetch_depth
        env.process(self._dma())
        for inst, queue in plan.queues.items():
            if not queue:
                continue
            slots = simpy.Container(env, capacity=depth, init=depth)
            env.process(self._loader(inst, queue, slots))
            env.process(self._unit(inst, queue, slots))
        env.run()
        if self.progress is not None:
            self.progress.close(self.completed)
        if self.completed < len(plan.tiles):
            raise DeadlockError(self._deadlock_message())
        makespan = max(self.done, default=0)
        servers = {s.name: s for s in self.dram} | dict(self.mem)
        actions: dict[str, dict[str, int]] = {name: {} for name in self.arch.memories}
        for per_op in self.op_actions:
            for (mem, action), n in per_op.items():
                actions[mem][action] = actions[mem].get(action, 0) + n
        return RunRecord(makespan, self.units, servers, self.start, self.end, self.done,
                         self.occupancy, actions, next(env._eid))

    def _deadlock_message(self) -> str:
        blocked = []
        for inst, queue in self.plan.queues.items():
            waiting = [ti for ti in queue if self.done[ti] < 0]
            if not waiting:
                continue
            ti = waiting[0]
            t = self.plan.tiles[ti]
            why = ("producer tiles" if self.pending[ti] else
                   "weights" if t.weight_block >= 0 and not self.block_done[t.weight_block]
                   else "operands")
            blocked.append(f"{inst} (op {self.plan.ops[t.op].name!r}, waiting for {why})")
        return "simulation deadlocked; blocked: " + "; ".join(blocked)
