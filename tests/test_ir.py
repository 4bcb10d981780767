"""The OpGraph IR (workloads.ir): records, costs, JSON, view folding helpers. No torch needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workloads
from workloads import Cost, Op, OpGraph, OpKind, Precision, WorkloadError
from workloads.ir import FORMAT, matmul_cost, vector_cost

ROOT = Path(__file__).resolve().parents[1]


def _view(name, shape, fn="reshape"):
    return Op(name, OpKind.VIEW, fn, [shape], shape)


def small_graph() -> OpGraph:
    """linear -> reshape -> transpose -> matmul(B) ; linear -> reshape -> softmax(A-side)."""
    p = Precision()
    g = OpGraph({"model": "toy", "precision": {"operand_bits": 8, "accumulator_bits": 32}})
    g.add_op(Op("fc", OpKind.MATMUL, "matmul", [[4, 8], [16, 8]], [4, 16], weight_inputs=[1],
                m=4, n=16, k=8, cost=matmul_cost(4, 16, 8, 1, 1.0, p, [1])))
    g.add_op(_view("r", [4, 16]))
    g.add_op(_view("t", [16, 4], "transpose"))
    g.add_op(Op("sm", OpKind.SOFTMAX, "softmax", [[4, 16]], [4, 16],
                cost=vector_cost([[4, 16]], [4, 16], {"exp": 64}, p, [])))
    g.add_op(Op("mm", OpKind.MATMUL, "matmul", [[4, 16], [16, 4]], [4, 4], m=4, n=4, k=16,
                cost=matmul_cost(4, 4, 16, 1, 1.0, p, [])))
    g.add_edge("fc", "r", input=0, rows_aligned=True)
    g.add_edge("r", "t", input=0, rows_aligned=True)
    g.add_edge("r", "sm", input=0, rows_aligned=True)
    g.add_edge("sm", "mm", input=0, rows_aligned=True)
    g.add_edge("t", "mm", input=1, rows_aligned=False)
    return g


def test_costs():
    p = Precision(operand_bits=8)
    c = matmul_cost(197, 576, 192, 1, 1.0, p, [1])
    assert c.macs == 197 * 576 * 192
    assert c.weight_bytes == 192 * 576 and c.bytes_out == 197 * 576
    sparse = matmul_cost(10, 10, 10, 2, 0.25, p, [])
    assert sparse.macs == 500 and sparse.weight_bytes == 0
    v = vector_cost([[2, 3], [3]], [2, 3], {"add": 6, "mul": 0}, Precision(operand_bits=16), [1])
    assert v.element_ops == {"add": 6} and v.bytes_in == 18 and v.weight_bytes == 6
    assert Cost(element_ops={"exp": 5, "div": 2}).exps == 5


@pytest.mark.parametrize("bits", [0, 3, 12, -8])
def test_precision_rejects_odd_widths(bits):
    with pytest.raises(WorkloadError, match="operand_bits"):
        Precision(operand_bits=bits)


def test_op_round_trip_and_old_json_without_attrs():
    op = small_graph().op("fc")
    op.attrs = {"aten": "aten::linear"}
    assert Op.from_dict(json.loads(json.dumps(op.to_dict()))) == op
    old = op.to_dict()
    del old["attrs"]  # graphs written before attrs existed still load
    assert Op.from_dict(old).attrs == {}
    with pytest.raises(WorkloadError, match="'fc'"):
        Op.from_dict({**old, "kind": "nonsense"})


def test_graph_json_round_trip_is_byte_identical(tmp_path):
    g = small_graph()
    path = tmp_path / "g.json"
    g.save(path)
    text = path.read_text()
    assert json.loads(text)["format"] == FORMAT
    again = workloads.load(path)
    assert again.to_json() == text
    assert [op.name for op in again] == ["fc", "r", "t", "sm", "mm"]
    assert again.g.edges["t", "mm"] == {"input": 1, "rows_aligned": False,
                                          "groups_aligned": True}


def test_helpers_fold_views():
    g = small_graph()
    assert [op.name for op in g.compute_ops()] == ["fc", "sm", "mm"]
    assert g.compute_predecessors("mm") == [("sm", 0, True), ("fc", 1, False)]
    assert g.compute_predecessors("sm") == [("fc", 0, True)]
    assert g.input_sources("fc") == ["input", "weight"]
    assert g.input_sources("mm") == ["edge", "edge"]
    assert g.macs_by_kind() == {"matmul": 4 * 16 * 8 + 4 * 4 * 16}


def test_load_errors(tmp_path):
    with pytest.raises(WorkloadError, match="no such file"):
        workloads.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": \n')
    with pytest.raises(WorkloadError, match=r"bad.json:2: invalid JSON"):
        workloads.load(bad)
    bad.write_text('{"format": "something/else"}')
    with pytest.raises(WorkloadError, match="not an op graph"):
        workloads.load(bad)
    d = small_graph().to_dict()
    d["edges"].append({"src": "mm", "dst": "fc", "input": 0, "rows_aligned": False})
    with pytest.raises(WorkloadError, match="cycle"):
        OpGraph.from_dict(d)
    d = small_graph().to_dict()
    d["edges"][0]["input"] = 5
    with pytest.raises(WorkloadError, match="out of range"):
        OpGraph.from_dict(d)
    with pytest.raises(WorkloadError, match="duplicate op name"):
        small_graph().add_op(_view("fc", [1]))


def test_importing_workloads_does_not_import_torch():
    code = ("import sys, workloads\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert callable(workloads.resolve) and workloads.OpKind.MATMUL.is_matmul\n"
            "print(workloads.resolve('gemm:2,3,4').total_macs())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert out.stdout.strip() == "24"


_kinds = st.sampled_from(list(OpKind))
#: a function of each kind's, from the vocabulary (a saved graph may name no other)
FN_OF = {"elementwise": "add", "reduce": "sum", "activation": "gelu", "view": "reshape"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_kinds, st.lists(st.integers(1, 64), min_size=1, max_size=4),
                          st.booleans()), min_size=1, max_size=12))
def test_random_chains_round_trip(spec):
    g = OpGraph({"model": "random"})
    prev = None
    for i, (kind, shape, aligned) in enumerate(spec):
        name = f"op{i}"
        dims = {"m": 1, "n": 1, "k": 1, "cost": Cost(macs=1)} if kind.is_matmul else {}
        g.add_op(Op(name, kind, FN_OF.get(kind.value, kind.value), [shape], shape,
                    layer=i % 3, attrs={"i": i},
                    **dims))
        if prev:
            g.add_edge(prev, name, input=0, rows_aligned=aligned)
        prev = name
    text = g.to_json()
    again = OpGraph.from_dict(json.loads(text))
    assert again.to_json() == text
    assert len(again.compute_ops()) == sum(k is not OpKind.VIEW for k, _, _ in spec)


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("m", -5, "m: want an integer >= 1"),
    ("m", "abc", "m: want an integer"),
    ("m", 197.5, "m: want an integer"),
    ("output_shape", "x", "output_shape"),
    ("density", 5.0, "density"),
    ("kind", "conv", "kind"),
    ("weight_inputs", [7], "weight_inputs"),
    ("surprise", 1, "unknown field"),
    ("fn", "warp_drive", "fn: 'warp_drive' is not in the IR's vocabulary"),
])
def test_malformed_op_fields_are_clean_errors(field, value, needle, tmp_path):
    from workloads.simple import gemm_graph

    data = gemm_graph(8, 8, 8).to_dict()
    data["nodes"][0][field] = value
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    with pytest.raises(WorkloadError, match=needle) as info:
        workloads.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("macs", -100, "cost.macs"), ("macs", 7, "cost.macs: 7 != batch"),
    ("bytes_in", -1, "cost.bytes_in")])
def test_inconsistent_costs_are_clean_errors(key, value, needle, tmp_path):
    from workloads.simple import gemm_graph

    data = gemm_graph(8, 8, 8).to_dict()
    data["nodes"][0]["cost"][key] = value
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    with pytest.raises(WorkloadError, match=needle):
        workloads.load(path)


def test_networkx_view_keeps_predecessor_order():
    """``OpGraph.g`` adds edges in the order they were added, so its predecessors come in the
    order ``predecessors()`` gives (edges grouped by source would reorder them)."""
    g = OpGraph({"model": "order"})
    for name in ("a", "b", "c"):
        g.add_op(Op(name, OpKind.ELEMENTWISE, "add", [[4], [4]], [4]))
    g.add_edge("b", "c", input=0)
    g.add_edge("a", "c", input=1)
    assert list(g.g.predecessors("c")) == [p for p, _ in g.predecessors("c")] == ["b", "a"]
