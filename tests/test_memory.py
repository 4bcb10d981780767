"""The memory system against theory: DRAM interleaving, latency, sharing, partial sums,
buffer capacity enforced while the run goes, fold overlap."""

from __future__ import annotations

import math

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.api import simulate
from accelsim.components import Pool, Striped
from accelsim.timing import systolic_compute_cycles, systolic_psum_traffic

from engine_helpers import tiny_arch
from test_engine import attention_like_graph, gemm_graph


def dram(channels: int = 8, bw: float = 64.0, stripe: int = 256, latency: int = 0) -> Striped:
    return Striped("dram", "dram", bw, latency, channels, stripe)


def test_one_long_stream_reaches_the_full_bandwidth():
    d = dram()
    nbytes = 1 << 20
    start, end = d.reserve(0, 0, 0, nbytes, 0, "input")
    assert start == 0 and end == math.ceil(nbytes / 64.0)  # all 8 channels at once


def test_concurrent_streams_share_the_bandwidth():
    d = dram()
    ends = [d.reserve(0, 0, 0, 65536, i, "input")[1] for i in range(4)]
    assert max(ends) == 4 * 65536 / 64  # four streams: together at the summed bandwidth
    assert ends == sorted(ends)


def test_a_short_request_moves_at_one_channel_rate_plus_latency():
    d = dram(latency=50)
    end = d.reserve(0, 0, 0, 200, 0, "input")[1]  # one stripe: one channel of 8 B/cycle
    assert end == math.ceil(200 / 8)
    from accelsim.components import transfer
    assert transfer([dram(latency=50)], 0, 200, 0, "input") == 50 + 25  # latency-bound


def test_interleaving_makes_channels_equal_to_one_wide_channel_for_long_streams():
    arch8 = tiny_arch(dram_bytes_per_cycle=16.0, channels=8)
    arch1 = tiny_arch(dram_bytes_per_cycle=16.0, channels=1)
    g = gemm_graph(256, 256, 256)
    c8, c1 = simulate(arch8, g).summary["cycles"], simulate(arch1, g).summary["cycles"]
    assert c8 == pytest.approx(c1, rel=0.02)


def test_pool_never_exceeds_capacity_and_grants_in_order():
    env = simpy.Environment()
    pool = Pool(env, "b", 100)
    assert pool.take(60) is None
    ev = pool.take(60)
    assert ev is not None and not ev.triggered
    pool.give(60)
    assert ev.triggered and pool.level == 60
    assert pool.peak <= 100


def test_resident_outputs_leave_room_for_earlier_ops():
    env = simpy.Environment()
    pool = Pool(env, "b", 100, budget=80, resident={0: 50, 1: 40})
    assert pool.take_resident(1) is not None  # op 0's 50 bytes are still to come: 90 > 80
    assert pool.take_resident(0) is None
    assert pool.out_level == 50


@pytest.mark.parametrize("dataflow", ["ws", "is", "down_forward"])
def test_partial_sum_bytes_of_a_folded_gemm_equal_the_closed_form(dataflow):
    m, n, k = 64, 32, 40  # k = 40 on 8 rows: 5 reduction folds
    s = simulate(tiny_arch(dataflow=dataflow), gemm_graph(m, n, k)).summary
    traffic = s["memory_traffic"]["sram"]
    expected = systolic_psum_traffic(dataflow, 8, 8, m, n, k) * 4  # 32-bit partial sums
    assert expected == m * n * 4 * 4
    assert traffic["read_bytes"]["psum"] == expected
    assert traffic["write_bytes"]["psum"] == expected


def test_output_stationary_has_no_partial_sums():
    s = simulate(tiny_arch(dataflow="os"), gemm_graph(64, 32, 40)).summary
    assert "psum" not in s["memory_traffic"]["sram"].get("read_bytes", {})


def test_partial_sums_through_a_slow_buffer_stall_the_array():
    g = gemm_graph(64, 64, 64)
    fast = simulate(tiny_arch(dataflow="ws"), g).summary
    slow = simulate(tiny_arch(dataflow="ws", sram_bytes_per_cycle=4.0), g).summary
    assert slow["components"]["chunk0.pe"]["stalls"].get("psum", 0) > 0
    assert slow["cycles"] > fast["cycles"]


