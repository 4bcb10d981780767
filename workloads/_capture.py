"""Capture a PyTorch module as a flat list of aten-level calls (``RawGraph``), two ways.

* ``capture_export``: ``torch.export.export(strict=False)``, plus ``run_decompositions({})`` when
  the graph has in-place or higher-order ops (to make it functional). Fake tensors only (nothing
  is computed), one node per aten op, ``nn_module_stack`` scopes, and composite ops such as
  ``linear``, ``conv2d``, ``layer_norm`` and ``scaled_dot_product_attention`` kept whole. The
  default.
* ``capture_dispatch``: runs the module eagerly under a ``TorchDispatchMode`` that records every
  aten call, with module scopes from global forward hooks. Works for modules ``torch.export``
  refuses (data-dependent Python control flow); ops are post-autograd (``linear`` appears as
  ``t`` + ``addmm``). The fallback.

Both produce the same neutral records (``workloads._raw``, no torch), which ``workloads._convert`` maps to an ``OpGraph``.
Tensors in arguments become ``Ref``s: a graph input, a constant (parameter, buffer, lifted or
factory-made tensor) or output ``index`` of an earlier ``RawNode``.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import warnings
from typing import Any, overload

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ._raw import RawGraph, RawNode, Ref

#: Custom ops whose last tensor argument is the sparsity mask; its density is measured on real
#: tensors (name -> argument name of the mask).
SPARSE_MASK_ARG = {"vitality::masked_scores": "mask", "vitality::masked_context": "mask"}


def op_name(target: Any) -> str:
    """``aten::linear`` for ``torch.ops.aten.linear.default`` (overload dropped)."""
    if isinstance(target, torch._ops.OpOverload):
        return target._schema.name  # already "ns::name"
    if isinstance(target, torch._ops.OpOverloadPacket):
        return target._qualified_op_name
    if target is operator.getitem:
        return "operator::getitem"
    name = getattr(target, "__name__", None) or type(target).__name__
    return f"{getattr(target, '__module__', None) or 'python'}::{name}"


def bind(target: Any, args: tuple, kwargs: dict, to_ref) -> dict[str, Any]:
    """Arguments by schema name, defaults filled, tensors (and lists of them) mapped by ``to_ref``."""

    def conv(x):
        if isinstance(x, list | tuple):
            return [conv(y) for y in x]
        return to_ref(x)

    schema = getattr(target, "_schema", None)
    if schema is None:
        out: dict[str, Any] = {f"arg{i}": conv(a) for i, a in enumerate(args)}
        out.update({k: conv(v) for k, v in kwargs.items()})
        return out
    out = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(args) and not arg.kwarg_only:
            value = args[i]
        elif arg.name in kwargs:
            value = kwargs[arg.name]
        elif arg.has_default_value():
            value = arg.default_value
        else:
            value = None
        out[arg.name] = conv(value)
    return out


@overload
def _shape(x: torch.Tensor) -> tuple[int, ...]: ...
@overload
def _shape(x: Any) -> tuple[int, ...] | None: ...
def _shape(x: Any) -> tuple[int, ...] | None:
    if isinstance(x, torch.Tensor):
        return tuple(int(s) for s in x.shape)
    return None


# -- torch.export -------------------------------------------------------------------------------


def _needs_functionalization(graph) -> bool:
    """True when the pre-dispatch graph has in-place ops or higher-order ops (``no_grad``
    regions, ``cond`` ...): ``run_decompositions({})`` then makes it functional and flat. Skipped
    otherwise: it doubles the export time and changes nothing else we read."""
    for node in graph.nodes:
        if node.op != "call_function" or node.target is operator.getitem:
            continue
        if not isinstance(node.target, torch._ops.OpOverload) or node.target._schema.is_mutable:
            return True
    return False


@contextlib.contextmanager
def _quiet_torch_logs():
    """Silence torch's own logging while exporting: a model that fails on its input is
    reported once, as a one-line error, not after a logged traceback from inside torch."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def capture_export(module: nn.Module, inputs: tuple,
                   known: dict[str, torch.Tensor] | None = None) -> RawGraph:
    """Export ``module`` on ``inputs`` (fake tensors: nothing is computed); ``known``: values
    of its non-persistent buffers (``workloads._values``)."""
    from torch.export.graph_signature import InputKind, OutputKind

    with warnings.catch_warnings(), _quiet_torch_logs():
        warnings.simplefilter("ignore")
        ep = torch.export.export(module, inputs, strict=False)
        if _needs_functionalization(ep.graph):
            ep = ep.run_decompositions({})
    sig = ep.graph_signature
    user_inputs = {s.arg.name for s in sig.input_specs if s.kind == InputKind.USER_INPUT}
    env: dict[Any, Any] = {}
    nodes: list[RawNode] = []
    graph_inputs: list[tuple[str, tuple[int, ...]]] = []
    outputs: list[Ref] = []

    def val_shape(node) -> tuple[int, ...]:
        return _shape(node.meta.get("val")) or ()

    def to_ref(x):
        if isinstance(x, torch.fx.Node):
            return env.get(x)
        return x

    for node in ep.graph.nodes:
        if node.op == "placeholder":
            shape = val_shape(node)
            if node.name in user_inputs:
                env[node] = Ref("input", node.name, 0, shape)
                graph_inputs.append((node.name, shape))
            else:
                env[node] = Ref("const", node.name, 0, shape)
        elif node.op == "get_attr":
            env[node] = Ref("const", node.name, 0, val_shape(node))
        elif node.op == "call_function":
            if node.target is operator.getitem:
                src, idx = node.args
                parent = env.get(src)
                env[node] = parent[idx] if isinstance(parent, list) else None
                continue
            val = node.meta.get("val")
            multi = isinstance(val, list | tuple)
            shapes = [_shape(v) for v in val] if multi else [_shape(val)]
            stack = tuple(
                (str(path), str(getattr(typ, "__name__", typ)).rsplit(".", 1)[-1])
                for path, typ in (node.meta.get("nn_module_stack") or {}).values()
            )
            stack = tuple(s for s in stack if s[0])
            raw = RawNode(node.name, op_name(node.target),
                          bind(node.target, node.args, node.kwargs, to_ref), shapes, stack, multi)
            nodes.append(raw)
            refs = [Ref("node", raw.name, i, s) if s is not None else None
                    for i, s in enumerate(shapes)]
            env[node] = refs if multi else refs[0]
        elif node.op == "output":
            user_outs = [s for s in sig.output_specs if s.kind == OutputKind.USER_OUTPUT]
            names = {s.arg.name for s in user_outs if hasattr(s.arg, "name")}
            flat, _ = tree_flatten(node.args[0])
            for n in flat:
                if isinstance(n, torch.fx.Node) and n.name in names:
                    ref = env.get(n)
                    if isinstance(ref, Ref):
                        outputs.append(ref)
    from ._values import export_uniform

    return RawGraph(nodes, graph_inputs, outputs, "export", uniform=export_uniform(ep, known or {}))


