"""Constant folding of shape arithmetic, for ONNX files whose shapes inference leaves open.

Exporters that predate static shapes (torch's TorchScript exporter, tf2onnx ...) compute
reshape and expand targets at run time: ``Shape(x) -> Gather -> Concat -> Where -> Expand``.
``onnx.shape_inference`` does not evaluate ``Where``, ``Equal`` and friends, so such outputs
keep unknown shapes. ``fold_shapes`` evaluates every node whose inputs are known small values
(constants, or ``Shape`` / ``Size`` of a tensor with a static shape) with onnx's reference
evaluator and replaces it by a ``Constant`` node; shape inference then runs again. Only values
of at most ``FOLD_ELEMENTS`` elements are computed (shape vectors, not activations), and a node
the evaluator refuses is left as it was.
"""

from __future__ import annotations

import math
from typing import Any

#: Largest value folded (elements).
FOLD_ELEMENTS = 1024

#: Ops evaluated when all their inputs are known (shape arithmetic).
_FOLDABLE = ("Gather Unsqueeze Squeeze Concat Slice Cast Equal Where Mul Add Sub Div "
             "ConstantOfShape Range Reshape Expand Identity Not And Or Less Greater Max Min "
             "Neg Abs ReduceProd ReduceSum ReduceMax ReduceMin Floor Ceil Mod Transpose "
             "Tile Flatten Shape Size GreaterOrEqual LessOrEqual Sign Clip")
FOLDABLE = frozenset(_FOLDABLE.split())


def _static(vi: Any) -> tuple[int, ...] | None:
    from ._onnx_ops import _shape_of

    return _shape_of(vi.type)


def missing_shapes(model: Any) -> bool:
    """True when some node output that is read has no static shape."""
    g = model.graph
    known = {vi.name for vi in [*g.input, *g.value_info, *g.output] if _static(vi) is not None}
    read = {i for n in g.node for i in n.input if i} | {o.name for o in g.output}
    return any(o and o in read and o not in known for n in g.node for o in n.output
               if n.op_type != "Constant")


def fold_shapes(model: Any, opset: int) -> bool:
    """Replace computable shape nodes by Constants (in place); True when anything changed."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = model.graph
    shapes = {vi.name: _static(vi) for vi in [*g.input, *g.value_info, *g.output]}
    known: dict[str, Any] = {}
    for t in g.initializer:
        if math.prod(t.dims) <= FOLD_ELEMENTS and t.data_location != t.EXTERNAL:
            known[t.name] = numpy_helper.to_array(t)
    nodes, changed = [], False
    for node in g.node:
        value = None
        default = node.domain in ("", "ai.onnx")
        ins = [i for i in node.input if i]
        if default and node.op_type in ("Shape", "Size") and shapes.get(node.input[0]) is not None:
            shape = shapes[node.input[0]]
            assert shape is not None
            if node.op_type == "Size":
                value = np.array(math.prod(shape), dtype=np.int64)
            else:
                at = {a.name: a.i for a in node.attribute}
                value = np.array(shape[at.get("start", 0):at.get("end", len(shape))] if "end" in at
                                 else shape[at.get("start", 0):], dtype=np.int64)
        elif default and node.op_type == "Constant":
            value = _evaluate(node, {}, opset)
            if value is not None:
                known[node.output[0]] = value
            nodes.append(node)
            continue
        elif default and node.op_type in FOLDABLE and ins and all(i in known for i in ins) \
                and len(node.output) == 1:
            value = _evaluate(node, {i: known[i] for i in ins}, opset)
        if value is None or value.size > FOLD_ELEMENTS:
            nodes.append(node)
            continue
        known[node.output[0]] = value
        const = helper.make_node("Constant", [], [node.output[0]], name=node.name,
                                 value=numpy_helper.from_array(np.asarray(value),
                                                               node.output[0]))
        const.metadata_props.extend(node.metadata_props)
        nodes.append(const)
        changed = True
    if changed:
        del g.node[:]
        g.node.extend(nodes)
    return changed


def _evaluate(node: Any, feeds: dict[str, Any], opset: int) -> Any:
    from onnx.reference import ReferenceEvaluator

    try:
        out: Any = ReferenceEvaluator(node, opsets={"": opset}).run(None, feeds)
    except Exception:  # an op the reference evaluator does not run, or bad values: keep it
        return None
    return out[0] if out else None
