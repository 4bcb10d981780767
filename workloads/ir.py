"""The operator-graph IR: one ``OpKind`` enum, one ``Op`` record with its ``Cost``, the ``OpGraph``.

No torch here: a saved graph loads, and simulates, without it.

Conventions
-----------
* A node is one tensor operation; an edge carries one tensor from producer to consumer.
* Shapes are lists of ints. A matmul computes ``out[b, m, n] = sum_k A[b, m, k] B[b, k, n]`` with
  ``batch`` = product of the leading dims of the output (heads x images for attention matmuls,
  1 for a linear layer whose token and image dims are folded into ``m``).
* "Rows" of a tensor are its second-to-last dim folded with every leading dim; a vector op
  processes ``rows x row_len`` elements. ``reduce_len`` is the length of the reduced axis.
* ``weight_inputs`` lists the input positions fed by parameters or constants (read from DRAM,
  never produced on chip); every other input either comes from an edge or is a graph input.
* Edges carry ``input`` (the consumer's input position) and ``rows_aligned``: true when row ``r``
  of the consumer's input is row ``r`` of the producer's output (through any views folded on
  the way), so the consumer may start on a row tile as soon as the producer finished it; and
  ``groups_aligned``: true when the producer's group axes (heads, images) reach the consumer as
  its outermost group axes in the same order, so group g maps to group g (or to g's block when
  one side has more groups). A view that reorders group axes makes it false, and the consumer
  then waits for every producer group.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import networkx as nx

from .errors import WorkloadError

FORMAT = "accelsim.opgraph/1"


class OpKind(StrEnum):
    """Every kind of operation in a graph. ``Op.fn`` names the exact function within a kind."""

    # -- tensor-core work: runs on systolic arrays ------------------------------------------
    MATMUL = "matmul"  # fn "matmul" (dense); batched, linear and im2col conv alike
    SPARSE_MATMUL = "sparse_matmul"  # fn "sparse_matmul": only `density` of the MACs happen
    # -- vector work: runs on vector arrays (accumulator, divider, adder, softmax unit ...) ----
    ELEMENTWISE = "elementwise"  # fn: add, sub, mul, div, neg, sqrt, rsqrt, where, ...
    REDUCE = "reduce"  # fn: sum, mean, max (over `reduce_len` elements per output)
    SOFTMAX = "softmax"  # fn "softmax": max, sub, exp, sum, div along rows
    LAYERNORM = "layernorm"  # fn "layernorm": mean, var, normalise, affine along rows
    ACTIVATION = "activation"  # fn: gelu, relu, elu, silu, tanh, sigmoid
    EXP = "exp"  # fn "exp"
    QUANTIZE = "quantize"  # fn "quantize": scale, round, clamp (low-bit mask prediction)
    THRESHOLD = "threshold"  # fn "threshold": compare-and-mask (Sanger's sparse pattern)
    # -- free: folded away by the mapper, kept so the graph stays connected -----------------
    VIEW = "view"  # fn: reshape, transpose, permute, slice, cat, expand, ...

    @property
    def is_matmul(self) -> bool:
        return self in (OpKind.MATMUL, OpKind.SPARSE_MATMUL)

    @property
    def is_free(self) -> bool:
        return self is OpKind.VIEW


#: Op groups, used to colour reports and to delimit "attention" (between the QKV projection and
#: the output projection) in comparisons.
GROUPS = ("attention", "projection", "mlp", "other")


@dataclass(frozen=True)
class Precision:
    """Bit widths: operands (activations, weights) and accumulators (partial sums)."""

    operand_bits: int = 8
    accumulator_bits: int = 32

    def __post_init__(self) -> None:
        for name in ("operand_bits", "accumulator_bits"):
            bits = getattr(self, name)
            if bits <= 0 or (bits % 8 and bits not in (1, 2, 4)):
                raise WorkloadError(f"{name} must be 1, 2, 4 or a positive multiple of 8, got {bits}")

    @property
    def operand_bytes(self) -> float:
        return self.operand_bits / 8

    @property
    def accumulator_bytes(self) -> float:
        return self.accumulator_bits / 8


@dataclass
class Cost:
    """What one op costs, independent of any hardware: used by the simulator and the analytic
    bound alike. ``element_ops`` counts scalar vector operations by type (add, mul, div, exp,
    max, cmp, sqrt, gelu ...); bytes are at the graph's precision."""

    macs: int = 0
    element_ops: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    weight_bytes: int = 0

    @property
    def exps(self) -> int:
        return self.element_ops.get("exp", 0)

    @property
    def divisions(self) -> int:
        return self.element_ops.get("div", 0)


