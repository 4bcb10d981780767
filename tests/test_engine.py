"""The engine against closed forms, conservation laws and ordering properties."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.api import simulate
from accelsim.geometry import split_evenly
from accelsim.timing import systolic_compute_cycles
from workloads.ir import OpKind
from workloads.simple import gemm_graph

from engine_helpers import GraphBuilder, tiny_arch


def check_accounting(summary: dict) -> None:
    """busy + stall + idle = makespan for every component; nothing negative."""
    makespan = summary["cycles"]
    for name, c in summary["components"].items():
        assert c["busy_cycles"] >= 0 and c["stall_cycles"] >= 0 and c["idle_cycles"] >= 0, name
        assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == makespan, name
        assert sum(c["stalls"].values()) == c["stall_cycles"], name
        assert all(v > 0 for v in c["stalls"].values()), name


@pytest.mark.parametrize("dataflow", ["os", "ws", "is", "down_forward"])
@pytest.mark.parametrize(("m", "n", "k"), [(20, 30, 40), (1, 64, 64), (197, 64, 192), (8, 8, 8)])
def test_gemm_compute_cycles_equal_closed_form(dataflow, m, n, k):
    arch = tiny_arch(dataflow=dataflow, rows=8, cols=4)
    s = simulate(arch, gemm_graph(m, n, k)).summary
    expected = systolic_compute_cycles(dataflow, 8, 4, m, n, k)
    assert s["ops"][0]["compute_cycles"] == expected
    # with ample bandwidth the array is the bottleneck: makespan is compute plus a fill/drain
    # of a few cycles per memory stage
    assert expected <= s["cycles"] <= expected + 20
    check_accounting(s)


def test_memory_bound_op_takes_latency_plus_bytes_over_bandwidth():
    """One elementwise add of two graph inputs, read from and written back to DRAM.

    DRAM: 4 bytes/cycle, 100 cycles latency; everything else is ample (one cycle per stage).
    Read: latency + ceil(bytes/bw) + 1 (SRAM access); compute: ceil(E/lanes); write likewise.
    """
    rows, cols, lanes = 16, 64, 1024
    b = GraphBuilder()
    b.vector("add", OpKind.ELEMENTWISE, "add", [None, None], [[rows, cols], [rows, cols]],
             [rows, cols])
    arch = tiny_arch(dram_bytes_per_cycle=4, dram_latency_cycles=100, lanes=lanes,
                     tile_rows=rows)
    s = simulate(arch, b.graph).summary
    in_bytes, out_bytes = 2 * rows * cols, rows * cols
    read = 100 + math.ceil(in_bytes / 4) + 1
    compute = math.ceil(rows * cols / lanes)
    write = 100 + math.ceil(out_bytes / 4) + 1
    assert s["cycles"] == read + compute + write
    assert s["dram_bytes"] == in_bytes + out_bytes
    check_accounting(s)
    assert s["components"]["chunk0.vec"]["stalls"] == {"input": read}


def test_energy_is_actions_times_energy_plus_leakage():
    s = simulate(tiny_arch(), gemm_graph(16, 16, 16)).summary
    detail = s["energy_detail_pj"]
    assert detail["pe"]["mac"] == pytest.approx(16 * 16 * 16 * 1.0)
    # leakage: mW x seconds -> pJ, per chunk instance
    seconds = s["cycles"] / 1e9
    assert detail["pe"]["leakage"] == pytest.approx(2.0e-3 * seconds * 1e12)
    assert detail["dram"]["read"] == pytest.approx((16 * 16 + 16 * 16) * 8 * 1.0)
    assert detail["dram"]["write"] == pytest.approx(16 * 16 * 8 * 2.0)
    assert s["energy_pj"] == pytest.approx(sum(s["energy_breakdown_pj"].values()))


def attention_like_graph(heads: int, n: int, d: int, layers: int = 1):
    """qkv-ish linear -> QK^T -> softmax -> SV -> linear, per layer, with a residual add."""
    b = GraphBuilder()
    x = None
    for layer in range(layers):
        q = b.linear(f"l{layer}.q", x, 1, n, heads * d, heads * d, "projection", layer)
        k = b.linear(f"l{layer}.k", x, 1, n, heads * d, heads * d, "projection", layer)
        v = b.linear(f"l{layer}.v", x, 1, n, heads * d, heads * d, "projection", layer)
        s = b.bmm(f"l{layer}.qk", q, k, heads, n, d, n, layer=layer)
        p = b.vector(f"l{layer}.softmax", OpKind.SOFTMAX, "softmax", [s], [[heads, n, n]],
                     [heads, n, n], "attention", layer)
        o = b.bmm(f"l{layer}.sv", p, v, heads, n, n, d, layer=layer)
        y = b.linear(f"l{layer}.proj", o, 1, n, heads * d, heads * d, "projection", layer)
        x = b.vector(f"l{layer}.res", OpKind.ELEMENTWISE, "add", [y, x],
                     [[n, heads * d], [n, heads * d]], [n, heads * d], "other", layer)
    return b.graph


def test_macs_and_bytes_are_conserved():
    graph = attention_like_graph(heads=3, n=40, d=16, layers=2)
    result = simulate(tiny_arch(chunks=2), graph)
    s, plan = result.summary, result.plan
    assert s["macs"] == graph.total_macs()
    assert sum(o["macs"] for o in s["ops"]) == graph.total_macs()
    # every byte a tile moves is counted once at the unit boundary
    moved_in = sum(t.in_bytes for t in plan.tiles)
    links = [c for name, c in s["components"].items() if name.startswith("noc.c")]
    assert len(links) == 2 and all(c["busy_cycles"] > 0 for c in links)  # a link per chunk
    # multicast transfers are made once per key, whichever chunk asks first
    shared = {t.shared_key: t.shared_in for t in plan.tiles if t.shared_key is not None}
    dram_read = (sum(t.dram_in_bytes for t in plan.tiles) + sum(b.bytes for b in plan.weight_blocks)
                 + sum(n for pieces in shared.values() for kind, n in pieces if kind == "dram_in"))
    dram_write = sum(t.out_bytes for t in plan.tiles if t.out_dram)
    assert s["dram_bytes"] == dram_read + dram_write
    dram = s["memory_traffic"]["dram"]
    assert sum(dram["read_bytes"].values()) == dram_read
    assert sum(dram.get("write_bytes", {}).values()) == dram_write
    assert moved_in > 0
    check_accounting(s)


def test_pipeline_and_chunks_effects_on_a_layer():
    graph = attention_like_graph(heads=4, n=64, d=16, layers=2)
    on = simulate(tiny_arch(chunks=2), graph).summary["cycles"]
    off = simulate(tiny_arch(chunks=2, pipeline=False), graph).summary["cycles"]
    one = simulate(tiny_arch(chunks=1), graph).summary["cycles"]
    four = simulate(tiny_arch(chunks=4), graph).summary["cycles"]
    assert on < off
    assert four <= on <= one


def test_deterministic_summary():
    graph = attention_like_graph(heads=2, n=33, d=8)
    a = simulate(tiny_arch(chunks=2), graph).summary
    b = simulate(tiny_arch(chunks=2), graph).summary
    a["sim"].pop("wall_s"), b["sim"].pop("wall_s")
    assert a == b


def test_small_weight_buffer_streams_blocks_and_still_finishes():
    big = simulate(tiny_arch(sram_kib=1024), gemm_graph(64, 256, 64)).summary
    small = simulate(tiny_arch(sram_kib=4), gemm_graph(64, 256, 64)).summary
    # 4 KiB: 2 KiB weight buffer, 1 KiB blocks of 16 columns instead of one 16 KiB block;
    # tiling does not change the op's compute cycles
    assert small["ops"][0]["compute_cycles"] == systolic_compute_cycles("os", 8, 8, 64, 256, 64)
    assert small["ops"][0]["compute_cycles"] == big["ops"][0]["compute_cycles"]
    assert small["cycles"] >= big["cycles"]
    assert small["macs"] == big["macs"]
    check_accounting(small)


def test_split_evenly_sums_exactly():
    assert split_evenly(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(split_evenly(647, [64, 64, 64, 5])) == 647
    assert split_evenly(0, [0, 0]) == [0, 0]


@st.composite
def random_case(draw):
    arch_kw = {
        "chunks": draw(st.integers(1, 3)),
        "dataflow": draw(st.sampled_from(["os", "ws", "is", "down_forward"])),
        "rows": draw(st.sampled_from([2, 4, 8])),
        "cols": draw(st.sampled_from([2, 4, 8])),
        "dram_bytes_per_cycle": draw(st.sampled_from([2.0, 16.0, 1e3])),
        "dram_latency_cycles": draw(st.integers(0, 50)),
        "sram_bytes_per_cycle": draw(st.sampled_from([4.0, 64.0])),
        "noc_bytes_per_cycle": draw(st.sampled_from([4.0, 64.0])),
        "lanes": draw(st.sampled_from([1, 4, 16])),
        "tile_rows": draw(st.sampled_from([0, 3, 16])),
        "prefetch_depth": draw(st.integers(1, 3)),
        "sram_kib": draw(st.sampled_from([64.0, 1024.0])),
        "channels": draw(st.integers(1, 2)),
    }
    graph = attention_like_graph(
        heads=draw(st.integers(1, 4)), n=draw(st.integers(1, 24)), d=draw(st.sampled_from([2, 8])),
        layers=draw(st.integers(1, 2)))
    return arch_kw, graph


def check_no_overlap(result) -> None:
    """No component is in two states at once: its recorded intervals never overlap, so no
    cycle is counted twice (busy and stalled, or stalled for two causes)."""
    rec = result.record
    for name, r in [*rec.units.items(), *rec.servers.items()]:
        spans = sorted((a, b) for a, b, *_ in r.intervals)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, name
        assert sum(b - a for a, b in spans) == r.busy_cycles + r.stall_cycles, name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_invariants_on_random_architectures_and_workloads(case):
    arch_kw, graph = case
    result = simulate(tiny_arch(**arch_kw), graph)
    s = result.summary
    check_accounting(s)
    check_no_overlap(result)
    assert s["macs"] == graph.total_macs()
    for op in s["ops"]:
        assert 0 <= op["start_cycle"] <= op["end_cycle"] <= s["cycles"]
    off = simulate(tiny_arch(**(arch_kw | {"pipeline": False})), graph).summary
    check_accounting(off)
    # Overlapping ops can reorder contended memory transfers and buffer room; like any greedy
    # schedule with shared resources this admits small anomalies (Graham 1969): with capacity
    # enforced, measured on 300 derandomized cases (2026-12-02, with the reduction split and
    # operands kept across column blocks): 3 slower with the pipeline, at most +0.9%; the
    # worst hypothesis has found is +5.1% (ws 2x4 array, 3 chunks, prefetch depth 1).
    # Realistic workloads are checked strictly in test_presets.
    assert s["cycles"] <= off["cycles"] * 1.06


def test_divider_per_row_mode_fills_its_divisor_chain():
    """T_N / t_D (one divisor per row) pays the register-chain fill once per head (4 here, all
    on one chunk); T_N / n does not."""
    def div_graph(divisor_shape):
        b = GraphBuilder()
        b.vector("div", OpKind.ELEMENTWISE, "div", [None, None], [[4, 64, 16], divisor_shape],
                 [4, 64, 16], "attention")
        return b.graph

    arch = tiny_arch(lanes=8)
    shared = simulate(arch, div_graph([1])).summary["ops"][0]["compute_cycles"]
    per_row = simulate(arch, div_graph([4, 64, 1])).summary["ops"][0]["compute_cycles"]
    assert shared == 4 * 64 * 16 // 8
    assert per_row == shared + 4 * 8


def test_multicast_sends_shared_rows_once():
    """A weight matmul split by columns over 4 chunks: every chunk needs the same A rows. With
    a multicast NoC they cross the SRAM port and the NoC once; without, four times."""
    graph = gemm_graph(64, 256, 64)
    on = simulate(tiny_arch(chunks=4), graph).summary
    off_arch = tiny_arch(chunks=4)
    off_arch.memories["noc"].multicast = False
    off = simulate(off_arch, graph).summary
    a_bytes = 64 * 64  # graph input, 8-bit, streamed from DRAM through the SRAM
    assert on["dram_bytes"] == off["dram_bytes"] - 3 * a_bytes
    assert on["macs"] == off["macs"] == 64 * 256 * 64
    assert on["ops"][0]["chunks"] == off["ops"][0]["chunks"] == 4
