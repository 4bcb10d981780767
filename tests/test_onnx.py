"""ONNX workloads (workloads.onnx_import): zoo models exported by torch.onnx against the torch
trace, a file built with onnx.helper against closed forms, and bad files (exit 2, one line)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

onnx = pytest.importorskip(
    "onnx", reason="onnx is not installed: pip install -e '.[onnx]' (make test installs it)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import workloads  # noqa: E402
from accelsim.cli import main as cli_main  # noqa: E402
from workloads import OpKind, WorkloadError  # noqa: E402
from workloads.onnx_import import load_onnx, opset_range  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# -- a file made by another tool: onnx.helper ----------------------------------------------------

N, D, H = 50, 64, 4  # tokens, embedding, heads


def _init(name: str, *shape: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return numpy_helper.from_array(rng.standard_normal(shape).astype("float32"), name)


def attention_block(*, opset: int = 17, batch: int | str = 1, extra=()) -> onnx.ModelProto:
    """LayerNorm -> Q, K, V projections -> heads -> softmax(Q K^T * s) V -> output projection
    with bias -> residual add, named like a legacy-exporter graph (``/attn/q/MatMul``)."""
    dh = D // H
    i64 = lambda name, vals: numpy_helper.from_array(  # noqa: E731
        __import__("numpy").array(vals, dtype="int64"), name)
    inits = [_init("ln_w", D), _init("ln_b", D), _init("wq", D, D), _init("wk", D, D),
             _init("wv", D, D), _init("wo", D, D), _init("bo", D),
             i64("heads_shape", [1, N, H, dh]), i64("merge_shape", [1, N, D]),
             numpy_helper.from_array(__import__("numpy").array(dh ** -0.5, dtype="float32"),
                                     "scale")]
    mk = helper.make_node
    nodes = [
        mk("LayerNormalization", ["x", "ln_w", "ln_b"], ["h"], name="/norm/LayerNormalization",
           axis=-1),
        mk("MatMul", ["h", "wq"], ["q"], name="/attn/q/MatMul"),
        mk("MatMul", ["h", "wk"], ["k"], name="/attn/k/MatMul"),
        mk("MatMul", ["h", "wv"], ["v"], name="/attn/v/MatMul"),
        mk("Reshape", ["q", "heads_shape"], ["q4"], name="/attn/Reshape"),
        mk("Reshape", ["k", "heads_shape"], ["k4"], name="/attn/Reshape_1"),
        mk("Reshape", ["v", "heads_shape"], ["v4"], name="/attn/Reshape_2"),
        mk("Transpose", ["q4"], ["qh"], name="/attn/Transpose", perm=[0, 2, 1, 3]),
        mk("Transpose", ["k4"], ["kt"], name="/attn/Transpose_1", perm=[0, 2, 3, 1]),
        mk("Transpose", ["v4"], ["vh"], name="/attn/Transpose_2", perm=[0, 2, 1, 3]),
        mk("MatMul", ["qh", "kt"], ["s"], name="/attn/MatMul"),
        mk("Mul", ["s", "scale"], ["ss"], name="/attn/Mul"),
        mk("Softmax", ["ss"], ["p"], name="/attn/Softmax", axis=-1),
        mk("MatMul", ["p", "vh"], ["o"], name="/attn/MatMul_1"),
        mk("Transpose", ["o"], ["ot"], name="/attn/Transpose_3", perm=[0, 2, 1, 3]),
        mk("Reshape", ["ot", "merge_shape"], ["om"], name="/attn/Reshape_3"),
        mk("MatMul", ["om", "wo"], ["pj"], name="/attn/proj/MatMul"),
        mk("Add", ["pj", "bo"], ["pb"], name="/attn/proj/Add"),
        mk("Add", ["x", "pb"], ["y0"], name="/Add"),
        *extra,
    ]
    last = nodes[-1].output[0]
    graph = helper.make_graph(
        nodes, "attention_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, N, D])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [batch, N, D])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="onnx.helper")


def save(model, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def test_helper_block_macs_and_costs_equal_the_closed_forms(tmp_path):
    g = load_onnx(save(attention_block(), tmp_path / "block.onnx"))
    dh = D // H
    assert g.total_macs() == 4 * N * D * D + 2 * H * N * N * dh
    assert g.macs_by_kind() == {"matmul": 4 * N * D * D + 2 * N * N * D}
    by_group = Counter()
    for op in g:
        by_group[op.group] += op.cost.macs
    assert +by_group == {"projection": 4 * N * D * D, "attention": 2 * N * N * D}
    kinds = Counter(op.kind for op in g.compute_ops())
    # the output projection's bias is folded into its matmul (torch's linear): 6 matmuls
    assert kinds == {OpKind.MATMUL: 6, OpKind.LAYERNORM: 1, OpKind.ELEMENTWISE: 2,
                     OpKind.SOFTMAX: 1}
    (sm,) = [op for op in g if op.kind is OpKind.SOFTMAX]
    e = H * N * N
    assert sm.cost.element_ops == {"add": e, "div": e, "exp": e, "max": e, "sub": e}
    assert sm.reduce_len == N
    (ln,) = [op for op in g if op.kind is OpKind.LAYERNORM]
    R, L = N, D  # _norm_ops with weight and bias
    assert ln.cost.element_ops == {"add": 3 * R * L + R, "sub": R * L, "mul": 2 * R * L,
                                   "div": 2 * R + R * L, "sqrt": R}
    (proj,) = [op for op in g if op.name.endswith("proj.matmul")]
    assert proj.cost.element_ops == {"add": N * D}  # the bias as the epilogue
    (scale,) = [op for op in g if op.fn == "mul"]
    assert scale.input_shapes == [[1, H, N, N]]  # the scalar constant dropped, as in torch
    assert proj.layer is None and proj.group == "projection"
    assert g.meta["tracer"] == "onnx" and g.meta["tokens"] == N
    assert g.meta["onnx"]["producer"] == "onnx.helper" and g.meta["unknown_ops"] == {}
    # Q's rows reach the scores row by row (through the head reshape and transpose)
    scores = next(op.name for op in g if op.name.endswith("attn.matmul"))
    aligned = {slot: ok for _, slot, ok in g.compute_predecessors(scores)}
    assert aligned == {0: True, 1: False}


def test_helper_block_symbolic_batch_is_fixed_to_one(tmp_path):
    g = load_onnx(save(attention_block(batch="batch"), tmp_path / "b.onnx"))
    assert g.meta["onnx"]["symbolic_dims"] == {"batch": 1}
    assert g.meta["inputs"][0]["shape"] == [1, N, D]
    assert g.total_macs() == 4 * N * D * D + 2 * N * N * D


def test_unknown_onnx_ops_get_the_conservative_default(tmp_path):
    extra = [helper.make_node("CumSum", ["y0", "axis"], ["y"], name="/CumSum")]
    model = attention_block(extra=extra)
    model.graph.initializer.append(numpy_helper.from_array(
        __import__("numpy").array(1, dtype="int64"), "axis"))
    g = load_onnx(save(model, tmp_path / "u.onnx"))
    assert g.meta["unknown_ops"] == {"onnx::CumSum": 1}
    (op,) = [op for op in g if op.attrs.get("unknown")]
    assert op.kind is OpKind.ELEMENTWISE and op.cost.element_ops == {"unknown": N * D}
    assert op.attrs["aten"] == "onnx::CumSum"


def test_graph_is_deterministic_and_round_trips(tmp_path, capsys):
    path = save(attention_block(), tmp_path / "block.onnx")
    assert load_onnx(path).to_json() == load_onnx(path).to_json()
    assert cli_main(["trace", str(path), "-o", str(tmp_path / "g.json")]) == 0
    assert workloads.load(tmp_path / "g.json").to_json() == load_onnx(path).to_json()
    assert cli_main(["trace", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["macs"] == 4 * N * D * D + 2 * N * N * D


def test_run_on_an_onnx_file_does_not_import_torch(tmp_path):
    path = save(attention_block(), tmp_path / "block.onnx")
    code = ("import sys, json, io, contextlib\n"
            "from accelsim.cli import main\n"
            "buf = io.StringIO()\n"
            f"with contextlib.redirect_stdout(buf): rc = main(['run', '--arch', 'vitality', "
            f"'--workload', {str(path)!r}, '--json'])\n"
            "assert rc == 0, rc\n"
            "assert json.loads(buf.getvalue())['macs'] > 0\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_docs_table_lists_every_onnx_op():
    from workloads._onnx_ops import HANDLERS

    text = (ROOT / "docs" / "workloads.md").read_text()
    table = text[text.index("## 7. ONNX files"):text.index("## 8.")]
    listed = {w.strip().split(" ")[0].strip("`") for line in table.splitlines() if line.startswith("| `")
              for w in line.split("|")[1].split(", ")}
    assert {name.split("::")[1] for name in HANDLERS} <= listed


# -- bad files: one line naming the file, exit 2 ---------------------------------------------------


def _bad(tmp_path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("case", ["garbage", "empty", "truncated", "opset_high", "opset_low",
                                  "dangling_input", "not_a_file"])
def test_bad_onnx_files_are_one_line_errors(tmp_path, capsys, case):
    good = attention_block().SerializeToString()
    if case == "garbage":
        p = _bad(tmp_path, "g.onnx", b"\x00\xffnot a protobuf at all" * 10)
    elif case == "empty":
        p = _bad(tmp_path, "e.onnx", b"")
    elif case == "truncated":
        p = _bad(tmp_path, "t.onnx", good[: len(good) // 2])
    elif case in ("opset_high", "opset_low"):
        version = opset_range()[1] + 1 if case == "opset_high" else opset_range()[0] - 1
        p = save(attention_block(opset=version), tmp_path / "o.onnx")
    elif case == "dangling_input":
        m = attention_block()
        m.graph.node[1].input[1] = "nowhere"
        p = save(m, tmp_path / "d.onnx")
    else:
        p = tmp_path / "dir.onnx"
        p.mkdir()
    with pytest.raises(WorkloadError) as exc:
        load_onnx(p)
    assert str(p) in str(exc.value)
    if case.startswith("opset"):
        assert "unsupported opset" in str(exc.value)
    assert cli_main(["run", "--arch", "vitality", "--workload", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(p) in err and "Traceback" not in err


def test_without_the_onnx_package_the_error_says_what_to_install(tmp_path, monkeypatch):
    path = save(attention_block(), tmp_path / "block.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(WorkloadError, match=r"accelsim\[onnx\]"):
        load_onnx(path)


# -- zoo models exported by torch.onnx: equal to the torch trace --------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """DeiT-Tiny at depth 2, softmax and Taylor attention: (onnx path, torch trace)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript", reason="torch.onnx.export needs onnxscript "
                                             "(pip install -e '.[onnx]')")
    import warnings

    import vitality_model

    torch.set_num_threads(1)
    out = {}
    d = tmp_path_factory.mktemp("onnx")
    for att in ("softmax", "taylor"):
        cfg = replace(vitality_model.ZOO["deit_tiny"], depth=2)
        model = vitality_model.VisionTransformer(cfg, attention=att).eval()
        x = torch.randn(1, 3, 224, 224)
        path = d / f"deit_tiny2_{att}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False)
        out[att] = (path, workloads.trace(model, x))
    return out


