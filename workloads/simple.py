"""Workloads that need no model: ``gemm:M,N,K`` and SCALE-Sim GEMM topology CSV files.

Both build graphs of independent matmuls whose A operand is an activation (graph input) and
whose B operand is a weight (``weight_inputs=[1]``), as in SCALE-Sim, where the filter is the
weight matrix and the ifmap streams.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .errors import WorkloadError
from .ir import Op, OpGraph, OpKind, Precision, matmul_cost


def matmul_op(name: str, m: int, n: int, k: int, precision: Precision, *, scope: str = "",
              layer: int | None = None) -> Op:
    """A dense (m x k) @ (k x n) matmul whose B operand is a weight."""
    for dim, value in (("M", m), ("N", n), ("K", k)):
        if value <= 0:
            raise WorkloadError(f"{name}: {dim} must be a positive integer, got {value}")
    return Op(
        name=name, kind=OpKind.MATMUL, fn="matmul", input_shapes=[[m, k], [k, n]],
        output_shape=[m, n], scope=scope or name, layer=layer, weight_inputs=[1],
        m=m, n=n, k=k, batch=1, cost=matmul_cost(m, n, k, 1, 1.0, precision, [1]),
    )


def gemm_graph(m: int, n: int, k: int, precision: Precision | None = None) -> OpGraph:
    """The one-op graph of ``gemm:M,N,K``."""
    precision = precision or Precision()
    graph = OpGraph({"model": f"gemm:{m},{n},{k}", "precision": precision.__dict__})
    graph.add_op(matmul_op("gemm", m, n, k, precision))
    return graph


def parse_gemm_spec(spec: str) -> OpGraph:
    """Parse ``gemm:M,N,K`` (``spec`` without or with the ``gemm:`` prefix)."""
    body = spec.removeprefix("gemm:")
    parts = [p.strip() for p in body.split(",")]
    try:
        m, n, k = (int(p) for p in parts)
    except ValueError:
        raise WorkloadError(f"bad GEMM spec {spec!r}: want gemm:M,N,K with positive integers") from None
    return gemm_graph(m, n, k)


def scalesim_topology_graph(path: str | Path, precision: Precision | None = None) -> OpGraph:
    """Load a SCALE-Sim GEMM topology CSV (header, then ``Layer, M, N, K,`` rows).

    Each row becomes one independent matmul op named by its Layer field.
    """
    p = Path(path)
    precision = precision or Precision()
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise WorkloadError(f"{p}: no such file") from None
    graph = OpGraph({"model": f"scalesim:{p.name}", "precision": precision.__dict__})
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        raise WorkloadError(f"{p}: empty topology file")
    for lineno, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) < 4:
            raise WorkloadError(f"{p}:{lineno}: want 'Layer, M, N, K', got {row!r}")
        try:
            m, n, k = (int(c) for c in cells[1:4])
        except ValueError:
            raise WorkloadError(f"{p}:{lineno}: M, N, K must be integers, got {cells[1:4]}") from None
        try:
            graph.add_op(matmul_op(cells[0], m, n, k, precision, layer=lineno - 2))
        except WorkloadError as exc:
            raise WorkloadError(f"{p}:{lineno}: {exc}") from None
    return graph
