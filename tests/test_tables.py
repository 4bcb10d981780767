"""Per-op, per-layer and per-level tables (summary.json and ops.csv / layers.csv / memory.csv):
they add up to the totals, MAC utilization follows its formula, columns are documented."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from accelsim.api import simulate
from accelsim.components import STALL_CAUSES
from accelsim.report.tables import layers_csv, memory_csv, ops_csv
from workloads import resolve

from engine_helpers import tiny_arch
from test_engine import attention_like_graph

DOCS = Path(__file__).resolve().parent.parent / "docs" / "reports.md"


def _results():
    yield simulate(tiny_arch(chunks=2, dram_bytes_per_cycle=8, noc_bytes_per_cycle=16,
                             dram_latency_cycles=5),
                   attention_like_graph(heads=3, n=40, d=16, layers=2))
    # folded reductions: partial sums in the SRAM (no register file): psum traffic
    yield simulate(tiny_arch(dataflow="ws", rows=4, cols=4, sram_bytes_per_cycle=32),
                   attention_like_graph(heads=2, n=24, d=16))


@pytest.fixture(scope="module", params=[0, 1])
def result(request):
    return list(_results())[request.param]


@pytest.fixture(scope="module")
def vitality():
    from arch import load

    return simulate(load("vitality"), resolve("gemm:197,192,64"))


def _sum_traffic(rows):
    out: dict = {}
    for r in rows:
        for lv, acts in r["traffic"].items():
            for a, by_role in acts.items():
                for role, n in by_role.items():
                    slot = out.setdefault(lv, {}).setdefault(a, {})
                    slot[role] = slot.get(role, 0) + n
    return out


def _check_sums(s):
    # traffic per level, action and role: exactly memory_traffic, per op and per layer
    assert _sum_traffic(s["ops"]) == s["memory_traffic"]
    assert _sum_traffic(s["layers"]) == s["memory_traffic"]
    assert {lv: e["traffic"] for lv, e in s["memory_levels"].items()
            if e["traffic"]} == s["memory_traffic"]
    # energy: compute + levels = the op's energy; levels summed = dynamic energy of each
    # component; everything + leakage = energy_pj
    for o in s["ops"]:
        levels = sum(sum(by.values()) for by in o["energy_by_level_pj"].values())
        assert o["compute_energy_pj"] + levels == pytest.approx(o["energy_pj"], abs=1e-2)
    for lv, e in s["memory_levels"].items():
        dynamic = sum(v for a, v in s["energy_detail_pj"][lv].items() if a != "leakage")
        assert sum(e["energy_pj"].values()) == pytest.approx(dynamic, rel=1e-9, abs=1e-2)
        ops_lv = sum(sum(o["energy_by_level_pj"].get(lv, {}).values()) for o in s["ops"])
        assert ops_lv == pytest.approx(dynamic, rel=1e-9, abs=1e-2)
    leakage = sum(d.get("leakage", 0.0) for d in s["energy_detail_pj"].values())
    assert sum(lay["energy_pj"] for lay in s["layers"]) + leakage == pytest.approx(
        s["energy_pj"], rel=1e-9)
    # stalls per op add up to the units' stalls; cycles are the op's span
    for cause in STALL_CAUSES:
        assert sum(o["stalls"][cause] for o in s["ops"]) == sum(
            c["stalls"].get(cause, 0) for n, c in s["components"].items()
            if n.startswith("chunk"))
    for o in s["ops"]:
        assert o["cycles"] == o["end_cycle"] - o["start_cycle"]
    assert sum(lay["macs"] for lay in s["layers"]) == s["macs"]
    # bandwidth: peak within the physical bound, average below the peak
    for lv, e in s["memory_levels"].items():
        if "port_bytes" in e:
            assert e["avg_bandwidth_bytes_per_cycle"] <= e["peak_bandwidth_bytes_per_cycle"]
            assert e["port_bytes"] == sum(o["port_bytes"].get(lv, 0) for o in s["ops"])


def test_tables_add_up_to_the_totals(result):
    s = result.summary
    folded = result.arch.chunks.units["pe"].dataflow == "ws"
    assert folded == any("psum" in by for acts in s["memory_traffic"].values()
                         for by in acts.values())
    _check_sums(s)
    bw = {"dram": 8, "noc": 16 * 2, "sram": 1e6}
    for lv, e in s["memory_levels"].items():
        if lv in bw and s["components"].get("noc.c1"):
            assert e["peak_bandwidth_bytes_per_cycle"] <= bw[lv] + 1e-9


def test_tables_add_up_on_a_preset_with_register_files(vitality):
    s = vitality.summary
    assert any(e["type"] == "regfile" for e in s["memory_levels"].values())
    _check_sums(s)


def test_mac_utilization_of_a_single_gemm():
    m, n, k = 64, 48, 40
    s = simulate(tiny_arch(rows=8, cols=8), resolve(f"gemm:{m},{n},{k}")).summary
    (op,) = s["ops"]
    assert op["mac_utilization"] == round(m * n * k / (8 * 8 * op["cycles"]), 6)
    assert s["mac_utilization"] == round(m * n * k / (8 * 8 * s["cycles"]), 6)
    pe = s["components"]["chunk0.pe"]
    assert pe["mac_utilization"] == round(m * n * k / (8 * 8 * s["cycles"]), 6)
    assert pe["mac_utilization"] < pe["utilization"]  # busy time counts partly empty folds
    assert "mac_utilization" not in s["components"]["dram"]
    # a layer's MAC utilization is over the whole chip's PEs
    (layer,) = s["layers"]
    assert layer["mac_utilization"] == round(m * n * k / (s["pes"] * layer["cycles"]), 6)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def documented_columns(name: str) -> list[str]:
    """Column names in the table under the ``### <name>`` heading of docs/reports.md."""
    text = DOCS.read_text()
    section = text.split(f"### {name}\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, re.M)


def _matches(doc: list[str], header: list[str]) -> None:
    fixed = [c for c in doc if "{" not in c]
    patterns = [re.compile(re.sub(r"\\\{[a-z]+\\\}", "[A-Za-z0-9_.]+", re.escape(c)) + "$")
                for c in doc if "{" in c]
    # the fixed columns lead, in the documented order; every other column fits a pattern
    assert header[: len(fixed)] == fixed
    for col in header[len(fixed):]:
        assert any(p.match(col) for p in patterns), col


@pytest.mark.parametrize("name, render", [("ops.csv", ops_csv), ("layers.csv", layers_csv),
                                          ("memory.csv", memory_csv)])
def test_csv_columns_are_documented(vitality, result, name, render):
    doc = documented_columns(name)
    assert doc, f"no column table for {name} in docs/reports.md"
    for res in (vitality, result):
        rows = _rows(render(res))
        _matches(doc, rows[0])
        assert all(len(r) == len(rows[0]) for r in rows)


def test_csv_rows_match_the_summary(vitality):
    s = vitality.summary
    ops = _rows(ops_csv(vitality))
    assert len(ops) == 1 + len(s["ops"])
    head = ops[0]
    col = head.index("dram_read_weight_bytes")
    assert sum(int(r[col]) for r in ops[1:]) == s["memory_traffic"]["dram"]["read_bytes"]["weight"]
    energy_cols = [i for i, c in enumerate(head) if c.endswith("_energy_pj")
                   and c not in ("energy_pj", "compute_energy_pj")]
    total = sum(float(r[i]) for r in ops[1:] for i in energy_cols)
    total += sum(float(r[head.index("compute_energy_pj")]) for r in ops[1:])
    leakage = sum(d.get("leakage", 0.0) for d in s["energy_detail_pj"].values())
    assert total + leakage == pytest.approx(s["energy_pj"], rel=1e-9)
    mem = _rows(memory_csv(vitality))
    alls = {r[0]: r for r in mem[1:] if r[2] == "all"}
    assert int(alls["dram"][3]) + int(alls["dram"][4]) == s["dram_bytes"]
    assert float(alls["dram"][mem[0].index("peak_bandwidth_gbps")]) <= 76.8 + 1e-6


def test_peak_bandwidth_of_very_long_transfers_is_cheap_and_bounded():
    """A transfer over millions of cycles costs two window entries, not one per window."""
    res = simulate(tiny_arch(dram_bytes_per_cycle=1e-4), resolve("gemm:16,16,16"))
    s = res.summary
    assert s["cycles"] > 5_000_000
    dram = s["memory_levels"]["dram"]
    assert dram["peak_bandwidth_bytes_per_cycle"] == pytest.approx(1e-4, rel=1e-6)
    assert dram["avg_bandwidth_bytes_per_cycle"] <= dram["peak_bandwidth_bytes_per_cycle"]
    server = res.record.servers["dram"]
    assert len(server.window_bytes) + len(server.window_steps) < 50
