"""Type and range checks of a saved graph's JSON form (``OpGraph.from_dict``): a malformed
file is a ``WorkloadError`` naming the field, never a crash later."""

from __future__ import annotations

from .errors import WorkloadError
from .ir import GROUPS, Cost, Op, OpKind
from .vocabulary import FUNCTIONS, SYSTOLIC_FNS, UNKNOWN_FN


def _nonneg_int(value: object, field_name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{field_name}: want an integer >= {minimum}, got {short(value)}")
    return value


def _shape(value: object, field_name: str) -> list[int]:
    """A shape: a list of dimensions, each an integer >= 1 (an empty tensor computes nothing
    and would make the mapper divide by zero)."""
    if not isinstance(value, list):
        raise ValueError(f"{field_name}: want a list of dimensions, got {short(value)}")
    return [_nonneg_int(v, field_name, 1) for v in value]


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def checked_op_fields(d: dict) -> dict:
    """The fields of an Op's JSON form, type- and range-checked (raises ValueError/KeyError)."""
    known = set(Op.__dataclass_fields__)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}")
    out = dict(d)
    if not isinstance(d["name"], str) or not d["name"]:
        raise ValueError(f"name: want a non-empty string, got {d['name']!r}")
    try:
        out["kind"] = OpKind(d["kind"])
    except ValueError:
        raise ValueError(f"kind: {d['kind']!r} is not one of "
                         f"{[k.value for k in OpKind]}") from None
    if not isinstance(d["fn"], str):
        raise ValueError(f"fn: want a string, got {d['fn']!r}")
    if not d["fn"]:
        raise ValueError("fn: empty (every op names its function, e.g. 'matmul', 'gelu')")
    if not out["kind"].is_free and d["fn"] not in FUNCTIONS and d["fn"] not in SYSTOLIC_FNS:
        raise ValueError(f"fn: {short(d['fn'])} is not in the IR's vocabulary (docs/arch.md, "
                         f"'Function vocabulary'; an op the tracer does not know is saved as "
                         f"{UNKNOWN_FN!r})")
    if not isinstance(d["input_shapes"], list):
        raise ValueError(f"input_shapes: want a list of shapes, got {d['input_shapes']!r}")
    out["input_shapes"] = [_shape(s, "input_shapes") for s in d["input_shapes"]]
    out["output_shape"] = _shape(d["output_shape"], "output_shape")
    for key in ("m", "n", "k", "reduce_len"):
        if key in d:
            _nonneg_int(d[key], key, 1 if key != "reduce_len" and out["kind"].is_matmul else 0)
    if out["kind"].is_matmul and not all(key in d for key in ("m", "n", "k")):
        raise ValueError("a matmul needs m, n and k")
    if "batch" in d:
        _nonneg_int(d["batch"], "batch", 1)
    for key in ("layer", "head"):
        if d.get(key) is not None:
            _nonneg_int(d[key], key)
    for key in ("scope", "fn"):
        if key in d and not isinstance(d[key], str):
            raise ValueError(f"{key}: want a string, got {short(d[key])}")
    if "attrs" in d and not isinstance(d["attrs"], dict):
        raise ValueError(f"attrs: want an object, got {short(d['attrs'])}")
    small = d.get("attrs", {}).get("stored_elements", {})
    if not isinstance(small, dict) or not all(
            isinstance(k, str) and k.isdigit() and int(k) < len(out["input_shapes"])
            and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in small.items()):
        raise ValueError(f"attrs.stored_elements: want {{input position: elements >= 1}}, got "
                         f"{short(small)}")
    if "group" in d and d["group"] not in GROUPS:
        raise ValueError(f"group: {d['group']!r} is not one of {list(GROUPS)}")
    weights = d.get("weight_inputs", [])
    if not isinstance(weights, list) or any(
            _nonneg_int(i, "weight_inputs") >= len(out["input_shapes"]) for i in weights):
        raise ValueError(f"weight_inputs: want input positions, got {weights!r}")
    density = d.get("density", 1.0)
    if isinstance(density, bool) or not isinstance(density, int | float) or not 0 < density <= 1:
        raise ValueError(f"density: want a number in (0, 1], got {density!r}")
    cost = d["cost"]
    if not isinstance(cost, dict):
        raise ValueError(f"cost: want an object, got {cost!r}")
    for key in ("macs", "bytes_in", "bytes_out", "weight_bytes"):
        _nonneg_int(cost.get(key, 0), f"cost.{key}")
    ops = cost.get("element_ops", {})
    if not isinstance(ops, dict) or not all(isinstance(k, str) for k in ops):
        raise ValueError(f"cost.element_ops: want an object of counts, got {ops!r}")
    for key, value in ops.items():
        _nonneg_int(value, f"cost.element_ops.{key}")
    out["cost"] = Cost(**cost)
    if out["kind"].is_matmul:
        want = round(d.get("batch", 1) * d.get("m", 0) * d.get("n", 0) * d.get("k", 0) * density)
        if out["cost"].macs != want:
            raise ValueError(f"cost.macs: {out['cost'].macs} != batch x m x n x k x density "
                             f"= {want}")
    return out




#: Types of the ``meta`` keys that code reads (other keys are free-form).
META_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "attention": (str, type(None)), "img_size": (int, type(None)),
    "patch_size": (int, type(None)), "tokens": (int, type(None)), "precision": (dict,),
    "attention_options": (dict,), "unknown_ops": (dict,),
    "sparse_density": (int, float, type(None)),
}


def check_meta(meta: dict, source: str) -> None:
    for key, types in META_TYPES.items():
        if key in meta and (isinstance(meta[key], bool) or not isinstance(meta[key], types)):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise WorkloadError(f"{source}: meta.{key}: want {want}, got {short(meta[key])}")
    unknown = meta.get("unknown_ops", {})
    if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
               for k, v in unknown.items()):
        raise WorkloadError(f"{source}: meta.unknown_ops: want an object of counts, got "
                            f"{short(unknown)}")


def checked_edge(e: object, i: int) -> dict:
    """The keyword arguments of ``add_edge`` for edge ``i`` of a graph's JSON form."""
    if not isinstance(e, dict):
        raise WorkloadError(f"edges[{i}]: want an object, got {short(e)}")
    unknown = sorted(set(e) - {"src", "dst", "input", "rows_aligned", "groups_aligned"})
    if unknown:
        raise WorkloadError(f"edges[{i}]: unknown field(s) {unknown}")
    for key in ("src", "dst"):
        if not isinstance(e.get(key), str):
            raise WorkloadError(f"edges[{i}].{key}: want an op name, got {short(e.get(key))}")
    try:
        slot = _nonneg_int(e.get("input"), f"edges[{i}].input")
    except ValueError as exc:
        raise WorkloadError(str(exc)) from None
    out = {"src": e["src"], "dst": e["dst"], "input": slot}
    for key, default in (("rows_aligned", False), ("groups_aligned", True)):
        value = e.get(key, default)
        if not isinstance(value, bool):
            raise WorkloadError(f"edges[{i}].{key}: want true or false, got {short(value)}")
        out[key] = value
    return out
