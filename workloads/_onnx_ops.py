"""ONNX nodes -> the neutral records of ``workloads._raw``, and the ONNX op table.

``to_raw`` turns a shape-inferred ``onnx.ModelProto`` into a ``RawGraph`` (targets
``onnx::OpType``, or ``DOMAIN::OpType`` outside the default domain). ``HANDLERS`` maps each
known op onto the handlers of the aten table (``workloads._aten``) with the arguments renamed,
so an ONNX graph is costed by exactly the code that costs a torch trace: ``MatMul`` by the
matmul path (``_matmul_dims`` + ``Builder.matmul``), ``Conv`` by ``h_conv``, ``Softmax`` by
``h_softmax``, ``LayerNormalization`` by ``h_layer_norm`` and so on. The table of
docs/workloads.md ("ONNX files") lists them; tests/test_onnx.py checks it against this module.

Two rewrites keep the graph as the torch tracer would see it: a ``MatMul`` by a constant whose
only consumer adds a constant bias becomes one matmul with the bias as its epilogue (torch's
``linear``), and constant scalar operands of elementwise ops are dropped (torch passes them as
Python numbers, not tensors).
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import _aten, _aten_counted
from ._convert import Builder, Val
from ._raw import RawGraph, RawNode, Ref
from .errors import WorkloadError

Handler = Callable[[Builder, RawNode, dict[str, Any], str], Any]

#: Constants whose values are kept (axes, split sizes): at most this many elements.
SMALL_CONST = 64


# -- reading the model ---------------------------------------------------------------------------


def _shape_of(type_proto: Any) -> tuple[int, ...] | None:
    """A static tensor shape, or None (not a tensor, or a dim shape inference left open)."""
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in type_proto.tensor_type.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    out: dict[str, Any] = {}
    for a in node.attribute:
        if a.type in (a.GRAPH, a.GRAPHS, a.TENSOR, a.SPARSE_TENSOR, a.TENSORS, a.TYPE_PROTO,
                      a.TYPE_PROTOS, a.SPARSE_TENSORS):
            continue  # subgraphs and tensors: not read (Constant is handled before)
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else list(v) if isinstance(v, list) else v
    return out


def _const_value(tensor: Any) -> list | None:
    """The values of a small constant tensor, flattened (None when large or unreadable)."""
    from onnx import numpy_helper

    if math.prod(tensor.dims) > SMALL_CONST or tensor.data_location == tensor.EXTERNAL:
        return None
    try:
        return [x.item() for x in numpy_helper.to_array(tensor).reshape(-1)]
    except Exception:  # an odd dtype: the value is only a hint
        return None


def _constant_node(node: Any) -> tuple[tuple[int, ...], list | None]:
    """Shape and (small) value of a ``Constant`` node's output."""
    for a in node.attribute:
        if a.name == "value":
            return tuple(int(d) for d in a.t.dims), _const_value(a.t)
        if a.name in ("value_int", "value_float"):
            return (), [a.i if a.name == "value_int" else a.f]
        if a.name in ("value_ints", "value_floats"):
            vals = list(a.ints) if a.name == "value_ints" else list(a.floats)
            return (len(vals),), vals
    return (), None


def _stack(node: Any) -> tuple[tuple[str, str], ...]:
    """(module path, class) pairs, outermost first: from the torch exporter's metadata
    (``pkg.torch.onnx.name_scopes`` / ``class_hierarchy``), else from a ``/a/b/Op`` node name."""
    md = {p.key: p.value for p in node.metadata_props}
    scopes, classes = md.get("pkg.torch.onnx.name_scopes"), md.get("pkg.torch.onnx.class_hierarchy")
    if scopes:
        try:
            paths = [str(s) for s in ast.literal_eval(scopes)]
            kinds = [str(c) for c in ast.literal_eval(classes)] if classes else []
        except (ValueError, SyntaxError):
            paths, kinds = [], []
        kinds += [""] * (len(paths) - len(kinds))
        # the first entry is the root module, the last the op itself
        return tuple((p, k.rsplit(".", 1)[-1]) for p, k in zip(paths[1:-1], kinds[1:-1],
                                                               strict=True) if p)
    parts = [p for p in node.name.split("/")[:-1] if p]
    out, path = [], ""
    for p in parts:
        path = p if not path or p.startswith(path + ".") else f"{path}.{p}"
        out.append((path, ""))
    return tuple(out)


