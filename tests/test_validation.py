"""`accelsim compare`, `accelsim validate --quick`, and the analytic bound of every op.

The bound is restated here from its definition (docs/validation.md, section 2) with its own
closed forms, independent of accelsim.timing and validation.bounds."""

from __future__ import annotations

import json
import math
from math import prod
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arch
from accelsim.api import simulate
from accelsim.cli import main
from accelsim.commands.compare import ROW_KEYS
from arch.schema import SystolicArray
from workloads import resolve

ROOT = Path(__file__).resolve().parents[1]
NATIVE = {"vitality": "taylor", "systolic": "softmax", "sanger": "sanger"}


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def scalesim_cycles(dataflow: str, r: int, c: int, m: int, n: int, k: int) -> int:
    """SCALE-Sim v3 compute cycles of A (m x k) @ B (k x n) on an r x c array
    (down-forward accumulation moves data as weight-stationary)."""
    if dataflow == "os":
        return _cdiv(m, r) * _cdiv(n, c) * (k + r + c - 2) - 1
    if dataflow in ("ws", "down_forward"):
        return _cdiv(k, r) * _cdiv(n, c) * (m + 2 * r + c - 2) - 1
    assert dataflow == "is"
    return _cdiv(k, r) * _cdiv(m, c) * (n + 2 * r + c - 2) - 1


def reference_bound(a, graph, o) -> tuple[int, int]:
    """(lower bound on the op's span, lower bound on its summed compute cycles)."""
    op = graph.op(o["name"])
    unit = a.chunks.units[o["unit"]]
    p = o["chunks"]
    if isinstance(unit, SystolicArray):
        work = op.batch * scalesim_cycles(unit.dataflow, unit.rows, unit.cols, op.m, op.n, op.k)
        work = (work - (p - 1)) * (op.density * (1 + unit.sparse_overhead)
                                   if op.kind.value == "sparse_matmul" else 1)
        work = max(work, op.cost.macs / (unit.rows * unit.cols))
        compute = work / p
    else:
        fn = unit.fns[o["fn"]]
        elements = max(prod(s) for s in [*op.input_shapes, op.output_shape])
        stream = elements * op.density * fn.cycles_per_element / unit.lanes
        compute = stream / p + fn.latency_cycles
        work = stream + p * fn.latency_cycles
    out_bytes = prod(op.output_shape) * a.precision.operand_bits / 8
    # one shared output SRAM on these designs; a NoC with a link per chunk carries p links
    out_bw = min([m.bandwidth_bytes_per_cycle for m in a.memories.values()
                  if m.type == "sram" and "output" in m.holds]
                 + [m.bandwidth_bytes_per_cycle * (p if m.links == "per_chunk" else 1)
                    for m in a.memories.values() if m.type == "noc"])
    memory = out_bytes / out_bw
    return math.floor(max(compute, memory) + 1e-6), math.floor(work + 1e-6)


@pytest.mark.parametrize(("overrides", "tight_share"), [
    ([], 1 / 4),
    # narrow NoC links: the output bound is the op's p links, not one (else false violations);
    # inputs, which the bound leaves to prefetch, share the links, so fewer ops come near it
    (["memories.noc.bandwidth_bytes_per_cycle=32"], 1 / 20),
    (["memories.noc.bandwidth_bytes_per_cycle=32", "memories.noc.links=shared"], 0),
], ids=["preset", "narrow_per_chunk_noc", "narrow_shared_noc"])
def test_analytic_bound_holds_for_every_op_of_deit_tiny_on_vitality(overrides, tight_share):
    a = arch.load("vitality", overrides)
    graph = resolve("deit_tiny", attention="taylor")
    s = simulate(a, graph, keep_intervals=False).summary
    assert len(s["ops"]) == len(graph.compute_ops())
    tight = 0
    for o in s["ops"]:
        span_bound, work_bound = reference_bound(a, graph, o)
        span = o["end_cycle"] - o["start_cycle"]
        assert span >= span_bound, (o["name"], span, span_bound)
        assert o["compute_cycles"] >= work_bound, (o["name"], o["compute_cycles"], work_bound)
        tight += span <= 1.5 * span_bound
    assert tight >= len(s["ops"]) * tight_share  # a bound far below every op tests nothing
    # the report's bounds (validation/bounds.py) agree with this independent statement
    from validation.bounds import op_bounds

    for b, o in zip(op_bounds(a, graph, s), s["ops"], strict=True):
        span_bound, work_bound = reference_bound(a, graph, o)
        assert abs(b.bound - span_bound) <= 1 and abs(b.work - work_bound) <= 1, b.name