@pytest.mark.parametrize("kib", [1024, 16, 6, 4])
def test_small_buffers_give_slower_designs_never_errors(kib):
    g = attention_like_graph(heads=2, n=64, d=16, layers=2)
    s = simulate(tiny_arch(sram_kib=kib, chunks=2), g).summary
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]
    assert s["macs"] == g.total_macs()


def test_dram_traffic_grows_as_the_buffer_shrinks():
    g = attention_like_graph(heads=2, n=64, d=16, layers=2)
    runs = [simulate(tiny_arch(sram_kib=kib, dram_bytes_per_cycle=8.0), g).summary
            for kib in (1024, 8, 4)]
    traffic = [s["dram_bytes"] for s in runs]
    assert traffic[0] <= traffic[1] <= traffic[2] and traffic[0] < traffic[2]
    # and no run is faster than its DRAM traffic allows
    assert all(s["cycles"] >= s["dram_bytes"] / 8.0 for s in runs)


@settings(max_examples=25, deadline=None)
@given(kib=st.sampled_from([4, 6, 12, 32]), chunks=st.integers(1, 3),
       dataflow=st.sampled_from(["os", "ws", "is", "down_forward"]),
       depth=st.integers(1, 3), heads=st.integers(1, 3),
       room=st.sampled_from(["first_tile", "all_tiles"]))
def test_occupancy_never_exceeds_capacity(kib, chunks, dataflow, depth, heads, room):
    g = attention_like_graph(heads=heads, n=48, d=16, layers=1)
    res = simulate(tiny_arch(sram_kib=kib, chunks=chunks, dataflow=dataflow,
                             prefetch_depth=depth, activation_b_room=room), g)
    s = res.summary
    # no tile moves a negative amount (small buffers spill, so operands come from DRAM)
    for t in res.plan.tiles:
        negative = {f: getattr(t, f) for f in type(t).__slots__
                    if f.endswith("bytes") and getattr(t, f) < 0}
        assert not negative, (res.plan.ops[t.op].name, negative)
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]
    for c in s["components"].values():
        assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]


@pytest.mark.parametrize("arch_name", ["vitality", "systolic", "sanger"])
def test_presets_stay_within_their_buffers(arch_name):
    from arch import load
    from arch.graph import native_attention
    from workloads import resolve
    a = load(arch_name)
    s = simulate(a, resolve("deit_tiny", attention=native_attention(a)),
                 keep_intervals=False).summary
    for region, peak in s["sram_peak_bytes"].items():
        assert 0 < peak <= s["sram_capacity_bytes"][region] or region.endswith("rf")


def test_fold_overlap_closed_forms():
    # os, 6 folds of k = 7 on 4 x 8: streams back to back, fill and skew once
    assert systolic_compute_cycles("os", 4, 8, 10, 9, 7, "double_buffered") == 6 * 7 + 4 + 8 - 3
    # ws: first weight load, then max(m, rows) per fold
    assert systolic_compute_cycles("ws", 8, 8, 20, 16, 16, "double_buffered") == (
        8 + 4 * 20 + 8 + 8 - 3)
    for df in ("os", "ws", "is", "down_forward"):
        for dims in [(8, 8, 8), (30, 17, 50), (100, 9, 3)]:
            none = systolic_compute_cycles(df, 8, 8, *dims)
            db = systolic_compute_cycles(df, 8, 8, *dims, fold_overlap="double_buffered")
            assert db <= none
    # one fold with a stream at least the array's height: the same either way
    assert systolic_compute_cycles("ws", 8, 8, 20, 8, 8) == systolic_compute_cycles(
        "ws", 8, 8, 20, 8, 8, fold_overlap="double_buffered")


def test_a_vanishing_bandwidth_is_bad_input():
    """Found by tests/test_hostile_faults.py's fuzzing (a denormal bandwidth in GB/s)."""
    from accelsim.errors import InputError

    with pytest.raises(InputError, match="below 1e-09"):
        simulate(tiny_arch(dram_bytes_per_cycle=2.2e-309), gemm_graph(8, 8, 8))


