"""A matmul whose weight folds do not fit the weight buffer: its reduction is split into blocks
(accelsim.tiling), so a small buffer gives a slower design, never an error.

References: SCALE-Sim's compute cycles (``systolic_compute_cycles``, which the split must not
change), and the closed-form DRAM / SRAM traffic of the loop nests docs/engine.md describes.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accelsim.api import simulate
from accelsim.errors import InputError
from accelsim.timing import systolic_compute_cycles, systolic_psum_traffic

from engine_helpers import tiny_arch
from test_engine import gemm_graph

ACC = 4  # bytes of a 32-bit partial sum (tiny_arch's accumulator)


def _traffic(s: dict, mem: str, direction: str, role: str) -> int:
    return s["memory_traffic"].get(mem, {}).get(f"{direction}_bytes", {}).get(role, 0)


def _simulated(s: dict) -> dict:
    """A summary without its ``sim`` block (the simulator's own run time and counts)."""
    return {k: v for k, v in s.items() if k != "sim"}


def _k_blocks(sram_kib: float, cols: int, k: int, rows: int, stationary: bool) -> int:
    """Reduction blocks of ``k``: half the weight region (half the SRAM) per block, one
    ``cols``-wide fold of 1-byte weights per reduction row, whole ``rows`` folds when the
    reduction is mapped on the array (ws / is)."""
    per_block = int(sram_kib * 1024) // 2 // 2
    k_len = per_block // cols
    if stationary:
        k_len = k_len // rows * rows
    return math.ceil(k / k_len)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_compute_cycles_are_scalesims_and_weights_fetched_per_the_loop_nest(dataflow):
    m, n, k = 16, 16, 512  # one 8-wide fold of weights: 4 KiB, the buffer's blocks 1 KiB
    s = simulate(tiny_arch(dataflow=dataflow, sram_kib=4), gemm_graph(m, n, k)).summary
    assert _k_blocks(4, 8, k, 8, dataflow != "os") == 4
    assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles(dataflow, 8, 8, m, n, k)
    weight_reads = _traffic(s, "dram", "read", "weight")
    # os: bands of one row fold (8 rows), each streams the whole weight matrix again;
    # ws / is: every reduction block fetched once and used by every band
    bands = math.ceil(m / 8) if dataflow == "os" else 1
    assert weight_reads == k * n * bands
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]


def test_carried_partial_sums_cost_what_the_unsplit_reduction_costs():
    """ws, the slice's partial sums fit half the buffer: carried between blocks; the SRAM's
    partial-sum traffic equals the unsplit closed form (one round trip per reduction fold)."""
    m, n, k = 16, 16, 512
    s = simulate(tiny_arch(dataflow="ws", sram_kib=4), gemm_graph(m, n, k)).summary
    expected = systolic_psum_traffic("ws", 8, 8, m, n, k) * ACC
    assert _traffic(s, "sram", "read", "psum") == expected
    assert _traffic(s, "sram", "write", "psum") == expected
    assert _traffic(s, "dram", "write", "psum") == 0


