"""Buffer levels: chunk-local buffers, and a far output level (an L2) keeping spills.

Chunk-local buffers (``local: true`` on an SRAM): one copy per chunk, below the NoC. Checked
against closed forms and conservation: a multicast lands in every destination chunk's copy,
each chunk's weights in its own copy, the copies' ports work in parallel (the same work as one
shared buffer, spread over them), capacity holds per copy, leakage and area count every copy;
and the structural rules are one-line errors naming the field and its line.

A far output level: an SRAM holding ``output`` above the output SRAM keeps what does not fit
there. Checked by conservation against a design whose one buffer holds everything (the same
DRAM traffic when the L2 is big enough), against the design without it (no more DRAM traffic,
ever), and by the bytes written into it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.api import simulate
from accelsim.cli import main
from accelsim.sweep import area_breakdown_mm2
from arch.schema import Architecture

from engine_helpers import tiny_arch
from test_engine import attention_like_graph, gemm_graph

L1_LEAK_MW = 0.75


def local_arch(chunks: int = 2, *, kib: float = 64, l1_bytes_per_cycle: float = 1e6,
               holds: tuple[str, ...] = ("input", "weight", "psum"), local: bool = True,
               dataflow: str = "ws", depth: int = 2, multicast: bool = True) -> Architecture:
    """``tiny_arch`` with an L1 between the NoC and each chunk's units; the shared SRAM keeps
    resident outputs and stages what the L1 does not."""
    a = tiny_arch(chunks=chunks, dataflow=dataflow, prefetch_depth=depth).model_dump()
    a["memories"]["noc"]["multicast"] = multicast
    a["memories"]["sram"]["holds"] = ["output"] + [r for r in ("input", "weight")
                                                   if r not in holds]
    a["memories"]["l1"] = {
        "type": "sram", "local": local, "capacity_kib": kib,
        "bandwidth_bytes_per_cycle": l1_bytes_per_cycle, "holds": list(holds),
        "read_energy_pj_per_byte": 0.2, "write_energy_pj_per_byte": 0.3,
        "leakage_mw": L1_LEAK_MW}
    a["connections"] = [{"src": "dram", "dst": "sram"}, {"src": "sram", "dst": "noc"},
                        {"src": "noc", "dst": "l1"}, {"src": "l1", "dst": "chunk.pe"},
                        {"src": "l1", "dst": "chunk.vec"}]
    return Architecture.model_validate(a)


def test_every_chunk_has_its_own_copy():
    s = simulate(local_arch(3), gemm_graph(64, 96, 40)).summary
    assert {f"l1.c{i}" for i in range(3)} <= set(s["components"])
    caps = s["sram_capacity_bytes"]
    for c in range(3):  # split into weight and staging halves, per chunk
        assert caps[f"chunk{c}.l1.weight"] + caps[f"chunk{c}.l1.act"] == 64 * 1024
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= caps[region]
    # leakage: every copy for the whole run (1 GHz: mW x cycles = pJ)
    assert s["energy_detail_pj"]["l1"]["leakage"] == pytest.approx(3 * L1_LEAK_MW * s["cycles"])
    one, three = (area_breakdown_mm2(local_arch(n))["sram"] for n in (1, 3))
    assert three - one == pytest.approx(2 * (one - area_breakdown_mm2(
        local_arch(1, kib=1e-3))["sram"]), rel=1e-3)


def test_a_multicast_is_written_into_every_destination_copy():
    """A GEMM split by output columns over the chunks: each reads all of A, sent once from
    DRAM and multicast; every chunk's L1 gets its own copy, a shared L1 one."""
    m, k, n, chunks = 64, 40, 96, 3
    g = gemm_graph(m, n, k)
    loc = simulate(local_arch(chunks), g).summary["memory_traffic"]
    shared = simulate(local_arch(chunks, local=False), g).summary["memory_traffic"]
    assert loc["dram"]["read_bytes"]["input"] == shared["dram"]["read_bytes"]["input"] == m * k
    assert loc["l1"]["write_bytes"]["input"] == chunks * m * k
    assert shared["l1"]["write_bytes"]["input"] == m * k
    # the weights: each chunk's columns, fetched once into its own copy
    assert loc["l1"]["write_bytes"]["weight"] == loc["dram"]["read_bytes"]["weight"] == k * n


def test_the_copies_work_in_parallel():
    """L1-bound (1 B/cycle, everything else unbounded): without multicast (which would read
    A once from a shared L1) the same bytes cross the L1 either way, spread over per-chunk
    ports or queued on one; so the busy cycles add up to the same total and the local design
    is about ``chunks`` times faster."""
    g = gemm_graph(128, 128, 64)
    chunks = 4
    loc = simulate(local_arch(chunks, l1_bytes_per_cycle=1.0, multicast=False), g).summary
    one = simulate(local_arch(chunks, l1_bytes_per_cycle=1.0, local=False, multicast=False),
                   g).summary
    busy = [loc["components"][f"l1.c{c}"]["busy_cycles"] for c in range(chunks)]
    assert sum(busy) == pytest.approx(one["components"]["l1"]["busy_cycles"], rel=0.02)
    assert max(busy) <= 1.05 * min(busy)  # the columns are spread evenly
    assert loc["cycles"] >= max(busy)
    assert one["cycles"] / loc["cycles"] == pytest.approx(chunks, rel=0.15)


