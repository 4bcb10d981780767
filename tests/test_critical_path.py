"""The critical path: segments tile [0, makespan]; on designs whose bottleneck is known by
construction, that resource carries most of the path; the terminal prints the bottleneck."""

from __future__ import annotations

import itertools
import json

import pytest

from accelsim.api import simulate
from accelsim.cli import main
from accelsim.critical_path import critical_path
from workloads import resolve
from workloads.ir import OpKind

from engine_helpers import GraphBuilder, tiny_arch
from test_engine import attention_like_graph


def check_path(result):
    segs = critical_path(result.arch, result.plan, result.record)
    assert segs[0].start == 0 and segs[-1].end == result.summary["cycles"]
    for a, b in itertools.pairwise(segs):
        assert a.end == b.start and a.start < a.end
    cp = result.summary["critical_path"]
    assert cp["cycles"] == result.summary["cycles"] == sum(s.end - s.start for s in segs)
    assert cp["segments"] == len(segs)
    assert sum(r["share"] for r in cp["by_resource"]) == pytest.approx(1.0, abs=1e-5) or len(
        cp["by_resource"]) == 12
    return cp


def top(cp):
    return cp["by_resource"][0]


def test_tiny_dram_bandwidth_makes_dram_the_bottleneck():
    res = simulate(tiny_arch(dram_bytes_per_cycle=0.25), resolve("gemm:64,64,64"))
    cp = check_path(res)
    dram = sum(r["share"] for r in cp["by_resource"] if r["resource"] == "dram")
    assert top(cp)["resource"] == "dram" and dram > 0.9, cp
    assert cp["bottleneck"].startswith(f"{top(cp)['share']:.0%} of the critical path is dram")


def test_tiny_array_with_huge_bandwidth_makes_compute_the_bottleneck():
    res = simulate(tiny_arch(rows=1, cols=1), resolve("gemm:64,64,64"))
    cp = check_path(res)
    assert top(cp)["resource"] == "pe" and top(cp)["activity"] == "compute"
    assert top(cp)["share"] > 0.99
    assert "compute on pe" in cp["bottleneck"]


def test_a_slow_vector_unit_is_the_bottleneck():
    b = GraphBuilder()
    x = b.linear("fc", None, 1, 64, 64, 64, "mlp")
    b.vector("act", OpKind.ACTIVATION, "gelu", [x], [[64, 64]], [64, 64], "mlp")
    arch = tiny_arch(lanes=1).model_copy(deep=True)
    arch.chunks.units["vec"].fns["gelu"].cycles_per_element = 8.0
    res = simulate(arch, b.graph)
    cp = check_path(res)
    assert (top(cp)["resource"], top(cp)["activity"]) == ("vec", "compute")
    assert top(cp)["share"] > 0.8 and top(cp)["longest_op"] == "act"


@pytest.mark.parametrize("kw", [
    {"chunks": 2, "dram_bytes_per_cycle": 8, "noc_bytes_per_cycle": 16, "dram_latency_cycles": 5},
    {"dataflow": "ws", "rows": 4, "cols": 4, "sram_bytes_per_cycle": 32, "sram_kib": 8},
    {"pipeline": False, "prefetch_depth": 1, "dram_bytes_per_cycle": 2},
])
def test_path_covers_the_makespan(kw):
    check_path(simulate(tiny_arch(**kw), attention_like_graph(heads=3, n=40, d=16, layers=2)))


def test_run_prints_the_bottleneck(tmp_path, capsys):
    arch_path = tmp_path / "a.json"
    arch_path.write_text(json.dumps(tiny_arch(dram_bytes_per_cycle=0.25).model_dump(mode="json")))
    assert main(["run", "--arch", str(arch_path), "--workload", "gemm:64,64,64"]) == 0
    out = capsys.readouterr().out
    assert "bottleneck: " in out and "of the critical path is dram transfers" in out
