"""The mapper's output: tiles on unit instances, their dependencies and their data movement.

A *tile* is a slice of one op on one unit instance of one chunk: a band of rows of one group
(head x image) and, for a matmul, a block of output columns. Its compute cycles come from the
unit's closed-form timing (``accelsim.timing``), computed for the whole slice an instance
receives and spread over its row tiles, so that an op's cycles do not depend on how finely the
mapper tiles it. Everything a tile moves is counted in bytes by where it comes from:

* ``weight_bytes``: parameters, fetched DRAM -> weight SRAM once per *weight block* by the DMA;
* ``dram_in_bytes``: activations streamed from DRAM (graph inputs, spilled outputs), each byte
  once; ``far_in_bytes``: likewise from the far output level (an L2 keeping outputs that did
  not fit the near buffer); ``reread_bytes``: the dataflow's re-reads of both, from the input
  SRAM;
* ``sram_in_bytes`` / ``weight_in_bytes``: resident activations / staged weights read from
  SRAM over the NoC into the unit (re-reads included, per the dataflow's reuse);
* ``out_bytes``: results written over the NoC to SRAM (or on to the far level when
  ``out_far``, to DRAM when ``out_dram``);
* ``psum_bytes``: partial sums of a folded reduction written out of the array and read back
  (each, at accumulator width) while the tile computes; ``psum_hold_bytes`` of them are live
  at once (one column fold's), held in the partial-sum buffer while the tile computes;
  when a matmul's reduction is split into blocks, its partial sums between blocks are carried
  in that buffer (``carry_*``) or spilled to DRAM (``partial_*``).

Buffer capacity is enforced by the engine against ``Plan.regions``: a resident output holds
its bytes from its op's first load to its last consumer's end, DRAM-staged operands
from a tile's load to its compute end, partial sums while it computes, weight blocks from fetch to last use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .buffers import Regions


@dataclass(slots=True)
class Tile:
    """One schedulable slice of an op on one unit instance."""

    index: int
    op: int  # index into Plan.ops
    unit: str  # unit instance, e.g. "chunk0.sa_general"
    group: int
    row0: int
    row1: int
    cycles: int
    macs: int = 0
    elements: int = 0  # vector elements processed
    weight_block: int = -1  # index into Plan.weight_blocks, or -1
    sram_in_bytes: int = 0  # resident activations read from SRAM
    weight_in_bytes: int = 0  # staged weights read from the weight SRAM
    dram_in_bytes: int = 0
    far_in_bytes: int = 0  # staged from the far output level (``Regions.far``)
    reread_bytes: int = 0  # re-reads of DRAM-streamed operands, served by the input SRAM
    out_bytes: int = 0
    out_dram: bool = False
    out_far: bool = False  # the result goes to the far output level (an L2), not DRAM
    psum_bytes: int = 0  # partial sums written and read back (each), unit: bytes
    psum_hold_bytes: int = 0  # partial sums live at once while computing, unit: bytes
    #: a matmul split along its reduction (``accelsim.tiling``): partial sums of the tile's
    #: band carried in the partial-sum buffer from one reduction block to the next (claimed
    #: when the first block's tile starts, freed when the last block's tile has computed) ...
    carry_take_bytes: int = 0
    carry_give_bytes: int = 0
    #: ... or spilled: written to DRAM after the tile, read back before the next block's
    partial_out_bytes: int = 0
    partial_in_bytes: int = 0
    #: a DRAM-streamed operand every column block of the op reads: kept in the input buffer
    #: when the first block's tile has computed, freed when the last block's tile has
    input_keep_bytes: int = 0
    input_free_bytes: int = 0
    #: a matmul's activation B (not a weight) staged from above once per column block, with
    #: its first row tile (part of that tile's ``dram_in_bytes`` / ``far_in_bytes``) ...
    b_stage_bytes: int = 0
    #: ... and read again by every later row tile of the block, without a transfer: its room
    #: stays claimed while any tile of the block is in flight on the unit, whose first
    #: row tile (the index of the one that fetched it) keys it
    b_hold_bytes: int = 0
    b_owner: int = -1
    #: pieces the tile's compute advances in (its array folds, or its rows on a vector
    #: unit), and the pieces its result is complete in (the folds of the output): what
    #: ``mapping.streaming: folds`` overlaps its transfers with
    granules: int = 1
    out_granules: int = 1
    #: cycles over which its last result piece leaves the unit before its compute ends: the
    #: last fold of a ws / is array streams its outputs out row by row; 0 when a piece is
    #: final at once (an os fold, a vector unit's row)
    out_emerge: int = 0
    deps: list[int] = field(default_factory=list)
    #: operand reads shared with the same tile of the other chunks of the op (the rows every
    #: column slice needs), sent once by NoC multicast: key, and (path kind, bytes) to move
    shared_key: tuple | None = None
    shared_in: list[tuple[str, int]] = field(default_factory=list)

    @property
    def staged_bytes(self) -> int:
        """Operand bytes staged in the input buffer from a level above it (DRAM, far level):
        held from the tile's load to its compute end."""
        return self.dram_in_bytes + self.far_in_bytes

    @property
    def room_bytes(self) -> int:
        """Most input-buffer room the tile needs while it is in flight: what it stages and
        the activation B it reads there."""
        return self.staged_bytes + self.b_hold_bytes

    @property
    def b_bytes(self) -> int:
        """The activation B's room the tile needs claimed (``b_owner``), 0 if none."""
        return self.b_stage_bytes + self.b_hold_bytes

    @property
    def in_bytes(self) -> int:
        """Every operand byte that enters the tile's unit (its own reads and shared ones)."""
        return (self.sram_in_bytes + self.weight_in_bytes + self.staged_bytes
                + self.reread_bytes + sum(n for _, n in self.shared_in))


