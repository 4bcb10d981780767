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

import heapq
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from .dag import is_acyclic
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

    def stored_elements(self, i: int) -> int:
        """Elements input ``i`` occupies in memory: its shape's, except for a constant that
        broadcasts, expands or gathers a smaller source (``attrs["stored_elements"]``
        {input position: elements}), stored at the source's size."""
        if i >= len(self.input_shapes):
            return 0
        small = self.attrs.get("stored_elements", {}).get(str(i))
        return int(small) if small is not None else numel(self.input_shapes[i])

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
        from ._checks import checked_op_fields

        try:
            return cls(**checked_op_fields(d))
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise WorkloadError(f"op {name!r}: {msg}") from None


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
                weight_inputs: list[int], stored: dict[int, int] | None = None) -> Cost:
    """Cost of a vector op: its scalar operations and operand bytes in and out (``stored``:
    the elements of the inputs stored smaller than their shapes, see ``Op.stored_elements``)."""
    ob = precision.operand_bytes
    sizes = [(stored or {}).get(i, numel(s)) for i, s in enumerate(input_shapes)]
    return Cost(
        element_ops={k: int(v) for k, v in sorted(element_ops.items()) if v},
        bytes_in=int(sum(sizes) * ob),
        bytes_out=int(numel(output_shape) * ob),
        weight_bytes=int(sum(sizes[i] for i in weight_inputs) * ob),
    )


class OpGraph:
    """A directed acyclic graph of ``Op`` nodes.

    Node key = op name; node attribute ``op`` = the ``Op``. Edge attributes: ``input`` (the
    consumer's input position), ``rows_aligned`` and ``groups_aligned``. Iteration order is the
    insertion order, which builders keep topological; ``to_json`` writes that order, so a round
    trip is identical. The graph is plain dicts (successors and predecessors in insertion
    order, as ``networkx`` keeps them), so simulating a saved graph never imports networkx;
    ``g`` gives it as a ``networkx.DiGraph`` (built on first use, rebuilt after a change).
    """

    def __init__(self, meta: dict | None = None) -> None:
        self._ops: dict[str, Op] = {}
        self._succ: dict[str, dict[str, dict]] = {}
        self._pred: dict[str, dict[str, dict]] = {}
        self._order: list[tuple[str, str]] = []  # edges as first added (for ``g``'s pred)
        self._nx: Any = None
        self.meta: dict = dict(meta or {})

    # -- building -----------------------------------------------------------------------------
    def add_op(self, op: Op) -> Op:
        if op.name in self._ops:
            raise WorkloadError(f"duplicate op name {op.name!r}")
        self._ops[op.name] = op
        self._succ[op.name] = {}
        self._pred[op.name] = {}
        self._nx = None
        return op

    def add_edge(self, src: str, dst: str, *, input: int, rows_aligned: bool = False,
                 groups_aligned: bool = True) -> None:
        for name in (src, dst):
            if name not in self._ops:
                raise WorkloadError(f"edge names unknown op {name!r}")
        attrs = self._succ[src].get(dst)
        if attrs is None:  # one dict shared by both directions, as in networkx
            attrs = self._succ[src][dst] = self._pred[dst][src] = {}
            self._order.append((src, dst))
        attrs.update(input=input, rows_aligned=rows_aligned, groups_aligned=groups_aligned)
        self._nx = None

    # -- reading ------------------------------------------------------------------------------
    @property
    def g(self) -> Any:
        """The graph as a ``networkx.DiGraph`` (node attribute ``op``, the edge attributes
        above), for analyses; a copy: changing it does not change this graph."""
        if self._nx is None:
            import networkx as nx

            g = nx.DiGraph()
            for name, op in self._ops.items():
                g.add_node(name, op=op)
            for src, dst in self._order:  # in the order added, so pred keeps its order too
                g.add_edge(src, dst, **self._succ[src][dst])
            self._nx = g
        return self._nx

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops.values())

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def op(self, name: str) -> Op:
        return self._ops[name]

    def edges(self) -> Iterator[tuple[str, str, dict]]:
        """(src, dst, attributes) of every edge: sources in insertion order, each source's
        consumers in the order their edges were added."""
        for src, out in self._succ.items():
            for dst, attrs in out.items():
                yield src, dst, attrs

    def predecessors(self, name: str) -> list[tuple[str, dict]]:
        """(producer name, edge attributes) for every input edge of ``name``, stable order."""
        return list(self._pred[name].items())

    def successors(self, name: str) -> list[str]:
        return list(self._succ[name])

    def topological_order(self, key: Callable[[str], Any]) -> list[str]:
        """The op names in topological order, the smallest ``key`` first among those ready
        (Kahn's algorithm with a heap; with distinct keys, as the mapper gives,
        ``networkx.lexicographical_topological_sort``'s order; equal keys go in push order).
        Raises WorkloadError on a cycle."""
        indeg = {name: len(p) for name, p in self._pred.items()}
        heap = [(key(n), i, n) for i, n in enumerate(self._ops) if not indeg[n]]
        heapq.heapify(heap)
        order: list[str] = []
        tie = len(heap)
        while heap:
            _, _, name = heapq.heappop(heap)
            order.append(name)
            for dst in self._succ[name]:
                indeg[dst] -= 1
                if not indeg[dst]:
                    heapq.heappush(heap, (key(dst), tie, dst))
                    tie += 1
        if len(order) < len(self._ops):
            stuck = next(n for n in self._ops if indeg[n])
            raise WorkloadError(f"op graph has a cycle through {stuck!r}")
        return order

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
        if not is_acyclic(self._pred, self._succ):
            import networkx as nx  # only to name the cycle

            cycle = nx.find_cycle(self.g)
            raise WorkloadError(f"op graph has a cycle through {cycle[0][0]!r}")
        for src, dst, data in self.edges():
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
                for s, d, a in self.edges()
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
        from ._checks import check_meta, checked_edge, short

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise WorkloadError(f"{source}: not an op graph (format {short(found)}, "
                                f"want {FORMAT!r})")
        unknown = sorted(set(data) - {"format", "meta", "nodes", "edges"})
        if unknown:
            raise WorkloadError(f"{source}: unknown top-level field(s) {unknown}")
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise WorkloadError(f"{source}: meta: want an object, got {short(meta)}")
        for key in ("nodes", "edges"):
            if not isinstance(data.get(key), list):
                raise WorkloadError(f"{source}: {key}: want a list, got "
                                    f"{short(data.get(key))}")
        check_meta(meta, source)
        graph = cls(meta)
        try:
            graph.precision  # noqa: B018 (validates meta.precision)
        except (TypeError, WorkloadError) as exc:
            raise WorkloadError(f"{source}: meta.precision: {exc}") from None
        try:
            for node in data["nodes"]:
                graph.add_op(Op.from_dict(node))
            for i, e in enumerate(data["edges"]):
                graph.add_edge(**checked_edge(e, i))
        except WorkloadError as exc:
            raise WorkloadError(f"{source}: {exc}") from None
        try:
            graph.check()
        except WorkloadError as exc:
            raise WorkloadError(f"{source}: {exc}") from None
        return graph


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

    The temp file is ``.NAME.tmp-PID-*``; those of dead processes (a writer killed mid-write)
    are removed by the next write of ``path``.

    The one atomic writer of the project (graphs, sweep results, validation docs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    _clean_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
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


def _clean_stale_temps(path: Path) -> None:
    prefix = f".{path.name}.tmp-"
    for p in path.parent.glob(f"{glob_escape(prefix)}*"):
        pid = p.name.removeprefix(prefix).split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except OSError:
            pass
