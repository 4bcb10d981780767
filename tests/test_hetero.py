"""Heterogeneous designs: chunks of different kinds (units listing the chunks that hold them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import arch
from accelsim.api import simulate
from accelsim.cli import main
from arch.graph import build_graph
from workloads import resolve

ROOT = Path(__file__).resolve().parents[1]
HETERO = ROOT / "examples" / "arch" / "hetero.yaml"


def test_units_exist_only_in_the_chunks_that_hold_them():
    a = arch.load(str(HETERO))
    assert a.chunks.holders("big") == [0, 1] and a.chunks.holders("post") == list(range(6))
    nodes = set(build_graph(a).nodes)
    assert {n for n in nodes if n.endswith(".big")} == {"chunk0.big", "chunk1.big"}
    assert {n for n in nodes if n.endswith(".soft")} == {"chunk0.soft"}
    assert a.pes == 2 * 64 * 64 + 4 * 16 * 16


def test_every_instance_gets_ops_and_invariants_hold():
    a = arch.load(str(HETERO))
    s = simulate(a, resolve("deit_tiny"), keep_intervals=False).summary
    assert set(s["ops_per_unit"]) == {"big", "small", "soft", "post"}
    assert all(n > 0 for n in s["ops_per_unit"].values())
    comps = s["components"]
    for name, unit in a.chunks.units.items():
        if unit.type == "regfile":
            continue
        held = a.chunks.holders(name)
        instances = {c for c in comps if c.endswith(f".{name}")}
        assert instances == {f"chunk{c}.{name}" for c in held}
        assert all(comps[i]["busy_cycles"] > 0 for i in instances), name
    for c in comps.values():
        assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]
    for mem, peak in s["sram_peak_bytes"].items():
        assert peak <= s["sram_capacity_bytes"][mem]


@pytest.mark.parametrize("value", ["[0, 6]", "[]", "[1, 1]"])
def test_bad_placements_are_one_line_errors(value, capsys):
    assert main(["arch", "validate", str(HETERO), "--set", f"chunks.units.big.chunks={value}"]) == 2
    err = capsys.readouterr().err
    assert f"--set chunks.units.big.chunks={value}: chunks.units.big.chunks: want distinct " \
           "chunk indices in 0..5" in err and err.count("\n") == 1


def test_bad_placement_in_a_file_names_its_line(tmp_path, capsys):
    text = HETERO.read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "chunks:" and i > 5)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("      - 0\n      - 1\n", "      - 0\n      - 7\n", 1))
    assert main(["arch", "validate", str(bad)]) == 2
    assert f"bad.yaml:{at + 1}: chunks.units.big.chunks: want" in capsys.readouterr().err


def test_fewer_chunks_than_a_group_needs_is_an_error(capsys):
    assert main(["arch", "validate", str(HETERO), "--set", "chunks.count=4"]) == 2
    assert "chunks.count is 4" in capsys.readouterr().err


def test_run_bound_spreads_a_unit_over_the_chunks_that_hold_it():
    """The whole-run compute bound of a heterogeneous design: each unit type's work over its
    own instances (2 chunks hold `big`, 1 holds `soft`), never over all 6 chunks."""
    from validation.bounds import op_bounds, run_bounds

    a = arch.load(str(HETERO))
    g = resolve("deit_tiny")
    s = simulate(a, g, keep_intervals=False).summary
    bounds = op_bounds(a, g, s)
    work: dict[str, int] = {}
    for b in bounds:
        work[b.unit] = work.get(b.unit, 0) + b.compute_bound * b.chunks
    want = max(-(-w // len(a.chunks.holders(u))) for u, w in work.items())
    got = run_bounds(a, s, bounds)
    assert got["unit_bound"] == want
    assert want > max(-(-w // a.chunks.count) for w in work.values())  # tighter than /6
    assert s["cycles"] >= got["unit_bound"]
