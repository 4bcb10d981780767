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

import math
from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx

from arch.graph import build_graph
from arch.schema import Architecture, SystolicArray, VectorArray
from workloads.ir import Op, OpGraph, OpKind

from .binding import binder_for
from .buffers import regions
from .errors import InputError
from .geometry import Geometry, Part, bands, geometry, map_groups, per_row_divisor, split_evenly
from .plan import OpPlan, Plan, Tile, WeightBlock
from .timing import (
    systolic_compute_cycles,
    systolic_operand_reads,
    systolic_psum_traffic,
    vector_cycles,
)

#: Row tiles per (chunk, group) slice when ``mapping.tile_rows`` is 0 (auto).
AUTO_TILES_PER_SLICE = 8
#: Smallest auto row tile, unit: rows.
MIN_TILE_ROWS = 64


#: Tile field counting the bytes of each engine path kind.
PATH_FIELDS = {"dram_in": "dram_in_bytes", "reread": "reread_bytes", "weight": "weight_in_bytes",
               "sram_in": "sram_in_bytes"}


@dataclass(frozen=True)
class Source:
    """Where one input of a compute op comes from: a compute op, a weight or a graph input."""

    producer: int | None  # index of the producing compute op
    aligned: bool
    kind: str  # "op" | "weight" | "input"
    groups_aligned: bool = True


