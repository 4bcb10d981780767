"""ONNX files as workloads: ``load_onnx(path) -> OpGraph``, without torch.

The file is read through ``safeio`` (a regular file under the size limit), parsed, checked
(``onnx.checker``), its opset checked against ``OPSETS``, and its shapes inferred by
``onnx.shape_inference`` (strict, with data propagation); symbolic input dims (``batch``) are
fixed to 1 first and recorded in ``meta["onnx"]["symbolic_dims"]``. Each node then becomes the
same neutral record the PyTorch capture emits (``workloads._raw``) and goes through the same
converter and cost table (``workloads._convert``, ``workloads._aten``): an ONNX ``MatMul`` is
costed by the handler of ``aten::matmul``, ``Conv`` by that of ``aten::conv2d``, ``Softmax`` by
that of ``aten::softmax`` and so on (``workloads._onnx_ops`` holds the translation). Ops the
table does not know get the conservative default and are listed in ``meta["unknown_ops"]`` as
``onnx::OpType``. Needs the optional extra ``accelsim[onnx]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._progress import stage
from .errors import WorkloadError
from .ir import OpGraph, Precision

#: Default-domain opsets read (inclusive). Below 9 the operators' shapes differ (Upsample,
#: BatchNormalization's spatial); above the installed onnx's own maximum nothing is known.
MIN_OPSET = 9

#: The ``tracer`` written into the graph's meta.
TRACER = "onnx"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise WorkloadError("reading .onnx workloads needs the onnx package: "
                            "pip install 'accelsim[onnx]'") from None
    return onnx


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


def opset_range() -> tuple[int, int]:
    """The default-domain opsets ``load_onnx`` accepts (inclusive)."""
    return MIN_OPSET, int(_onnx().defs.onnx_opset_version())


def parse_model(data: bytes, name: str) -> tuple[Any, set[str]]:
    """A checked ``onnx.ModelProto`` from the bytes of a file, and the names of its weights
    stored as external data (never read: only their shapes matter, so the ``.data`` file need
    not be there); every failure a one-line ``WorkloadError`` naming the file."""
    onnx = _onnx()
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise WorkloadError(f"{name}: not an ONNX model (the protobuf does not parse: "
                            f"{_first_line(exc)})") from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.node:
        raise WorkloadError(f"{name}: not an ONNX model (no IR version or no graph nodes; "
                            "truncated or another kind of file?)")
    lo, hi = opset_range()
    default = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not default:
        raise WorkloadError(f"{name}: the model imports no default-domain opset")
    if not lo <= default[0] <= hi:
        raise WorkloadError(f"{name}: unsupported opset {default[0]} (supported: {lo} to {hi}; "
                            "convert it with onnx.version_converter)")
    external = _externals_as_inputs(model)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and protobuf errors alike
        raise WorkloadError(f"{name}: invalid ONNX model: {_first_line(exc)}") from None
    return model, external


def _externals_as_inputs(model: Any) -> set[str]:
    """Move the initializers whose data lives in another file to typed graph inputs (their
    shape is all that is read), so the checker and shape inference need no other file."""
    from onnx import helper

    g = model.graph
    keep: list[Any] = []
    moved: list[Any] = []
    for t in g.initializer:
        (moved if t.data_location == t.EXTERNAL else keep).append(t)
    if not moved:
        return set()
    del g.initializer[:]
    g.initializer.extend(keep)
    declared = {vi.name for vi in g.input}
    for t in moved:
        if t.name not in declared:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return {t.name for t in moved}


def _fix_symbolic_dims(model: Any, external: set[str]) -> dict[str, int]:
    """Set every symbolic or missing dim of the graph inputs to 1; returns what was fixed
    (``"input[axis]" or "dim_param"`` -> 1)."""
    inits = {t.name for t in model.graph.initializer} | external
    fixed: dict[str, int] = {}
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        shape = vi.type.tensor_type.shape
        for axis, dim in enumerate(shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                continue
            key = dim.dim_param or f"{vi.name}[{axis}]"
            fixed[key] = 1
            dim.Clear()
            dim.dim_value = 1
    return dict(sorted(fixed.items()))


def _infer(model: Any, name: str) -> Any:
    onnx = _onnx()
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True,
                                                 data_prop=True)
    except Exception as exc:  # InferenceError, ValidationError
        raise WorkloadError(f"{name}: shape inference failed: {_first_line(exc)}") from None


def load_onnx(path: str | os.PathLike, *, precision: Precision | None = None) -> OpGraph:
    """The operator graph of the ONNX file ``path`` (see the module docstring)."""
    from safeio import check_limit, read_bytes

    from ._convert import build_graph
    from ._onnx_ops import HANDLERS, to_raw
    from .tracer import TRACER_VERSION

    name = os.fspath(path)
    precision = precision or Precision()
    stage("read and check")
    model, external = parse_model(read_bytes(path, "ONNX model", WorkloadError), name)
    check_limit("ops", len(model.graph.node), f"{name}: nodes", WorkloadError)
    fixed = _fix_symbolic_dims(model, external)
    stage("shape inference")
    model = _infer(model, name)
    from ._onnx_fold import fold_shapes, missing_shapes

    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if missing_shapes(model) and fold_shapes(model, opset):  # shapes computed at run time
        model = _infer(model, name)
    stage("convert")
    raw = to_raw(model, name, external)
    graph, builder = build_graph(raw, precision, 1.0, None, handlers=HANDLERS)
    default = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    meta: dict[str, Any] = {"model": Path(name).stem, "attention": None,
                            "img_size": _img_size(raw.inputs), "tokens": _tokens(graph)}
    meta.update(builder.meta_totals(raw, precision))
    meta["tracer"] = TRACER
    meta["tracer_version"] = TRACER_VERSION
    meta["onnx"] = {"opset": int(default), "ir_version": int(model.ir_version),
                    "producer": f"{model.producer_name} {model.producer_version}".strip(),
                    "symbolic_dims": fixed}
    graph.meta = meta
    graph.check()
    return graph


def _img_size(inputs: list[tuple[str, tuple[int, ...]]]) -> int | None:
    """The image side when the (first) input is one ``N x C x S x S`` image batch."""
    if inputs and len(inputs[0][1]) == 4 and inputs[0][1][2] == inputs[0][1][3]:
        return int(inputs[0][1][2])
    return None


def _tokens(graph: OpGraph) -> int | None:
    """Tokens: the rows of the first softmax (attention scores), else of the first
    attention-group op, as the torch tracer reads them."""
    for op in graph:
        if op.kind.value == "softmax" and len(op.output_shape) >= 2:
            return int(op.output_shape[-2])
    first = next((op for op in graph if op.group == "attention" and op.input_shapes
                  and len(op.input_shapes[0]) >= 2), None)
    return int(first.input_shapes[0][-2]) if first else None