@settings(max_examples=20, deadline=None)
@given(kib=st.sampled_from([4, 8, 16, 64]), chunks=st.integers(1, 3),
       dataflow=st.sampled_from(["os", "ws", "is"]), depth=st.integers(1, 3),
       heads=st.integers(1, 3),
       holds=st.sampled_from([("input", "weight", "psum"), ("weight",), ("input",),
                              ("psum",), ("weight", "psum")]))
def test_occupancy_never_exceeds_any_copy(kib, chunks, dataflow, depth, heads, holds):
    a = local_arch(chunks, kib=kib, holds=holds, dataflow=dataflow, depth=depth)
    g = attention_like_graph(heads=heads, n=48, d=16, layers=1)
    s = simulate(a, g).summary
    for region, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][region]
    assert s["macs"] == g.total_macs()
    traffic = s["memory_traffic"]
    if "weight" in holds:  # every weight byte fetched lands in an L1 copy, nothing else does
        assert traffic["l1"]["write_bytes"]["weight"] == traffic["dram"]["read_bytes"]["weight"]
    for c in s["components"].values():
        assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]


def _write(tmp_path, a: Architecture, edit) -> str:
    d = a.model_dump()
    edit(d)
    path = tmp_path / "l1.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return str(path)


def _line_of(path: str, key: str, after: str) -> int:
    lines = Path(path).read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == f"{after}:")
    return next(i for i, ln in enumerate(lines) if i > start and ln.strip().startswith(key)) + 1


def test_a_local_buffer_cannot_keep_resident_outputs(tmp_path, capsys):
    path = _write(tmp_path, local_arch(), lambda d: d["memories"]["l1"]["holds"].append("output"))
    assert main(["arch", "validate", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "memories.l1.holds" in err and "'output'" in err
    assert f":{_line_of(path, 'holds', 'l1')}:" in err


def test_nothing_shared_may_sit_below_a_local_buffer(tmp_path, capsys):
    def above_noc(d):
        d["connections"] = [{"src": "dram", "dst": "sram"}, {"src": "sram", "dst": "l1"},
                            {"src": "l1", "dst": "noc"}, {"src": "noc", "dst": "chunk.pe"},
                            {"src": "noc", "dst": "chunk.vec"}]
    path = _write(tmp_path, local_arch(), above_noc)
    assert main(["arch", "validate", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "memories.l1.local" in err and "'noc'" in err
    assert f":{_line_of(path, 'local', 'l1')}:" in err


def two_level(l1_kib: float, l2_kib: float | None, *, chunks: int = 1,
              dataflow: str = "os") -> Architecture:
    """``tiny_arch`` (its SRAM the L1) behind an L2 holding outputs, or, with ``l2_kib`` None,
    behind an L2 of 1 MiB that holds only inputs (crossed, never a level for outputs)."""
    a = tiny_arch(chunks=chunks, dataflow=dataflow, sram_kib=l1_kib).model_dump()
    a["memories"]["l2"] = {
        "type": "sram", "capacity_kib": l2_kib or 1024.0, "bandwidth_bytes_per_cycle": 64.0,
        "holds": ["output"] if l2_kib else ["input"], "read_energy_pj_per_byte": 1.0,
        "write_energy_pj_per_byte": 1.0, "leakage_mw": 1.0}
    a["connections"] = [{"src": "dram", "dst": "l2"}, {"src": "l2", "dst": "sram"}] + [
        c for c in a["connections"] if c["src"] != "dram"]
    return Architecture.model_validate(a)


def test_the_far_level_keeps_what_the_near_one_cannot():
    g = attention_like_graph(heads=2, n=64, d=16, layers=2)
    near_only = simulate(two_level(4, None), g)
    far = simulate(two_level(4, 4096), g)
    everything = simulate(tiny_arch(sram_kib=4096), g).summary
    plan = far.plan
    kept = [p for p in plan.ops if p.far]
    spilled = [p for p in plan.ops if not (p.resident or p.far)]
    assert kept and not any(p.far for p in near_only.plan.ops)
    s, t = far.summary, far.summary["memory_traffic"]
    # DRAM sees exactly what a buffer holding everything sees: graph inputs, weights, outputs
    assert s["dram_bytes"] == everything["dram_bytes"] < near_only.summary["dram_bytes"]
    # the L2 is written every kept output, and every output on its way to DRAM
    assert t["l2"]["write_bytes"]["output"] == sum(p.out_bytes for p in kept + spilled)
    assert t["dram"]["write_bytes"]["output"] == sum(p.out_bytes for p in spilled)
    assert s["sram_peak_bytes"]["l2"] <= s["sram_capacity_bytes"]["l2"]
    assert all(o["output_in_sram"] for o in s["ops"] if o["name"] in {p.name for p in kept})


@settings(max_examples=20, deadline=None)
@given(l1=st.sampled_from([2, 4, 8, 32]), l2=st.sampled_from([1, 4, 16, 256]),
       chunks=st.integers(1, 3), dataflow=st.sampled_from(["os", "ws", "is"]),
       heads=st.integers(1, 3))
def test_a_far_level_never_adds_dram_traffic(l1, l2, chunks, dataflow, heads):
    g = attention_like_graph(heads=heads, n=48, d=16, layers=2)
    with_l2 = simulate(two_level(l1, l2, chunks=chunks, dataflow=dataflow), g).summary
    without = simulate(two_level(l1, None, chunks=chunks, dataflow=dataflow), g).summary
    assert with_l2["dram_bytes"] <= without["dram_bytes"]
    for region, peak in with_l2["sram_peak_bytes"].items():
        assert peak <= with_l2["sram_capacity_bytes"][region]
    assert with_l2["macs"] == without["macs"] == g.total_macs()