class Mapper:
    """Turns ``graph`` into a ``Plan`` for ``arch``; one instance per mapping."""

    def __init__(self, arch: Architecture, graph: OpGraph) -> None:
        self.arch = arch
        self.graph = graph
        self.ob = arch.precision.operand_bits / 8
        self.chunks = arch.chunks.count
        order = {name: i for i, name in enumerate(graph.g.nodes)}
        topo = nx.lexicographical_topological_sort(graph.g, key=order.__getitem__)
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
    def unit_for(self, op: Op, srcs: list[list[Source]]) -> str:
        """Bindings, else the capable unit where the op finishes first (accelsim.binding)."""
        return binder_for(self).unit(op, self._fn(op, srcs))

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
        units = [self.unit_for(op, s) for op, s in zip(self.ops, srcs, strict=True)]
        #: operand bytes per op: its unit's own width (Sanger's 4-bit predictor) or the chip's
        self.obs = [self._operand_bytes(u) for u in units]
        self.acc_bytes = self.arch.precision.accumulator_bits / 8
        compute = sorted(n for n, u in self.arch.chunks.units.items()
                         if isinstance(u, SystolicArray | VectorArray))
        self.regions = regions(self.arch, build_graph(self.arch, 1), compute)
        reserve: dict[str, int] = {}
        self._row_cap: dict[int, int] = {}  # op -> rows per tile, where its tiles must shrink
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
        depth = self.arch.mapping.prefetch_depth
        for t in plan.tiles:
            unit = plan.ops[t.op].unit
            here: dict[str, int] = {}
            copies: dict[str, int] = {}
            # staged inputs are held by up to prefetch_depth tiles at once, partial sums in a
            # register file only by the one computing
            local = self.regions.region[unit, "psum"] in self.regions.local
            for role, nbytes, held in (("input", t.dram_in_bytes, depth),
                                       ("psum", t.psum_hold_bytes, 1 if local else depth)):
                if nbytes:
                    r = self.regions.region[unit, role]
                    here[r] = here.get(r, 0) + nbytes
                    copies[r] = max(copies.get(r, 1), held)
            for r, n in here.items():
                cap = self.regions.capacity[r]
                share = cap // copies[r]
                rows = t.row1 - t.row0
                if n > share and rows > 1:
                    fit = max(1, min(rows * share // n, rows // 2))  # at least halve
                    self._row_cap[t.op] = min(self._row_cap.get(t.op, rows), fit)
                    shrink = True
                elif n > cap:
                    raise InputError(
                        f"op {plan.ops[t.op].name!r}: one row of a tile stages {n} bytes "
                        f"in buffer {r!r} of {cap} bytes; enlarge the buffer")
                need[r] = max(need.get(r, 0), n)
        return None if shrink else need

    def _map_once(self, srcs: list[list[list[Source]]], units: list[str],
                  reserve: dict[str, int]) -> Plan:
        plans = [
            OpPlan(i, op.name, op.kind.value, self._fn(op, srcs[i]), op.group, op.layer,
                   units[i], op.cost.macs, out_bytes=math.ceil(op.out_elements * self.obs[i]),
                   out_region=self.regions.region[units[i], "output"])
            for i, op in enumerate(self.ops)
        ]
        self._plan_residency(plans, srcs, reserve)
        self._block_ordinals = {}
        tiles: list[Tile] = []
        blocks: list[WeightBlock] = []
        queues: dict[str, list[int]] = {
            f"chunk{c}.{u}": [] for u in self.arch.chunks.units
            for c in self.arch.chunks.holders(u)
        }
        geoms = [geometry(op) for op in self.ops]
        by_group: list[dict[int, list[Tile]]] = []
        for i, op in enumerate(self.ops):
            w_cap = self.regions.capacity[self.regions.region[units[i], "weight"]]
            new = self._tile_op(op, plans[i], geoms[i], srcs[i], plans, len(tiles), blocks, w_cap)
            if op.kind.is_matmul:  # the op's MACs (sparse: density-scaled), exactly
                for t, macs in zip(new, split_evenly(op.cost.macs, [t.macs for t in new]),
                                   strict=True):
                    t.macs = macs
            seen: set[str] = set()
            for t in new:
                t.deps = self._deps(t, geoms, srcs[i], by_group, t.unit not in seen)
                seen.add(t.unit)
                queues[t.unit].append(t.index)
            plans[i].tiles = [t.index for t in new]
            tiles += new
            groups: dict[int, list[Tile]] = {}
            for t in new:
                groups.setdefault(t.group, []).append(t)
            by_group.append(groups)
        for b in blocks:
            b.last_tile = max(t for t in plans[b.op].tiles if tiles[t].weight_block == b.index)
        return Plan(plans, tiles, blocks, queues, self.regions, folded_views=self.folded_views)

    def _plan_residency(self, plans: list[OpPlan], srcs: list[list[list[Source]]],
                        reserve: dict[str, int]) -> None:
        """Keep an output in its buffer region while it fits beside the live ones there (the
        region less ``reserve``); else spill it to DRAM."""
        for j, per_input in enumerate(srcs):
            for ss in per_input:
                for s in ss:
                    if s.producer is not None:
                        plans[s.producer].last_consumer = max(plans[s.producer].last_consumer, j)
        live: list[OpPlan] = []
        self._live_peak: dict[str, int] = {}
        for p in plans:
            live = [q for q in live if q.last_consumer >= p.index]
            used = sum(q.out_bytes for q in live if q.out_region == p.out_region)
            budget = self.regions.capacity[p.out_region] - reserve.get(p.out_region, 0)
            p.resident = p.last_consumer >= 0 and used + p.out_bytes <= budget
            if p.resident:
                live.append(p)
                used += p.out_bytes
            self._live_peak[p.out_region] = max(self._live_peak.get(p.out_region, 0), used)

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

    def _tile_rows(self, rows: int, op: int) -> int:
        """Rows per tile: ``mapping.tile_rows``, or automatic; never more than the op's cap
        (set when a tile of it staged more than its buffer holds)."""
        if self.arch.mapping.tile_rows:
            want = self.arch.mapping.tile_rows
        else:
            want = max(MIN_TILE_ROWS, math.ceil(rows / AUTO_TILES_PER_SLICE))
        return min(want, self._row_cap.get(op, want))

    def _tile_op(self, op: Op, plan: OpPlan, geo: Geometry, srcs: list[list[Source]],
                 plans: list[OpPlan], first: int, blocks: list[WeightBlock],
                 w_cap: int) -> list[Tile]:
        unit = self.arch.chunks.units[plan.unit]
        assert isinstance(unit, SystolicArray | VectorArray)  # unit_for picks only these
        kinds = [self._input_kind(ss, plans) for ss in srcs]
        weight_b = op.kind.is_matmul and len(kinds) > 1 and kinds[1] == "weight"
        out: list[Tile] = []
        holders = self.arch.chunks.holders(plan.unit)
        parts = [(holders[c], g, rows, cols) for c, g, rows, cols in
                 self._parts(op, geo, weight_b, unit, plan.fn, len(holders))]
        for chunk, groups, (r0, r1), (c0, c1) in parts:
            inst = f"chunk{chunk}.{plan.unit}"
            row_bands = bands(r0, r1, self._tile_rows(r1 - r0, plan.index))
            if op.kind.is_matmul:
                assert isinstance(unit, SystolicArray)
                col_blocks = self._col_blocks(op, unit, (c0, c1), weight_b, w_cap,
                                              len(parts))
                weight_a = kinds[0] == "weight"
                ordinal = 0
                # column slices on several chunks all read the same A rows: multicast them
                multicast = weight_b and len(parts) > 1 and self.multicast
                for g in groups:
                    # cycles of the chunk's whole slice, spread over its column blocks and row
                    # bands, so that tiling never changes an op's compute cycles
                    total = self._matmul_cycles(op, unit, r1 - r0, c1 - c0)
                    cells = [(cb, band) for cb in col_blocks for band in row_bands]
                    cycles = iter(split_evenly(
                        total, [(cb[1] - cb[0]) * (b - a) for cb, (a, b) in cells]))
                    for cb_ordinal, cb in enumerate(col_blocks):
                        block = -1
                        bias = "weight" in kinds[2:]  # a bias: one value per output column
                        if weight_a or weight_b or bias:
                            block = len(blocks)
                            nbytes = (op.k * (cb[1] - cb[0]) if weight_b else 0) + (
                                (r1 - r0) * op.k if weight_a else 0) + (
                                cb[1] - cb[0] if bias else 0)
                            blocks.append(WeightBlock(block, plan.index,
                                                      math.ceil(nbytes * self.obs[plan.index]),
                                                      ordinal=ordinal, chunk=chunk))
                            ordinal += 1
                        shared = (plan.index, cb_ordinal) if multicast else None
                        out += self._matmul_tiles(op, plan, unit, inst, g, row_bands, cb,
                                                  kinds, block, first + len(out),
                                                  [next(cycles) for _ in row_bands], shared)
            else:
                assert isinstance(unit, VectorArray)
                for g in groups:
                    out += self._vector_tiles(op, plan, unit, inst, geo, g, row_bands, kinds,
                                              blocks, chunk, first + len(out))
        return out

    def _input_kind(self, ss: list[Source], plans: list[OpPlan]) -> str:
        """"weight", "dram" (graph input or spilled) or "sram" for one input of an op."""
        if all(s.kind == "weight" for s in ss):
            return "weight"
        if any(s.kind == "input" or (s.producer is not None and not plans[s.producer].resident)
               for s in ss):
            return "dram"
        return "sram"

    def _col_blocks(self, op: Op, unit: SystolicArray, cols: tuple[int, int], weight_b: bool,
                    w_cap: int, parts: int) -> list[tuple[int, int]]:
        """Column blocks of a weight matmul, whole folds wide. The weight buffer is shared by
        the ``parts`` chunks working on the op, each double-buffering, so a block aims at a
        ``2 * parts``-th of it; when even one fold is bigger, blocks are one fold wide and the
        chunks take turns (an undersized buffer serialises them, as it would in hardware)."""
        if not weight_b:
            return [cols]
        per_col = op.k * self.obs[self.index[op.name]]
        fold = min(unit.cols, cols[1] - cols[0])
        width = int(w_cap // (2 * parts) // per_col) // unit.cols * unit.cols
        if width < fold:
            if per_col * fold > w_cap // 2:
                raise InputError(
                    f"op {op.name!r}: one weight block needs {int(per_col * fold)} bytes but "
                    f"the weight buffer holds {w_cap // 2} per block (half of {w_cap}); "
                    "enlarge the SRAM"
                )
            width = fold
        return bands(cols[0], cols[1], width)

    @staticmethod
    def _psum_live(unit: SystolicArray, rows: int, cols: int) -> int:
        """Partial sums live at once while a tile's reduction folds run: the folds of one
        spatial block follow each other (reduction innermost), so one block's outputs, at
        most an array's width of the streamed side (ws: the tile's rows x one column fold;
        is: one row fold x the tile's columns)."""
        if unit.dataflow == "is":
            return min(rows, unit.cols) * cols
        return rows * min(cols, unit.cols)

    @staticmethod
    def _matmul_cycles(op: Op, unit: SystolicArray, rows: int, cols: int) -> int:
        """Closed-form cycles of a rows x cols slice; a sparse matmul runs ``density`` of the
        dense work, slowed by the array's load-imbalance overhead."""
        total = systolic_compute_cycles(unit.dataflow, unit.rows, unit.cols, rows, cols, op.k,
                                        unit.fold_overlap)
        if op.kind is OpKind.SPARSE_MATMUL:
            total = math.ceil(total * op.density * (1 + unit.sparse_overhead))
        return total

    def _matmul_tiles(self, op: Op, plan: OpPlan, unit: SystolicArray, inst: str, g: int,
                      row_bands: list[tuple[int, int]], cb: tuple[int, int], kinds: list[str],
                      block: int, first: int, cycles: list[int],
                      shared: tuple | None) -> list[Tile]:
        ncols = cb[1] - cb[0]
        ob = self.obs[plan.index]
        # the array's operand reads for the whole slice (a stationary operand is loaded once
        # per fold, not once per row tile), spread over the row tiles like the cycles
        heights = [b - a for a, b in row_bands]
        a_all, b_all = systolic_operand_reads(unit.dataflow, unit.rows, unit.cols, sum(heights),
                                              ncols, op.k)
        a_reads, b_reads = split_evenly(a_all, heights), split_evenly(b_all, heights)
        psums = split_evenly(systolic_psum_traffic(unit.dataflow, unit.rows, unit.cols,
                                                   sum(heights), ncols, op.k), heights)
        tiles = []
        for j, (a, b) in enumerate(row_bands):
            a_el, b_el = a_reads[j], b_reads[j]
            t = Tile(first + j, plan.index, inst, g, a, b, cycles[j],
                     macs=(b - a) * ncols * op.k,  # dense; scaled to the op's MACs later
                     out_bytes=int((b - a) * ncols * ob), out_dram=not plan.resident,
                     weight_block=block, psum_bytes=math.ceil(psums[j] * self.acc_bytes))
            if psums[j]:
                t.psum_hold_bytes = math.ceil(self._psum_live(unit, b - a, ncols)
                                              * self.acc_bytes)
            unique = ((b - a) * op.k, op.k * ncols if j == 0 else 0)
            for i, (kind, elems, uniq) in enumerate(
                    zip(kinds[:2], (a_el, b_el), unique, strict=False)):
                if i == 0 and shared is not None and kind != "weight":
                    # every column slice of the op reads these rows: one multicast serves all
                    t.shared_key = (*shared, g, a, b)
                    t.shared_in = [p for p in self._pieces(kind, elems * ob, uniq * ob)
                                   if p[1]]
                else:
                    self._charge(t, kind, elems * ob, uniq * ob)
            for kind in kinds[2:]:
                if kind == "weight":  # the bias slice, loaded with the first row tile
                    self._charge(t, kind, ncols * ob if j == 0 else 0, 0)
                else:  # Sanger's boolean mask over the scores, one bit per element
                    nbytes = math.ceil((b - a) * ncols / 8)
                    self._charge(t, kind, nbytes, nbytes)
            tiles.append(t)
        return tiles

    def _vector_tiles(self, op: Op, plan: OpPlan, unit: VectorArray, inst: str, geo: Geometry,
                      g: int, row_bands: list[tuple[int, int]], kinds: list[str],
                      blocks: list[WeightBlock], chunk: int, first: int) -> list[Tile]:
        """Row tiles of a vector op. Weight operands (LayerNorm's scale and shift, biases,
        position embeddings) are fetched by the DMA per tile: a broadcast one with the first
        tile of each group, a full-size one in row slices."""
        spec = unit.fns[plan.fn]
        rows = sum(b - a for a, b in row_bands)
        # a vector op over sparse data (Sanger's softmax over the kept scores) processes only
        # `density` of the elements
        elems = math.ceil(rows * geo.row_len * op.density)
        total = vector_cycles(elems, unit.lanes, spec.cycles_per_element, spec.latency_cycles)
        if per_row_divisor(op):
            # the divider's per-row mode: one divisor per row shifts in through the register
            # chain of its lanes before the first row can be divided (shared mode: none)
            total += unit.lanes
        cycles = split_evenly(total, [b - a for a, b in row_bands])
        stream = geo.groups * geo.rows * geo.row_len
        out_per_group = op.out_elements // geo.groups
        tiles = []
        for j, (a, b) in enumerate(row_bands):
            share = (b - a) * geo.row_len
            if geo.reduces_rows:
                out_el = out_per_group if j == len(row_bands) - 1 else 0
            else:
                out_el = share * op.out_elements // max(1, stream)
            t = Tile(first + j, plan.index, inst, g, a, b, cycles[j],
                     elements=math.ceil(share * op.density),
                     out_bytes=int(out_el * self.ob), out_dram=not plan.resident)
            weight_bytes = 0
            for i, kind in enumerate(kinds):
                size = op.stored_elements(i)
                if size >= stream:
                    elems_in = share * size // stream
                elif j == 0:  # broadcast operand: read once per group slice
                    elems_in = size // geo.groups if size % geo.groups == 0 else size
                else:
                    elems_in = 0
                self._charge(t, kind, elems_in * self.ob, elems_in * self.ob)
                if kind == "weight":
                    weight_bytes += math.ceil(elems_in * self.ob)
            if weight_bytes:
                t.weight_block = len(blocks)
                key = (plan.index, chunk)
                ordinal = self._block_ordinals[key] = self._block_ordinals.get(key, -1) + 1
                blocks.append(WeightBlock(len(blocks), plan.index, weight_bytes, ordinal=ordinal,
                                          chunk=chunk))
            tiles.append(t)
        return tiles

    @staticmethod
    def _pieces(kind: str, nbytes: float, unique: float) -> list[tuple[str, int]]:
        """The transfers (engine path kind, bytes) of ``nbytes`` of operand reads. From DRAM
        only the ``unique`` bytes are fetched; the dataflow's re-reads come from the input SRAM
        that buffered them."""
        if kind == "dram":
            return [("dram_in", int(unique)), ("reread", int(nbytes - unique))]
        if kind == "weight":
            return [("weight", int(nbytes))]
        return [("sram_in", int(nbytes))]

    @classmethod
    def _charge(cls, t: Tile, kind: str, nbytes: float, unique: float) -> None:
        """Count operand reads as the tile's own transfers (see ``_pieces``)."""
        for path, n in cls._pieces(kind, nbytes, unique):
            setattr(t, PATH_FIELDS[path], getattr(t, PATH_FIELDS[path]) + n)

    # -- stage 4: dependencies ---------------------------------------------------------------
    def _deps(self, t: Tile, geoms: list[Geometry], srcs: list[list[Source]],
              by_group: list[dict[int, list[Tile]]], first_on_unit: bool) -> list[int]:
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
                for pg in pgroups:
                    for pt in by_group[s.producer].get(pg, ()):
                        if not aligned or (pt.row0 < t.row1 and t.row0 < pt.row1):
                            deps.add(pt.index)
        if not self.arch.mapping.intra_layer_pipeline and t.op > 0 and first_on_unit:
            # ops in order: the first tile of op i on each unit waits for all of op i-1; the
            # unit's later tiles of op i follow it in order anyway.
            deps.update(t2.index for ts in by_group[t.op - 1].values() for t2 in ts)
        return sorted(deps)


def map_graph(arch: Architecture, graph: OpGraph) -> Plan:
    """Map ``graph`` onto ``arch`` (see the module docstring)."""
    return Mapper(arch, graph).map()
