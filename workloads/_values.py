"""Values of the constants a traced graph builds, so the builder can tell one value broadcast
(an all-true attention mask, an all-zero additive bias) from data.

A tensor's value is *known* when it is made by a factory (``arange``, ``full``, ``zeros`` ...),
is a lifted tensor constant or a non-persistent buffer (computed when the module was built,
never loaded from a checkpoint), or is computed by an op whose tensor inputs are all known.
Parameters and persistent buffers are data: their values (random at init, trained later) are
never looked at. Known values are computed on the CPU, never more than ``LIMIT`` elements
materialised per op; the result for each constant is its *uniform value*, the one scalar all
its elements equal (``None`` when they differ or the value is unknown).
"""

from __future__ import annotations

import operator
from typing import Any

import torch

#: The most elements an op may materialise while constant values are evaluated.
LIMIT = 1 << 22

#: Ops that return a view (no new storage): evaluated whatever their output's size.
_VIEWS = {"expand", "expand_as", "broadcast_to", "unsqueeze", "squeeze", "view", "permute",
          "transpose", "t", "select", "slice", "narrow", "alias", "detach", "lift_fresh_copy",
          "lift_fresh", "_unsafe_view"}


def uniform_value(t: Any) -> bool | int | float | None:
    """The scalar every element of ``t`` equals, else None. Broadcast (stride-0) dims are
    looked at once."""
    if not isinstance(t, torch.Tensor) or t.device.type == "meta" or t.numel() == 0:
        return None
    if t.is_complex() or t.is_sparse:
        return None
    x = t
    for d in range(t.dim()):
        if x.stride(d) == 0 and x.size(d) > 1:
            x = x.narrow(d, 0, 1)
    if x.numel() > LIMIT:
        return None
    first = x.reshape(-1)[0]
    if not bool((x == first).all()):
        return None
    return first.item()


def _base(name: str) -> str:
    return name.split("::")[-1].split(".")[0].rstrip("_")


class Evaluator:
    """Known constant values by (producer name, output index)."""

    def __init__(self) -> None:
        self.values: dict[Any, torch.Tensor] = {}
        self.uniform: dict[Any, Any] = {}

    def add(self, key: Any, value: Any) -> None:
        if (isinstance(value, torch.Tensor) and value.device.type != "meta"
                and not isinstance(value, torch._subclasses.FakeTensor)
                and value.numel() <= LIMIT):
            self.values[key] = value.detach().cpu()
            u = uniform_value(self.values[key])
            if u is not None:
                self.uniform[key] = u

    def evaluate(self, key: Any, func: Any, args: tuple, kwargs: dict, out_numel: int,
                 lookup) -> None:
        """Compute ``func(*args, **kwargs)`` on known values (``lookup(x)`` maps a tensor
        argument to its known value or raises KeyError) and record it under ``key``."""
        schema = getattr(func, "_schema", None)
        if schema is None or schema.is_mutable or func is operator.getitem:
            return
        if out_numel > LIMIT and _base(schema.name) not in _VIEWS:
            return
        try:
            cargs = _map(args, lookup)
            ckwargs = {k: ("cpu" if k == "device" else _map(v, lookup)) for k, v in kwargs.items()}
            out = func(*cargs, **ckwargs)
        except (KeyError, RuntimeError, TypeError, ValueError, NotImplementedError, IndexError):
            return
        if isinstance(out, list | tuple):
            for i, o in enumerate(out):
                self.add((key, i), o)
        else:
            self.add((key, 0), out)


def _map(x: Any, lookup) -> Any:
    if isinstance(x, list | tuple):
        return type(x)(_map(y, lookup) for y in x)
    if isinstance(x, torch.fx.Node | torch.Tensor):
        return lookup(x)
    return x


def build_time_buffers(module: Any) -> dict[str, torch.Tensor]:
    """The non-persistent buffers of ``module`` by qualified name: computed when it was built
    (masks, index tables), so their values are the constant's, even when the module is traced
    through a meta copy."""
    out = {}
    for mname, mod in module.named_modules(remove_duplicate=False):
        for bname, b in mod.named_buffers(recurse=False):
            if bname in mod._non_persistent_buffers_set:
                out[f"{mname}.{bname}" if mname else bname] = b
    return out


def export_uniform(ep: Any, known: dict[str, torch.Tensor]) -> dict[Any, Any]:
    """Uniform values of the known constants of an exported program, by (node name, output
    index); ``known``: values of non-persistent buffers (``build_time_buffers``)."""
    from torch.export.graph_signature import InputKind

    ev = Evaluator()
    for spec in ep.graph_signature.input_specs:
        target = getattr(spec, "target", None)
        if spec.kind == InputKind.CONSTANT_TENSOR:
            ev.add((spec.arg.name, 0), ep.constants.get(target))
        elif spec.kind == InputKind.BUFFER and spec.persistent is False:
            ev.add((spec.arg.name, 0), known.get(str(target), ep.constants.get(target)))

    def lookup(x):
        if isinstance(x, torch.fx.Node):
            if x.target is operator.getitem:
                return ev.values[(x.args[0].name, x.args[1])]
            return ev.values[(x.name, 0)]
        raise KeyError(x)

    for node in ep.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target is operator.getitem:
            continue
        val = node.meta.get("val")
        numel = sum(v.numel() for v in val) if isinstance(val, list | tuple) else (
            val.numel() if isinstance(val, torch.Tensor) else 0)
        ev.evaluate(node.name, node.target, node.args, node.kwargs, numel, lookup)
    return ev.uniform