def test_partial_sums_that_do_not_fit_are_spilled_to_dram_and_read_back():
    """ws, 64 rows x 8 columns x 4 B = 2 KiB of partial sums, more than half the 2 KiB
    activation region: after every block but the last they go to DRAM and come back (cheaper
    here than fetching the weights again per band of rows: the tiles are 4 rows high)."""
    m, n, k = 64, 16, 512
    blocks = _k_blocks(4, 8, k, 8, True)
    s = simulate(tiny_arch(dataflow="ws", sram_kib=4), gemm_graph(m, n, k)).summary
    spilled = (blocks - 1) * m * n * ACC
    assert _traffic(s, "dram", "write", "psum") == spilled
    assert _traffic(s, "dram", "read", "psum") == spilled
    # inside each block the folds still accumulate through the SRAM, and the spilled sums
    # pass through it both ways (staged on their way out and on their way back in)
    inside = blocks * systolic_psum_traffic("ws", 8, 8, m, n, k // blocks) * ACC
    assert _traffic(s, "sram", "read", "psum") == inside + 2 * spilled
    assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles("ws", 8, 8, m, n, k)


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_partial_sums_carried_per_band_when_refetching_weights_costs_less(tmp_path, dataflow):
    """SCALE-Sim's structure, an 8x8 array, a 256x16x512 GEMM: the 2 kB filter SRAM splits the
    reduction into 4 blocks and the 8 kB ofmap SRAM carries the partial sums of 128 rows, not
    of the slice's 256. Spilling them would move ``2 * 3 * 256 * 16 * 4`` = 98,304 bytes;
    fetching the weights again for each band of rows whose sums it carries moves
    ``(bands - 1) * k * n``, fewer: the mapper takes that order (os's), and nothing spills."""
    import arch
    from validation import scalesim_runner as base
    from workloads.simple import gemm_graph as plain_gemm

    m, n, k = 256, 16, 512
    cfg = tmp_path / "c.cfg"
    # a 512 kB ifmap SRAM keeps A staged across the column blocks (so band by band,
    # ``rows_outer``, gains nothing: test_a_band_keeps_its_a_across_the_column_blocks)
    cfg.write_text(base.config_text(base.Case("t", 8, 8, dataflow, m, n, k), (512, 2, 8), 4))
    res = simulate(arch.load(f"scalesim:{cfg}"), plain_gemm(m, n, k))
    s = res.summary
    bands = len({(t.row0, t.row1) for t in res.plan.tiles})
    assert 1 < bands <= m // 64
    assert _traffic(s, "dram_filter", "read", "weight") == bands * k * n
    assert (bands - 1) * k * n < 2 * (4 - 1) * m * n * ACC
    for mem in ("dram_ifmap", "dram_ofmap"):
        assert _traffic(s, mem, "write", "psum") == _traffic(s, mem, "read", "psum") == 0
    assert _traffic(s, "dram_ofmap", "write", "output") == m * n
    assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles(dataflow, 8, 8, m, n, k)
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]


def test_spilled_partial_sums_come_back_from_the_dram_they_went_to(tmp_path):
    """Three SRAMs, each with its own DRAM interface (SCALE-Sim's structure): partial sums
    spilled through the ofmap SRAM to its interface are read back from that interface, not
    from the ifmap one (they used to be, which hid their reads from the ofmap link)."""
    import arch
    from validation import scalesim_runner as base
    from workloads.simple import gemm_graph as plain_gemm

    # 2 kB filter SRAM: 4 reduction blocks of 128 (one fold's whole reduction, 4 kB, does
    # not fit even single-buffered); 1 kB ofmap: 16 rows carried, so fetching the weights
    # again per band would move 15 * k * n = 122,880 bytes, spilling 98,304; A (128 kB)
    # stays staged in the 512 kB ifmap SRAM
    m, n, k = 256, 16, 512
    cfg = tmp_path / "c.cfg"
    cfg.write_text(base.config_text(base.Case("t", 8, 8, "ws", m, n, k), (512, 2, 1), 4))
    res = simulate(arch.load(f"scalesim:{cfg}"), plain_gemm(m, n, k))
    s = res.summary
    assert res.plan.ops[0].loop_nest.order == "spill"
    spilled = (4 - 1) * m * n * ACC
    assert _traffic(s, "dram_ofmap", "write", "psum") == spilled
    assert _traffic(s, "dram_ofmap", "read", "psum") == spilled
    assert _traffic(s, "dram_ifmap", "read", "psum") == 0


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_a_fold_that_fits_the_whole_buffer_keeps_its_reduction_when_that_moves_fewer_bytes(
        tmp_path, dataflow):
    """8x8 array, 64x16x512 GEMM, 4 kB filter SRAM: one fold's whole reduction (512 x 8 B)
    fills it, twice the half a double-buffered block may take. ``fewest_bytes`` keeps it
    one single-buffered block per fold and moves only the unique bytes;
    ``double_buffered`` splits it in two and moves more (weights per band or spilled sums)."""
    import arch
    from validation import scalesim_runner as base
    from workloads.simple import gemm_graph as plain_gemm

    m, n, k = 64, 16, 512
    cfg = tmp_path / "c.cfg"
    cfg.write_text(base.config_text(base.Case("t", 8, 8, dataflow, m, n, k), (64, 4, 1), 4))
    runs = {}
    for policy in ("fewest_bytes", "double_buffered"):
        a = arch.load(f"scalesim:{cfg}", [f"mapping.reduction_split={policy}"])
        res = simulate(a, plain_gemm(m, n, k))
        runs[policy] = res
        s = res.summary
        assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles(dataflow, 8, 8, m, n, k)
        for region, peak in s["sram_peak_bytes"].items():
            assert peak <= s["sram_capacity_bytes"][region]
    whole, split = (runs[p] for p in ("fewest_bytes", "double_buffered"))
    assert whole.plan.ops[0].loop_nest.order == "whole"
    assert whole.summary["dram_bytes"] == m * k + k * n + m * n
    assert split.plan.ops[0].loop_nest.order in ("spill", "bands")
    assert split.summary["dram_bytes"] > whole.summary["dram_bytes"]


