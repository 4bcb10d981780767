"""The mapper's loop nests for a matmul whose weight folds do not fit half the weight buffer
(docs/engine.md, Tiles, Reduction split): the reduction is cut into blocks, or kept whole in a
single-buffered block when splitting would move more DRAM bytes; the partial sums between
blocks are carried in the buffer, spilled to DRAM, or avoided by fetching the weights again
per band of rows, whichever moves the fewest bytes. A mixin of ``accelsim.tiling.Tiler``."""

from __future__ import annotations

import math
from collections.abc import Callable

from arch.graph import Graph, path_from_dram, sram_for
from arch.schema import Architecture, Dram, Noc, Sram, SystolicArray
from workloads.ir import Op

from .buffers import Regions
from .errors import InputError
from .geometry import bands, split_evenly
from .plan import LoopNest, OpPlan, Tile, WeightBlock


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

    def _split_k_tiles(self, op: Op, plan: OpPlan, unit: SystolicArray, inst: str, g: int,
                       rows: tuple[int, int], col_blocks: list[tuple[int, int]], k_len: int,
                       kinds: list[str], blocks: list[WeightBlock], chunk: int, first: int,
                       multicast: bool, sharers: int, keep_a: bool) -> list[Tile]:
        """Tiles of a matmul whose weight folds do not fit the buffer whole: each column block
        (one fold wide) is cut into reduction blocks of ``k_len``, each its own weight block,
        and its compute cycles are the op's closed form spread over the tiles (splitting the
        reduction at whole folds costs the array nothing; see docs/engine.md). Loop nests:

        * ws / is (the reduction folds of the stationary operand): column block > reduction
          block > row band. Each weight block is fetched once and serves every band; between
          reduction blocks the partial sums of the whole slice (accumulator width) are either
          *carried* in the partial-sum buffer (claimed by the first block's tiles, freed by the
          last block's) when half of it holds them for the ``sharers`` chunks using it, or,
          when it does not, *spilled* (written to DRAM after each block, read back before the
          next) unless fetching the weights again costs fewer bytes (``_reloads_weights``):
          then the order is os's below, in bands whose sums the buffer carries.
        * os (outputs accumulate in the PEs): column block > row band of at most one row fold
          > reduction block, so a band's outputs stay in the PEs while its reduction blocks
          stream past; the weights are fetched again for every band (re-fetched from the next
          level, as SCALE-Sim does when an operand does not fit).

        With ``keep_a`` (``_keeps_input``) A, streamed from DRAM, is fetched by the first
        column block's tiles and read from the input buffer by the others."""
        r0, r1 = rows
        k_blocks = bands(0, op.k, k_len)
        os_order, carry, row_bands = self._split_order(op, plan, unit, rows, col_blocks,
                                                       len(k_blocks), sharers)
        cells = [(cb, band, kb) for cb in col_blocks for band in row_bands for kb in k_blocks]
        if not os_order:  # reduction block outside the bands
            cells = [(cb, band, kb) for cb in col_blocks for kb in k_blocks for band in row_bands]
        if plan.loop_nest is None:
            plan.loop_nest = LoopNest(len(col_blocks), len(k_blocks), len(row_bands),
                                      "bands" if os_order else "carry" if carry else "spill",
                                      keep_a)
        cycles = split_evenly(self._matmul_cycles(op, unit, r1 - r0, col_blocks[-1][1]
                                                  - col_blocks[0][0]),
                              [(cb[1] - cb[0]) * (b - a) * (k1 - k0)
                               for cb, (a, b), (k0, k1) in cells])
        bias = "weight" in kinds[2:]
        out: list[Tile] = []
        block_of: dict[tuple, int] = {}
        for (cb, band, kb), tile_cycles in zip(cells, cycles, strict=True):
            ncols = cb[1] - cb[0]
            kbi = k_blocks.index(kb)
            first_k, last_k = kbi == 0, kbi == len(k_blocks) - 1
            key = (cb, band, kb) if os_order else (cb, kb)
            if key not in block_of:
                block_of[key] = self._new_block(plan, chunk, (kb[1] - kb[0]) * ncols + (
                    ncols if bias and last_k else 0), blocks)
            cbi = col_blocks.index(cb)
            shared = (plan.index, cbi, kbi) if multicast else None
            t = self._matmul_tiles(op, plan, unit, inst, g, [band], cb, kinds, block_of[key],
                                   first + len(out), [tile_cycles], shared, k=kb,
                                   last=last_k, a_fetched=cbi == 0 or not keep_a)[0]
            if keep_a:  # A's rows of this reduction block stay staged for the next columns
                self._keep_input(t, kb[1] - kb[0], cbi, len(col_blocks))
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

    def _split_order(self, op: Op, plan: OpPlan, unit: SystolicArray, rows: tuple[int, int],
                     col_blocks: list[tuple[int, int]], k_blocks: int,
                     sharers: int) -> tuple[bool, bool, list[tuple[int, int]]]:
        """The loop nest of a split reduction (``_split_k_tiles``): whether the reduction
        blocks run inside the row bands (os's order), whether the partial sums are carried in
        the buffer between blocks, and the row bands."""
        r0, r1 = rows
        height = self._tile_rows(r1 - r0, plan.index)
        region = self.regions.region[plan.unit, "psum"]
        share = 1 if region in self.regions.local else sharers
        widest = max(cb[1] - cb[0] for cb in col_blocks)
        band_psums = share * widest * self.acc_bytes  # buffer bytes per row of a band
        carry = (r1 - r0) * band_psums <= self.regions.capacity[region] // 2
        carried_rows = min(height, int(self.regions.capacity[region] // 2 // band_psums))
        os_order = unit.dataflow == "os" or (not carry and self._reloads_weights(
            op, r1 - r0, col_blocks, k_blocks, carried_rows, self.obs[plan.index]))
        if os_order and unit.dataflow != "os":  # bands whose partial sums the buffer carries
            height, carry = carried_rows, True
        return os_order, carry, bands(r0, r1, min(height, unit.rows)
                                      if unit.dataflow == "os" else height)

    def _split_moves_more(self, op: Op, plan: OpPlan, unit: SystolicArray,
                          rows: tuple[int, int], col_blocks: list[tuple[int, int]],
                          k_len: int, sharers: int) -> bool:
        """Whether splitting the reduction at ``k_len`` would move DRAM bytes the unsplit
        reduction does not: weights fetched again per band, or spilled partial sums (carried
        ones cost nothing extra)."""
        os_order, carry, row_bands = self._split_order(op, plan, unit, rows, col_blocks,
                                                       -(-op.k // k_len), sharers)
        if unit.dataflow == "os":  # sums stay in the PEs: only the weights per band cost
            return len(row_bands) > 1
        return (os_order and len(row_bands) > 1) or not carry

    def _whole_is_faster(self, op: Op, plan: OpPlan, unit: SystolicArray,
                         rows: tuple[int, int], col_blocks: list[tuple[int, int]], k_len: int,
                         kinds: list[str], sharers: int, keep_a: bool, multicast: bool,
                         w_cap: int) -> bool:
        """``reduction_split: auto``: whether one single-buffered block per fold (the whole
        reduction) is estimated to take no longer than the split into double-buffered
        blocks of ``k_len``. Each estimate is the op's compute against the bytes each memory
        on the operands' paths moves over its rate (a shared memory's rate divided among the
        ``sharers`` chunks working on the op at once); the split adds its extra bytes (weights
        again per band, or partial sums written and read back) and exposes its first block's
        fetch, the single-buffered blocks expose all of their fetches (the next block's
        waits for the previous block's last tile), and when the chunks sharing the weight
        buffer cannot all hold such a block at once (``w_cap``), they take turns. The split's
        estimate is its ideal (no stall between its blocks), so the choice leans towards it.
        Ties keep it whole: fewer bytes."""
        self.rate_dependent = True
        r0, r1 = rows
        height, ncols = r1 - r0, col_blocks[-1][1] - col_blocks[0][0]
        ob = self.obs[plan.index]
        os_order, carry, row_bands = self._split_order(op, plan, unit, rows, col_blocks,
                                                       -(-op.k // k_len), sharers)
        weights = op.k * ncols * ob
        extra_w = (len(row_bands) - 1) * weights if os_order else 0
        extra_p = 0 if os_order or carry else (
            2 * (-(-op.k // k_len) - 1) * height * ncols * self.acc_bytes)
        # A per chunk: fetched once per column block unless kept; a multicast serves all
        a_bytes = height * op.k * ob * (1 if keep_a else len(col_blocks)) / (
            sharers if multicast else 1)
        compute = self._matmul_cycles(op, unit, height, ncols)
        fold = max(cb[1] - cb[0] for cb in col_blocks)
        out_bytes = height * ncols * ob
        a_dram = kinds[0] in ("dram", "far")

        def estimate(fetched: float, moves: list[tuple[str, bool, float]],
                     at_once: int) -> float:
            """``fetched`` weight bytes exposed, then the compute against every memory's
            bytes over its rate, with ``at_once`` chunks sharing the rates."""
            load: dict[str, float] = {}
            for role, from_dram, nbytes in moves:
                for name, rate in self._rate_path(plan.unit, role, from_dram, at_once):
                    load[name] = load.get(name, 0.0) + nbytes / rate
            exposed = max((fetched / rate for _, rate in self._rate_path(
                plan.unit, "weight", True, at_once)), default=0.0)
            return exposed + max(compute, max(load.values(), default=0.0))

        split = estimate(k_len * fold * ob, [
            ("input", a_dram, a_bytes), ("weight", True, weights + extra_w),
            ("output", plan.spilled, out_bytes), ("output", True, extra_p)], sharers)
        # chunks that can hold a whole-reduction block at once; the others wait their turn
        block = (op.k + ("weight" in kinds[2:])) * fold * ob
        at_once = sharers if self.regions.region[plan.unit, "weight"] in self.regions.local \
            else max(1, min(sharers, int(w_cap // block)))
        # unsplit, the tiler may go band by band (A once, the weights once per band)
        whole_bands = bands(r0, r1, self._tile_rows(height, plan.index))
        if self._rows_outer(op, plan, kinds, rows, whole_bands, col_blocks, sharers,
                            keep_a or multicast):
            a_whole, w_whole = height * op.k * ob, weights * len(whole_bands)
        else:
            a_whole, w_whole = a_bytes, weights
        whole = -(-sharers // at_once) * estimate(w_whole, [
            ("input", a_dram, a_whole), ("output", plan.spilled, out_bytes)], at_once)
        return whole <= split

    def _rate_path(self, unit: str, role: str, from_dram: bool,
                   sharers: int) -> list[tuple[str, float]]:
        """(memory, bytes per cycle one chunk gets of it) along ``role``'s route to ``unit``:
        from the DRAM, or from its SRAM on when ``from_dram`` is false. A DRAM, a shared SRAM
        and a shared NoC link are split among the ``sharers`` chunks using them at once."""
        g, inst = self.components, f"chunk0.{unit}"
        path = path_from_dram(g, inst, role)
        if not from_dram:
            path = path[path.index(sram_for(g, inst, role)):]
        out = []
        for name in path:
            c = g.nodes[name].get("component")
            if isinstance(c, Dram):
                out.append((name, c.bandwidth_gbps * 1e3 / self.arch.clock_mhz / sharers))
            elif isinstance(c, Sram):
                out.append((name, c.bandwidth_bytes_per_cycle / (1 if c.local else sharers)))
            elif isinstance(c, Noc):
                out.append((name, c.bandwidth_bytes_per_cycle
                            / (sharers if c.links == "shared" else 1)))
        return out

    def _reloads_weights(self, op: Op, rows: int, col_blocks: list[tuple[int, int]],
                         k_blocks: int, band_rows: int, ob: float) -> bool:
        """ws / is with a split reduction whose partial sums the buffer cannot carry for the
        whole slice: rather than spill them (written after every reduction block but the last,
        read back before every one but the first, at accumulator width), cut the slice into
        bands of ``band_rows`` rows whose sums it carries and fetch the weights again for
        every band, the order of an os array. Chosen when those extra weight bytes are
        fewer than the spilled bytes (ties spill: one weight fetch)."""
        if band_rows < 1 or k_blocks < 2:
            return False
        ncols = col_blocks[-1][1] - col_blocks[0][0]
        spilled = 2 * (k_blocks - 1) * rows * ncols * self.acc_bytes
        reloaded = (-(-rows // band_rows) - 1) * op.k * ncols * ob
        return reloaded < spilled