def to_raw(model: Any, name: str, external: set[str] | frozenset[str] = frozenset()) -> RawGraph:
    """The ``RawGraph`` of a shape-inferred model (``external``: graph inputs that are weights
    stored in another file); a tensor whose shape is still unknown is a ``WorkloadError``
    naming it."""
    g = model.graph
    shapes: dict[str, tuple[int, ...] | None] = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        shapes[vi.name] = _shape_of(vi.type)
    refs: dict[str, Ref] = {}
    values: dict[str, list | None] = {}
    for t in g.initializer:
        refs[t.name] = Ref("const", t.name, 0, tuple(int(d) for d in t.dims))
        values[t.name] = _const_value(t)
    inputs = []
    for vi in g.input:
        if vi.name in refs:
            continue
        shape = shapes.get(vi.name)
        if shape is None:
            raise WorkloadError(f"{name}: graph input {vi.name!r} has no static tensor shape")
        if vi.name in external:
            refs[vi.name] = Ref("const", vi.name, 0, shape)
            continue
        refs[vi.name] = Ref("input", vi.name, 0, shape)
        inputs.append((vi.name, shape))
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    uses = Counter(i for n in g.node for i in n.input if i)
    uses.update(o.name for o in g.output)
    consts = {t.name: tuple(int(d) for d in t.dims) for t in g.initializer}
    consts.update((k, refs[k].shape) for k in external if k in refs)
    consts.update((n.output[0], _constant_node(n)[0]) for n in g.node
                  if n.op_type == "Constant" and n.domain in ("", "ai.onnx"))
    fused = _bias_fusions(g.node, consts, uses)
    absorbed = set(fused.values())
    nodes: list[RawNode] = []
    for idx, node in enumerate(g.node):
        if idx in absorbed:
            continue
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            shape, value = _constant_node(node)
            refs[node.output[0]] = Ref("const", node.output[0], 0, shape)
            values[node.output[0]] = value
            continue
        outs = list(node.output)
        ins: list[Ref | None] = [refs.get(i) if i else None for i in node.input]
        if idx in fused:  # MatMul + Add(bias): one matmul with its bias
            add = g.node[fused[idx]]
            outs = list(add.output)
            ins.append(next(refs[i] for i in add.input if i != node.output[0]))
        for i, ref in zip(node.input, ins, strict=False):
            if i and ref is None:
                raise WorkloadError(f"{name}: node {node.name or node.op_type!r} reads "
                                    f"{i!r}, which nothing produces")
        out_shapes = []
        for o in outs:
            s = shapes.get(o) if o else None
            if s is None and o and uses[o]:
                raise WorkloadError(f"{name}: the shape of {o!r} (output of "
                                    f"{node.op_type} {node.name!r}) is unknown after shape "
                                    "inference")
            out_shapes.append(s)
        domain = node.domain if node.domain not in ("", "ai.onnx") else "onnx"
        raw = RawNode(f"n{idx}", f"{domain}::{node.op_type}",
                      {"inputs": ins, "attrs": _attrs(node), "opset": opset,
                       "values": [values.get(i) if i else None for i in node.input]},
                      out_shapes, _stack(node), multi=len(outs) > 1)
        nodes.append(raw)
        for i, (o, s) in enumerate(zip(outs, out_shapes, strict=True)):
            if o:
                refs[o] = Ref("node", raw.name, i, s or ())
    outputs = [refs[o.name] for o in g.output if refs.get(o.name) is not None
               and refs[o.name].source == "node"]
    return RawGraph(nodes, inputs, outputs, "onnx")


def _bias_fusions(nodes: Any, consts: dict[str, tuple[int, ...]],
                  uses: Counter) -> dict[int, int]:
    """{MatMul index: Add index} for each MatMul by a constant 2-D matrix whose output feeds
    only an Add of a constant 1-D bias of its width (torch's ``linear``, as exporters write it)."""
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}
    out: dict[int, int] = {}
    for j, add in enumerate(nodes):
        if add.op_type != "Add" or len(add.input) != 2 or add.domain not in ("", "ai.onnx"):
            continue
        for a, bias in (add.input, add.input[::-1]):
            i = producer.get(a)
            if i is None or bias not in consts or uses[a] != 1 or i in out:
                continue
            mm = nodes[i]
            if mm.op_type != "MatMul" or mm.domain not in ("", "ai.onnx") \
                    or mm.input[1] not in consts:
                continue
            w = consts[mm.input[1]]
            if len(w) == 2 and consts[bias] in ((w[1],), (1, w[1])):
                out[i] = j
                break
    return out


