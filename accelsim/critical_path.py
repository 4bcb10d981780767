"""The critical path: the chain of tile computations, transfers and waits that sets the makespan.

The engine records, for every tile and weight block, when each of its waits ended and which
memory each of its transfers waited on most (``accelsim.record.Waits``). Walking back from the
tile that finished last, each step goes to whatever the current point waited for last:

* a tile is *done* when its result's write ends (a transfer, held up by ``out_via``), which
  starts once the output queue has room (a wait on the same path), after the tile's compute
  (the unit) and its partial sums' traffic (``psum_via``);
* a tile *starts* when the latest of three things happened: its unit was free (the previous
  tile of the unit issued its write), its producer tiles were done, its operands had arrived
  (under ``streaming: folds``: enough of them, ``Engine._stream_ready``, and its output queue
  had room: an earlier tile's result was written); any remainder is a wait for partial-sum
  room;
* a wait for buffer room that ended at cycle T continues at the tile that gave the room back
  at T (its result written, or its compute end, in that region): the wait is on that tile;
* operands *arrive* after their transfers (``load_via``), which start after the loader got
  room for staged operands, the tile's producers, its weight block (the DMA's fetch, after
  room in the weight buffer), room for the op's resident output, and a prefetch slot (the
  previous tile's load, or the compute end of the tile ``prefetch_depth`` earlier).

Consecutive steps abut, so the segments tile [0, makespan] exactly: their cycles sum to the
makespan. Time is attributed to a *resource*: a unit type (compute), a memory kind
(transfers and output-queue waits), a buffer region (waits for room).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arch.schema import Architecture

from .plan import Plan
from .record import RunRecord, Via

#: Entries of ``critical_path.by_resource`` / ``by_op`` kept in the summary.
TOP = 12


@dataclass(frozen=True)
class Segment:
    """One step of the critical path: ``[start, end)`` cycles spent on ``activity``
    ("compute", "transfer", "output queue", "wait for room", "start") at ``resource`` (unit
    type, memory kind or buffer region), for operand ``role`` ("" for compute), by plan op
    ``op`` (-1: none) and tile ``tile`` (-1: a weight block's fetch or none)."""

    start: int
    end: int
    resource: str
    activity: str
    role: str
    op: int
    tile: int
    instance: str = ""  # unit instance (``chunk0.sa_general``) of compute segments


Point = tuple[str, int]
Step = tuple[Point | None, int, tuple[str, str, str, int, int, str]]


class _Walk:
    def __init__(self, arch: Architecture, plan: Plan, rec: RunRecord) -> None:
        assert rec.waits is not None
        self.plan, self.rec, self.w = plan, rec, rec.waits
        self.depth = arch.mapping.prefetch_depth
        self.queue_pos: dict[int, tuple[list[int], int]] = {}
        for queue in plan.queues.values():
            for k, ti in enumerate(queue):
                self.queue_pos[ti] = (queue, k)
        self.end_at: dict[int, list[int]] = {}
        self.done_at: dict[int, list[int]] = {}
        for t in plan.tiles:
            self.end_at.setdefault(rec.tile_end[t.index], []).append(t.index)
            self.done_at.setdefault(rec.tile_done[t.index], []).append(t.index)
        order = plan.dma_order()
        self.prev_block = {b.index: (order[i - 1].index if i else -1) for i, b in enumerate(order)}

    def _region(self, ti: int, role: str) -> str:
        op = self.plan.ops[self.plan.tiles[ti].op]
        return op.out_region if role == "output" else self.plan.regions.region[op.unit, role]

    def _lab(self, via: Via, activity: str, ti: int, op: int = -1) -> tuple:
        op = self.plan.tiles[ti].op if ti >= 0 else op
        return (via[0] or "-", activity, via[1], op, ti, "")

    def _regions(self, ti: int) -> set[str]:
        op = self.plan.ops[self.plan.tiles[ti].op]
        region = self.plan.regions.region
        return {op.out_region} | {region[op.unit, r] for r in ("input", "weight", "psum")
                                  if (op.unit, r) in region}

    def releaser(self, at: int, region: str, waiting: int, chunk: int = -1) -> Point | None:
        """The tile whose completion (result written) or compute end at cycle ``at`` gave
        back room in ``region``: the room a wait ending then was waiting for (in a region
        local to each chunk, a tile of the waiter's chunk: ``waiting``'s, or ``chunk``)."""
        tiles, local = self.plan.tiles, region in self.plan.regions.local
        if local and waiting >= 0:
            chunk = _chunk_of(tiles[waiting].unit)
        for kind, index in (("done", self.done_at), ("end", self.end_at)):
            for i in index.get(at, ()):
                if (i != waiting and region in self._regions(i)
                        and not (local and _chunk_of(tiles[i].unit) != chunk)):
                    return kind, i
        return None

    def _room(self, ti: int, role: str) -> tuple:
        return (self._region(ti, role), "wait for room", role, self.plan.tiles[ti].op, ti, "")

    def step(self, point: Point) -> Step:
        kind, i = point
        w, rec, tiles = self.w, self.rec, self.plan.tiles
        if kind == "done":
            return ("issue", i), w.issue_at[i], self._lab(w.out_via[i], "transfer", i)
        if kind == "issue":
            return ("end", i), rec.tile_end[i], self._lab(w.out_via[i], "output queue", i)
        if kind == "end":
            computed = rec.tile_start[i] + tiles[i].cycles
            return ("compute", i), computed, self._lab(w.psum_via[i], "transfer", i)
        if kind == "compute":
            t = tiles[i]
            unit = self.plan.ops[t.op].unit
            return ("start", i), rec.tile_start[i], (unit, "compute", "", t.op, i, t.unit)
        if kind == "start":
            queue, k = self.queue_pos[i]
            cands: list[tuple[int, Point | None]] = [(w.ready_at[i], ("ready", i))]
            if tiles[i].deps:
                d = max(tiles[i].deps, key=lambda j: (rec.tile_done[j], -j))
                cands.append((rec.tile_done[d], ("done", d)))
            cands.append((w.issue_at[queue[k - 1]], ("issue", queue[k - 1])) if k else (0, None))
            if w.queue_at[i]:  # streamed results: the unit waited for an earlier one's write
                j = next(j for j in self.done_at[w.queue_at[i]] if j in queue[:k])
                cands.append((w.queue_at[i], ("done", j)))
            best = max(cands, key=lambda c: c[0])  # first on a tie: data, producers, unit
            if rec.tile_start[i] > best[0]:
                freed = self.releaser(rec.tile_start[i], self._region(i, "psum"), i)
                if freed is not None:
                    return freed, rec.tile_start[i], self._room(i, "psum")
            return best[1], best[0], self._room(i, "psum")
        if kind == "ready":
            return ("load", i), w.load_at[i], self._lab(w.load_via[i], "transfer", i)
        if kind == "load":
            if w.load_at[i] > w.deps_at[i]:
                freed = self.releaser(w.load_at[i], self._region(i, "input"), i)
                if freed is not None:
                    return freed, w.load_at[i], self._room(i, "input")
            return ("deps", i), w.deps_at[i], self._room(i, "input")
        if kind == "deps":
            t = tiles[i]
            if w.deps_at[i] > w.block_at[i] and t.deps:
                d = max(t.deps, key=lambda j: (rec.tile_done[j], -j))
                return ("done", d), rec.tile_done[d], self._room(i, "input")
            return ("blockwait", i), w.block_at[i], self._room(i, "input")
        if kind == "blockwait":
            b = tiles[i].weight_block
            if b >= 0 and w.block_at[i] > w.claim_at[i]:
                return ("block", b), w.block_at[i], self._room(i, "input")
            return ("claim", i), w.claim_at[i], self._room(i, "input")
        if kind == "claim":
            if w.claim_at[i] > w.slot_at[i]:
                freed = self.releaser(w.claim_at[i], self._region(i, "output"), i)
                if freed is not None:
                    return freed, w.claim_at[i], self._room(i, "output")
            return ("slot", i), w.slot_at[i], self._room(i, "output")
        if kind == "slot":
            queue, k = self.queue_pos[i]
            if not k:
                return None, 0, ("-", "start", "", tiles[i].op, i, "")
            prev = queue[k - 1]
            if w.ready_at[prev] >= w.slot_at[i] or k < self.depth:
                return ("ready", prev), w.ready_at[prev], self._room(i, "input")
            freer = queue[k - self.depth]
            return ("end", freer), rec.tile_end[freer], self._room(i, "input")
        if kind == "block":
            op = self.plan.weight_blocks[i].op
            return ("dma", i), w.dma_issue[i], self._lab(w.dma_via[i], "transfer", -1, op)
        if kind == "dma":
            block_op = self.plan.weight_blocks[i].op
            region = self.plan.regions.region[self.plan.ops[block_op].unit, "weight"]
            label = (region, "wait for room", "weight", block_op, -1, "")
            if w.dma_issue[i] > w.dma_from[i]:
                freed = self.releaser(w.dma_issue[i], region, -1,
                                      self.plan.weight_blocks[i].chunk)
                if freed is not None:
                    return freed, w.dma_issue[i], label
            return ("dmafrom", i), w.dma_from[i], label
        assert kind == "dmafrom"
        pb = self.prev_block[i]
        block_op = self.plan.weight_blocks[i].op
        if pb < 0:
            return None, 0, ("-", "start", "", block_op, -1, "")
        return ("dma", pb), w.dma_issue[pb], ("-", "start", "weight", block_op, -1, "")


def critical_path(arch: Architecture, plan: Plan, rec: RunRecord) -> list[Segment]:
    """The segments of the critical path, in time order; they cover [0, makespan] exactly.
    Walked once per record (kept in ``rec.path``)."""
    if rec.path is not None:
        return rec.path
    if not plan.tiles or rec.waits is None:
        return []
    walk = _Walk(arch, plan, rec)
    last = max(range(len(plan.tiles)), key=lambda i: (rec.tile_done[i], -i))
    point: Point | None = ("done", last)
    now = rec.tile_done[last]
    segs: list[Segment] = []
    guard = 40 * (len(plan.tiles) + len(plan.weight_blocks)) + 100
    while point is not None and guard:
        guard -= 1
        nxt, at, label = walk.step(point)
        at = min(at, now)
        if at < now:
            resource, activity, role, op, tile, inst = label
            segs.append(Segment(at, now, resource, activity, role, op, tile, inst))
        point, now = nxt, at
    if now > 0:  # never expected: whatever is left is the start-up
        segs.append(Segment(0, now, "-", "start", "", -1, -1))
    segs.reverse()
    rec.path = segs
    return segs


def _share(cycles: int, total: int) -> float:
    return round(cycles / total, 6) if total else 0.0


def summarize(plan: Plan, segs: list[Segment]) -> dict[str, Any]:
    """``critical_path`` of the summary: cycles and share of the path per (resource,
    activity, role), the largest first, each with the kind of op (group and function) that
    spent most of it there and that kind's longest op; the same per op; ``bottleneck``."""
    total = sum(s.end - s.start for s in segs)
    ops = plan.ops
    by_res: dict[tuple[str, str, str], int] = {}
    by_kind: dict[tuple[str, str, str], dict[tuple[str, str], int]] = {}
    by_op: dict[tuple[int, str, str, str], int] = {}
    for s in segs:
        key, cycles = (s.resource, s.activity, s.role), s.end - s.start
        by_res[key] = by_res.get(key, 0) + cycles
        kinds = by_kind.setdefault(key, {})
        kind = (ops[s.op].group, ops[s.op].fn) if s.op >= 0 else ("", "")
        kinds[kind] = kinds.get(kind, 0) + cycles
        okey = (s.op, s.resource, s.activity, s.role)
        by_op[okey] = by_op.get(okey, 0) + cycles

    def ranked(d: dict) -> list:
        return sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))

    res_rows = []
    for (r, a, role), c in ranked(by_res):
        (group, fn), kind_cycles = ranked(by_kind[r, a, role])[0]
        longest = [op for (op, *k), _ in ranked(by_op) if tuple(k) == (r, a, role)
                   and op >= 0 and (ops[op].group, ops[op].fn) == (group, fn)]
        res_rows.append({"resource": r, "activity": a, "role": role, "cycles": c,
                         "share": _share(c, total), "op_group": group or None,
                         "op_fn": fn or None, "op_kind_cycles": kind_cycles,
                         "longest_op": ops[longest[0]].name if longest else None})
    op_rows = [{"op": ops[op].name if op >= 0 else None, "resource": r, "activity": a,
                "role": role, "cycles": c, "share": _share(c, total)}
               for (op, r, a, role), c in ranked(by_op)[:TOP]]
    return {"cycles": total, "segments": len(segs), "by_resource": res_rows[:TOP],
            "by_op": op_rows, "bottleneck": bottleneck_line(res_rows)}


