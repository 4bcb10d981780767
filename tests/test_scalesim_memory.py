"""SCALE-Sim finite-bandwidth data (validation/data/scalesim_memory.csv) and our engine against it.

Part 1 checks that SCALE-Sim's recorded numbers obey the semantics documented in
docs/scalesim_memory.md (no SCALE-Sim needed: the CSV is read). Part 2 states the targets of the
memory-system rewrite (issue 11) for our engine; those are xfail until it lands.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.timing import systolic_compute_cycles
from validation import scalesim_memory_check as chk
from validation import scalesim_memory_runner as runner
from validation.tiling_traffic import ideal_traffic, unique_words

ROWS = chk.load_rows()
OPERANDS = (("ifmap", "ifmap_dram_reads", "unique_ifmap_words"),
            ("filter", "filter_dram_reads", "unique_filter_words"))


def _key(r: dict[str, Any]) -> tuple:
    return (r["array_rows"], r["array_cols"], r["dataflow"], r["M"], r["N"], r["K"])


def _folds_k(r: dict[str, Any]) -> int:
    return -(-r["K"] // r["array_rows"])


# --- Part 1: SCALE-Sim's own data against the documented semantics ---------------------------


def test_csv_covers_both_regimes_and_sets() -> None:
    assert 40 <= len(ROWS) <= 120
    assert {r["set"] for r in ROWS} == {"derivation", "holdout"}
    assert {r["dataflow"] for r in ROWS} == {"os", "ws", "is"}
    assert any(r["bandwidth_bound"] for r in ROWS) and any(not r["bandwidth_bound"] for r in ROWS)
    assert any(chk.scalesim_fit_reads(r) == (None, None) for r in ROWS)
    assert any(None not in chk.scalesim_fit_reads(r) for r in ROWS)


def test_csv_rows_are_the_runner_cases_in_order() -> None:
    """The recorded CSV is exactly what the runner would run (fixed grid + seeded holdout)."""
    got = [(r["set"], *_key(r), r["bandwidth_words"],
            (r["ifmap_sram_kb"], r["filter_sram_kb"], r["ofmap_sram_kb"])) for r in ROWS]
    want = [(mc.case.set, mc.case.rows, mc.case.cols, mc.case.dataflow, mc.case.m, mc.case.n,
             mc.case.k, mc.bandwidth, mc.sram_kb) for mc in runner.all_cases()]
    assert got == want


def test_total_minus_stalls_is_pure_compute() -> None:
    for r in ROWS:
        assert r["compute_cycles"] == systolic_compute_cycles(
            r["dataflow"], r["array_rows"], r["array_cols"], r["M"], r["N"], r["K"]), r


def test_incl_prefetch_spans_first_read_to_last_write() -> None:
    for r in ROWS:
        first = min(r["ifmap_dram_start"], r["filter_dram_start"])
        assert r["total_cycles_incl_prefetch"] == r["ofmap_dram_stop"] - first
        # The first fill happens at negative cycles, before compute starts at 0 ...
        assert first < 0
        # ... and the last output drain after "Total Cycles" ends.
        assert r["ofmap_dram_stop"] > r["total_cycles"]


def test_first_fill_is_serialised_before_compute() -> None:
    """The active half (or the whole matrix if smaller) is fetched in lines of W words at cycles
    -n .. -1: ``start = -ceil(min(active, fetch words) / W)``."""
    for r in ROWS:
        w = r["bandwidth_words"]
        for start, words, kb in (
            (r["ifmap_dram_start"], chk.scalesim_fetch_words(r)[0], r["ifmap_sram_kb"]),
            (r["filter_dram_start"], chk.scalesim_fetch_words(r)[1], r["filter_sram_kb"]),
        ):
            lines = min(-(-chk.scalesim_active_words(kb) // w), -(-words // w))
            assert start == -lines, r


def test_reads_of_an_operand_that_fits_are_its_padded_lines() -> None:
    checked = 0
    for r in ROWS:
        for (_name, col, _u), fit in zip(OPERANDS, chk.scalesim_fit_reads(r), strict=True):
            if fit is not None:
                assert r[col] == fit, (r, col)
                checked += 1
    assert checked >= 60


def test_reads_equal_unique_words_when_fitting_and_unpadded() -> None:
    for r in ROWS:
        for (_name, col, uniq), fit in zip(OPERANDS, chk.scalesim_fit_reads(r), strict=True):
            padded = chk.scalesim_fetch_words(r)[0 if col.startswith("ifmap") else 1]
            if fit is not None and padded == r[uniq] and padded % r["bandwidth_words"] == 0:
                assert r[col] == r[uniq]


def test_padding_is_counted_as_dram_reads() -> None:
    padded = [r for r in ROWS if chk.scalesim_fit_reads(r)[0] is not None
              and chk.scalesim_fetch_words(r)[0] > r["unique_ifmap_words"]]
    assert padded
    for r in padded:
        assert r["ifmap_dram_reads"] > r["unique_ifmap_words"]


def test_reads_grow_as_the_sram_shrinks() -> None:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in ROWS:
        groups[_key(r)].append(r)
    pairs = 0
    for rs in groups.values():
        for a in rs:
            for b in rs:
                for (name, col, _u) in OPERANDS:
                    if a[f"{name}_sram_kb"] < b[f"{name}_sram_kb"]:
                        assert a[col] >= b[col], (a, b, col)
                        pairs += 1
    assert pairs >= 20


def test_outputs_and_partial_sums_written_to_dram() -> None:
    """os writes each output once; ws / is write M*N per K fold (partial sums, never read back).
    Forced partial lines of the write buffer over-count by < 1 %."""
    for r in ROWS:
        expect = r["unique_ofmap_words"] * (1 if r["dataflow"] == "os" else _folds_k(r))
        assert expect <= r["ofmap_dram_writes"] <= expect * 1.01 + r["bandwidth_words"], r


def test_some_gemms_finish_faster_than_bytes_over_bandwidth() -> None:
    """"Total Cycles" excludes the first fill and the last drain, so it can be below the time
    even one interface needs for its own bytes."""
    fast = [r for r in ROWS if r["total_cycles"] * r["bandwidth_words"] < max(
        r["ifmap_dram_reads"], r["filter_dram_reads"], r["ofmap_dram_writes"])]
    assert len(fast) >= 5
    assert any(r["ofmap_dram_writes"] > r["total_cycles"] * r["bandwidth_words"] for r in fast)


def test_stalled_cases_track_the_busiest_interface() -> None:
    """With stalls, Total Cycles is close to the busiest interface's words / W."""
    for r in ROWS:
        if r["stall_cycles"] > 0.5 * r["total_cycles"]:
            busiest = max(r["ifmap_dram_reads"], r["filter_dram_reads"],
                          r["ofmap_dram_writes"]) / r["bandwidth_words"]
            assert 0.9 * busiest <= r["total_cycles"] <= 1.1 * busiest, r


