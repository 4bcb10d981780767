"""The SimPy engine: replays a Plan on the architecture's components.

Processes (per unit instance of every chunk, plus one DMA engine):

* **DMA** walks the weight blocks in order, waits for room in the weight region of the
  buffer, streams each block DRAM -> weight SRAM; room is returned when the block's last tile
  is done.
* **loader** (one per unit) stages its tiles' operands in order, at most ``prefetch_depth``
  tiles ahead: claims room for its op's resident output (once per op), waits for the tile's
  weight block and for its producer tiles, claims room for the operands the tile stages from
  DRAM, then streams its inputs (DRAM -> input SRAM -> NoC, SRAM -> NoC) into the unit.
* **unit** runs its tiles in order: stalled on *dependency* while producer tiles are not done,
  on *capacity* while its loader (or the unit itself, for the room of the partial sums a tile
  accumulates) waits for buffer room, on *input* while operands are still
  arriving, busy for the tile's closed-form cycles (its partial sums move meanwhile; if they
  take longer, stalled on *psum*), on *output* while its output queue (``prefetch_depth``
  tiles) is full.
* results drain over the NoC into SRAM (or on to DRAM); when written, the tile is done, which
  releases the tiles waiting for it.

Memories are the kinds of ``accelsim.components`` (DRAM channels interleaved, one SRAM port,
a NoC link per chunk); buffer capacity is enforced by one ``Pool`` per region
(``accelsim.buffers``). The engine only records what happens (``RunRecord``, plain typed
data); ``accelsim.result`` turns that into the summary, and reports read the summary and the
recorded intervals, never the components.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from typing import NamedTuple

import simpy

from arch.schema import Architecture

from .clock import Clock, Slots
from .components import MEMORY_MODELS, MemoryModel, Pool, Port, Recorder, Server, transfer_via
from .errors import DeadlockError, InputError, deadlock_message
from .paths import (
    ROLE_OF,
    WHAT_OF,
    RouteActions,
    expand_route_bytes,
    out_kind,
    route_of,
    transfer_paths,
)
from .plan import Plan, Tile
from .progress import Progress
from .record import RunRecord, Via, Waits
from .streaming import Streaming

#: (memory, action, role) -> count
Actions = dict[tuple[str, str, str], int]


class Engine(Streaming):
    """One simulation of ``plan`` on ``arch``; call ``run()`` once."""

    def __init__(self, arch: Architecture, plan: Plan, keep_intervals: bool = True,
                 progress: Progress | None = None) -> None:
        self.arch, self.plan = arch, plan
        self.progress = progress
        self.env = Clock()
        self.memories: dict[str, MemoryModel] = {
            name: MEMORY_MODELS[spec.type](name, spec, arch, keep_intervals)
            for name, spec in arch.memories.items()
        }
        self.units = {u: Recorder(u, u.split(".", 1)[1], keep_intervals) for u in plan.queues}
        n = len(plan.tiles)
        self.pending = [len(t.deps) for t in plan.tiles]
        # flags, with SimPy events made only when a process actually has to wait on one
        self.is_ready = [False] * n
        self.block_done = [False] * len(plan.weight_blocks)
        #: an activation B's first row tile (``Tile.b_owner``) -> tiles of its block holding
        #: room that read it: the first to be granted claims B's room with its own, the last
        #: to compute returns it; a tile of the block that asked without B while one held it
        #: waits in (pool, event) and is asked B's bytes too if the last holder leaves first
        self.b_refs: dict[int, int] = {}
        self.b_waiting: dict[int, tuple[Pool, simpy.Event]] = {}
        #: ``mapping.streaming: folds``: tiles wait for their weight block's fetch to start,
        #: not end, and overlap their transfers with their compute (``_stream_ready``)
        self.stream = arch.mapping.streaming == "folds"
        self.block_issued = [False] * len(plan.weight_blocks)
        self.block_span = [(0, 0)] * len(plan.weight_blocks)  # first byte in, last byte in
        self._waiters: dict[tuple[str, int], simpy.Event] = {}
        self.dependents = plan.dependents()
        self.start = [-1] * n
        self.end = [-1] * n
        self.done = [-1] * n
        self.completed = 0
        self.op_left = [len(op.tiles) for op in plan.ops]
        #: per op: (memory, action, role) -> count
        self.op_actions: list[Actions] = [defaultdict(int) for _ in plan.ops]
        self._routes: dict[tuple, tuple[list[Port], RouteActions]] = {}
        self._slow: dict[tuple[str, str], Server] = {}
        self._route_bytes: list[dict[tuple, int]] = [{} for _ in plan.ops]
        #: multicast key -> its transfer's (first byte in, last byte in, hold-up)
        self._shared: dict[tuple, tuple[int, int, Via]] = {}
        self._fanout = self._multicast_chunks()
        self._cap_wait: dict[int, list[tuple[int, int]]] = {}  # tile -> loader waits for room
        self.waits = Waits.empty(n, len(plan.weight_blocks))
        self.paths = transfer_paths(self.arch, self.plan)
        self._setup_pools()

    def _setup_pools(self) -> None:
        """One byte budget per buffer region: resident outputs within the region less the
        mapper's reserve, everything else within the capacity."""
        plan, regions = self.plan, self.plan.regions
        for b in plan.weight_blocks:
            region = regions.region[plan.ops[b.op].unit, "weight"]
            if b.bytes > regions.capacity[region]:
                name = plan.ops[b.op].name
                raise InputError(f"op {name!r} needs {b.bytes} weight bytes staged at once but "
                                 f"buffer {region!r} holds {regions.capacity[region]}; "
                                 "enlarge the SRAM")
        resident: dict[str, dict[int, int]] = defaultdict(dict)
        for p in plan.ops:
            if p.held:
                resident[p.out_region][p.index] = p.out_bytes
        self.pools: dict[str, Pool] = {}
        for r, cap in sorted(regions.capacity.items()):
            if r in regions.local:  # one per chunk (a register file, a chunk-local SRAM)
                for c in range(self.arch.chunks.count):
                    name = regions.pool(r, c)
                    self.pools[name] = Pool(self.env, name, cap)
            else:
                self.pools[r] = Pool(self.env, r, cap, cap - plan.reserve_bytes.get(r, 0),
                                     resident.get(r))
        self._out_granted = [not op.held for op in plan.ops]
        self._out_event: dict[int, simpy.Event] = {}

    def _multicast_chunks(self) -> dict[tuple, list[int]]:
        """Chunks each multicast key's transfer reaches (one per tile sharing it)."""
        out: dict[tuple, set[int]] = defaultdict(set)
        for t in self.plan.tiles:
            if t.shared_key is not None:
                out[t.shared_key].add(int(t.unit.split(".", 1)[0][5:]))
        return {k: sorted(v) for k, v in out.items()}

    def _move(self, kind: str, inst: str, nbytes: int, op: int,
              fanout: list[int] | None = None, arrive: int = -1,
              data_done: int = -1) -> tuple[int, int, Via]:
        """Stream ``nbytes`` of op ``op`` along the ``kind`` path of ``inst`` (a multicast to
        the chunks in ``fanout``; data still being produced from ``arrive`` to ``data_done``,
        as ``transfer_via``); returns when its first and its last byte are in and what held it
        up most. The bytes are counted per op and route; ``op_actions`` is expanded from them
        once, after the run."""
        key = (inst, kind, tuple(fanout) if fanout else None)
        route = self._routes.get(key) or self._route(key)  # the cache inline: a hot path
        per_op = self._route_bytes[op]
        per_op[key] = per_op.get(key, 0) + nbytes
        if kind == "psum":  # written out and read back: twice the bytes cross the path
            nbytes *= 2
        first, end, via = transfer_via(route[0], self.env.now, nbytes, op, WHAT_OF[kind],
                                       arrive, data_done)
        return first, end, (via, ROLE_OF[kind])

    def _route_ports(self, inst: str, kind: str) -> list[Port]:
        """The ports a ``kind`` transfer of unit instance ``inst`` crosses (no multicast)."""
        return self._route((inst, kind, None))[0]

    def _route(self, key: tuple) -> tuple[list[Port], RouteActions]:
        """The route of ``key`` = (unit instance, path kind, multicast chunks or None), made
        on first use."""
        route = self._routes.get(key)
        if route is None:
            inst, kind, fanout = key
            chunk_s, uname = inst.split(".", 1)
            route = self._routes[key] = route_of(self.memories, self.paths[uname][kind], kind,
                                                 int(chunk_s[5:]), list(fanout) if fanout else None)
        return route

    # -- processes ------------------------------------------------------------------------
    def _dma(self):
        env, plan = self.env, self.plan
        for b in plan.dma_order():
            if b.bytes <= 0:
                self._signal("block", b.index)
                continue
            uname = plan.ops[b.op].unit
            self.waits.dma_from[b.index] = int(env.now)
            ev = self.pools[plan.regions.pool(plan.regions.region[uname, "weight"], b.chunk)].take(
                b.bytes)
            if ev is not None:
                yield ev
            self.waits.dma_issue[b.index] = int(env.now)
            first, end, self.waits.dma_via[b.index] = self._move(
                "dma", f"chunk{b.chunk}.{uname}", b.bytes, b.op)
            if self.stream:
                self.block_span[b.index] = (first, end)
                self._signal("issued", b.index)
            env.timeout(end - env.now).callbacks.append(
                lambda _e, i=b.index: self._signal("block", i))

    def _instance(self, inst: str) -> _Instance:
        """The per-instance constants of a unit instance's processes: the pools its tiles
        claim room in (DRAM-staged inputs from a tile's load to its compute end; live partial
        sums while it computes and, the first reduction block of a split matmul, the partial
        sums it starts carrying), and whether partial sums sit in a chunk register file."""
        chunk_s, uname = inst.split(".", 1)
        chunk = int(chunk_s[5:])
        regions = self.plan.regions
        pool_in, pool_psum = (regions.pool(regions.region[uname, role], chunk)
                              for role in ("input", "psum"))
        return _Instance(inst, chunk, self.pools[pool_in], self.pools[pool_psum],
                         # partial sums in a chunk register file (which holds nothing else)
                         # are claimed when the tile starts; in a buffer shared with staged
                         # operands the loader claims them with those, after the tile's
                         # producers are done, so that a claim never waits for room that
                         # only a later tile of the same unit holds
                         regions.region[uname, "psum"] in regions.regfiles,
                         bool(self.paths[uname]["psum"]))

    def _release(self, ctx: _Instance, t: Tile) -> None:
        """Room a tile returns when it has computed: its staged inputs, its live partial sums
        and, the last reduction block of a split matmul, the carried ones; an activation B's
        when no other tile of its block is in flight."""
        n = t.staged_bytes + t.input_free_bytes - t.input_keep_bytes
        nb = t.b_bytes
        if nb:
            n -= t.b_stage_bytes
            refs = self.b_refs[t.b_owner] - 1
            waiting = self.b_waiting.get(t.b_owner)
            if refs:
                self.b_refs[t.b_owner] = refs
            elif waiting is not None and waiting[1].triggered:
                # the block's next tile was granted its own room and has not resumed yet:
                # it holds B on (its loader counts it in)
                self.b_refs[t.b_owner] = 0
            else:
                del self.b_refs[t.b_owner]
                n += nb
                if waiting is not None:
                    waiting[0].grow(waiting[1], nb)
        if n:
            ctx.pool_in.give(n)
        n = t.psum_hold_bytes + t.carry_give_bytes
        if n:
            ctx.pool_psum.give(n)

    def _claim_output(self, op: int):
        """Room for op ``op``'s resident output, claimed once by the first loader to need it."""
        ev = self._out_event.get(op)
        if ev is None:
            ev = self.pools[self.plan.ops[op].out_region].take_resident(op)
            if ev is None:
                self._out_granted[op] = True
                return
            self._out_event[op] = ev
            ev.callbacks.append(lambda _e: self._out_granted.__setitem__(op, True))
        yield ev

    def _loader(self, ctx: _Instance, queue: list[int], slots: Slots):
        env, tiles, w = self.env, self.plan.tiles, self.waits
        slot_at, claim_at, block_at, deps_at = w.slot_at, w.claim_at, w.block_at, w.deps_at
        load_at, ready_at, load_via = w.load_at, w.ready_at, w.load_via
        out_granted, block_done, pending = self._out_granted, self.block_done, self.pending
        stream, block_issued = self.stream, self.block_issued
        move, inst = self._move, ctx.name
        for ti in queue:
            yield slots.take()
            t = tiles[ti]
            now = slot_at[ti] = env.now
            room: list[tuple[int, int]] = []  # intervals spent waiting for buffer room
            if not out_granted[t.op]:
                yield from self._claim_output(t.op)
                room.append((now, env.now))
                now = env.now
            claim_at[ti] = now
            b = t.weight_block
            if b >= 0 and not (block_issued[b] if stream else block_done[b]):
                yield self._wait("issued" if stream else "block", b)
                now = env.now
            block_at[ti] = now
            if pending[ti]:
                yield self._wait("deps", ti)
                now = env.now
            c0 = deps_at[ti] = now
            # one claim per pool (never hold part of the room), in the order of pool names
            n_in, n_psum = t.staged_bytes, t.psum_hold_bytes + t.carry_take_bytes
            nb = t.b_bytes  # an activation B: claimed with the input room (below) unless
            n_in -= t.b_stage_bytes  # a tile of its block holds it then
            claims: tuple[tuple[Pool, int], ...]
            if ctx.psum_local or not n_psum:
                claims = ((ctx.pool_in, n_in),)
            elif ctx.pool_in is ctx.pool_psum:
                claims = ((ctx.pool_in, n_in + n_psum),)
            elif ctx.pool_in.name < ctx.pool_psum.name:
                claims = ((ctx.pool_in, n_in), (ctx.pool_psum, n_psum))
            else:
                claims = ((ctx.pool_psum, n_psum), (ctx.pool_in, n_in))
            for pool, nbytes in claims:
                held = False
                if nb and pool is ctx.pool_in:  # decided now: an earlier claim may have waited
                    held = t.b_owner in self.b_refs
                    nbytes += 0 if held else nb
                if nbytes:
                    ev = pool.take(nbytes)
                    if ev is not None:
                        if held:
                            self.b_waiting[t.b_owner] = (pool, ev)
                        yield ev
                        now = env.now
            if nb:
                self.b_waiting.pop(t.b_owner, None)
                self.b_refs[t.b_owner] = self.b_refs.get(t.b_owner, 0) + 1
            if now > c0:
                room.append((c0, now))
            if room and any(b > a for a, b in room):
                self._cap_wait[ti] = [(a, b) for a, b in room if b > a]
            load_at[ti] = now
            first = end = now
            via: Via = ("", "")
            for kind, nbytes in (("dram_in", t.dram_in_bytes), ("far_in", t.far_in_bytes),
                                 ("partial_in", t.partial_in_bytes),
                                 ("reread", t.reread_bytes), ("sram_in", t.sram_in_bytes),
                                 ("weight", t.weight_in_bytes)):
                if nbytes:
                    f, e, v = move(kind, inst, nbytes, t.op)
                    if e > end:
                        first, end, via = f, e, v
            if t.shared_key is not None:
                f, e, v = self._multicast(inst, t)
                if e > end:
                    first, end, via = f, e, v
            if stream:
                end, via = self._stream_ready(t, now, first, end, via)
            load_via[ti] = via
            if end > now:
                yield env.timeout(end - now)
                now = end
            ready_at[ti] = now
            self._signal("ready", ti)

    def _unit(self, ctx: _Instance, queue: list[int], slots: Slots):
        """Run the unit's tiles in order. Results leave through an output queue of
        ``prefetch_depth`` entries drained over the NoC; a full queue stalls the unit."""
        env, tiles, rec = self.env, self.plan.tiles, self.units[ctx.name]
        inst, move, w = ctx.name, self._move, self.waits
        pending, is_ready, starts, ends = self.pending, self.is_ready, self.start, self.end
        depth = self.arch.mapping.prefetch_depth
        stream = self.stream
        writes: list[int] = []  # finish cycles of results still in the output queue
        for ti in queue:
            t = tiles[ti]
            now = env.now
            if pending[ti]:
                yield self._wait("deps", ti)
                rec.stall(now, env.now, "dependency", t.op)
                now = env.now
            if not is_ready[ti]:
                yield self._wait("ready", ti)
                self._input_stall(rec, ti, now, env.now, t.op)
                now = env.now
            nbytes = t.psum_hold_bytes + t.carry_take_bytes
            if ctx.psum_local and nbytes:  # room in the accumulator registers for its sums
                ev = ctx.pool_psum.take(nbytes)
                if ev is not None:
                    yield ev
                    rec.stall(now, env.now, "capacity", t.op)
                    now = env.now
            if stream:  # the result streams out while the tile computes: queue room first
                writes, now = yield from self._queue_room(rec, writes, now, depth, ti, t.op)
            start = starts[ti] = now
            psum_end = start
            if t.psum_bytes and ctx.psum_path:
                _f, psum_end, w.psum_via[ti] = move("psum", inst, t.psum_bytes, t.op)
            if stream:  # its result's write is asked for when it must start (``_stream_at``)
                out_at = self._stream_at(ctx, t, start)
                if out_at == start:
                    out_from, out_end = self._stream_out(ctx, t, ti, start)
            if t.cycles:
                if stream and out_at > start:
                    yield env.timeout(out_at - start)
                    out_from, out_end = self._stream_out(ctx, t, ti, start)
                    if start + t.cycles > out_at:
                        yield env.timeout(start + t.cycles - out_at)
                else:
                    yield env.timeout(t.cycles)
                now = start + t.cycles
                rec.busy(start, now, t.op)
            if psum_end > now:
                yield env.timeout(psum_end - now)
                rec.stall(now, psum_end, "psum", t.op)
                now = psum_end
            ends[ti] = now
            self._release(ctx, t)
            slots.give()
            if stream:
                w.issue_at[ti] = out_from
                if out_end > now:
                    writes.append(out_end)
                    env.timeout(out_end - now).callbacks.append(partial(self._on_written, ti))
                else:
                    self._complete(ti)
                continue
            if writes:
                writes = [e for e in writes if e > now]
                if len(writes) >= depth:  # wait for the first write to finish (any order)
                    first = min(writes)
                    yield env.timeout(first - now)
                    rec.stall(now, first, "output", t.op)
                    now = first
                    writes = [e for e in writes if e > now]
            end = w.issue_at[ti] = now
            if t.out_bytes:
                _f, end, w.out_via[ti] = move(out_kind(t), inst, t.out_bytes, t.op)
            if t.partial_out_bytes:  # partial sums of a split reduction, spilled to DRAM
                _f, e, v = move("partial_out", inst, t.partial_out_bytes, t.op)
                if e > end:
                    end, w.out_via[ti] = e, v
            if end > now:
                writes.append(end)
                env.timeout(end - now).callbacks.append(partial(self._on_written, ti))
            else:
                self._complete(ti)

    def _input_stall(self, rec: Recorder, ti: int, a: int, b: int, op: int) -> None:
        """Record a wait for operands from ``a`` to ``b``: the part the loader spent waiting
        for buffer room is a *capacity* stall, the rest an *input* stall."""
        at = a
        for s, e in self._cap_wait.pop(ti, ()):
            s, e = max(at, min(s, b)), max(at, min(e, b))
            rec.stall(at, s, "input", op)
            rec.stall(s, e, "capacity", op)
            at = e
        rec.stall(at, b, "input", op)

    def _multicast(self, inst: str, t: Tile) -> tuple[int, int, Via]:
        """Operands every chunk of an op reads (the same rows for each column slice): the first
        chunk to ask reads them once and sends them down every destination chunk's link; the
        others receive that transfer."""
        assert t.shared_key is not None
        got = self._shared.get(t.shared_key)
        if got is None:
            now = int(self.env.now)
            got = (now, now, ("", ""))
            fanout = self._fanout[t.shared_key]
            for kind, nbytes in t.shared_in:
                got = max(got, self._move(kind, inst, nbytes, t.op, fanout), key=_end)
            self._shared[t.shared_key] = got
        return got

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
        elif what == "issued":
            self.block_issued[i] = True
        ev = self._waiters.pop((what, i), None)
        if ev is not None:
            ev.succeed()

    def _on_written(self, ti: int, _event: simpy.Event) -> None:
        self._complete(ti)

    def _complete(self, ti: int) -> None:
        self.done[ti] = self.env.now
        self.completed += 1
        if self.progress is not None and self.completed % 256 == 0:
            self.progress.update(self.completed)
        pending, waiters = self.pending, self._waiters
        for d in self.dependents[ti]:
            pending[d] -= 1
            if not pending[d]:
                ev = waiters.pop(("deps", d), None)  # ``_signal("deps", d)``, inlined
                if ev is not None:
                    ev.succeed()
        t = self.plan.tiles[ti]
        for b in self._blocks_ending.get(ti, ()):
            regions = self.plan.regions
            self.pools[regions.pool(regions.region[self.plan.ops[b.op].unit, "weight"],
                                    b.chunk)].give(b.bytes)
        self.op_left[t.op] -= 1
        if self.op_left[t.op] == 0:
            for p in self._frees.get(t.op, ()):
                producer = self.plan.ops[p]
                self.pools[producer.out_region].give(producer.out_bytes, resident=True)

    def run(self) -> RunRecord:
        plan, env = self.plan, self.env
        self._blocks_ending: dict[int, list] = {}
        for b in plan.weight_blocks:
            if b.bytes > 0:  # an empty block takes no room, so it gives none back
                self._blocks_ending.setdefault(b.last_tile, []).append(b)
        self._frees: dict[int, list[int]] = {}
        for op in plan.ops:
            if op.held and op.last_consumer >= 0:
                self._frees.setdefault(op.last_consumer, []).append(op.index)
        depth = self.arch.mapping.prefetch_depth
        env.process(self._dma())
        for inst, queue in plan.queues.items():
            if not queue:
                continue
            slots = Slots(env, depth)
            ctx = self._instance(inst)
            env.process(self._loader(ctx, queue, slots))
            env.process(self._unit(ctx, queue, slots))
        env.run()
        if self.progress is not None:
            self.progress.close(self.completed)
        if self.completed < len(plan.tiles):
            raise DeadlockError(deadlock_message(
                self.plan, self.done, self.pending,
                self.block_issued if self.stream else self.block_done, self._out_granted))
        expand_route_bytes(self._route_bytes, self._routes, self.op_actions)
        return self._record()

    def _record(self) -> RunRecord:
        makespan = max(self.done, default=0)
        servers = {s.name: s for m in self.memories.values() for s in m.servers}
        actions: dict[str, dict[str, int]] = {name: {} for name in self.arch.memories}
        traffic: dict[str, dict[str, dict[str, int]]] = {name: {} for name in self.arch.memories}
        for per_op in self.op_actions:
            for (mem, action, role), n in per_op.items():
                actions[mem][action] = actions[mem].get(action, 0) + n
                by_role = traffic[mem].setdefault(action, {})
                by_role[role] = by_role.get(role, 0) + n
        return RunRecord(makespan, self.units, servers, self.start, self.end, self.done,
                         {r: p.series for r, p in self.pools.items()},
                         {r: p.capacity for r, p in self.pools.items()},
                         actions, traffic, next(self.env._eid), self.waits)


class _Instance(NamedTuple):
    """Constants of one unit instance (``Engine._instance``)."""

    name: str
    chunk: int
    pool_in: Pool
    pool_psum: Pool
    psum_local: bool  # partial sums in a chunk register file, claimed at the tile's start
    psum_path: bool  # partial sums cross memories (not only registers)


def _end(moved: tuple[int, int, Via]) -> int:
    return moved[1]