def test_a_smaller_buffer_is_slower_not_an_error():
    """Traffic grows as the buffer shrinks and no run beats its DRAM bound. Cycles need not be
    monotonic in between: tile granularity follows the buffer (docs/engine.md, simplifications:
    at 64 KiB this GEMM's A tiles are 15 rows, at 4 KiB 4 rows, which overlap better under
    ``streaming: tiles``)."""
    g = gemm_graph(32, 32, 1024)
    runs = [simulate(tiny_arch(dataflow="ws", sram_kib=kib, dram_bytes_per_cycle=4.0),
                     g).summary for kib in (64, 4, 2)]
    traffic = [s["dram_bytes"] for s in runs]
    assert traffic[0] < traffic[1] < traffic[2]
    assert runs[2]["cycles"] > max(runs[0]["cycles"], runs[1]["cycles"])
    assert all(s["cycles"] >= s["dram_bytes"] / 4.0 for s in runs)


def test_a_buffer_smaller_than_one_reduction_row_is_a_clean_error():
    with pytest.raises(InputError, match="enlarge"):
        simulate(tiny_arch(sram_kib=0.02), gemm_graph(8, 64, 512))


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 70), n=st.integers(1, 40), k=st.integers(100, 700),
       kib=st.sampled_from([2, 3, 4, 8]), dataflow=st.sampled_from(["os", "ws", "is"]),
       chunks=st.integers(1, 2), depth=st.integers(1, 3))
# two prefetch slots returned in one step while the loader waits (accelsim.clock.Slots)
@example(m=8, n=9, k=129, kib=2, dataflow="ws", chunks=1, depth=2)
def test_split_gemms_keep_every_invariant(m, n, k, kib, dataflow, chunks, depth):
    s = simulate(tiny_arch(dataflow=dataflow, sram_kib=kib, chunks=chunks,
                           prefetch_depth=depth, dram_bytes_per_cycle=8.0),
                 gemm_graph(m, n, k)).summary
    assert s["macs"] == m * n * k
    if chunks == 1:
        assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles(dataflow, 8, 8, m, n, k)
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]
    for c in s["components"].values():
        assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]
    # never faster than the DRAM can deliver what was moved
    assert s["cycles"] >= s["dram_bytes"] / 8.0


@pytest.mark.parametrize(("m", "fetches"), [(16, 1), (64, 4)])
def test_a_streamed_operand_is_kept_across_column_blocks_when_it_fits(m, fetches):
    """gemm m x 64 x 64 with a 2 KiB weight region: four 16-column weight blocks. A (m x 64
    bytes, from DRAM) stays staged for all four when it fits half the 2 KiB activation region
    (m = 16: 1 KiB), else it is fetched again for every block (m = 64: 4 KiB)."""
    n, k = 64, 64
    s = simulate(tiny_arch(sram_kib=4), gemm_graph(m, n, k)).summary
    assert _traffic(s, "dram", "read", "input") == m * k * fetches
    assert _traffic(s, "dram", "read", "weight") == k * n
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]


def test_a_split_weight_matmul_over_several_images_runs_in_order():
    """Two images (groups) of a GEMM whose weights must be split: the DMA must fetch the first
    image's reduction blocks before the second's (block ordinals run on over the groups), or a
    two-block weight buffer would hold the second image's first block while the first image
    waits for its next one."""
    from workloads.ir import Op, OpGraph, OpKind, Precision, matmul_cost

    m, n, k = 16, 16, 512
    g = OpGraph({"model": "batched", "precision": Precision().__dict__})
    g.add_op(Op(name="gemm", kind=OpKind.MATMUL, fn="matmul", input_shapes=[[2, m, k], [k, n]],
                output_shape=[2, m, n], scope="gemm", layer=None, weight_inputs=[1], m=m, n=n,
                k=k, batch=2, cost=matmul_cost(m, n, k, 2, 1.0, Precision(), [1])))
    s = simulate(tiny_arch(dataflow="ws", sram_kib=4), g).summary
    assert s["macs"] == 2 * 16 * 16 * 512
    assert s["ops"][0]["compute_cycles"] == 2 * systolic_compute_cycles("ws", 8, 8, 16, 16, 512)