def numel(shape: Iterable[int]) -> int:
    return math.prod(shape)


def rows_of(shape: list[int]) -> int:
    """Rows of a tensor: every dim but the last, folded (1 for a scalar or vector)."""
    return numel(shape[:-1]) if len(shape) > 1 else 1


@dataclass
class Op:
    """One node of the graph. See the module docstring for the shape conventions."""

    name: str
    kind: OpKind
    fn: str
    input_shapes: list[list[int]]
    output_shape: list[int]
    scope: str = ""
    layer: int | None = None
    head: int | None = None
    group: str = "other"
    weight_inputs: list[int] = field(default_factory=list)
    # matmul dims (0 when not a matmul)
    m: int = 0
    n: int = 0
    k: int = 0
    batch: int = 1
    density: float = 1.0
    reduce_len: int = 0
    cost: Cost = field(default_factory=Cost)
    #: Free-form facts that fit no field: the traced aten op (``aten``), quantizer ``bits``,
    #: ``unknown`` (an op the tracer could not map), ``index`` of an unbind/split output ...
    attrs: dict = field(default_factory=dict)

    @property
    def out_rows(self) -> int:
        """Rows of the output the op produces (the axis the mapper tiles along)."""
        return self.batch * self.m if self.kind.is_matmul else rows_of(self.output_shape)

    @property
    def out_elements(self) -> int:
        return numel(self.output_shape)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind"] = self.kind.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Op:
        """An op from its JSON form, every field checked: a malformed graph file is bad input
        (``WorkloadError`` naming the op and the field), never a crash or a silent zero."""
        if not isinstance(d, dict):
            raise WorkloadError(f"a node is a {type(d).__name__}, not an object")
        name = d.get("name", "?")
        try:
            return cls(**_checked_op_fields(d))
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise WorkloadError(f"op {name!r}: {msg}") from None


