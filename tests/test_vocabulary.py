"""One function vocabulary: the tracer's, the schema's and the docs' are the same."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import arch
from arch.schema import VectorArray
from workloads import _aten
from workloads.vocabulary import CLASSES, FUNCTIONS, vocabulary_table

ROOT = Path(__file__).resolve().parents[1]


def test_docs_table_is_the_vocabulary():
    assert vocabulary_table() in (ROOT / "docs" / "arch.md").read_text()


def test_every_fn_the_aten_table_names_is_in_the_vocabulary():
    names = set(_aten.ELEMENTWISE_FN.values()) | set(_aten.COMPOSITE_OPS) | set(
        _aten.REDUCE_FN.values())
    names |= {n.lstrip("_").replace("_kernel", "") for n in _aten.ACTIVATIONS.split()}
    assert names <= set(FUNCTIONS)
    assert set(FUNCTIONS.values()) == set(CLASSES)


def test_class_default_runs_every_function_of_its_class():
    u = VectorArray(lanes=4, classes={"normalisation": {"energy_pj": 8.0}},
                    fns={"softmax": {"energy_pj": 1.0}}, leakage_mw=0)
    assert {f for f, c in FUNCTIONS.items() if c == "normalisation"} == set(u.fns)
    assert u.fns["softmax"].energy_pj == 1.0 and not u.by_class("softmax")
    assert u.by_class("layernorm") and "softmax" in u.model_dump()["fns"]
    assert "layernorm" not in u.model_dump()["fns"]  # derived entries are not written back


SCHEMA = arch.schema()
BAD = [
    ("chunks.units.post.fns", {"warp_drive": {"energy_pj": 1.0}}),
    ("chunks.units.post.classes", {"magic": {"energy_pj": 1.0}}),
    ("chunks.units.sa.type", None),
]


def _edited(path: str, value):
    raw = json.loads(json.dumps(arch.load("systolic").model_dump(mode="json")))
    *head, last = path.split(".")
    cur = raw
    for seg in head:
        cur = cur[seg]
    if value is None:
        del cur[last]
    else:
        cur[last] = value
    return raw


@pytest.mark.parametrize(("path", "value"), BAD)
def test_json_schema_rejects_what_the_validator_rejects(path, value):
    raw = _edited(path, value)
    with pytest.raises(arch.ConfigError):
        arch.loads(json.dumps(raw), "bad.json", json_=True)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, SCHEMA)


@pytest.mark.parametrize("name", arch.presets())
def test_json_schema_accepts_the_presets(name):
    jsonschema.validate(arch.load(name).model_dump(mode="json"), SCHEMA)


def test_arch_validate_with_workload_lists_every_missing_function(tmp_path, capsys):
    from accelsim.cli import main

    raw = arch.load("systolic").model_dump(mode="json")
    del raw["chunks"]["units"]["post"]
    raw["connections"] = [c for c in raw["connections"] if c["dst"] != "chunk.post"]
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(raw))
    assert main(["arch", "validate", str(path)]) == 0
    capsys.readouterr()
    assert main(["arch", "validate", str(path), "--workload", "deit_tiny"]) == 2
    err = capsys.readouterr().err
    assert "'gelu'" in err and "'layernorm'" in err and err.count("\n") == 1
    assert main(["arch", "validate", "vitality", "--workload", "deit_tiny"]) == 0


@pytest.mark.parametrize(("rule", "field", "words"), [
    ("{unit: nosuch, kind: matmul}", "unit", "not a unit of the chunks"),
    ("{unit: rf, kind: softmax}", "unit", "not a compute unit"),
    ("{unit: softmax, kind: matmul}", "kind", "run on a systolic array"),
    ("{unit: sa, kind: softmax}", "kind", "run on a vector unit"),
    ("{unit: sa, fn: softmax}", "fn", "does not run 'softmax'"),
    ("{unit: sa, fn: softmx}", "fn", "unknown op function 'softmx'"),
    ("{unit: sa, kind: matmull}", "kind", "unknown op kind 'matmull'"),
    ("{unit: sa, kind: exp, fn: matmul}", "", "never select the same op"),
])
def test_a_binding_that_cannot_be_obeyed_is_an_error_at_load_time(capsys, rule, field, words):
    """Before, a typo in kind/fn matched nothing silently, and a wrong unit failed only when
    `run` reached the first op it matched (`arch validate` said ok)."""
    from accelsim.cli import main

    assert main(["arch", "validate", "systolic", "--set", f"mapping.bindings=[{rule}]"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert f"mapping.bindings.0{'.' + field if field else ''}:" in err


def test_a_matmul_binding_names_every_matrix_product():
    """``fn: matmul`` matches an op's IR function, so it may name an array that lists only
    ``lowbit_matmul`` (Sanger's 4-bit predictor), as it could before bindings were checked
    at load."""
    a = arch.load("sanger", ["mapping.bindings=[{fn: matmul, group: attention, "
                             "unit: sa_predict}]"])
    assert a.mapping.bindings[0].unit == "sa_predict"


def test_arch_validate_with_workload_maps_it(capsys):
    """`arch validate --workload` finds what mapping finds (a kind-only rule whose vector unit
    lacks the workload's function), not only missing functions; `--attention` picks the
    variant."""
    from accelsim.cli import main

    rule = ["--set", "mapping.bindings=[{unit: vec, kind: softmax}]"]
    assert main(["arch", "validate", "systolic", *rule]) == 0
    capsys.readouterr()
    assert main(["arch", "validate", "systolic", *rule, "--workload", "deit_tiny"]) == 2
    assert "which does not run 'softmax'" in capsys.readouterr().err
    assert main(["arch", "validate", "vitality", "--workload", "deit_tiny",
                 "--attention", "softmax"]) == 0
    assert main(["arch", "validate", "systolic", "--workload", "gemm:8,8,8",
                 "--attention", "taylor"]) == 2  # a fixed graph: the option is refused


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "arch").glob("*.yaml")))
def test_example_designs_run_and_use_every_unit(path):
    """User-written designs: each runs DeiT-Tiny and every declared compute unit gets ops (the
    bound ones exactly the ops bound to them)."""
    from accelsim.api import simulate
    from workloads import resolve

    a = arch.load(str(path))
    s = simulate(a, resolve("deit_tiny", attention=arch.native_attention(a)),
                 keep_intervals=False).summary
    assert all(n > 0 for n in s["ops_per_unit"].values()), s["ops_per_unit"]
    for o in s["ops"]:  # the first rule matching an op (by kind and group here) decides
        rule = next((r for r in a.mapping.bindings if r.kind in (None, o["kind"])
                     and r.group in (None, o["group"])), None)
        assert rule is None or o["unit"] == rule.unit, o
    for c in s["components"].values():
        assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]


def test_a_scope_binding_sends_exactly_its_modules_ops():
    """``scope`` globs over module scopes: block 1's matmuls go to the small array, every
    other matmul to the big one (first matching rule wins)."""
    from accelsim.api import simulate
    from workloads import resolve

    rules = ("mapping.bindings=[{scope: 'blocks.1.*', kind: matmul, unit: attn_sa}, "
             "{kind: matmul, unit: sa}]")
    a = arch.load(str(ROOT / "examples/arch/two_arrays.yaml"), [rules])
    g = resolve("deit_tiny", attention=arch.native_attention(a))
    ops = {o["name"]: o for o in simulate(a, g, keep_intervals=False).summary["ops"]}
    matmuls = [op for op in g if op.kind.is_matmul]
    inside = [op.name for op in matmuls if op.scope.startswith("blocks.1.")]
    assert inside and all(ops[n]["unit"] == "attn_sa" for n in inside)
    assert all(ops[op.name]["unit"] == "sa" for op in matmuls if op.name not in inside)