def _with_psum_buffer(bytes_per_cycle: float, kib: float = 64):
    """tiny_arch (ws) plus a dedicated partial-sum SRAM between the DRAM and the NoC."""
    a = tiny_arch(dataflow="ws").model_dump()
    a["memories"]["psum_buf"] = {
        "type": "sram", "capacity_kib": kib, "bandwidth_bytes_per_cycle": bytes_per_cycle,
        "holds": ["psum"], "read_energy_pj_per_byte": 0.3, "write_energy_pj_per_byte": 0.4,
        "leakage_mw": 0.5}
    a["connections"] += [{"src": "dram", "dst": "psum_buf"}, {"src": "psum_buf", "dst": "noc"}]
    from arch.schema import Architecture

    return Architecture.model_validate(a)


def test_a_dedicated_partial_sum_buffer_takes_the_partial_sums():
    """An SRAM that ``holds: [psum]`` gets every partial sum of a ws GEMM (the closed form),
    the output SRAM none; its own bandwidth sets the psum stall."""
    m, n, k = 64, 32, 40
    s = simulate(_with_psum_buffer(1e6), gemm_graph(m, n, k)).summary
    expected = systolic_psum_traffic("ws", 8, 8, m, n, k) * 4
    assert s["memory_traffic"]["psum_buf"]["read_bytes"]["psum"] == expected
    assert s["memory_traffic"]["psum_buf"]["write_bytes"]["psum"] == expected
    assert "psum" not in s["memory_traffic"]["sram"].get("read_bytes", {})
    slow = simulate(_with_psum_buffer(2.0), gemm_graph(m, n, k)).summary
    assert slow["components"]["chunk0.pe"]["stalls"].get("psum", 0) > 0
    # two passes of the psum bytes through a 2 B/cycle port cannot take less than this
    assert slow["cycles"] >= 2 * expected / 2.0


@pytest.mark.parametrize("arch_name", ["vitality", "sanger", "examples/arch/eight_chunks.yaml",
                                       "examples/arch/two_level.yaml",
                                       "examples/arch/local_l1.yaml"])
def test_bytes_per_server_and_op_equal_what_its_reservations_moved(arch_name):
    """Servers do not count bytes per reservation: the engine adds each route's bytes to the
    servers it crosses after the run (``paths.expand_route_bytes``). Independently, every
    reservation leaves an interval with its bytes: per server and op the two must agree
    (multicast, partial-sum round trips and DMA included)."""
    from collections import Counter

    from arch import load
    from arch.graph import native_attention
    from workloads import resolve
    a = load(arch_name)
    res = simulate(a, resolve("deit_tiny", attention=native_attention(a)), keep_intervals=True)
    checked = 0
    for server in res.record.servers.values():
        moved: Counter[int] = Counter()
        for iv in server.intervals:
            moved[iv.op] += iv.nbytes
        assert dict(server.op_bytes) == {op: n for op, n in moved.items() if n}, server.name
        assert server.moved_bytes == sum(moved.values())
        checked += bool(moved)
    assert checked >= 3


@pytest.mark.parametrize("dataflow", ["os", "ws", "is", "down_forward"])
def test_an_activation_b_too_wide_for_the_buffer_is_staged_in_column_blocks(dataflow):
    """A matmul of two activations whose B (1024 x 128, 128 KiB, from DRAM) does not fit the
    64 KiB buffer beside one row of A: its columns are staged a block at a time (a slower
    design, not an error), the buffer is never over capacity, every MAC is done and B is
    read from DRAM no less than once."""
    from engine_helpers import GraphBuilder
    b = GraphBuilder()
    b.bmm("mm", None, None, 1, 8, 1024, 128)
    res = simulate(tiny_arch(sram_kib=64, dataflow=dataflow), b.graph, keep_intervals=False)
    s = res.summary
    assert s["macs"] == 8 * 1024 * 128
    assert res.plan.ops[0].loop_nest.col_blocks > 1
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]
    assert s["dram_bytes"] >= 8 * 1024 + 1024 * 128 + 8 * 128


