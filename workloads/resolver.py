"""``resolve(spec)``: every way a user can name a workload, turned into an ``OpGraph``.

* a zoo name (``deit_tiny``, ``deit_base`` ...): traced on the meta device (no weights, no
  compute) and cached on disk;
* a saved graph ``PATH.json``;
* an ONNX file ``PATH.onnx`` (``workloads.onnx_import``; needs the ``onnx`` extra);
* ``gemm:M,N,K`` and ``scalesim:TOPOLOGY.csv``;
* ``package.module:factory``: ``factory()`` returns an ``nn.Module`` (traced on a 1x3xSxS image)
  or a tuple ``(module, example_inputs)``.

Importing this module never imports torch; tracing does.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._progress import stage
from .errors import WorkloadError

if TYPE_CHECKING:  # imported where used: the CLI imports this module to build its parser
    from .ir import OpGraph, Precision

#: Attention variants of the zoo (mirrors ``vitality_model.ATTENTIONS``; kept here so that the
#: CLI can list them without importing torch).
ATTENTIONS = ("softmax", "taylor", "vitality", "sanger", "linear_elu")


def default_cache_dir() -> Path:
    """``$ACCELSIM_CACHE``, else ``$XDG_CACHE_HOME/accelsim/graphs``, else
    ``~/.cache/accelsim/graphs``."""
    if os.environ.get("ACCELSIM_CACHE"):
        return Path(os.environ["ACCELSIM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "accelsim" / "graphs"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def resolve(spec: str, *, attention: str | None = None, img_size: int | None = None,
            patch_size: int | None = None, sparse_density: float | None = None,
            precision: Precision | None = None, cache_dir: str | os.PathLike | None = None,
            cache: bool = True, attention_options: dict | None = None) -> OpGraph:
    """The graph named by ``spec`` (see the module docstring).

    ``attention``, ``img_size`` (default: the zoo model's own, 224 for DeiT/ViT and for
    factories), ``patch_size`` and ``sparse_density`` apply to traced models.
    ``attention_options`` are keyword arguments of ``vitality_model.Attention``
    (``exact_denominator``, ``threshold``, ``quant_bits``), e.g. ``{"exact_denominator": False}``
    drops step 4 of Algorithm 1 (an ablation); they are recorded in ``meta["attention_options"]``.
    Zoo graphs are cached under ``cache_dir`` (default ``default_cache_dir()``), keyed by every
    option, the torch version and a hash of the tracer and model code, unless ``cache`` is
    false."""
    spec = str(spec).strip()
    if not spec:
        raise WorkloadError("empty workload spec")
    if attention is not None and attention not in ATTENTIONS:
        raise WorkloadError(f"unknown attention {attention!r}; valid: {', '.join(ATTENTIONS)}")
    if sparse_density is not None and not 0.0 < float(sparse_density) <= 1.0:
        raise WorkloadError(f"sparse density must be in (0, 1], got {sparse_density}")
    if img_size is not None and int(img_size) <= 0:
        raise WorkloadError(f"image size must be a positive integer, got {img_size}")
    if img_size is not None:
        from safeio import check_limit

        check_limit("img_size", int(img_size), "image size", WorkloadError)
    options = dict(sorted((attention_options or {}).items()))
    if spec.startswith("gemm:"):
        from .simple import parse_gemm_spec

        return parse_gemm_spec(spec)
    if spec.startswith("scalesim:"):
        from .simple import scalesim_topology_graph

        return scalesim_topology_graph(spec.removeprefix("scalesim:"))
    if spec.endswith(".json"):
        from .ir import load

        return load(spec)
    if spec.endswith(".onnx"):
        from .onnx_import import load_onnx

        return load_onnx(spec, precision=precision)
    if ":" in spec:
        return _trace_factory(spec, attention=attention, img_size=img_size or 224,
                              sparse_density=sparse_density, precision=precision,
                              options=options)
    return _trace_zoo(spec, attention=attention or "softmax", img_size=img_size,
                      patch_size=patch_size, sparse_density=sparse_density, precision=precision,
                      cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                      cache=cache, options=options)


def _zoo_names() -> list[str]:
    from vitality_model.zoo import ZOO

    return sorted(ZOO)


def _torch_version() -> str:
    """The installed torch's version, read from its metadata (no import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch").split("+")[0]
    except PackageNotFoundError:
        return "none"


def _trace_zoo(name: str, *, attention: str, img_size: int | None, patch_size: int | None,
               sparse_density: float | None, precision: Precision | None, cache_dir: Path,
               cache: bool, options: dict | None = None) -> OpGraph:
    if Path(name).suffix or os.sep in name:
        raise WorkloadError(f"{name}: not a zoo model, a .json graph, gemm:M,N,K, "
                            "scalesim:FILE.csv or package.module:factory")
    from vitality_model.zoo import ZOO, model_config

    from .ir import Precision, write_atomic
    from .tracer import code_version  # no torch import

    precision = precision or Precision()
    if name not in ZOO:
        raise WorkloadError(f"unknown model {name!r}; zoo models: {', '.join(_zoo_names())} "
                            "(or give a graph .json, gemm:M,N,K, scalesim:FILE.csv or "
                            "package.module:factory)")
    overrides = {k: v for k, v in (("img_size", img_size), ("patch_size", patch_size))
                 if v is not None}
    try:
        cfg = model_config(name, **overrides)
        if cfg.img_size % cfg.patch_size:
            raise ValueError(f"img_size {cfg.img_size} is not a multiple of patch_size "
                             f"{cfg.patch_size}")
    except (ValueError, TypeError) as exc:
        raise WorkloadError(f"{name}: {exc}") from None
    # The key is built from the request alone, so a cache hit never imports torch; sizes are
    # the resolved ones, so the default image size and the same size given are one entry.
    key = (f"{name}_{attention}_img{cfg.img_size}_p{cfg.patch_size}"
           f"_d{sparse_density if sparse_density is not None else 'default'}"
           f"_b{precision.operand_bits}-{precision.accumulator_bits}"
           f"{''.join(f'_{k}-{v}' for k, v in (options or {}).items())}"
           f"_torch{_torch_version()}_{code_version()}")
    path = cache_dir / f"{key}.entry.json"
    if cache:
        cached = read_cache_entry(path, key)
        if cached is not None:
            return cached
    stage("import torch")
    graph = _trace_zoo_now(name, attention, cfg, sparse_density, precision, options or {})
    if cache:
        with contextlib.suppress(OSError):  # an unwritable cache only costs time
            write_atomic(path, cache_entry(key, graph))
    return graph


