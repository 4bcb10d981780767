"""Sweep `zip` groups (paths that move together) and the per-family Pareto specs of issue 15
(examples/sweeps/pareto_*.yaml): they parse, and every point of a family keeps vitality's
budget (PE count, SRAM, DRAM), read from the architectures the points load."""

from __future__ import annotations

from pathlib import Path

import pytest

import arch
from accelsim.sweep import SpecError, load_spec, loads_spec
from accelsim.sweep.runner import prepare
from accelsim.sweep.spec import override

ROOT = Path(__file__).resolve().parents[1]
ZIP = """\
base: vitality
workloads: ['gemm:8,8,8']
axes:
  clock_mhz: [500, 1000]
zip:
  - chunks.units.sa_general.rows: [65, 13, 5]
    chunks.units.sa_general.cols: [65, 325, 845]
"""


def test_zip_group_moves_together_crossed_with_the_grid(tmp_path):
    spec = loads_spec(ZIP, "z.yaml")
    got = {(p["clock_mhz"], p["chunks.units.sa_general.rows"], p["chunks.units.sa_general.cols"])
           for p in spec.params()}
    assert got == {(c, r, k) for c in (500, 1000) for r, k in ((65, 65), (13, 325), (5, 845))}
    assert spec.axis_paths == ["clock_mhz", "chunks.units.sa_general.rows",
                               "chunks.units.sa_general.cols"]
    prepared = prepare(spec, tmp_path)
    assert len(prepared.tasks) == 6
    assert prepared.columns[4:7] == spec.axis_paths


@pytest.mark.parametrize(("text", "pattern"), [
    (ZIP.replace("[65, 13, 5]", "[65, 13]"),
     r"^z\.yaml:6: zip\[0\]: .*same length \(chunks\.units\.sa_general\.rows 2, "
     r"chunks\.units\.sa_general\.cols 3\)"),
    (ZIP + "  - {}\n", r"^z\.yaml:\d+: zip\[1\]: must not be empty$"),
    (ZIP.replace("  clock_mhz:", "  chunks.units.sa_general.rows:"),
     r"^z\.yaml:6: zip\[0\]\[chunks\.units\.sa_general\.rows\]: already given in axes"),
    (ZIP.replace("[65, 325, 845]", "7"), r"^z\.yaml:7: .*must be a list"),
])
def test_zip_errors_are_one_line_with_file_line_and_field(text, pattern):
    with pytest.raises(SpecError, match=pattern) as info:
        loads_spec(text, "z.yaml")
    assert "\n" not in str(info.value)


def test_zip_unknown_path_is_named_before_anything_runs(tmp_path):
    spec = loads_spec(ZIP.replace("sa_general.cols", "sa_general.colz"), "z.yaml")
    with pytest.raises(SpecError, match=r"^z\.yaml:7: zip\[0\]\[chunks\.units\.sa_general\."
                                        r"colz\]: unknown field"):
        prepare(spec, tmp_path)


def _budget(a: arch.Architecture) -> tuple:
    return (a.pes, sum(m.capacity_kib for m in a.memories.values() if m.type == "sram"),
            tuple(m.bandwidth_gbps for m in a.memories.values() if m.type == "dram"),
            a.memories["noc"].model_dump_json())


@pytest.mark.parametrize("family", ["vitality", "systolic", "sanger"])
def test_pareto_specs_keep_vitalitys_budget_at_every_point(family):
    spec = load_spec(ROOT / "examples" / "sweeps" / f"pareto_{family}.yaml")
    assert [(w.spec, w.img_size) for w in spec.workloads] == [
        ("deit_tiny", None), ("deit_small", None), ("deit_base", None),
        ("deit_tiny", 448), ("deit_small", 448), ("deit_base", 448), ("deit_tiny", 896)]
    want = _budget(arch.load("vitality"))
    params = spec.params()
    assert len(params) >= 100
    base = spec.resolve_path(spec.base)
    budgets = {_budget(arch.load(base, [override(k, v) for k, v in p.items()])) for p in params}
    assert budgets == {want}
    # the grid varies what it says: array shape, dataflow, fold overlap, buffer split, tile size
    varied = {k.rsplit(".", 1)[-1] for k in spec.axis_paths
              if len({repr(p[k]) for p in params}) > 1}
    assert {"rows", "cols", "dataflow", "fold_overlap", "capacity_kib", "tile_rows"} <= varied