@pytest.mark.parametrize("attention", ["softmax", "taylor"])
def test_exported_zoo_model_equals_the_torch_trace(exported, attention):
    path, traced = exported[attention]
    g = load_onnx(path)
    assert g.total_macs() == traced.total_macs() > 0
    assert g.macs_by_kind() == traced.macs_by_kind()

    def matmuls(graph):
        return sorted((op.m, op.n, op.k, op.batch, op.group) for op in graph if op.kind.is_matmul)

    assert matmuls(g) == matmuls(traced)  # same products, same groups (scopes from metadata)
    assert [op.layer for op in g if op.kind.is_matmul] == \
        [op.layer for op in traced if op.kind.is_matmul]
    assert g.meta["unknown_ops"] == {} and g.meta["tokens"] == traced.meta["tokens"] == 197
    assert g.meta["onnx"]["producer"].startswith("pytorch")
    if attention == "taylor":  # the same op kinds, one for one
        assert Counter(op.kind for op in g.compute_ops()) == \
            Counter(op.kind for op in traced.compute_ops())


def test_exported_model_loads_without_its_external_data_file(exported, tmp_path):
    path, traced = exported["taylor"]
    data = path.with_name(path.name + ".data")
    lonely = tmp_path / path.name
    lonely.write_bytes(path.read_bytes())  # the .data file is not copied
    assert not (tmp_path / data.name).exists()
    assert load_onnx(lonely).total_macs() == traced.total_macs()