# -- handlers --------------------------------------------------------------------------------------

HANDLERS: dict[str, Handler] = {}


def _register(names: str, handler: Handler) -> None:
    for n in names.split():
        HANDLERS[f"onnx::{n}"] = handler


def _in(a: dict[str, Any], i: int) -> Any:
    ins = a["inputs"]
    v = ins[i] if i < len(ins) else None
    return v if isinstance(v, Val) else None


def _out(raw: RawNode) -> tuple[int, ...]:
    return raw.outputs[0] or ()


def _op(raw: RawNode) -> str:
    return raw.target.split("::", 1)[1]


def _tensors(a: dict[str, Any], drop_scalars: bool = True) -> list[Val]:
    """Tensor operands; constant scalars dropped (torch passes them as numbers)."""
    return [v for v in a["inputs"] if isinstance(v, Val)
            and not (drop_scalars and v.is_const and math.prod(v.shape) <= 1)]


def _axis(a: dict[str, Any], key: str, default: int, ndim: int) -> int:
    d = int(a["attrs"].get(key, default))
    return d + ndim if d < 0 else d


def h_matmul(b: Builder, raw, a, fn):
    """MatMul (numpy semantics, as torch.matmul) and the integer / quantized forms."""
    op = _op(raw)
    x, y = (_in(a, 0), _in(a, 3)) if op == "QLinearMatMul" else (_in(a, 0), _in(a, 1))
    bias = _in(a, 2) if op == "MatMul" else None  # the fused bias of a linear
    m, n, k, batch = _aten._matmul_dims(x.shape, y.shape, _out(raw))
    return b.matmul(raw, "matmul", [x, y, bias], _out(raw), m, n, k, batch)


def h_gemm(b: Builder, raw, a, fn):
    """``alpha * A' B' + beta * C`` with A' = A or A^T (``transA``), B' likewise."""
    x, y, c = _in(a, 0), _in(a, 1), _in(a, 2)
    at = a["attrs"]
    m, k = (x.shape[1], x.shape[0]) if at.get("transA") else (x.shape[0], x.shape[1])
    n = y.shape[0] if at.get("transB") else y.shape[1]
    return b.matmul(raw, "gemm", [x, y, c], _out(raw), m, n, k, 1,
                    scale=float(at.get("alpha", 1.0)) != 1.0, row_a=not at.get("transA"))


def h_conv(b: Builder, raw, a, fn):
    op = _op(raw)
    x, w, bias = (_in(a, 0), _in(a, 3), _in(a, 8)) if op == "QLinearConv" else \
        (_in(a, 0), _in(a, 1), _in(a, 2) if op != "ConvInteger" else None)
    transposed = op == "ConvTranspose"
    args = {"input": x, "weight": w, "bias": bias, "groups": int(a["attrs"].get("group", 1)),
            "transposed": transposed}
    return _aten.h_conv(b, raw, args, "conv_transpose" if transposed else "conv")


#: ONNX elementwise op -> the aten op whose handler costs it
ELEMENTWISE = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow",
               "Sqrt": "sqrt", "Neg": "neg", "Abs": "abs", "Reciprocal": "reciprocal",
               "Max": "maximum", "Min": "minimum", "Sum": "add", "Mean": "add", "Where": "where",
               "Clip": "clamp", "Erf": "erf", "Log": "log", "Sin": "sin", "Cos": "cos",
               "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign", "Mod": "fmod",
               "Exp": "exp"}
ACTIVATIONS = {"Gelu": "gelu", "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
               "Elu": "elu", "Selu": "selu", "Celu": "celu", "LeakyRelu": "leaky_relu",
               "PRelu": "prelu", "Softplus": "softplus", "HardSigmoid": "hardsigmoid",
               "HardSwish": "hardswish", "Mish": "mish", "ThresholdedRelu": "threshold_relu"}
COMPARISONS = {"Equal": "eq", "Greater": "gt", "Less": "lt", "GreaterOrEqual": "ge",
               "LessOrEqual": "le", "Not": "logical_not", "And": "logical_and",
               "Or": "logical_or", "Xor": "logical_xor", "IsNaN": "isnan", "IsInf": "isinf"}