@dataclass(slots=True)
class WeightBlock:
    """Weights one group of tiles shares: fetched from DRAM into the weight SRAM once, held
    there until the last of its tiles has computed."""

    index: int
    op: int
    bytes: int
    ordinal: int = 0  # position among the blocks of its op on its chunk
    chunk: int = 0
    last_tile: int = -1


@dataclass(frozen=True, slots=True)
class LoopNest:
    """The loop nest the mapper chose for a matmul on one chunk (docs/engine.md, Tiles), the
    parameters its DRAM traffic follows from in closed form
    (``validation.tiling_traffic.loop_nest_traffic``).

    ``order``: ``whole`` (the reduction in one weight block per column block, column block
    outside the row bands), ``rows_outer`` (row band outside the column blocks: A kept staged
    across them, weights fetched once per band; with ``k_blocks > 1`` the reduction blocks
    innermost), ``carry`` / ``spill`` (ws / is, reduction blocks outside the row bands,
    partial sums carried in the buffer or spilled to DRAM between them), ``bands``
    (reduction blocks inside the row bands, weights fetched again per band: os, or ws / is
    when that beats spilling). ``psums_spilled``: partial sums go to DRAM and back between
    reduction blocks (``spill``, or a ``rows_outer`` band whose sums the buffer cannot carry)."""

    col_blocks: int
    k_blocks: int
    row_bands: int
    order: str
    input_kept: bool
    psums_spilled: bool = False


@dataclass
class OpPlan:
    """A compute op as mapped: which unit type runs it and which tiles it became."""

    index: int
    name: str
    kind: str
    fn: str
    group: str
    layer: int | None
    unit: str  # unit name within a chunk, e.g. "sa_general"
    macs: int
    tiles: list[int] = field(default_factory=list)
    out_bytes: int = 0
    resident: bool = True  # output stays in its unit's output SRAM
    far: bool = False  # else it is kept in the far output level (``Regions.far``), else DRAM
    out_region: str = ""  # buffer region holding the output while resident or far
    last_consumer: int = -1  # index of the last op reading its output (-1: graph output)
    loop_nest: LoopNest | None = None  # a matmul's, on its first chunk

    @property
    def spilled(self) -> bool:
        """Its output goes to DRAM (kept in neither output level)."""
        return not (self.resident or self.far)

    @property
    def held(self) -> bool:
        """Its output holds room in a buffer region (``out_region``) until its last reader."""
        return not self.spilled and self.out_bytes > 0


@dataclass
class Plan:
    """Everything the engine needs, fixed before simulation starts."""

    ops: list[OpPlan]
    tiles: list[Tile]
    weight_blocks: list[WeightBlock]
    queues: dict[str, list[int]]  # unit instance -> tile indices, in execution order
    regions: Regions
    #: per region, bytes kept free of resident outputs for staged operands and partial sums
    reserve_bytes: dict[str, int] = field(default_factory=dict)
    folded_views: int = 0
    #: the one-chunk component graph the plan was made on (``arch.graph.component_graph(arch, 1)``;
    #: its paths and SRAM roles are the same for every architecture with the plan's
    #: ``mapper.mapping_key``): the engine and the summary ask it their path questions, which
    #: it answers once each (``arch.graph`` memoises them on the graph)
    graph: Any = None
    #: ``mapper.rate_key`` of the architecture when a mapping choice read its clock and
    #: bandwidths (``mapping.reduction_split: auto`` estimated an op's time); None otherwise
    rates: str | None = None

    def dma_order(self) -> list[WeightBlock]:
        """The order the DMA fetches blocks in: op by op, and within an op round-robin over
        the chunks (every chunk's first block, then every chunk's second ...), so that no
        chunk waits for another chunk's whole share of the weights."""
        return sorted(self.weight_blocks, key=lambda b: (b.op, b.ordinal, b.chunk, b.index))

    def dependents(self) -> list[list[int]]:
        """For every tile, the tiles that wait for it (the inverse of ``Tile.deps``)."""
        out: list[list[int]] = [[] for _ in self.tiles]
        for t in self.tiles:
            for d in t.deps:
                out[d].append(t.index)
        return out
