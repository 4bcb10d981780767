"""The mapper: an OpGraph on an Architecture becomes a Plan of tiles (see ``accelsim.plan``).

Stages, each a method: fold views (find every compute op's real producers), choose the unit
type for each op, split it across chunks (heads to chunks; otherwise output columns for weight
matmuls, rows for the rest), cut each chunk's share into row tiles (and weight-sized column
blocks), decide which outputs stay in SRAM, and link tiles by data dependencies:

* a consumer row tile waits only for the producer tiles holding its rows when the edge path is
  ``rows_aligned`` and both see the same rows per group (the paper's intra-layer pipeline: the
  adder/divider arrays post-process rows as they leave the systolic arrays);
* otherwise it waits for the whole producer slice of its group (head), or the whole producer;
* with ``mapping.intra_layer_pipeline`` off, every op also waits for the previous one to finish.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arch.graph import component_graph
from arch.schema import Architecture, SystolicArray, VectorArray
from workloads.ir import Op, OpGraph, OpKind

from .binding import binder_for
from .buffers import regions
from .errors import InputError
from .geometry import Geometry, Part, bands, geometry, map_groups, split_evenly
from .plan import LoopNest, OpPlan, Plan, Tile, WeightBlock
from .tiling import Tiler, computed_densely
from .timing import (
    vector_cycles,
)


@dataclass(frozen=True)
class Source:
    """Where one input of a compute op comes from: a compute op, a weight or a graph input."""

    producer: int | None  # index of the producing compute op
    aligned: bool
    kind: str  # "op" | "weight" | "input"
    groups_aligned: bool = True


class Mapper(Tiler):
    """Turns ``graph`` into a ``Plan`` for ``arch``; one instance per mapping."""

    def __init__(self, arch: Architecture, graph: OpGraph) -> None:
        self.arch = arch
        self.graph = graph
        self.ob = arch.precision.operand_bits / 8
        self.chunks = arch.chunks.count
        order = {op.name: i for i, op in enumerate(graph)}
        topo = graph.topological_order(order.__getitem__)
        self.ops: list[Op] = [op for op in map(graph.op, topo) if not op.kind.is_free]
        self._block_ordinals: dict[tuple[int, int], int] = {}
        self.index = {op.name: i for i, op in enumerate(self.ops)}
        self._view_memo: dict[str, list[Source]] = {}
        self.folded_views = len(graph) - len(self.ops)
        #: the on-chip network can broadcast one transfer to every chunk
        self.multicast = all(m.multicast for m in arch.memories.values() if m.type == "noc")

    # -- stage 1: fold views ---------------------------------------------------------------
    def sources(self, name: str, i: int) -> list[Source]:
        """Sources of input ``i`` of op ``name``, looking through view ops."""
        op = self.graph.op(name)
        edges = [(p, a) for p, a in self.graph.predecessors(name) if a["input"] == i]
        if not edges:
            return [Source(None, False, "weight" if i in op.weight_inputs else "input")]
        out: list[Source] = []
        for p, attrs in edges:
            if self.graph.op(p).kind.is_free:
                out += [Source(s.producer, s.aligned and attrs["rows_aligned"], s.kind,
                               s.groups_aligned and attrs.get("groups_aligned", True))
                        for s in self._view_sources(p)]
            else:
                out.append(Source(self.index[p], bool(attrs["rows_aligned"]), "op",
                                  bool(attrs.get("groups_aligned", True))))
        return out

    def _view_sources(self, name: str) -> list[Source]:
        if name not in self._view_memo:
            view = self.graph.op(name)
            n_inputs = max(1, len(view.input_shapes))
            self._view_memo[name] = [s for i in range(n_inputs) for s in self.sources(name, i)]
        return self._view_memo[name]

    # -- stage 2: choose units ---------------------------------------------------------------
    def unit_for(self, op: Op, srcs: list[list[Source]], index: int = -1) -> str:
        """Bindings, else the capable unit where the op finishes first (accelsim.binding)."""
        deps = {s.producer for ss in srcs for s in ss if s.producer is not None}
        return binder_for(self).unit(op, self._fn(op, srcs), index, deps)

    def _fn(self, op: Op, srcs: list[list[Source]]) -> str:
        if op.kind is OpKind.MATMUL:
            if op.n == 1:
                return "matvec"
            quantized = all(
                s.producer is not None and self.ops[s.producer].kind is OpKind.QUANTIZE
                for ss in srcs[:2] for s in ss
            )
            return "lowbit_matmul" if quantized and len(srcs) >= 2 else "matmul"
        if op.kind is OpKind.SPARSE_MATMUL:
            return "sparse_matmul"
        return op.fn

    # -- the whole mapping -------------------------------------------------------------------
    def map(self) -> Plan:
        """Plan residency against each buffer region less a reserve for what tiles stage
        there (DRAM operands, partial sums), tile, and re-plan with the reserve the tiles
        turned out to need until it no longer grows (at most a few rounds)."""
        srcs = [[self.sources(op.name, i) for i in range(max(1, len(op.input_shapes)))]
                for op in self.ops]
        units = [self.unit_for(op, s, i) for i, (op, s) in enumerate(zip(self.ops, srcs,
                                                                          strict=True))]
        #: operand bytes per op: its unit's own width (Sanger's 4-bit predictor) or the chip's
        self.obs = [self._operand_bytes(u) for u in units]
        self.acc_bytes = self.arch.precision.accumulator_bits / 8
        compute = sorted(n for n, u in self.arch.chunks.units.items()
                         if isinstance(u, SystolicArray | VectorArray))
        self.components = component_graph(self.arch, 1)
        self.rate_dependent = False  # set when a choice reads bandwidths (``Plan.rates``)
        self.regions = regions(self.arch, self.components, compute)
        reserve: dict[str, int] = {}
        self._row_cap: dict[int, int] = {}  # op -> rows per tile, where its tiles must shrink
        #: op -> columns per block of a matmul whose B is not a weight, where one row of a
        #: tile would not fit its buffer with all of B's columns (``_narrower_columns``)
        self._col_cap: dict[int, int] = {}
        self._last: tuple[tuple, Plan] | None = None  # the last mapping and what it depended on
        self._geoms = [geometry(op) for op in self.ops]
        #: per op, the tiles and weight blocks of the last pass and what they depended on
        self._op_cache: dict[int, tuple[tuple, list[Tile], list[WeightBlock],
                                        LoopNest | None]] = {}
        for _ in range(16):
            plan = self._map_once(srcs, units, reserve)
            need = self._reserve_needed(plan)
            if need is None:  # some tiles staged more than their buffer: re-tile them
                continue
            # enough room when, in every region, the most resident outputs live at once plus
            # one tile's staging fit (a reserve planned already is kept: it only grows)
            short = {r: n for r, n in need.items()
                     if self._live_peak.get(r, 0) + n > self.regions.capacity[r]
                     and n > reserve.get(r, 0)}
            if not short:
                break
            reserve = reserve | short
        if need is None:
            raise InputError("could not shrink tiles to fit their buffers")
        self._link(plan, srcs)
        plan.rates = rate_key(self.arch) if self.rate_dependent else None
        plan.reserve_bytes = {r: max(reserve.get(r, 0), n) for r, n in need.items()}
        return plan

    def _reserve_needed(self, plan: Plan) -> dict[str, int] | None:
        """Per region, the most bytes one tile stages there at once; when resident outputs
        leave at least that free, a staged tile can always be loaded, so the run never
        deadlocks on capacity (``docs/engine.md``, Capacity).

        A tile that stages more than a ``prefetch_depth``-th of its region gets its op's rows
        per tile capped so that ``prefetch_depth`` tiles fit (double buffering; returns None:
        map again); when one row does not fit the whole region, the buffer is too small for
        the op and that is bad input."""
        need: dict[str, int] = {}
        shrink = False
        narrowed: set[int] = set()
        depth = self.arch.mapping.prefetch_depth
        # partial sums a split matmul carries between its reduction blocks, per unit
        # instance: the most live at once (they are held beside each tile's own staging)
        carried: dict[tuple[int, str, str], int] = {}
        live: dict[tuple[int, str, str], int] = {}
        for t in plan.tiles:
            if not (t.carry_take_bytes or t.carry_give_bytes or t.input_keep_bytes
                    or t.input_free_bytes):
                continue
            for role, take, give in (("psum", t.carry_take_bytes, t.carry_give_bytes),
                                     ("input", t.input_keep_bytes, t.input_free_bytes)):
                if take or give:
                    key = (t.op, t.unit, role)
                    live[key] = live.get(key, 0) + take
                    carried[key] = max(carried.get(key, 0), live[key])
                    live[key] -= give
        regions = self.regions
        for op in plan.ops:
            unit = op.unit
            r_in, r_psum = regions.region[unit, "input"], regions.region[unit, "psum"]
            # staged inputs are held by up to prefetch_depth tiles at once, partial sums in a
            # register file only by the one computing
            psum_copies = 1 if r_psum in regions.regfiles else depth
            kept_of: dict[str, dict[str, int]] = {}  # unit instance -> region -> kept bytes
            for ti in op.tiles:
                t = plan.tiles[ti]
                n_in, n_psum = t.room_bytes, t.psum_hold_bytes
                kept = kept_of.get(t.unit)
                if kept is None:  # bytes the op keeps across tiles (sized to fit half)
                    kept = kept_of[t.unit] = {}
                    for role, r in (("psum", r_psum), ("input", r_in)):
                        n_kept = carried.get((t.op, t.unit, role), 0)
                        if n_kept:
                            kept[r] = kept.get(r, 0) + n_kept
                if not (n_in or n_psum or kept):
                    continue
                if r_in == r_psum:
                    here = {r_in: (n_in + n_psum, depth if n_in else psum_copies)} if (
                        n_in or n_psum) else {}
                else:
                    here = {}
                    if n_in:
                        here[r_in] = (n_in, depth)
                    if n_psum:
                        here[r_psum] = (n_psum, psum_copies)
                rows = t.row1 - t.row0
                for r, (n, copies) in here.items():
                    cap = regions.capacity[r] - kept.get(r, 0)
                    b = t.b_bytes if r == r_in else 0
                    if fit := self._rows_that_fit(n, b, rows, copies, cap):
                        self._row_cap[t.op] = min(self._row_cap.get(t.op, rows), fit)
                        shrink = True
                    elif n > cap and t.op in narrowed:  # narrowed already in this pass
                        shrink = True
                    elif n > cap and (width := self._narrower_columns(t.op, unit)):
                        self._col_cap[t.op] = width  # fewer of B's columns staged at once
                        narrowed.add(t.op)
                        shrink = True
                    elif n > cap:
                        raise InputError(
                            f"op {op.name!r}: a tile of {rows} row(s) stages {n} bytes "
                            f"in buffer {r!r} of {regions.capacity[r]} bytes beside "
                            f"{kept.get(r, 0)} kept there; enlarge the buffer")
                for r in here.keys() | kept.keys():
                    staged = here.get(r, (0, 0))[0]
                    need[r] = max(need.get(r, 0), staged + kept.get(r, 0))
        return None if shrink else need

    @staticmethod
    def _rows_that_fit(n: int, b: int, rows: int, copies: int, cap: int) -> int | None:
        """Rows per tile (at least halved, at least one) at which ``copies`` tiles of ``rows``
        rows needing ``n`` bytes of room each fit ``cap`` (double buffering), ``b`` of those
        bytes an activation B that the tiles of its block share (claimed once) and fewer rows
        do not shrink; None when they fit already, or when not even one row fits beside B
        (then B's columns narrow, or the buffer is too small)."""
        if b + (n - b) * copies <= cap or rows <= 1:
            return None
        fit = (cap - b) // copies * rows // (n - b) if cap > b else 0
        return max(1, min(fit, rows // 2)) if fit or not b else None

    def _narrower_columns(self, i: int, unit_name: str) -> int | None:
        """Columns per block for op ``i`` when one row of its tile does not fit its buffer: a
        matmul whose B is not a weight (attention's V, a cross-attention's keys) stages B with
        its first row tile, all of its columns at once unless capped; halve them (whole
        folds, at least one) or None when already one fold wide (then the buffer is too small
        for the op). Only an op that would otherwise not fit at all is narrowed."""
        unit, op = self.arch.chunks.units[unit_name], self.ops[i]
        if not (op.kind.is_matmul and isinstance(unit, SystolicArray)) or len(
                op.input_shapes) < 2 or all(s.kind == "weight" for s in self.sources(op.name, 1)):
            return None  # B a weight: its blocks are the reduction split's (``_col_blocks``)
        width = self._col_cap.get(i, op.n)
        if width <= unit.cols:
            return None
        return max(unit.cols, width // 2 // unit.cols * unit.cols)

    def _map_once(self, srcs: list[list[list[Source]]], units: list[str],
                  reserve: dict[str, int]) -> Plan:
        plans = [
            OpPlan(i, op.name, op.kind.value, self._fn(op, srcs[i]), op.group, op.layer,
                   units[i], op.cost.macs, out_bytes=math.ceil(op.out_elements * self.obs[i]),
                   out_region=self.regions.region[units[i], "output"])
            for i, op in enumerate(self.ops)
        ]
        self._plan_residency(plans, srcs, reserve)
        # tiles depend on the reserve only through residency: an unchanged one maps the same
        key = (tuple((p.resident, p.far) for p in plans), tuple(sorted(self._row_cap.items())),
               tuple(sorted(self._col_cap.items())))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        self._block_ordinals = {}
        tiles: list[Tile] = []
        blocks: list[WeightBlock] = []
        queues: dict[str, list[int]] = {
            f"chunk{c}.{u}": [] for u in self.arch.chunks.units
            for c in self.arch.chunks.holders(u)
        }
        geoms = self._geoms
        for i, op in enumerate(self.ops):
            w_cap = self.regions.capacity[self.regions.region[units[i], "weight"]]
            kinds = [self._input_kind(ss, plans) for ss in srcs[i]]
            unit = self.arch.chunks.units[units[i]]
            assert isinstance(unit, SystolicArray | VectorArray)  # unit_for picks only these
            weight_b = op.kind.is_matmul and len(kinds) > 1 and kinds[1] == "weight"
            # an op tiles the same as in the last pass when nothing it depends on changed
            sig = (tuple(kinds), plans[i].resident, plans[i].far, self._row_cap.get(i),
                   self._col_cap.get(i), len(tiles), len(blocks))
            cached = self._op_cache.get(i)
            if cached is not None and cached[0] == sig:
                new = cached[1]
                blocks += cached[2]
                plans[i].loop_nest = cached[3]
            else:
                first_block = len(blocks)
                holders = self.arch.chunks.holders(units[i])
                parts = [(holders[c], g, rows, cols) for c, g, rows, cols in
                         self._parts(op, geoms[i], weight_b, unit, plans[i].fn, len(holders))]
                new = self._tile_op(op, plans[i], geoms[i], kinds, parts, len(tiles), blocks,
                                    w_cap)
                if op.kind.is_matmul:  # the op's MACs (sparse: density-scaled), exactly
                    performed = op.cost.macs
                    if isinstance(unit, SystolicArray) and computed_densely(op, unit):
                        performed = op.batch * op.m * op.n * op.k  # zeros multiplied too
                    for t, macs in zip(new, split_evenly(performed, [t.macs for t in new]),
                                       strict=True):
                        t.macs = macs
                self._op_cache[i] = (sig, new, blocks[first_block:], plans[i].loop_nest)
            for t in new:
                queues[t.unit].append(t.index)
            plans[i].tiles = [t.index for t in new]
            tiles += new
        last = [-1] * len(blocks)  # each block's last tile (tiles are numbered in order)
        for t in tiles:
            if t.weight_block >= 0:
                last[t.weight_block] = t.index
        for b in blocks:
            b.last_tile = last[b.index]
        plan = Plan(plans, tiles, blocks, queues, self.regions, folded_views=self.folded_views,
                    graph=self.components)
        self._last = (key, plan)
        return plan

    def _plan_residency(self, plans: list[OpPlan], srcs: list[list[list[Source]]],
                        reserve: dict[str, int]) -> None:
        """Keep an output in its buffer region while it fits beside the live ones there (the
        region less ``reserve``); else in the far output level's (an L2 above it), likewise;
        else spill it to DRAM."""
        for j, per_input in enumerate(srcs):
            for ss in per_input:
                for s in ss:
                    if s.producer is not None:
                        plans[s.producer].last_consumer = max(plans[s.producer].last_consumer, j)
        live: list[OpPlan] = []
        self._live_peak: dict[str, int] = {}
        for p in plans:
            live = [q for q in live if q.last_consumer >= p.index]
            far = self.regions.far.get(p.unit)
            p.resident = False
            for level, region in enumerate([p.out_region] + ([far[1]] if far else [])):
                used = sum(q.out_bytes for q in live if q.out_region == region)
                budget = self.regions.capacity[region] - reserve.get(region, 0)
                kept = p.last_consumer >= 0 and used + p.out_bytes <= budget
                self._live_peak[region] = max(self._live_peak.get(region, 0),
                                              used + (p.out_bytes if kept else 0))
                if kept:
                    p.resident, p.far, p.out_region = level == 0, level > 0, region
                    live.append(p)
                    break

    def _operand_bytes(self, unit_name: str) -> float:
        unit = self.arch.chunks.units[unit_name]
        bits = getattr(unit, "operand_bits", None) or self.arch.precision.operand_bits
        return bits / 8

    # -- stage 3: partition and tile ---------------------------------------------------------
    def _parts(self, op: Op, geo: Geometry, weight_b: bool, unit: SystolicArray | VectorArray,
               fn: str, chunks: int) -> list[Part]:
        """(chunk, groups, row range, column range) for each of the ``chunks`` chunks holding
        the unit that gets work (chunk: the index among them).

        Groups (heads) spread over the chunks; otherwise a weight matmul splits its output
        columns and anything else its rows. Each op uses the *fewest* chunks that reach its
        shortest per-chunk compute time: a split that saves no compute cycles only adds
        transfers and contention, so it is not made.
        """
        cols = (0, geo.row_len)
        if geo.reduces_rows and geo.groups == 1:
            return [(0, [0], (0, geo.rows), cols)]  # one accumulation: not split (no combine)
        if geo.groups > 1:
            per = math.ceil(geo.groups / chunks)
            return [(c, list(range(lo, hi)), (0, geo.rows), cols)
                    for c, (lo, hi) in enumerate(bands(0, geo.groups, per))]
        if op.kind.is_matmul and weight_b:
            assert isinstance(unit, SystolicArray)
            width = self._fewest(op.n, chunks,
                                 lambda w: self._matmul_cycles(op, unit, geo.rows, w))
            return [(c, [0], (0, geo.rows), band) for c, band in enumerate(bands(0, op.n, width))]
        if isinstance(unit, SystolicArray):
            height = self._fewest(geo.rows, chunks,
                                  lambda h: self._matmul_cycles(op, unit, h, op.n))
        else:
            spec = unit.fns[fn]
            height = self._fewest(geo.rows, chunks, lambda h: vector_cycles(
                math.ceil(h * geo.row_len * op.density), unit.lanes, spec.cycles_per_element,
                spec.latency_cycles))
        return [(c, [0], r, cols) for c, r in enumerate(bands(0, geo.rows, height))]

    @staticmethod
    def _fewest(size: int, chunks: int, cycles_of: Callable[[int], int]) -> int:
        """Slice width for splitting ``size`` over ``chunks`` chunks: the widest (fewest chunks)
        whose largest slice takes as few cycles as splitting over all of them."""
        best = cycles_of(math.ceil(size / chunks))
        for parts in range(1, chunks + 1):
            width = math.ceil(size / parts)
            if cycles_of(width) <= best:
                return width
        return math.ceil(size / chunks)


    def _input_kind(self, ss: list[Source], plans: list[OpPlan]) -> str:
        """"weight", "dram" (graph input or spilled), "far" (kept in the far output level) or
        "sram" for one input of an op (the slowest of its sources)."""
        if all(s.kind == "weight" for s in ss):
            return "weight"
        producers = [plans[s.producer] for s in ss if s.producer is not None]
        if any(s.kind == "input" for s in ss) or any(p.spilled for p in producers):
            return "dram"
        if any(p.far for p in producers):
            return "far"
        return "sram"

    # -- stage 4: dependencies ---------------------------------------------------------------
    def _link(self, plan: Plan, srcs: list[list[list[Source]]]) -> None:
        """Every tile's dependencies, once the tiling is final (re-tiling passes skip this)."""
        by_group: list[dict[int, _Rows]] = []
        for i, op_plan in enumerate(plan.ops):
            new = [plan.tiles[j] for j in op_plan.tiles]
            seen: set[str] = set()
            for t in new:
                t.deps = self._deps(t, self._geoms, srcs[i], by_group, t.unit not in seen)
                seen.add(t.unit)
            groups: dict[int, list[Tile]] = {}
            for t in new:
                groups.setdefault(t.group, []).append(t)
            by_group.append({g: _Rows(ts) for g, ts in groups.items()})

    def _deps(self, t: Tile, geoms: list[Geometry], srcs: list[list[Source]],
              by_group: list[dict[int, _Rows]], first_on_unit: bool) -> list[int]:
        geo = geoms[t.op]
        op = self.ops[t.op]
        deps: set[int] = set()
        for i, ss in enumerate(srcs):
            for s in ss:
                if s.producer is None:
                    continue
                pgeo = geoms[s.producer]
                aligned = (s.aligned and not pgeo.reduces_rows and pgeo.rows == geo.rows
                           and not (op.kind.is_matmul and i == 1))
                pgroups = (map_groups(t.group, geo.groups, pgeo.groups) if s.groups_aligned
                           else range(pgeo.groups))
                produced = by_group[s.producer]
                for pg in pgroups:
                    rows = produced.get(pg)
                    if rows is not None:
                        deps.update(rows.overlapping(t.row0, t.row1) if aligned else rows.index)
        if not self.arch.mapping.intra_layer_pipeline and t.op > 0 and first_on_unit:
            # ops in order: the first tile of op i on each unit waits for all of op i-1; the
            # unit's later tiles of op i follow it in order anyway.
            deps.update(j for rows in by_group[t.op - 1].values() for j in rows.index)
        return sorted(deps)


class _Rows:
    """The tiles of one op's group as row intervals, for finding those a row band overlaps
    by bisection (the bands of an op are sorted by first row; where their last rows are
    sorted too, which is the rule, both ends bisect; otherwise the prefix is filtered)."""

    __slots__ = ("index", "monotone", "row0", "row1")

    def __init__(self, tiles: list[Tile]) -> None:
        order = sorted(tiles, key=lambda t: (t.row0, t.row1))
        self.index = [t.index for t in order]
        self.row0 = [t.row0 for t in order]
        self.row1 = [t.row1 for t in order]
        self.monotone = all(a <= b for a, b in zip(self.row1, self.row1[1:], strict=False))

    def overlapping(self, row0: int, row1: int) -> list[int]:
        """Tiles whose rows [r0, r1) overlap [row0, row1)."""
        hi = bisect.bisect_left(self.row0, row1)  # tiles starting before row1
        if self.monotone:
            return self.index[bisect.bisect_right(self.row1, row0, 0, hi):hi]
        return [j for j, r1 in zip(self.index[:hi], self.row1[:hi], strict=True) if r1 > row0]


#: Fields that shape no mapping decision on their own: what a transfer costs in time and
#: energy, and names. Two architectures that differ only in them map every graph the same
#: (``mapping_key``), except where ``mapping.reduction_split: auto`` estimated an op's time
#: from the clock and bandwidths: such a plan records them (``Plan.rates``, ``plan_fits``).
TIMING_ONLY_FIELDS = frozenset({
    "name", "description", "sources", "clock_mhz", "streaming", "bandwidth_gbps",
    "bandwidth_bytes_per_cycle", "latency_ns", "leakage_mw", "mac_energy_pj", "energy_pj",
    "read_energy_pj_per_bit", "write_energy_pj_per_bit", "read_energy_pj_per_byte",
    "write_energy_pj_per_byte", "energy_pj_per_byte_hop", "latency_cycles_per_hop",
})


def mapping_key(arch: Architecture) -> str:
    """The part of ``arch`` the mapping depends on, as canonical JSON: everything but
    ``TIMING_ONLY_FIELDS`` (at any depth). Equal keys give equal plans for a graph, unless the
    plan read the rates (``Plan.rates``): then also equal ``rate_key`` (``plan_fits``)."""
    import json

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in TIMING_ONLY_FIELDS}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return json.dumps(strip(arch.model_dump(mode="json")), sort_keys=True)


#: The fields of ``TIMING_ONLY_FIELDS`` that ``mapping.reduction_split: auto`` reads.
RATE_FIELDS = ("clock_mhz", "bandwidth_gbps", "bandwidth_bytes_per_cycle")


def rate_key(arch: Architecture) -> str:
    """The clock and every memory's bandwidth, as canonical JSON: a plan whose ``rates`` is
    set (a split chosen by estimated time) holds only for architectures with this key."""
    import json

    rates = {name: {f: getattr(m, f) for f in RATE_FIELDS if hasattr(m, f)}
             for name, m in sorted(arch.memories.items())}
    return json.dumps({"clock_mhz": arch.clock_mhz, "memories": rates}, sort_keys=True)


def plan_fits(plan: Plan, arch: Architecture) -> bool:
    """Whether ``plan`` (made on an architecture with ``arch``'s ``mapping_key``) is also
    ``arch``'s mapping: always, unless a choice in it read the bandwidths (``Plan.rates``)."""
    return plan.rates is None or plan.rates == rate_key(arch)


def map_graph(arch: Architecture, graph: OpGraph) -> Plan:
    """Map ``graph`` onto ``arch`` (see the module docstring)."""
    return Mapper(arch, graph).map()
