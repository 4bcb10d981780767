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

from typing import TYPE_CHECKING

from safeio.lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
