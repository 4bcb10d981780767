"""The whole pipeline against SCALE-Sim v3: a SCALE-Sim cfg loaded as an architecture, a GEMM
workload, and the op's compute cycles equal SCALE-Sim's recorded "Compute cycles" exactly.

The CSVs were produced by validation/scalesim_runner.py (SCALE-Sim in its own venv)."""

from __future__ import annotations

from pathlib import Path

import pytest

import arch
from accelsim.api import simulate
from accelsim.engine import Engine
from accelsim.errors import DeadlockError
from accelsim.mapper import map_graph
from validation.scalesim_check import cfg_text, load_rows, replay
from workloads.simple import gemm_graph, scalesim_topology_graph

from engine_helpers import tiny_arch

#: every 4th recorded case keeps the test fast; test_timing checks every row on the closed form
CASES = load_rows()[::4]


@pytest.mark.parametrize("row", CASES, ids=lambda r: "{rows}x{cols}-{dataflow}-{M}x{N}x{K}"
                         .format(**r))
def test_engine_compute_cycles_equal_scalesim(row):
    """A SCALE-Sim cfg as the architecture, gemm:M,N,K as the workload, through the whole
    engine: the op's compute cycles are SCALE-Sim's, and every MAC is counted."""
    (ours,) = replay([row])
    assert ours["ours"] == row["scalesim_cycles"]
    assert ours["macs_ok"]


def test_scalesim_topology_workload(tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text("Layer, M, N, K,\nqkv, 197, 576, 192,\nfc1, 197, 768, 192,\n")
    cfg = tmp_path / "a.cfg"
    cfg.write_text(cfg_text(32, 32, "os"))
    s = simulate(arch.load(f"scalesim:{cfg}"), scalesim_topology_graph(topo)).summary
    assert [o["name"] for o in s["ops"]] == ["qkv", "fc1"]
    from accelsim.timing import systolic_compute_cycles

    assert [o["compute_cycles"] for o in s["ops"]] == [
        systolic_compute_cycles("os", 32, 32, 197, 576, 192),
        systolic_compute_cycles("os", 32, 32, 197, 768, 192)]


def test_deadlock_is_reported_with_the_blocked_units():
    a = tiny_arch()
    plan = map_graph(a, gemm_graph(16, 16, 16))
    first = plan.tiles[0]
    first.deps = [plan.tiles[-1].index]  # the first tile now waits for the last: a cycle
    with pytest.raises(DeadlockError, match=r"chunk0\.pe \(op 'gemm', waiting for producer"):
        Engine(a, plan).run()


def test_scalesim_conv_topology_is_its_im2col_gemm():
    """SCALE-Sim's conv topology rows become the GEMMs SCALE-Sim itself runs: M = output
    pixels (ceil((I - F + S) / S) per side), N = filters, K = window x channels."""
    g = scalesim_topology_graph(Path(__file__).parent.parent / "examples/scalesim/conv_layers.csv")
    assert [(o.name, o.m, o.n, o.k) for o in g] == [
        ("patch_embed", 14 * 14, 192, 16 * 16 * 3), ("conv3x3", 54 * 54, 64, 3 * 3 * 64)]


@pytest.mark.parametrize(("text", "needle"), [
    ("Layer, M, N, K,\n", "no layers"),
    ("qkv, 197, 576, 192,\n", "missing header"),
    ("Layer, M, N, K,\nqkv, 197, 576,\n", "want 'Layer, M, N, K'"),
    ("Layer, M, N, K,\nqkv, 197, x, 192,\n", "integers"),
])
def test_bad_topology_files_are_clean_errors(text, needle, tmp_path):
    from workloads import WorkloadError

    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=needle):
        scalesim_topology_graph(path)