def _level_at(series: list[tuple[int, int]], t: int) -> int:
    """A buffer's occupancy at cycle ``t``, after every change made at that cycle."""
    level = 0
    for cycle, n in series:
        if cycle > t:
            break
        level = n
    return level


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_all_tiles_holds_an_activation_b_while_every_row_tile_reads_it(dataflow):
    """``mapping.activation_b_room: all_tiles``: a product of two activations from DRAM (B:
    64 x 256, 16 KiB) in 8 row tiles. While each row tile computes, the buffer holds B and
    that tile's 64 x 64 rows of A; under ``first_tile`` B's room goes with the first tile
    (docs/engine.md, Known simplifications). B is fetched from DRAM once either way."""
    from engine_helpers import GraphBuilder
    b_bytes, a_rows = 64 * 256, 64 * 64
    held = {}
    for room in ("first_tile", "all_tiles"):
        g = GraphBuilder()
        g.bmm("mm", None, None, 1, 512, 64, 256)
        res = simulate(tiny_arch(sram_kib=256, dataflow=dataflow, tile_rows=64,
                                 dram_bytes_per_cycle=8.0, activation_b_room=room), g.graph)
        rec, tiles = res.record, res.plan.tiles
        assert len(tiles) == 8
        assert res.summary["dram_bytes"] == 512 * 64 + 64 * 256 + 512 * 256
        levels = [sum(_level_at(series, rec.tile_start[t.index])
                      for series in rec.sram_occupancy.values()) for t in tiles[1:]]
        held[room] = min(levels)
    assert held["all_tiles"] >= b_bytes + a_rows
    assert held["first_tile"] < b_bytes


def test_all_tiles_chunks_take_turns_when_their_bs_do_not_fit_together():
    """Three heads on three chunks, each B (128 x 256, 32 KiB) read by four 64-row tiles, in a
    64 KiB activation region that cannot hold two B's beside their tiles: under ``all_tiles``
    the run completes (no deadlock: a request waits holding nothing), never over capacity,
    every MAC done, the same DRAM bytes, the region holding a B and a tile at its peak, and
    no faster than ``first_tile``, which frees each B after its first tile (and so cuts
    every tile to one row: the row cap took B for part of every tile)."""
    from engine_helpers import GraphBuilder
    runs = {}
    for room in ("first_tile", "all_tiles"):
        g = GraphBuilder()
        g.bmm("mm", None, None, 3, 256, 128, 256)
        res = simulate(tiny_arch(sram_kib=128, chunks=3, tile_rows=64, dram_bytes_per_cycle=16.0,
                                 activation_b_room=room), g.graph, keep_intervals=False)
        s = res.summary
        assert s["macs"] == 3 * 256 * 128 * 256
        assert s["dram_bytes"] == 3 * (256 * 128 + 128 * 256 + 256 * 256)
        for region, peak in s["sram_peak_bytes"].items():
            assert peak <= s["sram_capacity_bytes"][region]
        runs[room] = (s["cycles"], s["sram_peak_bytes"]["sram.act"], len(res.plan.tiles))
    assert runs["all_tiles"][1] >= 128 * 256 + 64 * 128
    assert runs["first_tile"][2] == 3 * 256  # one-row tiles
    assert runs["all_tiles"][2] == 3 * 4
    assert runs["all_tiles"][0] >= runs["first_tile"][0]


def test_all_tiles_a_granted_tile_not_yet_resumed_keeps_its_b():
    """The block's next tile was granted its room (without B, another tile held it) and its
    loader had not resumed when that holder finished: B must stay held for it, not be asked
    of a request that is no longer waiting. Found in the Pareto sweep (Sanger-style, DeiT-T
    at 448 px, os 26 x 125, 64-row tiles), which used to stop with an internal error."""
    from arch import load
    from workloads import resolve
    a = load("sanger_iso", ["mapping.tile_rows=64", "chunks.units.sa_sparse.rows=26",
                            "chunks.units.sa_sparse.cols=125", "chunks.units.sa_sparse.dataflow=os",
                            "chunks.units.sa_predict.dataflow=os"])
    s = simulate(a, resolve("deit_tiny", attention="sanger", img_size=448),
                 keep_intervals=False).summary
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]
    assert s["macs"] > 0
