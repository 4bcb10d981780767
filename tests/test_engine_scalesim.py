"""The whole pipeline against SCALE-Sim v3: a SCALE-Sim cfg loaded as an architecture, a GEMM
workload, and the op's compute cycles equal SCALE-Sim's recorded "Compute cycles" exactly.

The CSVs were produced by validation/scalesim_runner.py (SCALE-Sim in its own venv)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import arch
from accelsim.api import simulate
from accelsim.engine import Engine
from accelsim.errors import DeadlockError
from accelsim.mapper import map_graph
from workloads.simple import gemm_graph, scalesim_topology_graph

from engine_helpers import tiny_arch

DATA = Path(__file__).parent.parent / "validation" / "data"
CFG = """[general]
run_name = t

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 1024
FilterSramSzkB: 1024
OfmapSramSzkB: 1024
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 64
Dataflow: {dataflow}
MemoryBanks: 1

[run_presets]
InterfaceBandwidth: CALC
"""


def rows() -> list[dict]:
    out = []
    for name in ("scalesim_cycles.csv", "scalesim_cycles_extra.csv"):
        with open(DATA / name) as fh:
            out += list(csv.DictReader(fh))
    # every 4th case keeps the test fast; test_timing checks every row on the closed form
    return out[::4]


@pytest.mark.parametrize("row", rows(), ids=lambda r: "{array_rows}x{array_cols}-{dataflow}-"
                         "{M}x{N}x{K}".format(**r))
def test_engine_compute_cycles_equal_scalesim(row, tmp_path):
    cfg = tmp_path / "a.cfg"
    cfg.write_text(CFG.format(rows=row["array_rows"], cols=row["array_cols"],
                              dataflow=row["dataflow"]))
    a = arch.load(f"scalesim:{cfg}")
    s = simulate(a, gemm_graph(int(row["M"]), int(row["N"]), int(row["K"]))).summary
    assert s["ops"][0]["compute_cycles"] == int(row["compute_cycles"])
    assert s["macs"] == int(row["M"]) * int(row["N"]) * int(row["K"])


def test_scalesim_topology_workload(tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text("Layer, M, N, K,\nqkv, 197, 576, 192,\nfc1, 197, 768, 192,\n")
    cfg = tmp_path / "a.cfg"
    cfg.write_text(CFG.format(rows=32, cols=32, dataflow="os"))
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