def test_scalesim_whole_runs_respect_the_pipeline_bound() -> None:
    """SCALE-Sim's run from its first read to its last write is a real schedule, so no faster
    than the pipeline bound; its "Total Cycles", which leaves out the first fill and the last
    drain, is faster on some cases."""
    for r in ROWS:
        assert r["total_cycles_incl_prefetch"] >= r["bound_pipeline"], r
        assert r["bound_pipeline"] >= -(-max(r["unique_ifmap_words"], r["unique_filter_words"],
                                               r["unique_ofmap_words"]) // r["bandwidth_words"])
    assert any(r["total_cycles"] < r["bound_pipeline"] for r in ROWS)


@pytest.mark.parametrize("n,w", [(64, 2), (128, 4), (96, 8)])
def test_pipeline_bound_of_a_square_gemm_is_its_closed_form(n: int, w: int) -> None:
    """Square, equal interfaces: ``n^2 / w + w n^2 / (4 w^2)`` (output time plus a quarter of
    the time the write stream waits for enough rows and columns), to within the cycles the
    integer rows and columns cost."""
    got = chk.pipeline_bound(n, n, n, w, w, w)
    want = n * n / w + n * n / (4 * w)
    assert want <= got <= want + 2 * n / w + 2


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 32), n=st.integers(1, 32), k=st.integers(1, 300),
       w_a=st.integers(1, 16), w_b=st.integers(1, 16), w_o=st.integers(1, 16))
