"""The mapper's loop nests for a matmul whose weight folds do not fit half the weight buffer
(docs/engine.md, Tiles, Reduction split): the reduction is cut into blocks, or kept whole in a
single-buffered block (``mapping.reduction_split``: always, where that moves fewer DRAM bytes,
or where the mapper's time estimate says it is no slower); the partial sums between blocks
are carried in the buffer or spilled to DRAM, or avoided by fetching the weights again per
band of rows, column block by column block or band by band, whichever nest moves the fewest
bytes. A mixin of ``accelsim.tiling.Tiler``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from arch.graph import Graph, path_from_dram, sram_for
from arch.schema import Architecture, Dram, Noc, Sram, SystolicArray
from workloads.ir import Op

from .buffers import Regions
from .errors import InputError
from .geometry import bands, split_evenly
from .plan import LoopNest, OpPlan, Tile, WeightBlock


@dataclass(frozen=True)
class Slice:
    """One chunk's share of a weight matmul, as the tiler cut it: rows, column blocks, where
    each input comes from (``kinds``), the chunks working on the op at once (``sharers``),
    whether A stays staged across the column blocks or is multicast to the chunks."""

    op: Op
    plan: OpPlan
    unit: SystolicArray
    rows: tuple[int, int]
    col_blocks: list[tuple[int, int]]
    kinds: list[str]
    sharers: int
    keep_a: bool
    multicast: bool

    @property
    def ncols(self) -> int:
        return self.col_blocks[-1][1] - self.col_blocks[0][0]


class SplitNest(NamedTuple):
    """A split reduction's loop nest (``ReductionSplit._split_order``) and the DRAM bytes it
    moves for the chunk's slice."""

    order: str  # "blocks" | "bands" | "rows_outer"
    carry: bool  # partial sums carried in the buffer between reduction blocks
    row_bands: list[tuple[int, int]]
    a_bytes: float  # A's bytes from where it is kept (DRAM, the far level or an SRAM)
    w_bytes: float
    spill_bytes: float  # partial sums written to DRAM and read back
    a_dram: bool  # A is streamed from DRAM (its bytes are DRAM bytes)

    @property
    def dram_bytes(self) -> float:
        return (self.a_bytes if self.a_dram else 0) + self.w_bytes + self.spill_bytes