def h_elementwise(b: Builder, raw, a, fn):
    op = _op(raw)
    args = {f"in{i}": v for i, v in enumerate(_tensors(a))}
    if op == "Exp":
        return _aten.h_exp(b, raw, {"self": args["in0"]}, "exp")
    if op in ACTIVATIONS:
        return _aten.h_activation(b, raw, args, ACTIVATIONS[op])
    if op in COMPARISONS:
        return _aten.h_threshold(b, raw, args, COMPARISONS[op])
    return _aten.h_elementwise(b, raw, args, ELEMENTWISE[op])


def h_softmax(b: Builder, raw, a, fn):
    x = _in(a, 0)
    opset13 = a["opset"] >= 13  # before 13: over the flattened dims from axis (default 1)
    dim = _axis(a, "axis", -1 if opset13 else 1, len(x.shape))
    return _aten.h_softmax(b, raw, {"self": x, "dim": dim},
                           "log_softmax" if _op(raw) == "LogSoftmax" else "softmax")


def h_norm(b: Builder, raw, a, fn):
    op, x = _op(raw), _in(a, 0)
    if op in ("LayerNormalization", "RMSNormalization"):
        axis = _axis(a, "axis", -1, len(x.shape))
        args = {"input": x, "normalized_shape": list(x.shape[axis:]), "weight": _in(a, 1),
                "bias": _in(a, 2) if op == "LayerNormalization" else None}
        return _aten.h_layer_norm(b, raw, args,
                                  "layer_norm" if op == "LayerNormalization" else "rms_norm")
    if op == "BatchNormalization":
        args = {"input": x, "weight": _in(a, 1), "bias": _in(a, 2), "running_mean": _in(a, 3),
                "running_var": _in(a, 4)}
        return _aten.h_batch_norm(b, raw, args, "batch_norm")
    groups = x.shape[1] if op == "InstanceNormalization" else int(a["attrs"]["num_groups"])
    return _aten.h_group_norm(b, raw, {"input": x, "num_groups": groups, "weight": _in(a, 1),
                                       "bias": _in(a, 2)}, "group_norm")


REDUCTIONS = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin",
              "ReduceProd": "prod", "ReduceL2": "linalg_vector_norm", "ReduceL1": "sum",
              "ReduceSumSquare": "linalg_vector_norm", "ReduceLogSumExp": "logsumexp",
              "ArgMax": "argmax", "ArgMin": "argmin"}


def h_reduce(b: Builder, raw, a, fn):
    op, x, out = _op(raw), _in(a, 0), _out(raw)
    at, nd = a["attrs"], len(x.shape)
    if op in ("ArgMax", "ArgMin"):
        axes: list[int] | None = [int(at.get("axis", 0))]
    elif "axes" in at:
        axes = [int(v) for v in at["axes"]]
    elif len(a["values"]) > 1 and a["values"][1] is not None:
        axes = [int(v) for v in a["values"][1]]
    elif len(a["inputs"]) > 1 and a["inputs"][1] is not None and len(out) == nd:
        axes = [d for d in range(nd) if x.shape[d] != out[d]]  # a computed axes input
    else:
        axes = None
    if not axes and at.get("noop_with_empty_axes"):
        return b.view(raw, "identity", [x], out, x.track, gtrack=x.gtrack)
    return _aten.h_reduce(b, raw, {"self": x, "dim": axes or None}, REDUCTIONS[op])


def h_pool(b: Builder, raw, a, fn):
    op, x = _op(raw), _in(a, 0)
    nd = max(1, len(x.shape) - 2)
    kind = {"GlobalAveragePool": "adaptive_avg_pool", "GlobalMaxPool": "adaptive_max_pool",
            "AveragePool": "avg_pool", "MaxPool": "max_pool", "LpPool": "avg_pool"}[op]
    args = {"self": x, "kernel_size": a["attrs"].get("kernel_shape")}
    return _aten.h_pool(b, raw, args, f"{kind}{min(nd, 3)}d")


def _same_axes_view(b: Builder, raw, x: Val, fn: str) -> Val:
    """A view that keeps every axis in place (slice, pad): an axis is tracked iff its size
    did not change."""
    out = _out(raw)
    same = len(out) == len(x.shape)

    def keep(p):
        return p if same and p is not None and x.shape[p] == out[p] else None

    gtrack = None if x.gtrack is None else tuple((keep(p), s) for p, s in x.gtrack)
    return b.view(raw, fn, [x], out, keep(x.track), gtrack=gtrack)


