"""Stage 3 of the mapper: an op's share on one chunk becomes tiles (``accelsim.plan.Tile``).

A matmul is cut into row bands and, when its weights are an operand, column blocks whole
folds wide that fit the weight buffer, visited column block by column block or, when A
streamed from DRAM does not fit and that moves fewer bytes, band by band (``_rows_outer``);
when even one fold of the weights does not fit, the reduction dimension is split too
(``accelsim.ksplit``). A vector op is cut into row bands. Every
tile counts the bytes it moves by where they come from (``Tiler._charge``) and its compute
cycles from the unit's closed-form timing (``accelsim.timing``).
"""

from __future__ import annotations

import math

from arch.schema import Architecture, SystolicArray, VectorArray
from workloads.ir import Op, OpKind

from .buffers import Regions
from .geometry import Geometry, Part, bands, per_row_divisor, split_evenly
from .ksplit import ReductionSplit, Slice
from .plan import LoopNest, OpPlan, Tile, WeightBlock
from .timing import (
    systolic_compute_cycles,
    systolic_fold_cycles,
    systolic_folds,
    systolic_operand_reads,
    systolic_output_pieces,
    systolic_psum_traffic,
    vector_cycles,
)

#: Row tiles per (chunk, group) slice when ``mapping.tile_rows`` is 0 (auto).
AUTO_TILES_PER_SLICE = 8
#: Smallest auto row tile, unit: rows.
MIN_TILE_ROWS = 64
#: Tile field counting the bytes of each engine path kind.
PATH_FIELDS = {"dram_in": "dram_in_bytes", "far_in": "far_in_bytes", "reread": "reread_bytes",
               "weight": "weight_in_bytes",
               "sram_in": "sram_in_bytes"}



def computed_densely(op: Op, unit: SystolicArray) -> bool:
    """A sparse matmul on an array that does not list ``sparse_matmul`` (the dense fallback):
    the array computes the whole product, so it takes the dense cycles and MACs."""
    return op.kind is OpKind.SPARSE_MATMUL and "sparse_matmul" not in unit.fns


