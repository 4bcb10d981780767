"""``trace(module, *example_inputs) -> OpGraph``: any ``nn.Module`` to an operator graph.

How (see docs/workloads.md for the measurements behind the choices):

1. Capture. ``torch.export.export(strict=False).run_decompositions({})`` on the example inputs:
   fake tensors (nothing computed), one node per aten op with shapes and module scopes, in-place
   ops functionalised, composites (``linear``, ``conv2d``, ``layer_norm``, SDPA) kept whole.
   If export refuses the module (data-dependent Python control flow, ...), the module runs once
   eagerly under a recording ``TorchDispatchMode`` instead (``meta["tracer"] == "dispatch"``).
2. Meta path (``device="meta"``, or automatic when the inputs hold more than
   ``AUTO_META_ELEMENTS`` elements, or when module / inputs already live on the meta device):
   the module is copied to the meta device without copying weights and exported there, so a
   4096-token ViT-B traces in about a second and never allocates activations.
3. Sparse ops (Sanger's ``vitality::masked_scores`` / ``masked_context``): on the real path,
   one eager forward measures each mask's density; on the meta path (or with an explicit
   ``sparse_density``) the given or default density is used.
4. Mapping: ``workloads._aten`` (op table), ``workloads._convert`` (values, edges, names).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

from ._progress import stage
from .errors import WorkloadError
from .ir import OpGraph, Precision

#: Density of Sanger's sparse attention when it cannot be measured (meta path, zoo models with
#: random weights). Sanger (Lu et al., MICRO 2021) reports pruning BERT attention to a density
#: of 0.08-0.27 without accuracy loss; ViT maps over ~200 tokens are less local than long NLP
#: sequences, so we sit in the upper half of that range.
DEFAULT_SPARSE_DENSITY = 0.2

#: Inputs with more elements than this are traced on the meta device by default
#: (2^20 elements: a 3 x 591 x 591 image, about 1,370 tokens at patch 16).
AUTO_META_ELEMENTS = 1 << 20

#: Bumped whenever the graph a given model traces to changes (part of the cache key).
TRACER_VERSION = 1


def code_version() -> str:
    """A short hash of the code a traced graph depends on (tracer, IR and the model zoo)."""
    root = Path(__file__).resolve().parent
    files = sorted(root.glob("*.py"))
    try:
        import importlib.util

        spec = importlib.util.find_spec("vitality_model")
        if spec and spec.origin:
            files += sorted(Path(spec.origin).parent.glob("*.py"))
    except (ImportError, ValueError):
        pass
    h = hashlib.sha256(str(TRACER_VERSION).encode())
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _to_meta(module: Any) -> Any:
    """A copy of ``module`` whose parameters and buffers live on the meta device; the weights
    themselves are never copied."""
    import torch
    from torch import nn

    tensors = list(module.parameters()) + list(module.buffers())
    if all(t.device.type == "meta" for t in tensors):
        return module
    memo: dict[int, Any] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"),
                                   requires_grad=p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    try:
        return copy.deepcopy(module, memo)
    except Exception as exc:
        raise WorkloadError(f"cannot copy {type(module).__name__} to the meta device "
                            f"({_first_line(exc)}); build it under torch.device('meta')") from None


def _use_meta(device: str, module, inputs: tuple) -> bool:
    import torch
    from torch.utils._pytree import tree_flatten

    if device == "meta":
        return True
    if device in ("real", "cpu"):
        return False
    if device != "auto":
        raise WorkloadError(f"device must be 'auto', 'meta' or 'real', got {device!r}")
    flat = [x for x in tree_flatten(inputs)[0] if isinstance(x, torch.Tensor)]
    params = list(module.parameters())
    if any(x.device.type == "meta" for x in flat) or any(p.device.type == "meta" for p in params):
        return True
    return sum(x.numel() for x in flat) > AUTO_META_ELEMENTS


def _capture(module, inputs: tuple, model: str, on_meta: bool, known: dict):
    from ._capture import capture_dispatch, capture_export

    try:
        return capture_export(module, inputs, known)
    except Exception as exc:  # export could not handle it: record it eagerly instead
        export_error = _first_line(exc)
    try:
        raw = capture_dispatch(module, inputs, known)
    except Exception as exc:
        hint = " (traced on the meta device; try device='real')" if on_meta else ""
        raise WorkloadError(
            f"{model} raised on its example input: {_first_line(exc)}{hint}") from None
    raw.notes["export_error"] = export_error
    return raw


def trace(module, *example_inputs, precision: Precision | None = None, meta: dict | None = None,
          device: str = "auto", sparse_density: float | None = None,
          training: bool = False) -> OpGraph:
    """Trace ``module(*example_inputs)`` into an ``OpGraph``.

    ``precision`` sets the bytes of every op (default 8-bit operands, 32-bit accumulators);
    ``meta`` adds to the graph's meta (``model``, ``attention``, ``img_size``, ``tokens`` ...);
    ``device``: "auto" (default), "meta" (never compute; for 4096+ tokens) or "real";
    ``sparse_density`` overrides the density of sparse attention ops (default: measured on the
    real path, ``DEFAULT_SPARSE_DENSITY`` on the meta path); the module is traced in eval mode
    (inference) unless ``training`` is true, and its mode is restored afterwards.
    """
    import torch
    from torch import nn
    from torch.utils._pytree import tree_map

    from ._capture import DensityProbe
    from ._convert import build_graph
    from ._values import build_time_buffers

    if not isinstance(module, nn.Module):
        raise WorkloadError(f"trace needs an nn.Module, got {type(module).__name__}")
    if not example_inputs:
        raise WorkloadError("trace needs at least one example input")
    if sparse_density is not None and not 0.0 < float(sparse_density) <= 1.0:
        raise WorkloadError(f"sparse density must be in (0, 1], got {sparse_density}")
    precision = precision or Precision()
    user_meta = dict(meta or {})
    model = str(user_meta.get("model") or type(module).__name__)
    inputs = tuple(example_inputs)
    on_meta = _use_meta(device, module, inputs)
    modes = [(m, m.training) for m in module.modules()]
    module.train(training)
    try:
        if on_meta:
            target = _to_meta(module)
            target.train(training)
            run_inputs = tree_map(
                lambda x: x.to("meta") if isinstance(x, torch.Tensor) else x, inputs)
        else:
            target, run_inputs = module, inputs
        stage("export")
        raw = _capture(target, run_inputs, model, on_meta, build_time_buffers(module))
        sparse = any(n.target.startswith("vitality::masked") for n in raw.nodes)
        densities = None
        if sparse_density is not None:
            for n in raw.nodes:
                n.density = None
        elif sparse and not on_meta and raw.tracer == "export":
            stage("measure density")
            probe = DensityProbe()
            with torch.no_grad(), probe:
                module(*inputs)
            densities = probe.densities
        density = DEFAULT_SPARSE_DENSITY if sparse_density is None else float(sparse_density)
        stage("convert")
        graph, builder = build_graph(raw, precision, density, densities)
    finally:
        for m, mode in modes:
            m.training = mode

    graph.meta = _meta(module, graph, builder, raw, user_meta, model, precision, on_meta,
                       sparse_density)
    graph.check()
    return graph


def _meta(module, graph: OpGraph, builder, raw, user_meta: dict, model: str,
          precision: Precision, on_meta: bool, sparse_density) -> dict:
    import torch

    cfg = getattr(module, "cfg", None)  # zoo models carry their ViTConfig
    tokens = user_meta.get("tokens")
    if tokens is None:
        tokens = getattr(cfg, "num_tokens", None)
    if tokens is None:
        first = next((op for op in graph if op.group == "attention" and op.input_shapes
                      and len(op.input_shapes[0]) >= 2), None)
        tokens = first.input_shapes[0][-2] if first else None
    meta: dict[str, Any] = {"model": model, "attention": None,
                            "img_size": getattr(cfg, "img_size", None)}
    meta.update(user_meta)
    meta["model"] = model
    meta["tokens"] = int(tokens) if tokens is not None else None
    meta.update(builder.meta_totals(raw, precision))
    meta["tracer"] = raw.tracer + ("-meta" if on_meta else "")
    meta["tracer_version"] = TRACER_VERSION
    meta["torch"] = torch.__version__.split("+")[0]
    if builder.sparse_used:
        used = builder.sparse_used
        meta["sparse_density"] = round(sum(used) / len(used), 6)
        measured = builder.sparse_measured
        meta["sparse_density_source"] = (
            "option" if sparse_density is not None else "measured" if measured == len(used)
            else "default" if measured == 0 else "mixed")
    if "export_error" in raw.notes:
        meta["export_error"] = raw.notes["export_error"]
    return meta