def test_every_matmul_reports_its_loop_nest_after_every_mapper_pass():
    """DeiT-B on ``vitality`` takes several residency passes, in which ops whose inputs did
    not change reuse their tiles; their loop nest must come along (it used to be lost)."""
    import arch
    from accelsim.mapper import map_graph
    from workloads import resolve

    plan = map_graph(arch.load("vitality"), resolve("deit_base", attention="taylor"))
    matmuls = [p for p in plan.ops if p.tiles and plan.tiles[p.tiles[0]].macs
               and p.kind in ("matmul", "sparse_matmul", "matvec", "lowbit_matmul")]
    assert len(matmuls) > 12
    assert all(p.loop_nest is not None for p in matmuls)


def test_a_streamed_input_that_does_not_fit_goes_band_by_band_when_that_moves_fewer_bytes(
        tmp_path):
    """os 16x16, 512x256x256: A (128 kB) does not fit half the 64 kB ifmap SRAM, so column
    block by column block (8 blocks of 32: the 16 kB filter SRAM holds 8 kB of them at a time)
    it would be fetched 8 times, 917,504 bytes more than once. Band by band (8 bands of 64
    rows, 16 kB of A each, kept across the blocks) the weights are fetched 8 times instead,
    458,752 more: the mapper goes band by band, and its traffic is that closed form."""
    import arch
    from validation import scalesim_runner as base
    from validation.tiling_traffic import loop_nest_traffic
    from workloads.simple import gemm_graph as plain_gemm

    m, n, k = 512, 256, 256
    cfg = tmp_path / "c.cfg"
    cfg.write_text(base.config_text(base.Case("t", 16, 16, "os", m, n, k), (64, 16, 64), 8))
    res = simulate(arch.load(f"scalesim:{cfg}"), plain_gemm(m, n, k))
    nest = res.plan.ops[0].loop_nest
    assert (nest.order, nest.input_kept, nest.col_blocks, nest.row_bands) == (
        "rows_outer", True, 8, 8)
    s = res.summary
    assert _traffic(s, "dram_ifmap", "read", "input") == m * k
    assert _traffic(s, "dram_filter", "read", "weight") == k * n * 8
    want = loop_nest_traffic(m, n, k, nest, ACC)
    assert _traffic(s, "dram_ofmap", "write", "output") == want["output_write"] == m * n
    assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles("os", 16, 16, m, n, k)
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]


@pytest.mark.parametrize("ifmap_kib", [36, 40, 44, 48, 56, 64])
def test_going_band_by_band_is_never_undone_by_the_capacity_rule(tmp_path, monkeypatch,
                                                                 ifmap_kib):
    """The band-by-band order is offered only when the band kept plus the bands staged fit
    the input buffer; before, the mapper's capacity rule could halve the bands in a later pass,
    which then rejected the order and left the op column block by column block with halved
    tiles. Either the order holds with its bands, or the plan is what it would be without it."""
    import arch
    from accelsim import tiling
    from validation import scalesim_runner as base
    from workloads.simple import gemm_graph as plain_gemm

    m, n, k = 512, 256, 256
    cfg = tmp_path / "c.cfg"
    cfg.write_text(base.config_text(base.Case("t", 16, 16, "os", m, n, k),
                                    (ifmap_kib, 16, 64), 8))
    a = arch.load(f"scalesim:{cfg}")
    res = simulate(a, plain_gemm(m, n, k))
    nest = res.plan.ops[0].loop_nest
    monkeypatch.setattr(tiling.Tiler, "_rows_outer", lambda *args: False)
    without = simulate(a, plain_gemm(m, n, k))
    if nest.order == "rows_outer":
        assert res.summary["dram_bytes"] < without.summary["dram_bytes"]
        assert _traffic(res.summary, "dram_ifmap", "read", "input") == m * k
    else:
        assert _simulated(res.summary) == _simulated(without.summary)