# -- TorchDispatchMode ---------------------------------------------------------------------------


class _Recorder(TorchDispatchMode):
    def __init__(self, consts: dict[int, Ref], inputs: dict[int, Ref],
                 known: dict[int, Any]) -> None:
        super().__init__()
        from ._values import Evaluator

        self.refs: dict[int, Ref] = {**consts, **inputs}
        self.values = Evaluator()
        for tid, value in known.items():
            ref = self.refs[tid]
            self.values.add((ref.name, ref.index), value)
        self.keep: list[Any] = []  # keep recorded tensors alive so their ids stay unique
        self.nodes: list[RawNode] = []
        self.stack: list[tuple[str, str]] = []
        self.counter = 0

    def to_ref(self, x):
        if isinstance(x, torch.Tensor):
            ref = self.refs.get(id(x))
            if ref is None:  # made outside the trace: a constant
                ref = Ref("const", f"_tensor_{len(self.refs)}", 0, _shape(x))
                self.refs[id(x)] = ref
                self.keep.append(x)
                self.values.add((ref.name, 0), x)
            return ref
        return x

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = op_name(func)
        bound = bind(func, args, kwargs, self.to_ref)
        multi = isinstance(out, list | tuple)
        outs = list(out) if multi else [out]
        shapes = [_shape(o) for o in outs]
        raw = RawNode(f"{name.split('::')[-1]}_{self.counter}", name, bound, shapes,
                      tuple(self.stack), multi)
        self.counter += 1
        mask_arg = SPARSE_MASK_ARG.get(name)
        if mask_arg is not None:
            raw.density = _density(args, kwargs, func, mask_arg)
        self.nodes.append(raw)
        for i, o in enumerate(outs):
            if isinstance(o, torch.Tensor):
                self.refs[id(o)] = Ref("node", raw.name, i, shapes[i])
                self.keep.append(o)
        self._known(raw.name, func, args, kwargs, outs)
        return out

    def _known(self, name: str, func, args, kwargs, outs: list) -> None:
        """Record the values of outputs computed from known values only (``_values``)."""
        def lookup(x):
            ref = self.refs.get(id(x))
            if ref is None:
                raise KeyError(x)
            return self.values.values[(ref.name, ref.index)]

        flat = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, torch.Tensor)]
        try:
            [lookup(x) for x in flat]
        except KeyError:
            return
        if all(not isinstance(o, torch.Tensor) or o.device.type != "meta" for o in outs):
            for i, o in enumerate(outs):
                self.values.add((name, i), o)
        else:
            numel = sum(o.numel() for o in outs if isinstance(o, torch.Tensor))
            self.values.evaluate(name, func, args, kwargs, numel, lookup)