def test_output_bound_ignores_an_sram_above_the_units_own_output_sram():
    """two_level's L2 holds outputs too, but only those that do not fit the L1 cross it: slowing
    it must not raise any op's output bound (it did when every output SRAM counted)."""
    from validation.bounds import op_bounds

    graph = resolve("deit_tiny", attention="taylor")
    path = str(ROOT / "examples/arch/two_level.yaml")
    got = []
    for overrides in ([], ["memories.sram_l2.bandwidth_bytes_per_cycle=8"]):
        a = arch.load(path, overrides)
        bounds = op_bounds(a, graph, simulate(a, graph, keep_intervals=False).summary)
        assert not [b.name for b in bounds if b.violation]
        got.append([(b.name, b.memory_bound) for b in bounds])
    assert got[0] == got[1]


def test_compare_json_rows_use_each_presets_native_attention(capsys):
    archs = ["vitality", "systolic", "sanger"]
    argv = ["compare", "--workload", "deit_tiny", *(x for a in archs for x in ("--arch", a)),
            "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["arch"] for r in rows] == archs
    for r in rows:
        assert tuple(r) == ROW_KEYS
        assert r["workload"] == "deit_tiny"
        assert r["attention"] == NATIVE[r["arch"]]
        assert 0 < r["attention_cycles"] < r["cycles"]
        assert 0 < r["attention_energy_pj"] < r["energy_pj"]
        assert r["latency_ms"] == pytest.approx(r["cycles"] / 500 / 1e3)
    # the same numbers as `accelsim run`
    s = simulate(arch.load("sanger"), resolve("deit_tiny", attention="sanger"),
                 keep_intervals=False).summary
    assert (rows[2]["cycles"], rows[2]["energy_pj"]) == (s["cycles"], s["energy_pj"])


def test_compare_attention_override_table_and_bad_input(capsys):
    assert main(["compare", "--workload", "deit_tiny", "--arch", "systolic", "--arch", "sanger",
                 "--attention", "softmax", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["attention"] for r in rows] == ["softmax", "softmax"]
    assert main(["compare", "--workload", "gemm:64,64,64", "--arch", "systolic",
                 "--arch", "vitality"]) == 0
    out = capsys.readouterr().out
    assert "systolic" in out and "vitality" in out and "energy uJ" in out
    assert main(["compare", "--workload", "deit_tiny", "--arch", "no_such_arch"]) == 2
    assert "no_such_arch" in capsys.readouterr().err


def test_ablation_variants_build_and_run():
    from validation.ablations import vitality_without_sa_diag

    a = vitality_without_sa_diag()
    assert "sa_diag" not in a.chunks.units
    nodenom = resolve("deit_tiny", attention="taylor",
                      attention_options={"exact_denominator": False})
    assert nodenom.meta["attention_options"] == {"exact_denominator": False}
    full = resolve("deit_tiny", attention="taylor")
    matvecs = [op for op in full.compute_ops() if op.kind.is_matmul and op.n == 1]
    assert len(matvecs) == 12
    assert not [op for op in nodenom.compute_ops() if op.kind.is_matmul and op.n == 1]
    s = simulate(a, full, keep_intervals=False).summary
    assert {o["unit"] for o in s["ops"] if o["name"] in {m.name for m in matvecs}} == {
        "sa_general"}


def test_validate_quick_writes_every_section_without_violations(tmp_path, capsys):
    docs = ROOT / "docs" / "validation.md"
    before = docs.read_bytes(), docs.stat().st_mtime_ns
    out = tmp_path / "v" / "validation.md"
    assert main(["validate", "--quick", "--out", str(out.parent)]) == 0
    assert (docs.read_bytes(), docs.stat().st_mtime_ns) == before  # tracked docs untouched
    text = out.read_text()
    for heading in ("## Headline", "## 1. SCALE-Sim cross-check", "## 2. Analytic bounds",
                    "## 3. MAC counts", "## 4. The paper's comparison", "## 5. Token scaling",
                    "## 6. Ablations", "## 7. Accuracy and CPU latency", "## Regeneration time"):
        assert heading in text, heading
    assert "**No violations**" in text and "**0 violations**" not in text
    assert " 0 violations over " in text
    assert "| **all** |  | 38 | 38 | 0 | 38 |" in text  # SCALE-Sim: every replayed case equal
    assert text.count("*Produced by* `") >= 8
    for png in ("validation_speedup.png", "validation_energy.png", "validation_tokens.png"):
        data = (out.parent / "img" / png).read_bytes()
        assert data.startswith(b"\x89PNG") and b"Software" not in data
    assert main(["validate", "--quick", "--out", str(tmp_path / "x.txt")]) == 2
    assert main(["validate", "--quick", "--out", str(tmp_path), "--update-docs"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) >= 2 and "want a directory" in err[-2] and "--update-docs" in err[-1]


def test_validate_writes_out_by_default_and_docs_only_when_asked():
    from accelsim.cli import build_parser
    from accelsim.commands.validate import target

    default = target(build_parser().parse_args(["validate"]))
    assert default == Path("out") / "validation" / "validation.md"
    docs = target(build_parser().parse_args(["validate", "--update-docs"]))
    assert docs == ROOT / "docs" / "validation.md"


def test_accuracy_tables_keep_their_headings_and_skip_other_tables(tmp_path):
    """Section 7 copies docs/model.md's accuracy tables; each must say which data set it is on
    (from its headings), and tables of other kinds (recall, CPU time) stay out."""
    from validation.cpu import accuracy_tables

    doc = tmp_path / "model.md"
    doc.write_text("\n".join([
        "# Model", "## Training on digits", "### Accuracy (360 images)", "",
        "| attention | test acc. (%) |", "|---|---:|", "| softmax | 97.2 |", "",
        "## Training on mnist5k", "text", "",
        "| attention | start | test acc. per seed (%) |", "|---|---|---|", "| taylor | s | 88 |",
        "### Quantised", "| checkpoint (run as taylor) | float32 test acc. (%) |", "|---|---:|",
        "| a.pt | 89.6 |", "## Recall",
        "| tokens n | softmax test acc. (%) |", "|---:|---|", "| 65 | 100 |", "",
        "| attention | ms |", "|---|---:|", "| taylor | 1.0 |"]))
    tables = accuracy_tables(doc)
    assert [t.splitlines()[0] for t in tables] == [
        "**Training on digits — Accuracy (360 images)**", "**Training on mnist5k**",
        "**Training on mnist5k — Quantised**"]
    assert tables[1].endswith("| taylor | s | 88 |")
    assert accuracy_tables(tmp_path / "missing.md") == []


@settings(max_examples=25, deadline=None)
@given(preset=st.sampled_from(["vitality", "systolic", "sanger"]),
       noc=st.sampled_from([8, 32, 128, 1024]), links=st.sampled_from(["per_chunk", "shared"]),
       sram=st.sampled_from([16, 64, 512]), dram=st.sampled_from([4.8, 19.2, 76.8]),
       chunks=st.integers(1, 4))
def test_no_op_beats_its_bound_on_random_memory_systems(preset, noc, links, sram, dram, chunks):
    """The bounds are lower bounds whatever the links, ports, DRAM and chunk count: a design
    where some memory is the bottleneck must never show an op below its bound."""
    from validation.bounds import op_bounds

    a = arch.load(preset)
    sets = [f"memories.noc.bandwidth_bytes_per_cycle={noc}", f"memories.noc.links={links}",
            f"chunks.count={chunks}"]
    sets += [f"memories.{n}.bandwidth_bytes_per_cycle={sram}" for n, m in a.memories.items()
             if m.type == "sram"]
    sets += [f"memories.{n}.bandwidth_gbps={dram}" for n, m in a.memories.items()
             if m.type == "dram"]
    a = arch.load(preset, sets)
    graph = resolve("vit_digits", attention=NATIVE[preset])
    s = simulate(a, graph, keep_intervals=False).summary
    assert [(b.name, b.span, b.bound) for b in op_bounds(a, graph, s) if b.violation] == []