def test_array_bound_of_one_os_tile_is_its_closed_form(m, n, k, w_a, w_b, w_o) -> None:
    """One 32x32 os tile: nothing is final before all of A and B are in, then the outputs
    leave at ``w_o``: ``max(ceil(mk/w_a), ceil(nk/w_b)) + ceil(mn/w_o) - 1``."""
    got = chk.pipeline_bound(m, n, k, w_a, w_b, w_o, *chk.array_grain("os", 32, 32))
    assert got == max(-(-m * k // w_a), -(-n * k // w_b)) + -(-m * n // w_o) - 1


def test_scalesim_runs_respect_the_array_bound() -> None:
    """SCALE-Sim schedules whole-array tiles, so its run from first read to last write is no
    faster than the array bound of its dataflow, which is never below the pipeline bound and
    above it on most cases."""
    for r in ROWS:
        assert r["total_cycles_incl_prefetch"] >= r["bound_array"] >= r["bound_pipeline"], r
    assert sum(r["bound_array"] > r["bound_pipeline"] for r in ROWS) > len(ROWS) / 2


def test_pipeline_bound_grows_as_an_interface_slows() -> None:
    last = 0
    for w_a in (64, 16, 4, 1):
        b = chk.pipeline_bound(100, 70, 300, w_a, 8, 8)
        assert b >= last and b >= 100 * 300 / w_a
        last = b


def test_ideal_tiling_between_unique_and_scalesim() -> None:
    for r in ROWS:
        t = r["tiling"]
        u = unique_words(r["M"], r["N"], r["K"])
        assert t.ifmap_read >= u.ifmap_read and t.filter_read >= u.filter_read
        assert t.ofmap_write >= u.ofmap_write
        assert t.total <= r["scalesim_dram_bytes"], r


def test_ideal_tiling_is_unique_traffic_when_everything_fits() -> None:
    big = (1 << 30,) * 3
    for df in ("os", "ws", "is"):
        t = ideal_traffic(df, 32, 32, 100, 70, 300, big)
        assert t.total == unique_words(100, 70, 300).total


@pytest.mark.parametrize("df", ["ws", "is"])
def test_ideal_tiling_keeps_a_stationary_operand_that_fits_resident(df) -> None:
    """A stationary operand whose column folds with their whole reduction fit its SRAM is read
    once whatever the ofmap SRAM (before, the closed form re-read it per block of rows)."""
    s = (1 << 20, 1 << 20, 64)
    t = ideal_traffic(df, 32, 32, 128, 96, 200, s, psum_words=4)
    assert (t.ifmap_read, t.filter_read) == (128 * 200, 200 * 96)
    assert t.order.endswith("stationary resident")


@pytest.mark.parametrize("df", ["ws", "is"])
def test_ideal_tiling_keeps_whichever_operand_costs_less(df) -> None:
    """One 32-column fold of either operand fits its SRAM, neither whole: keeping B (3 column
    folds, A streamed 3 times: 76,800 + 19,200 words) beats keeping A (4 folds of M, B
    streamed 4 times: 25,600 + 76,800), whichever operand the array keeps stationary."""
    small = (32 * 200, 32 * 200, 64)
    t = ideal_traffic(df, 32, 32, 128, 96, 200, small, psum_words=4)
    assert (t.ifmap_read, t.filter_read, t.order) == (
        128 * 200 * 3, 200 * 96, "B kept: stationary resident")


def test_ideal_tiling_grows_as_buffers_shrink() -> None:
    for df in ("os", "ws", "is"):
        last = 0
        for kb in (1024, 64, 16, 4, 1):
            t = ideal_traffic(df, 32, 32, 256, 192, 256, (kb * 1024,) * 3).total
            assert t >= last
            last = t


# --- Part 2: our engine against the targets ---------------------------------------------------


@pytest.fixture(scope="module")
def replayed() -> list[dict[str, Any]]:
    return chk.replay(ROWS)


def _simulated(res: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in res if r["ours_error"] is None]


def test_compute_cycles_equal_scalesim(replayed: list[dict[str, Any]]) -> None:
    for r in _simulated(replayed):
        assert r["ours_compute_cycles"] == r["compute_cycles"]


def test_markdown_table_has_a_line_per_case(replayed: list[dict[str, Any]]) -> None:
    md = chk.markdown_table(replayed)
    assert md.count("\n") >= len(replayed)


def test_every_case_simulates(replayed: list[dict[str, Any]]) -> None:
    """A buffer too small is a slower design, never an error."""
    assert [r["ours_error"] for r in replayed if r["ours_error"]] == []


def test_dram_bytes_per_operand_equal_scalesim_where_unpadded(
        replayed: list[dict[str, Any]]) -> None:
    """os, both operands fit, no padding: each operand read once, each output written once.
    SCALE-Sim's output count pads too: its write buffer forces out partial lines (claim of
    ``test_outputs_and_partial_sums_written_to_dram``, under 1 % + one line); where it does,
    ours is the unpadded count, M*N."""
    n = 0
    for r in _simulated(replayed):
        fit = chk.scalesim_fit_reads(r)
        if r["dataflow"] != "os" or None in fit or fit != (r["unique_ifmap_words"],
                                                           r["unique_filter_words"]):
            continue
        a, b, o = chk.operand_bytes(r)
        assert a is not None  # the engine reports traffic per operand role
        assert (a, b) == (r["ifmap_dram_reads"], r["filter_dram_reads"])
        assert o == r["unique_ofmap_words"] <= r["ofmap_dram_writes"]
        n += 1
    assert n >= 5


def test_cycles_never_below_the_physical_bound(replayed: list[dict[str, Any]]) -> None:
    """Neither our own bytes at each interface's bandwidth nor the pipeline bound is beaten
    (streaming at fold granularity must not overlap more than the data allows)."""
    for r in _simulated(replayed):
        assert r["ours_cycles"] >= r["bound_physical"] >= r["bound_ours"], r


def test_cycles_never_below_the_array_bound(replayed: list[dict[str, Any]]) -> None:
    """Our tiles are whole-array tiles too: a result streamed out while its tile computes may
    not leave before the array has made it (``Tile.out_emerge``)."""
    for r in _simulated(replayed):
        assert r["ours_cycles"] >= r["bound_array"], r


def test_os_bandwidth_bound_cases_within_15pct_of_the_array_bound(
        replayed: list[dict[str, Any]]) -> None:
    """os: ours is within 15 % of the best order of whole output tiles. (ws / is are not yet:
    a weight block's row bands, ``test_cycles_within_15pct_of_the_bound_when_bandwidth_bound``.)"""
    rs = [r for r in _simulated(replayed) if r["bandwidth_bound"] and r["dataflow"] == "os"]
    assert len(rs) >= 3
    for r in rs:
        assert r["ours_vs_array"] <= chk.WITHIN, r


def test_streaming_brings_bandwidth_bound_cases_near_the_bound(
        replayed: list[dict[str, Any]]) -> None:
    """Measured progress towards the target below (docs/scalesim_memory.md): most
    bandwidth-bound cases are within 1.4x of their physical bound, none beyond 1.7x."""
    rs = [r["ours_vs_physical"] for r in _simulated(replayed) if r["bandwidth_bound"]]
    assert max(rs) <= 1.7
    assert sum(x <= 1.4 for x in rs) >= 0.6 * len(rs)


@pytest.mark.xfail(strict=False, reason="7 of 15 within 15 %: ws / is row bands wait for "
                   "their whole weight block, and the loader stages tiles by count, not by "
                   "buffer room, so no tile order lets A and the weights grow together (a "
                   "wavefront was tried: docs/engine.md); os whole-array tiles cannot reach it "
                   "(its array bound is up to 1.19x the physical one)")
def test_cycles_within_15pct_of_the_bound_when_bandwidth_bound(
        replayed: list[dict[str, Any]]) -> None:
    rs = [r for r in _simulated(replayed) if r["bandwidth_bound"]]
    assert rs
    for r in rs:
        assert r["ours_cycles"] <= chk.WITHIN * r["bound_physical"], r


def test_traffic_between_unique_and_scalesim_when_an_operand_does_not_fit(
        replayed: list[dict[str, Any]]) -> None:
    rs = [r for r in _simulated(replayed) if None in chk.scalesim_fit_reads(r)]
    assert rs
    for r in rs:
        assert r["unique_bytes"] <= r["ours_dram_bytes"] <= r["scalesim_dram_bytes"], r
        a, b, _o = chk.operand_bytes(r)
        if a is not None:
            assert r["unique_ifmap_words"] <= a <= r["ifmap_dram_reads"]
            assert r["unique_filter_words"] <= b <= r["filter_dram_reads"]


def test_traffic_grows_as_buffers_shrink(replayed: list[dict[str, Any]]) -> None:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in _simulated(replayed):
        groups[_key(r)].append(r)
    for rs in groups.values():
        for a in rs:
            for b in rs:
                smaller = all(a[f"{x}_sram_kb"] <= b[f"{x}_sram_kb"]
                              for x in ("ifmap", "filter", "ofmap"))
                if smaller:
                    assert a["ours_dram_bytes"] >= b["ours_dram_bytes"], (a, b)


def test_traffic_equals_the_closed_form_of_the_chosen_loop_nest(
        replayed: list[dict[str, Any]]) -> None:
    """Every role's DRAM bytes, as the engine moved them, equal the closed form of the loop
    nest the mapper reports for the case (``tiling_traffic.loop_nest_traffic``): re-fetches,
    kept inputs, weights per band and spilled partial sums included. Every order occurs."""
    orders = set()
    for r in _simulated(replayed):
        got = {k: v for k, v in r["ours_traffic"].items() if v}
        assert got == {k: v for k, v in r["nest_traffic"].items() if v}, r
        orders.add(r["loop_nest"].order)
    assert orders == {"whole", "carry", "spill", "bands", "rows_outer"}


def test_chosen_loop_nest_against_the_ideal_tiling(replayed: list[dict[str, Any]]) -> None:
    """Measured, a guard against regressions (docs/scalesim_memory.md, 2026-12-04: equal on
    58 of 79, above on 21 with median 1.60x and at most 3.73x, below on none): where the mapper
    is above the ideal tiling it is a halved buffer (double buffering: A re-fetched per
    column block, B per band, a reduction split that the whole buffer would hold)."""
    ratios = [r["ours_dram_bytes"] / r["tiling_bytes"] for r in _simulated(replayed)]
    assert sum(x == 1 for x in ratios) >= 0.6 * len(ratios)
    above = sorted(x for x in ratios if x > 1)
    assert above[len(above) // 2] <= 2 and max(ratios) <= 4.5
    assert min(ratios) >= 1  # the ideal keeps whichever operand costs less: never above us


def test_three_interfaces_each_carry_their_operand_and_bound_the_run(tmp_path) -> None:
    """A SCALE-Sim cfg gives one DRAM per SRAM: A's bytes cross dram_ifmap, B's dram_filter,
    C's dram_ofmap, each no faster than its own bandwidth, and the run-level DRAM bound of
    validation/bounds.py (the busiest interface) holds."""
    import arch
    from accelsim.api import simulate
    from validation import bounds
    from workloads.simple import gemm_graph

    r = next(x for x in ROWS if x["dataflow"] == "os" and x["bandwidth_bound"])
    cfg = tmp_path / "c.cfg"
    cfg.write_text(chk.cfg_text(r))
    a = arch.load(f"scalesim:{cfg}")
    g = gemm_graph(r["M"], r["N"], r["K"])
    s = simulate(a, g).summary
    t = s["memory_traffic"]
    assert set(t["dram_ifmap"]["read_bytes"]) == {"input"}
    assert set(t["dram_filter"]["read_bytes"]) == {"weight"}
    assert set(t["dram_ofmap"]["write_bytes"]) == {"output"}
    for name in ("dram_ifmap", "dram_filter", "dram_ofmap"):
        moved = sum(n for kind in t[name].values() for n in kind.values())
        assert s["cycles"] * r["bandwidth_words"] >= moved
    rb = bounds.run_bounds(a, s, bounds.op_bounds(a, g, s))
    assert rb["dram_bound"] <= s["cycles"]
    assert rb["dram_bound"] == -(-max(sum(n for kind in t[d].values() for n in kind.values())
                                      for d in ("dram_ifmap", "dram_filter", "dram_ofmap"))
                                  // r["bandwidth_words"])
