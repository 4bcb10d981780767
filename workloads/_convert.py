"""Build an ``OpGraph`` from captured aten calls (``RawGraph``): values, edges, names, groups.

The per-op mapping (kind, fn, matmul dims, element-op counts) lives in ``workloads._aten``; this
module owns what is shared: tensor values and where they come from, constant folding, the row
tracking behind ``rows_aligned``, unique scope-based names, module groups and the graph meta.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._raw import RawGraph, RawNode, Ref
from .ir import Cost, Op, OpGraph, OpKind, Precision, matmul_cost, vector_cost
from .vocabulary import FUNCTIONS, UNKNOWN_FN

_AUTO = object()


@dataclass(frozen=True)
class Val:
    """A tensor as the builder sees it: produced by op ``name`` (source "op"), a graph input or a
    constant. ``track`` is the axis holding the producer's row axis (None: lost or unknown);
    ``sparse`` the density of the sparse scores it carries (masked softmax), if any."""

    source: str
    name: str
    shape: tuple[int, ...]
    track: int | None = None
    sparse: float | None = None
    #: each group axis (dim before -2) of the producer's output: (where it is now, None where
    #: lost; its size)
    gtrack: tuple[tuple[int | None, int], ...] | None = None
    #: a constant's stored elements, when fewer than its shape's: it is a broadcast, expansion
    #: or gather of a smaller source (``workloads._consts``)
    elems: int | None = None
    #: the one value every element of a constant equals, when known (``workloads._values``)
    uniform: Any = None

    @property
    def is_const(self) -> bool:
        return self.source == "const"


def short_name(target: str) -> str:
    """``aten::relu_`` -> ``relu``; custom ops keep their namespace (``vitality::masked_scores``)."""
    ns, _, name = target.partition("::")
    if ns != "aten":
        return target
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    return name


_ATTN_CLASS = re.compile(r"attention", re.I)
_ATTN_PATH = {"attn", "attention", "self_attn", "self_attention", "mha", "msa", "attn_layer"}
_MLP_CLASS = re.compile(r"mlp|feedforward|feed_forward|ffn", re.I)
_MLP_PATH = {"mlp", "ffn", "feed_forward", "feedforward", "ff", "mlp_block"}


def _in_attention(stack) -> bool:
    return any(_ATTN_CLASS.search(cls) or path.rsplit(".", 1)[-1] in _ATTN_PATH
               for path, cls in stack)


def _in_mlp(stack) -> bool:
    return any(_MLP_CLASS.search(cls) or path.rsplit(".", 1)[-1] in _MLP_PATH
               for path, cls in stack)


def layer_of(scope: str) -> int | None:
    """The first integer component of a scope: ``blocks.3.attn`` -> 3."""
    for part in scope.split("."):
        if part.isdigit():
            return int(part)
    return None


class Builder:
    """Converts one ``RawGraph``; see ``build_graph``."""

    def __init__(self, raw: RawGraph, precision: Precision, sparse_density: float,
                 densities: list[float | None] | None,
                 handlers: dict[str, Any] | None = None) -> None:
        self.raw = raw
        #: op name -> handler; None: the aten table (``workloads._aten.HANDLERS``)
        self.handlers = handlers
        self.precision = precision
        self.sparse_density = sparse_density
        self.densities = list(densities or [])
        self.graph = OpGraph()
        self.env: dict[tuple[str, int], Val] = {}
        self.unknown: Counter[str] = Counter()
        self.name_count: Counter[str] = Counter()
        self.folded = 0
        self.stacks: dict[str, tuple] = {}
        self.attention_core: set[str] = set()
        self.input_consumers: dict[str, list[list[Any]]] = {n: [] for n, _ in raw.inputs}
        self.sparse_used: list[float] = []
        self.sparse_calls = 0
        self.sparse_measured = 0
        self.used: set[tuple[str, int]] = set(_refs(raw))

    # -- values -----------------------------------------------------------------------------
    def val(self, x: Any) -> Any:
        if isinstance(x, Ref):
            if x.source == "node":
                return self.env.get((x.name, x.index)) or Val("const", x.name, x.shape)
            if x.source == "const":
                u = self.raw.uniform.get((x.name, x.index))
                return Val("const", x.name, x.shape, elems=None if u is None else 1, uniform=u)
            return Val(x.source, x.name, x.shape)
        if isinstance(x, list):
            return [self.val(y) for y in x]
        return x

    @staticmethod
    def tensors(args: dict[str, Any]) -> list[Val]:
        out: list[Val] = []
        for v in args.values():
            for y in v if isinstance(v, list) else [v]:
                if isinstance(y, Val):
                    out.append(y)
        return out

    # -- names ------------------------------------------------------------------------------
    def new_name(self, scope: str, base: str) -> str:
        stem = f"{scope}.{base}" if scope else base
        while True:
            n = self.name_count[stem]
            self.name_count[stem] += 1
            name = stem if n == 0 else f"{stem}_{n}"
            if name not in self.graph:
                return name

    # -- emitting ops -----------------------------------------------------------------------
    @staticmethod
    def _groups_aligned(v: Val, kind: OpKind) -> bool:
        """True when the producer's group axes (heads, images: its dims before -2) reach this
        consumer input as its outermost group axes, in order, with only the innermost ones
        merged away, so group g of one maps to group g (or g's block) of the other. Axes of
        size 1 do not matter. Views pass the tracking on; they are always True."""
        if kind is OpKind.VIEW:
            return True
        if v.gtrack is None:
            return False
        src = [p for p, size in v.gtrack if size > 1]
        kept = [p for p in src if p is not None]
        if any(p is not None for p in src[len(kept):]):
            return False  # an axis was lost before one that was kept
        outer = [d for d in range(max(0, len(v.shape) - 2)) if v.shape[d] > 1]
        return kept == outer[: len(kept)]

    def _aligned(self, v: Val, kind: OpKind, rowwise: bool | str,
                 out_shape: tuple[int, ...]) -> bool:
        if v.track is None or not rowwise:
            return False
        if kind is OpKind.VIEW:
            return True
        nd = len(v.shape)
        if rowwise == "stream":  # column sums: row r of the input is consumed as it arrives
            return nd >= 2 and v.track == nd - 2
        return (nd >= 2 and len(out_shape) >= 2 and v.track == nd - 2
                and v.shape[-2] == out_shape[-2])

    def emit(self, raw: RawNode, base: str, kind: OpKind, fn: str, operands: list,
             rowwise: Sequence[bool | str] | bool, out_shape, *, m: int = 0, n: int = 0, k: int = 0,
             batch: int = 1, density: float = 1.0, reduce_len: int = 0,
             element_ops: dict[str, int] | None = None, attrs: dict | None = None,
             track: Any = _AUTO, sparse: float | None = None, gtrack: Any = _AUTO) -> Val:
        """Add one op whose tensor operands are ``operands`` (None entries dropped, scalars not
        allowed) and return its output value."""
        out_shape = tuple(int(s) for s in out_shape)
        if not (kind is OpKind.VIEW or kind.is_matmul or fn in FUNCTIONS):
            raise AssertionError(f"tracer bug: fn {fn!r} is not in workloads.vocabulary")
        if isinstance(rowwise, bool):
            rowwise = [rowwise] * len(operands)
        ins = [(v, rw) for v, rw in zip(operands, rowwise, strict=True) if isinstance(v, Val)]
        name = self.new_name(raw.scope, base)
        edges, seen = [], set()
        for i, (v, rw) in enumerate(ins):
            if v.source == "input":
                self.input_consumers.setdefault(v.name, []).append([name, i])
            if v.source != "op":
                continue
            if v.name in seen:  # a DiGraph holds one edge per pair: route the repeat via an alias
                v = self.emit(raw, "alias", OpKind.VIEW, "alias", [v], True, v.shape,
                              track=v.track, sparse=v.sparse, gtrack=v.gtrack,
                              attrs={"duplicate_operand": True})
            seen.add(v.name)
            edges.append((v.name, i, self._aligned(v, kind, rw, out_shape),
                          self._groups_aligned(v, kind)))
        input_shapes = [list(v.shape) for v, _ in ins]
        weights = [i for i, (v, _) in enumerate(ins) if v.is_const]
        stored = {str(i): v.elems for i, (v, _) in enumerate(ins)
                  if v.is_const and v.elems is not None and v.elems < math.prod(v.shape)}
        if stored:
            attrs = {**(attrs or {}), "stored_elements": stored}
        cost = self._cost(kind, ins, input_shapes, out_shape, weights, m, n, k, batch, density,
                          element_ops or {}, stored)
        op = Op(name=name, kind=kind, fn=fn, input_shapes=input_shapes,
                output_shape=list(out_shape), scope=raw.scope, layer=layer_of(raw.scope),
                head=None, weight_inputs=weights, m=m, n=n, k=k, batch=batch, density=density,
                reduce_len=reduce_len, cost=cost,
                attrs={"aten": raw.target, **(attrs or {})})
        self.graph.add_op(op)
        for src, i, aligned, groups in edges:
            self.graph.add_edge(src, name, input=i, rows_aligned=aligned, groups_aligned=groups)
        self.stacks[name] = raw.stack
        if track is _AUTO:
            track = len(out_shape) - 2 if len(out_shape) >= 2 else None
        if gtrack is _AUTO:
            lead = range(max(0, len(out_shape) - 2))
            if kind.is_matmul and math.prod(out_shape[:-2]) != batch:
                gtrack = tuple((d, 1) for d in lead)  # e.g. a conv: one group, NCHW output
            else:
                gtrack = tuple((d, out_shape[d]) for d in lead)
        return Val("op", name, out_shape, track, sparse, gtrack)

    def _cost(self, kind, ins, input_shapes, out_shape, weights, m, n, k, batch, density,
              element_ops, stored: dict[str, int]) -> Cost:
        if kind is OpKind.VIEW:
            return Cost()
        if kind.is_matmul:
            cost = matmul_cost(m, n, k, batch, density, self.precision, weights)
            if len(ins) > 2 and 2 in weights:  # a constant bias, read once
                b = int(stored.get("2", math.prod(input_shapes[2])) * self.precision.operand_bytes)
                cost.bytes_in += b
                cost.weight_bytes += b
            cost.element_ops = {key: int(v) for key, v in sorted(element_ops.items()) if v}
            return cost
        return vector_cost(input_shapes, list(out_shape), element_ops, self.precision, weights,
                           {int(i): e for i, e in stored.items()})

    def matmul(self, raw: RawNode, base: str, operands: list, out_shape, m: int, n: int, k: int,
               batch: int, *, kind: OpKind = OpKind.MATMUL, density: float = 1.0,
               scale: bool = False, row_a: bool = True, attrs: dict | None = None) -> Val:
        """A (batched) matmul with operands (A, B[, bias or mask]). A bias and the attention
        scale are counted as epilogue element ops (``add`` / ``mul`` per output computed); the
        third operand of a SPARSE_MATMUL is its boolean mask (1 bit per element read)."""
        epi = {}
        outs = round(batch * m * n * density)
        sparse = kind is OpKind.SPARSE_MATMUL
        if len(operands) > 2 and isinstance(operands[2], Val) and not sparse:
            epi["add"] = outs
        if scale:
            epi["mul"] = outs
        fn = "sparse_matmul" if sparse else "matmul"
        rowwise = [row_a, False, False][: len(operands)]
        val = self.emit(raw, base, kind, fn, operands, rowwise, out_shape, m=m, n=n, k=k,
                        batch=batch, density=density, element_ops=epi, attrs=attrs)
        if sparse and len(operands) > 2 and isinstance(operands[2], Val):
            self.graph.op(val.name).cost.bytes_in += math.ceil(math.prod(operands[2].shape) / 8)
        return val

    def vector(self, raw: RawNode, base: str, kind: OpKind, fn: str, operands: list,
               rowwise: Sequence[bool | str] | bool, out_shape, element_ops: dict[str, int],
               **kw) -> Val:
        return self.emit(raw, base, kind, fn, operands, rowwise, out_shape,
                         element_ops=element_ops, **kw)

    def view(self, raw: RawNode, fn: str, operands: list, out_shape, track: int | None,
             base: str | None = None, gtrack: Any = None, **kw) -> Val:
        """A view; ``track`` and ``gtrack`` say where the producer's row and group axes land."""
        src = [v for v in operands if isinstance(v, Val)]
        if src and all(v.is_const for v in src):
            return Val("const", raw.name, tuple(out_shape))
        sparse = next((v.sparse for v in src if v.sparse is not None), None)
        return self.emit(raw, base or fn.lstrip("_"), OpKind.VIEW, fn, operands, True, out_shape,
                         track=track, sparse=sparse, gtrack=gtrack, **kw)

    def unknown_op(self, raw: RawNode, name: str, operands: list, out_shape) -> Val:
        """An op the table does not know: never free. Charged conservatively as one
        elementwise step per element of its output or, when its first operand is larger
        (``topk``, ``nonzero``: it must read all of it), of that operand, streamed as a
        reduction does (fn ``unknown``); listed in ``meta["unknown_ops"]``; ``trace`` and
        ``run`` warn about it."""
        self.unknown[name] += 1
        out = tuple(out_shape or ())
        first = next((v for v in operands if isinstance(v, Val)), None)
        reads = math.prod(first.shape) if first is not None else 0
        kind = OpKind.REDUCE if reads > math.prod(out) else OpKind.ELEMENTWISE
        return self.emit(raw, name.split("::")[-1].lstrip("_"), kind, UNKNOWN_FN,
                         operands, False, out,
                         element_ops={UNKNOWN_FN: max(reads, math.prod(out))},
                         track=None, gtrack=None, attrs={"unknown": True})

    def next_density(self, raw: RawNode) -> float:
        """Density of the next sparse op: measured (capture or probe) else the default."""
        d = raw.density
        if d is None and self.sparse_calls < len(self.densities):
            d = self.densities[self.sparse_calls]
        self.sparse_calls += 1
        self.sparse_measured += d is not None
        d = self.sparse_density if d is None else round(float(d), 6)
        self.sparse_used.append(d)
        return d

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> OpGraph:
        from ._aten import HANDLERS
        from ._consts import const_elements

        handlers = HANDLERS if self.handlers is None else self.handlers
        for raw in self.raw.nodes:
            if all(s is None for s in raw.outputs):
                continue  # asserts, .item() and the like: no tensor flows on
            fn = short_name(raw.target)
            args = {key: self.val(v) for key, v in raw.args.items()}
            tensors = self.tensors(args)
            first = next((s for s in raw.outputs if s is not None), ())
            if fn == "operator::getitem":
                continue
            if all(v.is_const for v in tensors):  # weights-only arithmetic, factories
                self.folded += bool(tensors) or fn not in FACTORY_FREE
                for i, s in enumerate(raw.outputs):
                    if s is not None:
                        u = self.raw.uniform.get((raw.name, i))
                        self.env[(raw.name, i)] = Val(
                            "const", raw.name, s, uniform=u,
                            elems=1 if u is not None else const_elements(fn, args, s))
                continue
            handler = handlers.get(fn)
            if handler is None:
                result = self.unknown_op(raw, fn, tensors, first)
            else:
                result = handler(self, raw, args, fn)
            results = result if isinstance(result, list) else [result] * len(raw.outputs)
            for i, (s, v) in enumerate(zip(raw.outputs, results, strict=False)):
                if s is not None and v is not None:
                    self.env[(raw.name, i)] = v if v.shape == s else replace(v, shape=s)
        self._assign_groups()
        return self.graph

    def _assign_groups(self) -> None:
        for op in self.graph:
            stack = self.stacks.get(op.name, ())
            if op.name in self.attention_core:
                op.group = "attention"
            elif _in_attention(stack):
                op.group = "projection" if op.kind.is_matmul and 1 in op.weight_inputs \
                    else "attention"
            elif _in_mlp(stack):
                op.group = "mlp"
            else:
                op.group = "other"

    def meta_totals(self, raw: RawGraph, precision: Precision) -> dict[str, Any]:
        """The meta keys every converted graph carries: precision, inputs with their
        consumers, outputs, unknown ops and totals (in this order; the caller adds the tracer's
        own keys)."""
        graph = self.graph
        return {
            "precision": {"operand_bits": precision.operand_bits,
                          "accumulator_bits": precision.accumulator_bits},
            "tracer": raw.tracer,
            "tracer_version": 0,
            "torch": None,
            "inputs": [{"name": name, "shape": list(shape),
                        "consumers": self.input_consumers.get(name, [])}
                       for name, shape in raw.inputs],
            "outputs": self.outputs(),
            "unknown_ops": dict(sorted(self.unknown.items())),
            "totals": {"ops": len(graph.compute_ops()), "nodes": len(graph),
                       "macs": graph.total_macs(), "macs_by_kind": graph.macs_by_kind(),
                       "views": sum(op.kind is OpKind.VIEW for op in graph),
                       "folded_constant_ops": self.folded},
        }

    def outputs(self) -> list[str]:
        names = []
        for ref in self.raw.outputs:
            v = self.env.get((ref.name, ref.index))
            if v is not None and v.source == "op" and v.name not in names:
                names.append(v.name)
        return names


def _refs(raw: RawGraph):
    def walk(x):
        if isinstance(x, Ref):
            if x.source == "node":
                yield (x.name, x.index)
        elif isinstance(x, list):
            for y in x:
                yield from walk(y)

    for node in raw.nodes:
        for v in node.args.values():
            yield from walk(v)
    for ref in raw.outputs:
        yield (ref.name, ref.index)


#: Ops with no tensor input that are not worth counting as folded.
FACTORY_FREE = {"full", "zeros", "ones", "empty", "arange", "scalar_tensor", "tensor",
                "empty_strided", "randn", "rand", "lift_fresh_copy", "_assert_tensor_metadata"}


def build_graph(raw: RawGraph, precision: Precision, sparse_density: float,
                densities: list[float | None] | None = None,
                handlers: dict[str, Any] | None = None) -> tuple[OpGraph, Builder]:
    b = Builder(raw, precision, sparse_density, densities, handlers)
    return b.run(), b
