"""``mapping.streaming: folds``: a tile's transfers overlapped with its compute, in closed form.

A tile computes in ``Tile.granules`` equal pieces (its array folds, or its rows on a vector
unit). Under ``folds`` its loader does not wait for its weight block's fetch to end, only to
start, nor for its operands' last byte: the tile may start once its first piece's operands are
in and as long as its last piece does not finish before their last byte (``_stream_ready``).
Its results become final in ``Tile.out_granules`` pieces and are written while it computes
(``_stream_out``), asked for as late as lets them end with the compute (``_stream_at``), so
the unit claims room in its output queue before it starts (``_queue_room``). Operands arrive
at an even rate from their first byte to their last (the slowest stage's pace,
``components.transfer_via``); that is what makes the closed form exact
(``tests/test_streaming.py``). Under ``tiles`` none of this runs (the engine's own order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .components import Port, Recorder, Server
from .paths import out_kind
from .plan import Tile
from .record import Via, Waits

if TYPE_CHECKING:
    from .clock import Clock
    from .engine import _Instance


class Streaming:
    """The streaming policy of ``accelsim.engine.Engine`` (a mixin: the engine holds the
    state these methods read)."""

    env: Clock
    waits: Waits
    block_span: list[tuple[int, int]]
    _move: Callable[..., tuple[int, int, Via]]  # ``Engine._move``
    _route_ports: Callable[[str, str], list[Port]]  # ``Engine._route_ports``
    _slow: dict[tuple[str, str], Server]  # ``_slowest``'s cache, made by the engine

    def _stream_ready(self, t: Tile, now: int, first: int, end: int, via: Via) -> tuple[int, Via]:
        """When a tile may start computing under ``streaming: folds``, and what held it up.

        Its compute runs at full rate in ``t.granules`` equal pieces, and piece i needs the
        first (i + 1) / granules of every operand, which arrives at an even rate from its first
        byte to its last: the start must let the first piece arrive, and the last piece not
        finish before the last byte (plus its own compute). Linear in i, so the two ends bound
        it: ``max(first + (last - first) / granules, last - cycles + cycles / granules)``, for
        the staged operands and, on its fetch, the weight block."""
        n, cycles = t.granules, t.cycles
        piece = -(-cycles // n)
        ready = now
        if end > now:
            ready = max(first + -(-(end - first) // n), end - cycles + piece)
        b = t.weight_block
        if b >= 0:
            bs, be = self.block_span[b]
            if be > now:
                at = max(bs + -(-(be - bs) // n), be - cycles + piece)
                if at > ready:
                    ready, via = at, self.waits.dma_via[b]
        return max(ready, now), via

    def _queue_room(self, rec: Recorder, writes: list[int], now: int, depth: int, ti: int,
                    op: int):
        """Wait until the output queue has room for one more result (``prefetch_depth``
        writes in flight); returns the writes still in flight and the time. The wait is an
        *output* stall and ``Waits.queue_at`` of tile ``ti``."""
        writes = [e for e in writes if e > now]
        if len(writes) >= depth:
            first = min(writes)
            yield self.env.timeout(first - now)
            rec.stall(now, first, "output", op)
            self.waits.queue_at[ti] = now = first
            writes = [e for e in writes if e > now]
        return writes, now

    def _stream_at(self, ctx: _Instance, t: Tile, start: int) -> int:
        """When the unit asks the memories for a tile's result transfers: as late as lets them
        end with its compute (its end less their slowest stage's time), not before its first
        piece is final. Asking earlier would hold a server's future time that requests made
        meanwhile (the next tiles' operands) could have used: a reservation is never split
        (``components.Server``)."""
        end = start + t.cycles
        lead = 0
        for kind, nbytes in _result_transfers(t):
            lead = max(lead, self._slowest(ctx.name, kind, nbytes))
        first = start + -(-t.cycles // t.out_granules)
        return min(end, max(first, end - lead))

    def _stream_out(self, ctx: _Instance, t: Tile, ti: int, start: int) -> tuple[int, int]:
        """Issue a tile's result transfers (``streaming: folds``; the unit calls it at
        ``_stream_at``, its compute started at ``start``): its outputs become final in
        ``t.out_granules`` pieces, the first after that share of its cycles, the last at its
        compute end, and stream out as they do. The last piece leaves the unit over its last
        ``t.out_emerge`` cycles, so the stream ends no earlier than the compute end plus what
        the piece's own time on the slowest stage exceeds that by: a stream at an even rate
        ending with the compute would have moved part of it before it existed. Returns the
        critical path's ``issue`` of the latest-ending transfer (its compute end when that
        transfer kept pace with the compute, else when its first piece was final: what it
        took beyond the compute was its own transfer and queueing) and when its last byte is
        written."""
        end = start + t.cycles
        first = max(start + -(-t.cycles // t.out_granules), int(self.env.now))
        issue = done = start
        w = self.waits
        for kind, nbytes in _result_transfers(t):
            tail = -(-self._slowest(ctx.name, kind, nbytes) // t.out_granules) - t.out_emerge
            last = end + max(0, tail)
            _f, e, v = self._move(kind, ctx.name, nbytes, t.op, None, first, last)
            if e > done:
                paced = last + sum(p.latency for p in self._route_ports(ctx.name, kind))
                done, w.out_via[ti], issue = e, v, (first if e > paced else end)
        return issue, done

    def _slowest(self, inst: str, kind: str, nbytes: int) -> int:
        """Cycles ``nbytes`` take on the slowest stage of ``inst``'s ``kind`` path (the stage
        of the fewest bytes per cycle, found once per path)."""
        server = self._slow.get((inst, kind))
        if server is None:
            server = self._slow[inst, kind] = min(
                (s for p in self._route_ports(inst, kind) for s in p.servers),
                key=lambda s: s.bytes_per_cycle)
        return server.duration(nbytes)


def _result_transfers(t: Tile) -> list[tuple[str, int]]:
    """(path kind, bytes) of the transfers that carry a tile's results: its outputs (to SRAM,
    or on to the far level or DRAM) and the partial sums a split reduction spills."""
    return [(kind, n) for kind, n in ((out_kind(t), t.out_bytes),
                                      ("partial_out", t.partial_out_bytes)) if n]