CACHE_FORMAT = "accelsim.graphcache/1"


def cache_entry(key: str, graph: OpGraph) -> str:
    """The text of a cache entry: the graph's JSON with the entry's own key and the SHA-256 of
    that JSON, so a corrupt, truncated or swapped entry is detected on reading."""
    text = graph.to_json()
    return json.dumps({"format": CACHE_FORMAT, "key": key,
                       "sha256": hashlib.sha256(text.encode()).hexdigest(), "graph": text}) + "\n"


def read_cache_entry(path: Path, key: str) -> OpGraph | None:
    """The graph of the cache entry at ``path`` if it is intact and made for ``key``; ``None``
    (trace again, the entry is then rewritten) if it is missing, unreadable, corrupt, stale or
    belongs to another key."""
    from safeio import loads_json, read_text

    try:
        if not path.exists():
            return None
        entry = loads_json(read_text(path, "trace cache entry", WorkloadError), str(path),
                           WorkloadError)
        if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT \
                or entry.get("key") != key or not isinstance(entry.get("graph"), str):
            return None
        text = entry["graph"]
        if hashlib.sha256(text.encode()).hexdigest() != entry.get("sha256"):
            return None
        from .ir import OpGraph

        graph = OpGraph.from_dict(loads_json(text, str(path), WorkloadError), source=str(path))
    except (WorkloadError, OSError, ValueError):
        return None
    return graph


def _trace_zoo_now(name, attention, cfg, sparse_density, precision, options=None) -> OpGraph:
    import torch

    import vitality_model

    from .tracer import trace

    stage("build model")
    try:
        with torch.device("meta"):
            model = vitality_model.build(name, attention, img_size=cfg.img_size,
                                         patch_size=cfg.patch_size, seed=None, **(options or {}))
    except TypeError as exc:
        raise WorkloadError(f"{name}: bad attention options {options}: {exc}") from None
    x = torch.empty(1, cfg.in_chans, cfg.img_size, cfg.img_size, device="meta")
    meta = {"model": name, "attention": attention, "img_size": cfg.img_size,
            "patch_size": cfg.patch_size, "tokens": cfg.num_tokens}
    if options:
        meta["attention_options"] = dict(options)
    return trace(model, x, precision=precision, meta=meta, device="meta",
                 sparse_density=sparse_density)


def _trace_factory(spec: str, *, attention: str | None, img_size: int,
                   sparse_density: float | None, precision: Precision | None,
                   options: dict | None = None) -> OpGraph:
    modname, _, attr = spec.partition(":")
    if not modname or not attr:
        raise WorkloadError(f"bad factory spec {spec!r}: want package.module:factory")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    stage("import model")
    try:
        mod = importlib.import_module(modname)
    except Exception as exc:  # ImportError, SyntaxError, errors raised at import time
        raise WorkloadError(f"{spec}: cannot import {modname!r} ({_first_line(exc)})") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    factory: Any = mod
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise WorkloadError(f"{spec}: module {modname!r} has no attribute {attr!r}")
    if not callable(factory):
        raise WorkloadError(f"{spec}: {attr!r} is not callable")
    stage("build model")
    try:
        made = factory()
    except Exception as exc:
        raise WorkloadError(f"{spec}: factory raised {_first_line(exc)}") from None

    import torch
    from torch import nn

    module, inputs, meta = _factory_result(spec, made, img_size)
    if attention is not None or options:  # only vitality_model.Attention modules can switch
        from vitality_model import Attention, set_attention

        attns = [m for m in module.modules() if isinstance(m, Attention)]
        if attns:
            try:
                set_attention(module, attention or attns[0].attention, **(options or {}))
            except ValueError as exc:
                raise WorkloadError(f"{spec}: {exc}") from None
            meta["attention"] = attention or attns[0].attention
            if options:
                meta["attention_options"] = dict(options)
    assert isinstance(module, nn.Module)
    from .tracer import trace

    with torch.no_grad():
        return trace(module, *inputs, precision=precision, meta=meta,
                     sparse_density=sparse_density)


def _factory_result(spec: str, made: Any, img_size: int):
    import torch
    from torch import nn

    meta: dict[str, Any] = {"model": spec}
    if isinstance(made, nn.Module):
        gen = torch.Generator().manual_seed(0)
        meta["img_size"] = img_size
        return made, (torch.randn(1, 3, img_size, img_size, generator=gen),), meta
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], nn.Module):
        module, inputs = made
        if isinstance(inputs, torch.Tensor):
            inputs = (inputs,)
        elif isinstance(inputs, list):
            inputs = tuple(inputs)
        if not isinstance(inputs, tuple) or not inputs:
            raise WorkloadError(f"{spec}: example_inputs must be a tensor or a non-empty "
                                f"tuple of them, got {type(inputs).__name__}")
        return module, inputs, meta
    raise WorkloadError(f"{spec}: factory must return an nn.Module or (module, example_inputs), "
                        f"got {type(made).__name__}")