class Tiler(ReductionSplit):
    """The tile-making methods of ``accelsim.mapper.Mapper`` (a mixin: the mapper holds the
    state they read)."""

    arch: Architecture
    ob: float
    obs: list[float]
    acc_bytes: float
    index: dict[str, int]
    multicast: bool
    _row_cap: dict[int, int]
    _col_cap: dict[int, int]
    _block_ordinals: dict[tuple[int, int], int]
    regions: Regions

    def _tile_rows(self, rows: int, op: int) -> int:
        """Rows per tile: ``mapping.tile_rows``, or automatic; never more than the op's cap
        (set when a tile of it staged more than its buffer holds)."""
        if self.arch.mapping.tile_rows:
            want = self.arch.mapping.tile_rows
        else:
            want = max(MIN_TILE_ROWS, math.ceil(rows / AUTO_TILES_PER_SLICE))
        return min(want, self._row_cap.get(op, want))

    def _tile_op(self, op: Op, plan: OpPlan, geo: Geometry, kinds: list[str],
                 parts: list[Part], first: int, blocks: list[WeightBlock],
                 w_cap: int) -> list[Tile]:
        """The tiles of ``op`` over its chunk ``parts``; ``kinds[i]`` says where input ``i``
        comes from ("weight", "dram" or "sram"); new weight blocks are appended to ``blocks``."""
        unit = self.arch.chunks.units[plan.unit]
        assert isinstance(unit, SystolicArray | VectorArray)  # unit_for picks only these
        weight_b = op.kind.is_matmul and len(kinds) > 1 and kinds[1] == "weight"
        out: list[Tile] = []
        # chunks sharing the weight buffer: all the op's parts, or none in a chunk-local one
        w_sharers = 1 if self.regions.region[plan.unit, "weight"] in self.regions.local \
            else len(parts)
        for chunk, groups, (r0, r1), (c0, c1) in parts:
            inst = f"chunk{chunk}.{plan.unit}"
            row_bands = bands(r0, r1, self._tile_rows(r1 - r0, plan.index))
            if op.kind.is_matmul:
                assert isinstance(unit, SystolicArray)
                col_blocks, k_len = self._col_blocks(op, unit, (c0, c1), weight_b,
                                                     "weight" in kinds[2:], w_cap, w_sharers)
                # column slices on several chunks all read the same A rows: multicast them;
                # else A streamed from DRAM may stay staged across the column blocks
                multicast = weight_b and len(parts) > 1 and self.multicast
                keep_a = not multicast and self._keeps_input(op, plan, kinds, (r0, r1),
                                                             len(col_blocks), len(parts))
                policy = self.arch.mapping.reduction_split
                if k_len < op.k:
                    sl = Slice(op, plan, unit, (r0, r1), col_blocks, kinds, len(parts), keep_a,
                               multicast)
                    split = self._split_order(sl, -(-op.k // k_len))
                    if policy != "double_buffered" \
                            and self._whole_fold_fits(op, unit, col_blocks, kinds, w_cap):
                        whole = self._whole_bytes(sl, row_bands)
                        if self._split_moves_more(sl, split, whole) and (
                                policy == "fewest_bytes"
                                or self._whole_is_faster(sl, split, k_len, whole, w_cap)):
                            k_len = op.k  # one block per fold, single-buffered
                if k_len < op.k:  # the reduction split: its own loop nest
                    for g in groups:
                        out += self._split_k_tiles(sl, split, inst, g, k_len, blocks, chunk,
                                                   first + len(out))
                    continue
                weight_a = kinds[0] == "weight"
                rows_outer = self._rows_outer(op, plan, kinds, (r0, r1), row_bands, col_blocks,
                                              len(parts), keep_a or multicast)
                keep = keep_a or rows_outer
                if plan.loop_nest is None:
                    plan.loop_nest = LoopNest(len(col_blocks), 1, len(row_bands),
                                              "rows_outer" if rows_outer else "whole", keep)
                bias = "weight" in kinds[2:]  # a bias: one value per output column
                for g in groups:
                    # cycles of the chunk's whole slice, spread over its column blocks and row
                    # bands, so that tiling never changes an op's compute cycles
                    total = self._matmul_cycles(op, unit, r1 - r0, c1 - c0)
                    # (column block ordinal, column block, its row bands in this step)
                    steps = [(j, cb, [band]) for band in row_bands
                             for j, cb in enumerate(col_blocks)] if rows_outer else [
                        (j, cb, row_bands) for j, cb in enumerate(col_blocks)]
                    cycles = iter(split_evenly(total, [(cb[1] - cb[0]) * (b - a)
                                                       for _, cb, bs in steps for a, b in bs]))
                    for cb_ordinal, cb, step_bands in steps:
                        block = -1
                        if weight_a or weight_b or bias:
                            block = self._new_block(plan, chunk, (
                                op.k * (cb[1] - cb[0]) if weight_b else 0) + (
                                (r1 - r0) * op.k if weight_a else 0) + (
                                cb[1] - cb[0] if bias else 0), blocks)
                        shared = (plan.index, cb_ordinal) if multicast else None
                        new = self._matmul_tiles(op, plan, unit, inst, g, step_bands, cb,
                                                 kinds, block, first + len(out),
                                                 [next(cycles) for _ in step_bands], shared,
                                                 a_fetched=cb_ordinal == 0 or not keep)
                        if keep:  # A's rows stay staged from the first column block on
                            for t in new:
                                self._keep_input(t, op.k, cb_ordinal, len(col_blocks))
                        out += new
            else:
                assert isinstance(unit, VectorArray)
                for g in groups:
                    out += self._vector_tiles(op, plan, unit, inst, geo, g, row_bands, kinds,
                                              blocks, chunk, first + len(out))
        return out

    def _col_blocks(self, op: Op, unit: SystolicArray, cols: tuple[int, int], weight_b: bool,
                    bias: bool, w_cap: int, parts: int) -> tuple[list[tuple[int, int]], int]:
        """Column blocks of a weight matmul, whole folds wide, and the reduction length each
        weight block covers. The weight buffer is shared by the ``parts`` chunks working on
        the op (1 when each chunk has its own), each double-buffering, so a block aims at a
        ``2 * parts``-th of it; when even
        one fold is bigger, blocks are one fold wide and the chunks take turns (an undersized
        buffer serialises them, as it would in hardware); when one fold's whole reduction
        does not fit half the buffer, the reduction is split too (``_k_len``)."""
        if not weight_b:  # B staged whole unless its columns are capped (``_narrower_columns``)
            width = self._col_cap.get(self.index[op.name])
            return (bands(cols[0], cols[1], width) if width else [cols]), op.k
        per_col = op.k * self.obs[self.index[op.name]]
        fold = min(unit.cols, cols[1] - cols[0])
        width = int(w_cap // (2 * parts) // per_col) // unit.cols * unit.cols
        if width >= fold:
            return bands(cols[0], cols[1], width), op.k
        if per_col * fold <= w_cap // 2:
            return bands(cols[0], cols[1], fold), op.k
        return bands(cols[0], cols[1], fold), self._k_len(op, unit, fold, bias, w_cap)

    def _keeps_input(self, op: Op, plan: OpPlan, kinds: list[str], rows: tuple[int, int],
                     col_blocks: int, parts: int) -> bool:
        """Whether A, streamed from DRAM (or the far level), stays staged in the input buffer
        for every column block after the first instead of being fetched again per block: when
        the chunk's rows of it fit half its share of the buffer (the rest stays for the tiles'
        own staging)."""
        if col_blocks < 2 or kinds[0] not in ("dram", "far"):
            return False
        return (rows[1] - rows[0]) * op.k * self.obs[plan.index] <= self._input_share(
            plan, parts) // 2

    def _input_share(self, plan: OpPlan, parts: int) -> int:
        """Bytes of ``plan``'s input buffer region one chunk may use: all of a chunk-local
        one, a ``parts``-th of one the op's chunks share."""
        region = self.regions.region[plan.unit, "input"]
        return self.regions.capacity[region] // (1 if region in self.regions.local else parts)

    def _rows_outer(self, op: Op, plan: OpPlan, kinds: list[str], rows: tuple[int, int],
                    row_bands: list[tuple[int, int]], col_blocks: list[tuple[int, int]],
                    parts: int, kept: bool) -> bool:
        """Whether to go band by band (row band > column block) instead of column block by
        column block: A streamed from DRAM that does not stay staged across the column blocks
        (``kept`` false) is otherwise fetched once per block; band by band, each band's A stays
        staged across them and the weights are fetched once per band instead. Taken when that
        moves fewer DRAM bytes and the band kept plus ``prefetch_depth`` bands staged fit the
        chunk's share of the input buffer (the mapper's capacity rule, ``_reserve_needed``,
        which would otherwise halve the bands and undo the choice; ties: column blocks)."""
        if kept or len(col_blocks) < 2 or len(kinds) < 2 or kinds[1] != "weight" \
                or kinds[0] != "dram":  # A from the far level: its re-reads are no DRAM bytes
            return False
        band = max(b - a for a, b in row_bands) * op.k * self.obs[plan.index]
        if band > self._input_share(plan, parts) // (self.arch.mapping.prefetch_depth + 1):
            return False
        a_extra = (rows[1] - rows[0]) * op.k * (len(col_blocks) - 1)
        b_extra = op.k * (col_blocks[-1][1] - col_blocks[0][0]) * (len(row_bands) - 1)
        return b_extra < a_extra

    def _whole_bytes(self, sl: Slice, row_bands: list[tuple[int, int]]) -> tuple[float, float]:
        """DRAM bytes of A and of the weights of a weight matmul's slice with its reduction
        unsplit: A once per column block unless kept (or band by band, ``_rows_outer``: A
        once, the weights once per band)."""
        r0, r1 = sl.rows
        ob = self.obs[sl.plan.index]
        a_once, weights = (r1 - r0) * sl.op.k * ob, sl.op.k * sl.ncols * ob
        if self._rows_outer(sl.op, sl.plan, sl.kinds, sl.rows, row_bands, sl.col_blocks,
                            sl.sharers, sl.keep_a or sl.multicast):
            return a_once, weights * len(row_bands)
        return a_once * (1 if sl.keep_a else len(sl.col_blocks)), weights

    def _keep_input(self, t: Tile, k_len: int, cb_ordinal: int, col_blocks: int) -> None:
        """Mark A's ``k_len`` columns of tile ``t``'s rows kept from its first column block's
        tile to its last one's."""
        kept = math.ceil((t.row1 - t.row0) * k_len * self.obs[t.op])
        t.input_keep_bytes = kept if cb_ordinal == 0 else 0
        t.input_free_bytes = kept if cb_ordinal == col_blocks - 1 else 0

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
    def _matmul_cycles(op: Op, unit: SystolicArray, rows: int, cols: int,
                       k: int | None = None) -> int:
        """Closed-form cycles of a rows x cols slice (reduction ``k``, default the op's); a
        sparse matmul runs ``density`` of the dense work, slowed by the array's load-imbalance
        overhead."""
        total = systolic_compute_cycles(unit.dataflow, unit.rows, unit.cols, rows, cols,
                                        op.k if k is None else k, unit.fold_overlap)
        if op.kind is OpKind.SPARSE_MATMUL and not computed_densely(op, unit):
            total = math.ceil(total * op.density * (1 + unit.sparse_overhead))
        return total

    def _matmul_tiles(self, op: Op, plan: OpPlan, unit: SystolicArray, inst: str, g: int,
                      row_bands: list[tuple[int, int]], cb: tuple[int, int], kinds: list[str],
                      block: int, first: int, cycles: list[int],
                      shared: tuple | None, k: tuple[int, int] | None = None,
                      last: bool = True, a_fetched: bool = True) -> list[Tile]:
        """Row tiles of one column block over the reduction range ``k`` (default all of it);
        only the ``last`` range's tiles write outputs (and read a bias or mask); A streamed
        from DRAM is fetched unless ``a_fetched`` is false (kept from an earlier block: all
        of its reads come from the input buffer)."""
        ncols = cb[1] - cb[0]
        ob = self.obs[plan.index]
        k0, k1 = (0, op.k) if k is None else k
        klen = k1 - k0
        # the array's operand reads for the whole slice (a stationary operand is loaded once
        # per fold, not once per row tile), spread over the row tiles like the cycles
        heights = [b - a for a, b in row_bands]
        a_all, b_all = systolic_operand_reads(unit.dataflow, unit.rows, unit.cols, sum(heights),
                                              ncols, klen)
        a_reads, b_reads = split_evenly(a_all, heights), split_evenly(b_all, heights)
        psums = split_evenly(systolic_psum_traffic(unit.dataflow, unit.rows, unit.cols,
                                                   sum(heights), ncols, klen), heights)
        # what each row tile fetches of an operand streamed from DRAM or the far level: A's
        # own rows (unless kept), and B whole with the first tile; the array's further reads
        # of it come from the input buffer, spread over the tiles like the reads (never below
        # zero on a tile: B's fetch is the first tile's alone, its reads are everyone's)
        uniques = ([(b - a) * klen if a_fetched else 0 for a, b in row_bands],
                   [klen * ncols] + [0] * (len(row_bands) - 1))
        rereads = [split_evenly(max(0, total - sum(u)), heights)
                   for total, u in zip((a_all, b_all), uniques, strict=True)]
        reads = (a_reads, b_reads)
        hold_b = self.arch.mapping.activation_b_room == "all_tiles"
        tiles = []
        for j, (a, b) in enumerate(row_bands):
            t = Tile(first + j, plan.index, inst, g, a, b, cycles[j],
                     macs=(b - a) * ncols * klen,  # dense; scaled to the op's MACs later
                     out_bytes=int((b - a) * ncols * ob) if last else 0,
                     out_dram=plan.spilled, out_far=plan.far,
                     weight_block=block, psum_bytes=math.ceil(psums[j] * self.acc_bytes))
            dims = (unit.dataflow, unit.rows, unit.cols, b - a, ncols, klen)
            t.granules = max(1, systolic_folds(*dims))
            t.out_granules = systolic_output_pieces(*dims)
            if unit.dataflow != "os":
                t.out_emerge = min(systolic_fold_cycles(*dims), t.cycles)
            if psums[j]:
                t.psum_hold_bytes = math.ceil(self._psum_live(unit, b - a, ncols)
                                              * self.acc_bytes)
            if kinds[1] in ("dram", "far") and hold_b:  # an activation B, fetched with the
                staged_b = int(uniques[1][0] * ob)  # first tile: room held while any computes
                if j == 0:
                    t.b_stage_bytes = staged_b
                else:
                    t.b_hold_bytes = staged_b
                t.b_owner = first
            for i, kind in enumerate(kinds[:2]):
                uniq = uniques[i][j]
                elems = uniq + rereads[i][j] if kind in ("dram", "far") else reads[i][j]
                if i == 0 and shared is not None and kind != "weight":
                    # every column slice of the op reads these rows: one multicast serves all
                    t.shared_key = (*shared, g, a, b)
                    t.shared_in = [p for p in self._pieces(kind, elems * ob, uniq * ob)
                                   if p[1]]
                else:
                    self._charge(t, kind, elems * ob, uniq * ob)
            for kind in kinds[2:] if last else ():
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
                     out_bytes=int(out_el * self.ob), out_dram=plan.spilled, out_far=plan.far,
                     granules=max(1, b - a), out_granules=1 if geo.reduces_rows else max(1, b - a))
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
        if kind in ("dram", "far"):  # staged from DRAM or the far level, re-read from there
            return [(f"{kind}_in", int(unique)), ("reread", int(nbytes - unique))]
        if kind == "weight":
            return [("weight", int(nbytes))]
        return [("sram_in", int(nbytes))]

    @classmethod
    def _charge(cls, t: Tile, kind: str, nbytes: float, unique: float) -> None:
        """Count operand reads as the tile's own transfers (see ``_pieces``)."""
        for path, n in cls._pieces(kind, nbytes, unique):
            setattr(t, PATH_FIELDS[path], getattr(t, PATH_FIELDS[path]) + n)
