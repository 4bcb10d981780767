"""workloads: operator graphs (OpGraph) traced from PyTorch models, saved and loaded as JSON.

Importing this package never imports torch; only tracing does (``trace`` is loaded lazily).

* ``trace(module, *example_inputs, ...)`` -> OpGraph (``workloads.tracer``);
* ``resolve(spec, ...)``: a zoo name, a saved ``.json`` graph, ``gemm:M,N,K``,
  ``scalesim:TOPOLOGY.csv`` or ``package.module:factory`` -> OpGraph;
* ``load(path)``: a saved graph; ``OpGraph``, ``Op``, ``OpKind``, ``Precision``, ``Cost``: the IR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import WorkloadError
from .ir import GROUPS, Cost, Op, OpGraph, OpKind, Precision, load
from .resolver import resolve

if TYPE_CHECKING:
    from .tracer import trace

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
    if name == "trace":
        from .tracer import trace

        return trace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