def test_an_os_split_that_costs_no_bytes_stays_double_buffered_under_fewest_bytes(tmp_path):
    """os, one row band: splitting the reduction moves no extra byte (the sums stay in the
    PEs, the weights are fetched once), so ``fewest_bytes`` keeps the double-buffered split
    (it used to go single-buffered on a small ofmap SRAM and expose the fetch: 39% slower)."""
    import arch
    from validation import scalesim_runner as base
    from workloads.simple import gemm_graph as plain_gemm

    m, n, k = 32, 128, 100
    cfg = tmp_path / "c.cfg"
    cfg.write_text(base.config_text(base.Case("t", 32, 32, "os", m, n, k), (64, 4, 1), 4))
    runs = [simulate(arch.load(f"scalesim:{cfg}", [f"mapping.reduction_split={p}"]),
                     plain_gemm(m, n, k)) for p in ("double_buffered", "fewest_bytes")]
    assert runs[0].plan.ops[0].loop_nest.order == "bands"
    assert runs[0].plan.ops[0].loop_nest.row_bands == 1
    assert _simulated(runs[1].summary) == _simulated(runs[0].summary)


def _policy_runs(tmp_path, dataflow: str, m: int, n: int, k: int, bandwidth: int,
                 array: tuple[int, int] = (8, 8), srams: tuple[int, int, int] = (64, 4, 1)) -> dict:
    """One GEMM on a SCALE-Sim array (8x8, 64/4/1 kB SRAMs) under each reduction split."""
    import arch
    from validation import scalesim_runner as base
    from workloads.simple import gemm_graph as plain_gemm

    cfg = tmp_path / f"{dataflow}_{bandwidth}_{array}_{srams}.cfg"
    cfg.write_text(base.config_text(base.Case("t", *array, dataflow, m, n, k), srams,
                                    bandwidth))
    return {p: simulate(arch.load(f"scalesim:{cfg}", [f"mapping.reduction_split={p}"]),
                        plain_gemm(m, n, k), keep_intervals=False)
            for p in ("auto", "double_buffered", "fewest_bytes")}


@pytest.mark.parametrize("dataflow,gemm,bandwidth,shape,faster", [
    # bandwidth-bound: weights per band cost 2.4x the bytes
    ("os", (64, 16, 512), 1, ((8, 8), (64, 4, 1)), "fewest_bytes"),
    # compute-bound: the exposed fetch costs more
    ("os", (64, 16, 512), 64, ((8, 8), (64, 4, 1)), "double_buffered"),
    # spilled 4-byte sums against the unique bytes
    ("ws", (243, 126, 46), 16, ((16, 32), (64, 2, 1)), "fewest_bytes"),
])
def test_auto_takes_the_faster_of_split_and_whole(tmp_path, dataflow, gemm, bandwidth, shape,
                                                  faster):
    """``reduction_split: auto`` estimates both (docs/engine.md, Reduction split); on these
    cases, where the two differ by more than 7%, it takes the one the engine finds faster,
    and its plan records that it read the bandwidths."""
    runs = _policy_runs(tmp_path, dataflow, *gemm, bandwidth, *shape)
    cycles = {p: r.summary["cycles"] for p, r in runs.items()}
    slower = "double_buffered" if faster == "fewest_bytes" else "fewest_bytes"
    assert cycles[slower] > 1.07 * cycles[faster]
    assert _simulated(runs["auto"].summary) == _simulated(runs[faster].summary)
    assert runs["auto"].plan.rates is not None and runs[faster].plan.rates is None