def _nonneg_int(value: object, field_name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{field_name}: want an integer >= {minimum}, got {_short(value)}")
    return value


def _shape(value: object, field_name: str) -> list[int]:
    """A shape: a list of dimensions, each an integer >= 1 (an empty tensor computes nothing
    and would make the mapper divide by zero)."""
    if not isinstance(value, list):
        raise ValueError(f"{field_name}: want a list of dimensions, got {_short(value)}")
    return [_nonneg_int(v, field_name, 1) for v in value]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked_op_fields(d: dict) -> dict:
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
            raise ValueError(f"{key}: want a string, got {_short(d[key])}")
    if "attrs" in d and not isinstance(d["attrs"], dict):
        raise ValueError(f"attrs: want an object, got {_short(d['attrs'])}")
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


def matmul_cost(m: int, n: int, k: int, batch: int, density: float, precision: Precision,
                weight_inputs: list[int]) -> Cost:
    """Cost of ``batch`` products of (m x k) by (k x n) at the given density."""
    ob = precision.operand_bytes
    a_bytes = int(batch * m * k * ob)
    b_bytes = int(batch * k * n * ob) if 1 not in weight_inputs else int(k * n * ob)
    return Cost(
        macs=round(batch * m * n * k * density),
        bytes_in=a_bytes + b_bytes,
        bytes_out=int(batch * m * n * ob),
        weight_bytes=b_bytes if 1 in weight_inputs else 0,
    )


def vector_cost(input_shapes: list[list[int]], output_shape: list[int],
                element_ops: dict[str, int], precision: Precision,
                weight_inputs: list[int]) -> Cost:
    """Cost of a vector op: its scalar operations and operand bytes in and out."""
    ob = precision.operand_bytes
    sizes = [numel(s) for s in input_shapes]
    return Cost(
        element_ops={k: int(v) for k, v in sorted(element_ops.items()) if v},
        bytes_in=int(sum(sizes) * ob),
        bytes_out=int(numel(output_shape) * ob),
        weight_bytes=int(sum(sizes[i] for i in weight_inputs) * ob),
    )


class OpGraph:
    """A directed acyclic graph of ``Op`` nodes (``networkx.DiGraph`` underneath).

    Node key = op name; node attribute ``op`` = the ``Op``. Edge attributes: ``input`` (the
    consumer's input position) and ``rows_aligned``. Iteration order is the insertion order,
    which builders keep topological; ``to_json`` writes that order, so a round trip is identical.
    """

    def __init__(self, meta: dict | None = None) -> None:
        self.g = nx.DiGraph()
        self.meta: dict = dict(meta or {})

    # -- building -----------------------------------------------------------------------------
    def add_op(self, op: Op) -> Op:
        if op.name in self.g:
            raise WorkloadError(f"duplicate op name {op.name!r}")
        self.g.add_node(op.name, op=op)
        return op

    def add_edge(self, src: str, dst: str, *, input: int, rows_aligned: bool = False,
                 groups_aligned: bool = True) -> None:
        for name in (src, dst):
            if name not in self.g:
                raise WorkloadError(f"edge names unknown op {name!r}")
        self.g.add_edge(src, dst, input=input, rows_aligned=rows_aligned,
                        groups_aligned=groups_aligned)

    # -- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def __iter__(self) -> Iterator[Op]:
        for name in self.g.nodes:
            yield self.g.nodes[name]["op"]

    def op(self, name: str) -> Op:
        return self.g.nodes[name]["op"]

    def predecessors(self, name: str) -> list[tuple[str, dict]]:
        """(producer name, edge attributes) for every input edge of ``name``, stable order."""
        return [(p, self.g.edges[p, name]) for p in self.g.predecessors(name)]

    def successors(self, name: str) -> list[str]:
        return list(self.g.successors(name))

    @property
    def precision(self) -> Precision:
        return Precision(**self.meta.get("precision", {}))

    def compute_ops(self) -> list[Op]:
        """Every op that is not a free view (what ``trace --json`` counts as ``ops``)."""
        return [op for op in self if not op.kind.is_free]

    def input_sources(self, name: str) -> list[str]:
        """Where each input of op ``name`` comes from: "edge" (another op), "weight" (a
        parameter or constant, in ``weight_inputs``) or "input" (a graph input, from DRAM)."""
        op = self.op(name)
        fed = {a["input"] for _, a in self.predecessors(name)}
        return ["edge" if i in fed else "weight" if i in op.weight_inputs else "input"
                for i in range(len(op.input_shapes))]

    def compute_predecessors(self, name: str) -> list[tuple[str, int, bool]]:
        """Inputs of op ``name`` with views folded away: ``(producer, input, rows_aligned)`` for
        each non-view op whose output reaches input slot ``input`` of ``name`` through zero or
        more VIEW ops; ``rows_aligned`` is true iff every edge on that path is (the tracer's
        contract, see docs/workloads.md). Stable order; a producer reached along several paths
        is listed once per path."""
        out: list[tuple[str, int, bool]] = []

        def walk(node: str, slot: int, aligned: bool) -> None:
            for src, attrs in self.predecessors(node):
                ok = aligned and bool(attrs["rows_aligned"])
                if self.op(src).kind.is_free:
                    walk(src, slot, ok)
                else:
                    out.append((src, slot, ok))

        for src, attrs in self.predecessors(name):
            slot, ok = attrs["input"], bool(attrs["rows_aligned"])
            if self.op(src).kind.is_free:
                walk(src, slot, ok)
            else:
                out.append((src, slot, ok))
        return out

    def total_macs(self) -> int:
        return sum(op.cost.macs for op in self)

    def macs_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self:
            if op.cost.macs:
                out[op.kind.value] = out.get(op.kind.value, 0) + op.cost.macs
        return dict(sorted(out.items()))

    def check(self) -> None:
        """Raise WorkloadError unless the graph is a DAG whose edges name valid input slots."""
        if not nx.is_directed_acyclic_graph(self.g):
            cycle = nx.find_cycle(self.g)
            raise WorkloadError(f"op graph has a cycle through {cycle[0][0]!r}")
        for src, dst, data in self.g.edges(data=True):
            op = self.op(dst)
            if not 0 <= data["input"] < max(1, len(op.input_shapes)):
                raise WorkloadError(f"edge {src!r} -> {dst!r}: input {data['input']} out of range")

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "meta": self.meta,
            "nodes": [op.to_dict() for op in self],
            "edges": [
                {"src": s, "dst": d, "input": a["input"], "rows_aligned": a["rows_aligned"],
                 "groups_aligned": a["groups_aligned"]}
                for s, d, a in self.g.edges(data=True)
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write the graph atomically (temp file in the same directory, then rename)."""
        write_atomic(Path(path), self.to_json())

    @classmethod
    def from_dict(cls, data: dict, source: str = "<graph>") -> OpGraph:
        """A graph from its JSON form; every field is type-checked, so a malformed file is a
        ``WorkloadError`` naming the source and the field, never a crash later."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise WorkloadError(f"{source}: not an op graph (format {_short(found)}, "
                                f"want {FORMAT!r})")
        unknown = sorted(set(data) - {"format", "meta", "nodes", "edges"})
        if unknown:
            raise WorkloadError(f"{source}: unknown top-level field(s) {unknown}")
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise WorkloadError(f"{source}: meta: want an object, got {_short(meta)}")
        for key in ("nodes", "edges"):
            if not isinstance(data.get(key), list):
                raise WorkloadError(f"{source}: {key}: want a list, got "
                                    f"{_short(data.get(key))}")
        _check_meta(meta, source)
        graph = cls(meta)
        try:
            graph.precision  # noqa: B018 (validates meta.precision)
        except (TypeError, WorkloadError) as exc:
            raise WorkloadError(f"{source}: meta.precision: {exc}") from None
        try:
            for node in data["nodes"]:
                graph.add_op(Op.from_dict(node))
            for i, e in enumerate(data["edges"]):
                graph.add_edge(**_checked_edge(e, i))
        except WorkloadError as exc:
            raise WorkloadError(f"{source}: {exc}") from None
        try:
            graph.check()
        except WorkloadError as exc:
            raise WorkloadError(f"{source}: {exc}") from None
        return graph


#: Types of the ``meta`` keys that code reads (other keys are free-form).
META_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "attention": (str, type(None)), "img_size": (int, type(None)),
    "patch_size": (int, type(None)), "tokens": (int, type(None)), "precision": (dict,),
    "attention_options": (dict,), "unknown_ops": (dict,),
    "sparse_density": (int, float, type(None)),
}


def _check_meta(meta: dict, source: str) -> None:
    for key, types in META_TYPES.items():
        if key in meta and (isinstance(meta[key], bool) or not isinstance(meta[key], types)):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise WorkloadError(f"{source}: meta.{key}: want {want}, got {_short(meta[key])}")
    unknown = meta.get("unknown_ops", {})
    if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
               for k, v in unknown.items()):
        raise WorkloadError(f"{source}: meta.unknown_ops: want an object of counts, got "
                            f"{_short(unknown)}")


