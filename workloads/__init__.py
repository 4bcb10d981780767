"""workloads: operator graphs (OpGraph) traced from PyTorch models, saved and loaded as JSON.

Importing this package never imports torch; only tracing does. Only ``WorkloadError`` is
imported with the package; every other name is loaded on first use (PEP 562), so that
``workloads.errors`` costs nothing (networkx loads with the IR).

* ``trace(module, *example_inputs, ...)`` -> OpGraph (``workloads.tracer``);
* ``resolve(spec, ...)``: a zoo name, a saved ``.json`` graph, ``gemm:M,N,K``,
  ``scalesim:TOPOLOGY.csv`` or ``package.module:factory`` -> OpGraph;
* ``load(path)``: a saved graph; ``OpGraph``, ``Op``, ``OpKind``, ``Precision``, ``Cost``: the IR.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import WorkloadError

if TYPE_CHECKING:
    from .ir import GROUPS, Cost, Op, OpGraph, OpKind, Precision, load
    from .resolver import resolve
    from .tracer import trace

#: Public name -> the submodule that defines it.
_LAZY = {**dict.fromkeys(("GROUPS", "Cost", "Op", "OpGraph", "OpKind", "Precision", "load"),
                         "ir"),
         "resolve": "resolver", "trace": "tracer"}

__all__ = [
    "GROUPS",
    "Cost",
    "Op",
    "OpGraph",
    "OpKind",
    "Precision",
    "WorkloadError",
    "load",
    "resolve",
    "trace",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