def test_a_plan_chosen_for_other_bandwidths_is_made_again(tmp_path):
    """A plan whose split was chosen by estimated time holds only for its bandwidths: given
    to ``simulate`` for an architecture with the same mapping key but another bandwidth, it
    is mapped again (the result equals a fresh run, not the reused plan's)."""
    from accelsim.api import plan_for
    from accelsim.mapper import mapping_key
    from workloads.simple import gemm_graph as plain_gemm

    slow, fast = (_policy_runs(tmp_path, "os", 64, 16, 512, bw)["auto"] for bw in (1, 64))
    assert mapping_key(slow.arch) == mapping_key(fast.arch)
    assert slow.plan.ops[0].loop_nest.order != fast.plan.ops[0].loop_nest.order
    g = plain_gemm(64, 16, 512)
    reused = simulate(fast.arch, g, keep_intervals=False, plan=plan_for(slow.arch, g))
    assert _simulated(reused.summary) == _simulated(fast.summary)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_a_band_keeps_its_a_across_the_column_blocks(tmp_path, dataflow):
    """8x8 array, 256x16x512 GEMM, SRAMs 64/2/8 kB: A (128 kB) does not fit the ifmap SRAM,
    the 2 kB filter SRAM splits the reduction, and the 16 columns are 2 column blocks.
    Column block by column block A would be fetched twice (2 x 131,072 bytes); band by band
    (``rows_outer``) each band's A stays staged across both and the weights (8 kB) are
    fetched once per band instead (os: per band of one row fold, as it does anyway), fewer
    bytes: A read once, weights ``bands`` times, the
    partial sums of a band carried (none to DRAM), traffic equal to the loop nest's closed
    form, compute cycles untouched, no buffer over its capacity."""
    import arch
    from validation import scalesim_runner as base
    from validation.tiling_traffic import loop_nest_traffic
    from workloads.simple import gemm_graph as plain_gemm

    m, n, k = 256, 16, 512
    cfg = tmp_path / "c.cfg"
    cfg.write_text(base.config_text(base.Case("t", 8, 8, dataflow, m, n, k), (64, 2, 8), 4))
    res = simulate(arch.load(f"scalesim:{cfg}"), plain_gemm(m, n, k))
    s, nest = res.summary, res.plan.ops[0].loop_nest
    assert (nest.order, nest.col_blocks, nest.input_kept) == ("rows_outer", 2, True)
    assert nest.k_blocks > 1 and 1 < nest.row_bands < m
    assert _traffic(s, "dram_ifmap", "read", "input") == m * k
    assert _traffic(s, "dram_filter", "read", "weight") == nest.row_bands * k * n
    if dataflow == "os":  # bands of one row fold, which os fetches the weights per anyway
        assert nest.row_bands == m // 8
    else:  # the weights again per band cost less than the second fetch of A
        assert (nest.row_bands - 1) * k * n < m * k
    for mem in ("dram_ifmap", "dram_ofmap"):
        assert _traffic(s, mem, "write", "psum") == _traffic(s, mem, "read", "psum") == 0
    closed = loop_nest_traffic(m, n, k, nest, ACC)
    assert closed["input_read"] + closed["weight_read"] + closed["output_write"] == s[
        "dram_bytes"]
    assert s["ops"][0]["compute_cycles"] == systolic_compute_cycles(dataflow, 8, 8, m, n, k)
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]


def test_a_sweep_worker_keeps_rate_dependent_plans_per_bandwidth(tmp_path, monkeypatch):
    """The sweep worker's plan cache: a plan whose split was chosen by estimated time is
    reused for the same clock and bandwidths only; alternating between two bandwidths maps
    twice in all, not once per point, and every point gets its own bandwidth's plan."""
    import accelsim.api
    from accelsim.sweep import runner
    from workloads.simple import gemm_graph as plain_gemm

    runs = {bw: _policy_runs(tmp_path, "os", 64, 16, 512, bw)["auto"] for bw in (1, 64)}
    made = []
    real = accelsim.api.plan_for

    def counting(a, g):
        made.append(a)
        return real(a, g)

    monkeypatch.setattr(accelsim.api, "plan_for", counting)
    monkeypatch.setattr(runner, "_PLANS", {})
    g = plain_gemm(64, 16, 512)
    task = runner.Task("p", "b", (), "gemm", "")
    for bw in (1, 64, 1, 64):
        plan = runner._plan(task, runs[bw].arch, g)
        assert plan.ops[0].loop_nest == runs[bw].plan.ops[0].loop_nest
    assert len(made) == 2


def test_an_input_kept_in_the_far_level_is_estimated_over_its_route():
    """``_rate_path`` from the far level starts at that SRAM (an L2 holding outputs), not at
    the DRAM; from the DRAM it starts at the DRAM."""
    import arch
    from accelsim.mapper import Mapper
    from workloads.simple import gemm_graph as plain_gemm

    a = arch.load("examples/arch/two_level.yaml")
    m = Mapper(a, plain_gemm(64, 64, 64))
    m.map()
    unit = next(u for u in a.chunks.units if u in m.regions.far)
    far = m.regions.far[unit][0]
    assert m._rate_path(unit, "input", "far", 1)[0][0] == far
    assert m._rate_path(unit, "input", "dram", 1)[0][0] == next(
        n for n, c in a.memories.items() if c.type == "dram")