def _density(args, kwargs, func, mask_arg: str) -> float | None:
    bound = bind(func, args, kwargs, lambda x: x)
    mask = bound.get(mask_arg)
    if not isinstance(mask, torch.Tensor) or mask.device.type == "meta" or mask.numel() == 0:
        return None
    return float(mask.to(torch.float64).mean())


def capture_dispatch(module: nn.Module, inputs: tuple,
                     known_buffers: dict[str, torch.Tensor] | None = None) -> RawGraph:
    """Run ``module(*inputs)`` once, recording every aten call (real or meta tensors);
    ``known_buffers`` as for ``capture_export``."""
    from ._values import build_time_buffers

    build_time = {**build_time_buffers(module), **(known_buffers or {})}
    consts: dict[int, Ref] = {}
    known: dict[int, Any] = {}  # non-persistent buffers: computed at build time, not data
    for pname, p in module.named_parameters(remove_duplicate=False):
        consts[id(p)] = Ref("const", pname, 0, _shape(p))
    for bname, b in module.named_buffers(remove_duplicate=False):
        consts[id(b)] = Ref("const", bname, 0, _shape(b))
        if bname in build_time:
            known[id(b)] = build_time[bname]
    flat, _ = tree_flatten(inputs)
    input_refs: dict[int, Ref] = {}
    graph_inputs = []
    for i, x in enumerate(flat):
        if isinstance(x, torch.Tensor):
            name = f"input_{i}" if len(flat) > 1 else "x"
            input_refs[id(x)] = Ref("input", name, 0, _shape(x))
            graph_inputs.append((name, _shape(x)))
    names = {id(m): n for n, m in module.named_modules(remove_duplicate=False) if n}
    rec = _Recorder(consts, input_refs, known)

    def pre_hook(mod, _args):
        if id(mod) in names:
            rec.stack.append((names[id(mod)], type(mod).__name__))

    def post_hook(mod, _args, _out):
        if id(mod) in names and rec.stack:
            rec.stack.pop()

    handles = [nn.modules.module.register_module_forward_pre_hook(pre_hook),
               nn.modules.module.register_module_forward_hook(post_hook)]
    fastpath = torch.backends.mha.get_fastpath_enabled()
    # PyTorch's fused inference fast paths (_transformer_encoder_layer_fwd,
    # _native_multi_head_attention) would hide their matmuls in one opaque op: off while recording
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), rec:
            out = module(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for h in handles:
            h.remove()
    flat_out, _ = tree_flatten(out)
    outputs = [rec.refs[id(o)] for o in flat_out
               if isinstance(o, torch.Tensor) and rec.refs.get(id(o), Ref("", "", 0, ())).source == "node"]
    return RawGraph(rec.nodes, graph_inputs, outputs, "dispatch", uniform=rec.values.uniform)


class DensityProbe(TorchDispatchMode):
    """Record, in call order, the mask density of every sparse custom op of an eager forward."""

    def __init__(self) -> None:
        super().__init__()
        self.densities: list[float | None] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        mask_arg = SPARSE_MASK_ARG.get(op_name(func))
        if mask_arg is not None:
            self.densities.append(_density(args, kwargs, func, mask_arg))
        return func(*args, **kwargs)