@pytest.mark.parametrize("attention", ["softmax", "taylor"])
def test_torchscript_exporter_file_with_run_time_shapes(tmp_path, attention):
    """torch's older TorchScript exporter (opset 14): reshape / expand targets computed at run
    time (Shape -> Gather -> Concat -> Where -> Expand), layer norm and GELU decomposed, scopes
    only in node names. Shapes are folded, then MACs per group equal the torch trace's."""
    torch = pytest.importorskip("torch")
    import warnings

    import vitality_model

    torch.set_num_threads(1)
    model = vitality_model.VisionTransformer(
        replace(vitality_model.ZOO["deit_tiny"], depth=2), attention=attention).eval()
    x = torch.randn(1, 3, 224, 224)
    path = tmp_path / "legacy.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=14)
    assert {n.op_type for n in onnx.load(str(path)).graph.node} >= {"Where", "Expand", "Erf"}
    g, traced = load_onnx(path), workloads.trace(model, x)

    def by_group(graph):
        c = Counter()
        for op in graph:
            c[op.group] += op.cost.macs
        return +c

    assert g.total_macs() == traced.total_macs()
    assert by_group(g) == by_group(traced)
    assert g.meta["unknown_ops"] == {}
    assert [op.layer for op in g if op.kind.is_matmul] == \
        [op.layer for op in traced if op.kind.is_matmul]
