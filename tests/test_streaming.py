"""``mapping.streaming``: a tile's transfers overlapped with its compute at fold granularity
(``folds``, the default) or not at all (``tiles``), against the closed form of a one-tile GEMM.

One tile, one DRAM of ``bw`` bytes/cycle, everything else ~free (one cycle per stage). The DMA
fetches B (``TB = K*N/bw`` cycles), then the loader streams A (``TA``), then the result C goes
out (``TC``); the tile computes ``C`` cycles in ``F`` folds (``g = ceil(C/F)`` each), its outputs
final in ``Fo`` pieces.

* tiles: ``TB + TA + C + TC``.
* folds: the tile starts at ``r = max(TB + ceil(TA/F), TB + TA - C + g)`` (its first fold's
  operands in, its last fold not done before A's last byte), its result streams from
  ``r + ceil(C/Fo)`` at DRAM speed but not ahead of the compute (its last piece leaves the
  array over the last ``E`` cycles, ``Tile.out_emerge``: 0 for os, the last fold for ws / is,
  so the stream ends no earlier than ``r + C + max(0, ceil(TC/Fo) - E)``) and not before the
  DRAM has delivered A: ``max(r + ceil(C/Fo), r + C + max(0, ceil(TC/Fo) - E) - TC, TB + TA)
  + TC``.

Each path stage that is not the DRAM adds at most one cycle of its own on the critical path:
the SRAM on B's fetch, the SRAM and NoC on A's way in and on C's way out (5 in all; 4 seen,
m = n = k = 8 at 64 B/cycle, where every transfer is one DRAM cycle).
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.api import simulate
from accelsim.critical_path import critical_path
from workloads.simple import gemm_graph

from engine_helpers import tiny_arch

STAGE_SLACK = 5


def _run(m: int, n: int, k: int, bw: float, dataflow: str, mode: str):
    a = tiny_arch(dram_bytes_per_cycle=bw, tile_rows=m, dataflow=dataflow)
    a = a.model_copy(update={"mapping": a.mapping.model_copy(update={"streaming": mode})})
    res = simulate(a, gemm_graph(m, n, k))
    assert len(res.plan.tiles) == 1
    return res


def _closed_form(res, m: int, n: int, k: int, bw: float) -> tuple[int, int]:
    t = res.plan.tiles[0]
    tb, ta, tc = (math.ceil(x / bw) for x in (k * n, m * k, m * n))
    c, g = t.cycles, math.ceil(t.cycles / t.granules)
    r = max(tb + math.ceil(ta / t.granules), tb + ta - c + g)
    tail = max(0, math.ceil(tc / t.out_granules) - t.out_emerge)  # the last piece's own time
    folds = max(r + math.ceil(c / t.out_granules), r + c + tail - tc, tb + ta) + tc
    return tb + ta + c + tc, folds


@settings(max_examples=30, deadline=None)
@given(m=st.integers(8, 80), n=st.integers(8, 80), k=st.integers(8, 80),
       bw=st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 16.0, 64.0]),
       dataflow=st.sampled_from(["os", "ws", "is"]))
def test_one_tile_gemm_matches_the_closed_form(m, n, k, bw, dataflow) -> None:
    tiles = _run(m, n, k, bw, dataflow, "tiles")
    folds = _run(m, n, k, bw, dataflow, "folds")
    want_tiles, want_folds = _closed_form(folds, m, n, k, bw)
    assert want_tiles <= tiles.summary["cycles"] <= want_tiles + STAGE_SLACK
    assert want_folds <= folds.summary["cycles"] <= want_folds + STAGE_SLACK
    # the physical bounds hold either way: DRAM bytes at its bandwidth, the array's cycles
    dram = math.ceil((m * k + k * n + m * n) / bw)
    assert folds.summary["cycles"] >= max(dram, folds.plan.tiles[0].cycles)
    # the same tile: streaming changes when it moves, never what it moves or computes
    assert folds.summary["memory_traffic"] == tiles.summary["memory_traffic"]
    def dynamic(res) -> dict:
        return {(c, a): e for c, acts in res.summary["energy_detail_pj"].items()
                for a, e in acts.items() if a != "leakage"}

    assert dynamic(folds) == dynamic(tiles)


def test_a_dram_bound_gemm_streams_at_the_dram_bandwidth() -> None:
    """With the DRAM ~10x slower than the array, folds takes the DRAM's time exactly and
    tiles adds the whole compute on top of it."""
    m = n = k = 64
    tiles = _run(m, n, k, 0.5, "os", "tiles").summary["cycles"]
    res = _run(m, n, k, 0.5, "os", "folds")
    dram = 3 * 64 * 64 * 2
    assert res.summary["cycles"] == dram
    assert tiles >= dram + res.plan.tiles[0].cycles


def test_streamed_critical_path_puts_a_dram_bound_run_on_the_dram() -> None:
    res = _run(64, 64, 64, 0.25, "os", "folds")
    segs = critical_path(res.arch, res.plan, res.record)
    assert sum(s.end - s.start for s in segs) == res.summary["cycles"]
    on_dram = sum(s.end - s.start for s in segs if s.resource == "dram")
    assert on_dram >= 0.97 * res.summary["cycles"]


def test_folds_is_the_default_and_changes_no_mapping() -> None:
    from accelsim.mapper import mapping_key

    a = tiny_arch()
    assert a.mapping.streaming == "folds"
    b = a.model_copy(update={"mapping": a.mapping.model_copy(update={"streaming": "tiles"})})
    assert mapping_key(a) == mapping_key(b)