def _checked_edge(e: object, i: int) -> dict:
    """The keyword arguments of ``add_edge`` for edge ``i`` of a graph's JSON form."""
    if not isinstance(e, dict):
        raise WorkloadError(f"edges[{i}]: want an object, got {_short(e)}")
    unknown = sorted(set(e) - {"src", "dst", "input", "rows_aligned", "groups_aligned"})
    if unknown:
        raise WorkloadError(f"edges[{i}]: unknown field(s) {unknown}")
    for key in ("src", "dst"):
        if not isinstance(e.get(key), str):
            raise WorkloadError(f"edges[{i}].{key}: want an op name, got {_short(e.get(key))}")
    try:
        slot = _nonneg_int(e.get("input"), f"edges[{i}].input")
    except ValueError as exc:
        raise WorkloadError(str(exc)) from None
    out = {"src": e["src"], "dst": e["dst"], "input": slot}
    for key, default in (("rows_aligned", False), ("groups_aligned", True)):
        value = e.get(key, default)
        if not isinstance(value, bool):
            raise WorkloadError(f"edges[{i}].{key}: want true or false, got {_short(value)}")
        out[key] = value
    return out


def load(path: str | os.PathLike) -> OpGraph:
    """Load a graph saved by ``OpGraph.save`` (no torch needed): a regular UTF-8 file under the
    size limit, strict JSON (no duplicate keys), every field checked."""
    from safeio import loads_json, read_text

    p = Path(path)
    data = loads_json(read_text(p, "op graph", WorkloadError), str(p), WorkloadError)
    return OpGraph.from_dict(data, source=str(p))


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory, ``fsync`` and a rename:
    a reader sees the old file or the new one, never a mix, even after a crash, and a failure
    leaves the old file intact. The file gets the usual ``0666 & ~umask`` mode.

    The one atomic writer of the project (graphs, sweep results, validation docs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