def h_view(b: Builder, raw, a, fn):
    op, x = _op(raw), _in(a, 0)
    at = a["attrs"]
    if op == "Transpose":
        perm = at.get("perm") or list(range(len(x.shape)))[::-1]
        return _aten.h_view(b, raw, {"self": x, "dims": perm}, "permute")
    if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        return _aten.h_view(b, raw, {"self": x}, "reshape")
    if op in ("Identity", "Dropout", "Cast", "CastLike"):
        return _aten.h_view(b, raw, {"self": x}, "clone")
    if op in ("Slice", "Pad"):
        return _same_axes_view(b, raw, x, op.lower())
    if op == "Concat":
        tensors = [v for v in a["inputs"] if isinstance(v, Val)]
        return _aten.h_view(b, raw, {"tensors": tensors, "dim": at.get("axis", 0)}, "cat")
    if op == "Split":
        return _aten.h_view(b, raw, {"self": x, "dim": at.get("axis", 0)}, "split")
    if op in ("Expand", "Tile"):
        return _aten.h_view(b, raw, {"self": x}, op.lower())
    if op == "Gather":
        idx = _in(a, 1)
        if x.is_const:  # a table lookup by computed indices: an embedding
            return _aten.h_embedding(b, raw, {"indices": idx, "weight": x}, "embedding")
        if idx.is_const and idx.shape == ():
            return _aten.h_view(b, raw, {"self": x, "dim": at.get("axis", 0)}, "select")
        return _aten.h_view(b, raw, {"self": x, "index": idx}, "index_select")
    names = {"GatherElements": "gather", "GatherND": "gather", "DepthToSpace": "pixel_shuffle",
             "SpaceToDepth": "pixel_unshuffle", "Trilu": "triu"}
    return _aten.h_view(b, raw, {"self": x}, names[op])


def h_resize(b: Builder, raw, a, fn):
    x = _in(a, 0)
    mode = str(a["attrs"].get("mode", "nearest"))
    d = max(1, min(3, len(x.shape) - 2))
    kind = {"linear": ("linear1d", "bilinear2d", "trilinear3d")[d - 1],
            "cubic": "bicubic2d"}.get(mode, f"nearest{d}d")
    return _aten_counted.h_upsample(b, raw, {"self": x}, f"upsample_{kind}")


def h_like(b: Builder, raw, a, fn):
    """Shape, Size, ConstantOfShape ...: only a shape is used, the result is a constant."""
    return _aten.h_like(b, raw, a, fn)


def h_einsum(b: Builder, raw, a, fn):
    return _aten_counted.h_einsum(b, raw, {"equation": a["attrs"]["equation"],
                                   "tensors": _tensors(a, drop_scalars=False)}, "einsum")


def h_attention(b: Builder, raw, a, fn):
    """The opset-23 ``Attention`` on 4-D (batch, heads, tokens, dim) inputs: as SDPA."""
    q, k, v = _in(a, 0), _in(a, 1), _in(a, 2)
    if len(q.shape) != 4:
        return b.unknown_op(raw, raw.target, _tensors(a, False), _out(raw))
    return _aten.h_sdpa(b, raw, {"query": q, "key": k, "value": v, "attn_mask": _in(a, 3),
                                 "is_causal": a["attrs"].get("is_causal")}, "attention")


def h_quantize(b: Builder, raw, a, fn):
    return _aten.h_quantize(b, raw, {"self": _in(a, 0)}, "quantize_per_tensor")


_register("MatMul MatMulInteger QLinearMatMul", h_matmul)
_register("Gemm", h_gemm)
_register("Conv ConvTranspose ConvInteger QLinearConv", h_conv)
_register(" ".join([*ELEMENTWISE, *ACTIVATIONS, *COMPARISONS]), h_elementwise)
_register("Softmax LogSoftmax", h_softmax)
_register("LayerNormalization RMSNormalization BatchNormalization GroupNormalization "
          "InstanceNormalization", h_norm)
_register(" ".join(REDUCTIONS), h_reduce)
_register("GlobalAveragePool GlobalMaxPool AveragePool MaxPool LpPool", h_pool)
_register("Transpose Reshape Flatten Squeeze Unsqueeze Identity Dropout Cast CastLike Slice Pad "
          "Concat Split Expand Tile Gather GatherElements GatherND DepthToSpace SpaceToDepth "
          "Trilu", h_view)
_register("Resize Upsample", h_resize)
_register("Shape Size ConstantOfShape EyeLike RandomNormalLike RandomUniformLike", h_like)
_register("Einsum", h_einsum)
_register("Attention", h_attention)
_register("QuantizeLinear DequantizeLinear DynamicQuantizeLinear", h_quantize)