def describe(row: dict[str, Any]) -> str:
    """``compute on sa_general``, ``dram transfers of weight``, ``sram_act.act wait for room
    (input)``, ``noc output queue``."""
    if row["activity"] == "compute":
        return f"compute on {row['resource']}"
    if row["activity"] == "transfer":
        return f"{row['resource']} transfers of {row['role']}"
    role = f" ({row['role']})" if row["role"] else ""
    return f"{row['resource']} {row['activity']}{role}"


def bottleneck_line(rows: list[dict[str, Any]]) -> str:
    """E.g. ``62% of the critical path is dram transfers of weight (55% mlp matmul ops, e.g.
    blocks.3.mlp.fc1); next: compute on sa_general 30%``."""
    if not rows:
        return "no critical path (nothing was simulated)"
    top = rows[0]
    line = f"{top['share']:.0%} of the critical path is {describe(top)}"
    if top["op_group"]:
        total = top["cycles"] / top["share"] if top["share"] else 0
        part = top["op_kind_cycles"] / total if total else 0.0
        line += f" ({part:.0%} {top['op_group']} {top['op_fn']} ops, e.g. {top['longest_op']})"
    if len(rows) > 1:
        line += f"; next: {describe(rows[1])} {rows[1]['share']:.0%}"
    return line


def _chunk_of(inst: str) -> int:
    """``chunk3.sa`` -> 3."""
    return int(inst.split(".", 1)[0][5:])