class ReductionSplit:
    """The split-reduction methods of ``Tiler`` (which holds the state they read)."""

    arch: Architecture
    obs: list[float]
    acc_bytes: float
    index: dict[str, int]
    regions: Regions
    _block_ordinals: dict[tuple[int, int], int]
    _tile_rows: Callable[[int, int], int]  # ``Tiler._tile_rows``
    _matmul_cycles: Callable[..., int]  # ``Tiler._matmul_cycles``
    _matmul_tiles: Callable[..., list[Tile]]  # ``Tiler._matmul_tiles``
    _keep_input: Callable[[Tile, int, int, int], None]  # ``Tiler._keep_input``
    _rows_outer: Callable[..., bool]  # ``Tiler._rows_outer``
    _input_share: Callable[[OpPlan, int], int]  # ``Tiler._input_share``
    components: Graph  # the mapper's one-chunk component graph
    #: whether a choice read the memories' bandwidths and the clock (``Plan.rates``)
    rate_dependent: bool

    def _new_block(self, plan: OpPlan, chunk: int, elems: int,
                   blocks: list[WeightBlock]) -> int:
        """Append a weight block of ``elems`` operands of ``plan``'s op on ``chunk``; its
        ordinal runs on over the op's blocks on that chunk (the DMA fetches in that order)."""
        nth = self._block_ordinals[plan.index, chunk] = self._block_ordinals.get(
            (plan.index, chunk), -1) + 1
        blocks.append(WeightBlock(len(blocks), plan.index,
                                  math.ceil(elems * self.obs[plan.index]), ordinal=nth,
                                  chunk=chunk))
        return len(blocks) - 1

    def _k_len(self, op: Op, unit: SystolicArray, fold: int, bias: bool, w_cap: int) -> int:
        """Reduction length of one weight block when a fold's weights exceed half the weight
        buffer: the longest that fits (less the bias slice), in whole array folds of the
        reduction where it is mapped on the array's rows (ws / is); an output-stationary array
        streams the reduction in time, so any length will do."""
        ob = self.obs[self.index[op.name]]
        room = w_cap // 2 - (math.ceil(fold * ob) if bias else 0)
        k_len = int(room // (fold * ob))
        step = unit.rows if unit.dataflow in ("ws", "is") else 1
        if k_len >= step:
            k_len = k_len // step * step
        if k_len < 1:
            raise InputError(
                f"op {op.name!r}: one reduction row of a weight fold needs "
                f"{math.ceil(fold * ob)} bytes but the weight buffer holds {w_cap // 2} per "
                f"block (half of {w_cap}); enlarge the buffer")
        return min(k_len, op.k)

    def _whole_fold_fits(self, op: Op, unit: SystolicArray, col_blocks: list[tuple[int, int]],
                         kinds: list[str], w_cap: int) -> bool:
        """Whether one fold's weights over the whole reduction (and its bias slice) fit the
        whole weight buffer: not double-buffered (``_col_blocks`` aims at half), so the next
        block's fetch waits for this one's last tile, but with the reduction unsplit."""
        fold = max(cb[1] - cb[0] for cb in col_blocks)
        bias = 1 if "weight" in kinds[2:] else 0
        return (op.k + bias) * fold * self.obs[self.index[op.name]] <= w_cap

    def _split_k_tiles(self, sl: Slice, nest: SplitNest, inst: str, g: int, k_len: int,
                       blocks: list[WeightBlock], chunk: int, first: int) -> list[Tile]:
        """Tiles of a matmul whose weight folds do not fit the buffer whole: each column block
        (one fold wide) is cut into reduction blocks of ``k_len``, each its own weight block,
        and its compute cycles are the op's closed form spread over the tiles (splitting the
        reduction at whole folds costs the array nothing; see docs/engine.md). The loop nest
        is ``nest`` (``_split_order``'s): column block > reduction block > row band (``carry`` /
        ``spill``), column block > row band > reduction block (``bands``) or row band >
        column block > reduction block (``rows_outer``: each band's A stays staged across the
        column blocks). With ``keep_a`` (``_keeps_input``) A, streamed from DRAM, is fetched
        by the first column block's tiles and read from the input buffer by the others."""
        op, plan, unit = sl.op, sl.plan, sl.unit
        k_blocks = bands(0, op.k, k_len)
        row_bands, carry = nest.row_bands, nest.carry
        cells = {"blocks": [(cb, band, kb) for cb in sl.col_blocks for kb in k_blocks
                            for band in row_bands],
                 "bands": [(cb, band, kb) for cb in sl.col_blocks for band in row_bands
                           for kb in k_blocks],
                 "rows_outer": [(cb, band, kb) for band in row_bands for cb in sl.col_blocks
                                for kb in k_blocks]}[nest.order]
        kept = sl.keep_a or nest.order == "rows_outer"
        if plan.loop_nest is None:
            plan.loop_nest = LoopNest(
                len(sl.col_blocks), len(k_blocks), len(row_bands),
                nest.order if nest.order != "blocks" else "carry" if carry else "spill",
                kept, psums_spilled=nest.spill_bytes > 0)
        r0, r1 = sl.rows
        cycles = split_evenly(self._matmul_cycles(op, unit, r1 - r0, sl.ncols),
                              [(cb[1] - cb[0]) * (b - a) * (k1 - k0)
                               for cb, (a, b), (k0, k1) in cells])
        bias = "weight" in sl.kinds[2:]
        out: list[Tile] = []
        block_of: dict[tuple, int] = {}
        for (cb, band, kb), tile_cycles in zip(cells, cycles, strict=True):
            ncols = cb[1] - cb[0]
            kbi = k_blocks.index(kb)
            first_k, last_k = kbi == 0, kbi == len(k_blocks) - 1
            key = (cb, kb) if nest.order == "blocks" else (cb, band, kb)  # weights per band
            if key not in block_of:
                block_of[key] = self._new_block(plan, chunk, (kb[1] - kb[0]) * ncols + (
                    ncols if bias and last_k else 0), blocks)
            cbi = sl.col_blocks.index(cb)
            shared = (plan.index, cbi, kbi) if sl.multicast else None
            t = self._matmul_tiles(op, plan, unit, inst, g, [band], cb, sl.kinds, block_of[key],
                                   first + len(out), [tile_cycles], shared, k=kb,
                                   last=last_k, a_fetched=cbi == 0 or not kept)[0]
            if kept:  # A's rows of this reduction block stay staged for the next columns
                self._keep_input(t, kb[1] - kb[0], cbi, len(sl.col_blocks))
            if unit.dataflow != "os":
                partial = math.ceil((band[1] - band[0]) * ncols * self.acc_bytes)
                if carry:  # partial sums stay in the buffer from the first block to the last
                    t.psum_bytes += 0 if last_k else partial
                    t.psum_hold_bytes = 0
                    t.carry_take_bytes = partial if first_k else 0
                    t.carry_give_bytes = partial if last_k else 0
                else:  # spilled to DRAM between blocks; held while the tile accumulates
                    t.partial_out_bytes = 0 if last_k else partial
                    t.partial_in_bytes = 0 if first_k else partial
                    t.psum_hold_bytes = max(t.psum_hold_bytes, partial)
            out.append(t)
        return out

    def _split_order(self, sl: Slice, k_blocks: int) -> SplitNest:
        """The loop nest of a split reduction that moves the fewest DRAM bytes (ties: the
        first below; A read from the far level or an SRAM moves none), with its bytes for
        the chunk's slice:

        * ``blocks`` (ws / is): column block > reduction block > row band. Each weight block is
          fetched once and serves every band; between reduction blocks the partial sums of
          the whole slice (accumulator width) are *carried* in the partial-sum buffer when
          half of it holds them for the chunks using it, else *spilled* (written to DRAM after
          each block, read back before the next).
        * ``bands``: column block > row band > reduction block; the weights are fetched again
          for every band (re-fetched from the next level, as SCALE-Sim does when an operand
          does not fit). os: bands of at most one row fold, whose outputs stay in the PEs
          while the reduction blocks stream past; ws / is: bands whose partial sums half the
          buffer carries, so nothing spills.
        * ``rows_outer``: row band > column block > reduction block, when A is streamed from
          DRAM, not multicast and not kept for the whole slice: a band's A stays staged across the column
          blocks (it must fit the chunk's share of the input buffer beside ``prefetch_depth``
          staged tiles), read once in all, and the weights are fetched once per band; the
          partial sums of one band and column block are carried, or spilled when they do
          not fit, or the bands are cut to what the buffer carries."""
        op, plan, unit = sl.op, sl.plan, sl.unit
        r0, r1 = sl.rows
        rows, ob = r1 - r0, self.obs[plan.index]
        weights = op.k * sl.ncols * ob
        height = self._tile_rows(rows, plan.index)
        region = self.regions.region[plan.unit, "psum"]
        share = 1 if region in self.regions.local else sl.sharers
        band_psums = share * max(cb[1] - cb[0] for cb in sl.col_blocks) * self.acc_bytes
        carried_rows = min(height, int(self.regions.capacity[region] // 2 // band_psums))
        spilled = 2 * (k_blocks - 1) * rows * sl.ncols * self.acc_bytes
        a_base = rows * op.k * ob * (1 if sl.keep_a else len(sl.col_blocks))

        def nest(order: str, band_rows: int, a_bytes: float) -> SplitNest:
            row_bands = bands(r0, r1, band_rows)
            live = rows if order == "blocks" else band_rows
            carry = unit.dataflow == "os" or live * band_psums <= self.regions.capacity[
                region] // 2
            return SplitNest(order, carry, row_bands, a_bytes,
                             weights * (1 if order == "blocks" else len(row_bands)),
                             0 if carry else spilled, sl.kinds[0] == "dram")

        if unit.dataflow == "os":
            options = [nest("bands", min(height, unit.rows), a_base)]
        else:
            options = [nest("blocks", height, a_base)]
            if not options[0].carry and carried_rows >= 1 and k_blocks >= 2:
                options.append(nest("bands", carried_rows, a_base))
        if not (sl.keep_a or sl.multicast) and len(sl.col_blocks) > 1 \
                and sl.kinds[0] == "dram":
            depth = self.arch.mapping.prefetch_depth
            fit = int(self._input_share(plan, sl.sharers) // (depth + 1) // (op.k * ob))
            band = min(options[0].row_bands[0][1] - r0, fit)
            for b in dict.fromkeys((band, min(band, carried_rows))):  # tallest first
                if b >= 1:
                    options.append(nest("rows_outer", b, rows * op.k * ob))
        return min(options, key=lambda n: n.dram_bytes)  # first of equals

    @staticmethod
    def _split_moves_more(sl: Slice, split: SplitNest, whole: tuple[float, float]) -> bool:
        """Whether the split nest ``split`` moves more DRAM bytes than the unsplit reduction,
        whose (A, weight) bytes are ``whole`` (A's count only when it is streamed from DRAM)."""
        return split.dram_bytes > (whole[0] if sl.kinds[0] == "dram" else 0) + whole[1]

    def _whole_is_faster(self, sl: Slice, split: SplitNest, k_len: int,
                         whole: tuple[float, float], w_cap: int) -> bool:
        """``reduction_split: auto``: whether one single-buffered block per fold (the whole
        reduction, moving ``whole`` (A, weight) bytes) is estimated to take no longer than the
        split into double-buffered blocks of ``k_len`` (nest ``split``). Each estimate is the op's compute
        against the bytes each memory on the operands' paths moves over its rate (a shared
        memory's rate divided among the chunks working on the op at once); the split's nest
        (``_split_order``) moves its bytes and exposes its first block's fetch, the
        single-buffered blocks expose all of their fetches (the next block's waits for the
        previous block's last tile), and when the chunks sharing the weight buffer cannot all
        hold such a block at once (``w_cap``), they take turns. The split's estimate is its
        ideal (no stall between its blocks), so the choice leans towards it. Ties keep it
        whole: fewer bytes."""
        op, plan, ob, sharers = sl.op, sl.plan, self.obs[sl.plan.index], sl.sharers
        r0, r1 = sl.rows
        compute = self._matmul_cycles(op, sl.unit, r1 - r0, sl.ncols)
        fold = max(cb[1] - cb[0] for cb in sl.col_blocks)
        out_bytes = (r1 - r0) * sl.ncols * ob
        a_from = {"dram": "dram", "far": "far"}.get(sl.kinds[0], "sram")
        out_from = "dram" if plan.spilled else "far" if plan.far else "sram"

        split_time = self._estimate_cycles(plan.unit, compute, k_len * fold * ob, [
            ("input", a_from, split.a_bytes, sl.multicast), ("weight", "dram", split.w_bytes),
            ("output", out_from, out_bytes), ("output", "dram", split.spill_bytes)], sharers)
        # chunks that can hold a whole-reduction block at once; the others wait their turn
        block = (op.k + ("weight" in sl.kinds[2:])) * fold * ob
        at_once = sharers if self.regions.region[plan.unit, "weight"] in self.regions.local \
            else max(1, min(sharers, int(w_cap // block)))
        whole_time = -(-sharers // at_once) * self._estimate_cycles(
            plan.unit, compute, whole[1], [("input", a_from, whole[0], sl.multicast),
                                           ("output", out_from, out_bytes)], at_once)
        return whole_time <= split_time

    def _estimate_cycles(self, unit: str, compute: float, fetched: float,
                         moves: list[tuple], at_once: int) -> float:
        """A chunk's estimated cycles for a slice: ``fetched`` weight bytes exposed (over the
        slowest memory on the weight route from the DRAM), then ``compute`` against every
        memory's bytes over its rate. ``moves`` are (role, source, bytes[, multicast]): the
        route of ``role`` from ``source`` (``_rate_path``) carries ``bytes`` for this chunk,
        and a multicast carries them once for all ``at_once`` chunks where they share a
        memory. ``at_once``: the chunks sharing the rates."""
        self.rate_dependent = True
        load: dict[str, float] = {}
        for role, source, nbytes, *multicast in moves:
            for name, rate, shared in self._rate_path(unit, role, source, at_once):
                per_chunk = nbytes / at_once if shared and multicast and multicast[0] else nbytes
                load[name] = load.get(name, 0.0) + per_chunk / rate
        exposed = max((fetched / rate for _, rate, _ in self._rate_path(
            unit, "weight", "dram", at_once)), default=0.0)
        return exposed + max(compute, max(load.values(), default=0.0))

    def _rate_path(self, unit: str, role: str, source: str,
                   sharers: int) -> list[tuple[str, float, bool]]:
        """(memory, bytes per cycle one chunk gets of it, whether chunks share it) along
        ``role``'s route to ``unit`` from ``source``: the DRAM, the unit's far level (an
        output kept in an L2, ``Regions.far``) or the role's own SRAM. A DRAM, a shared SRAM
        and a shared NoC link are split among the ``sharers`` chunks using them at once."""
        g, inst = self.components, f"chunk0.{unit}"
        path = path_from_dram(g, inst, role)
        start = {"dram": path[0], "far": self.regions.far.get(unit, ("", ""))[0]}.get(
            source, sram_for(g, inst, role))
        if start in path:
            path = path[path.index(start):]
        else:  # the far level off this route: from the role's SRAM
            path = path[path.index(sram_for(g, inst, role)):]
        out = []
        for name in path:
            c = g.nodes[name].get("component")
            if isinstance(c, Dram):
                out.append((name, c.bandwidth_gbps * 1e3 / self.arch.clock_mhz / sharers, True))
            elif isinstance(c, Sram):
                out.append((name, c.bandwidth_bytes_per_cycle / (1 if c.local else sharers),
                            not c.local))
            elif isinstance(c, Noc):
                shared = c.links == "shared"
                out.append((name, c.bandwidth_bytes_per_cycle / (sharers if shared else 1),
                            shared))
        return out
