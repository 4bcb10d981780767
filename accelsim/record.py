"""What a simulation produced, as plain typed data (``RunRecord``): the engine fills it, the
summary, the tables, the critical path and the reports read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .components import Recorder, Server

if TYPE_CHECKING:
    from .critical_path import Segment

#: A transfer's hold-up: (memory that held it up most, ``Recorder.kind``; operand role).
Via = tuple[str, str]


@dataclass
class Waits:
    """When each tile's and weight block's waits ended, and which memory each transfer waited
    on most (``accelsim.components.transfer_via``): enough to walk back from the last tile to
    the start along whatever each step waited for (``accelsim.critical_path``).

    Per tile, in the loader's order: ``slot_at`` (a prefetch slot, after the previous tile's
    load), ``claim_at`` (room for the op's resident output), ``block_at`` (its weight block
    fetched), ``deps_at`` (its producer tiles done), ``load_at`` (room for staged operands:
    its transfers start), ``ready_at`` (its operands arrived); then on the unit ``issue_at``
    (its result's write starts, after any wait for the output queue; under ``streaming:
    folds`` its compute end, the write having started with the compute, and ``queue_at`` when
    the output queue had room before it started, 0 if it had at once). ``load_via``,
    ``psum_via``, ``out_via``: the hold-up of its input, partial-sum and output transfers.
    Per weight block: ``dma_from`` (the DMA reached it), ``dma_issue`` (room granted, fetch
    starts), ``dma_via``."""

    slot_at: list[int]
    claim_at: list[int]
    block_at: list[int]
    deps_at: list[int]
    load_at: list[int]
    ready_at: list[int]
    issue_at: list[int]
    load_via: list[Via]
    psum_via: list[Via]
    out_via: list[Via]
    dma_from: list[int]
    dma_issue: list[int]
    dma_via: list[Via]
    queue_at: list[int]

    @classmethod
    def empty(cls, tiles: int, blocks: int) -> Waits:
        def ints(n: int) -> list[int]:
            return [0] * n

        def vias(n: int) -> list[Via]:
            return [("", "")] * n

        return cls(ints(tiles), ints(tiles), ints(tiles), ints(tiles), ints(tiles),
                   ints(tiles), ints(tiles), vias(tiles), vias(tiles), vias(tiles),
                   ints(blocks), ints(blocks), vias(blocks), ints(tiles))


@dataclass
class RunRecord:
    """What a simulation produced: timing per tile and op, component intervals, traffic."""

    makespan: int
    units: dict[str, Recorder]
    servers: dict[str, Server]
    tile_start: list[int]
    tile_end: list[int]  # compute end
    tile_done: list[int]  # output written
    sram_occupancy: dict[str, list[tuple[int, int]]]  # buffer region -> [(cycle, bytes)]
    sram_capacity: dict[str, int] = field(default_factory=dict)  # buffer region -> bytes
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # memory -> action -> n
    #: memory -> action -> operand role -> n
    traffic: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    events: int = 0
    waits: Waits | None = None
    #: the critical path once walked (``accelsim.critical_path.critical_path`` keeps it here)
    path: list[Segment] | None = None
