"""Workloads that need no model: ``gemm:M,N,K`` and SCALE-Sim GEMM topology CSV files.

Both build graphs of independent matmuls whose A operand is an activation (graph input) and
whose B operand is a weight (``weight_inputs=[1]``), as in SCALE-Sim, where the filter is the
weight matrix and the ifmap streams.
"""

from __future__ import annotations

import csv
from pathlib import Path

from safeio import read_text

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


def _is_int(cell: str) -> bool:
    try:
        int(cell)
    except ValueError:
        return False
    return True


def conv_as_gemm(ifmap_h: int, ifmap_w: int, filt_h: int, filt_w: int, channels: int,
                 filters: int, stride: int) -> tuple[int, int, int]:
    """SCALE-Sim's conv-to-GEMM view (im2col): M = output pixels, N = filters,
    K = filter window x channels, with SCALE-Sim's ``ceil((I - F + S) / S)`` output size."""
    names = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
             "Num Filter", "Strides")
    dims = (ifmap_h, ifmap_w, filt_h, filt_w, channels, filters, stride)
    for label, value in zip(names, dims, strict=True):
        if value <= 0:
            raise WorkloadError(f"{label} must be a positive integer, got {value}")
    out_h = -(-(ifmap_h - filt_h + stride) // stride)
    out_w = -(-(ifmap_w - filt_w + stride) // stride)
    if out_h <= 0 or out_w <= 0:
        raise WorkloadError(f"filter {filt_h}x{filt_w} larger than the {ifmap_h}x{ifmap_w} ifmap")
    return out_h * out_w, filters, filt_h * filt_w * channels


def scalesim_topology_graph(path: str | Path, precision: Precision | None = None) -> OpGraph:
    """Load a SCALE-Sim topology CSV: the GEMM form (header ``Layer, M, N, K,``) or the conv
    form (``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
    Num Filter, Strides,``; each conv becomes its im2col GEMM, as SCALE-Sim does).

    Each row becomes one independent matmul op named by its Layer field.
    """
    p = Path(path)
    precision = precision or Precision()
    text = read_text(p, "SCALE-Sim topology", WorkloadError)
    graph = OpGraph({"model": f"scalesim:{p.name}", "precision": precision.__dict__})
    try:
        rows = [(i, [c.strip() for c in r if c.strip()])
                for i, r in enumerate(csv.reader(text.splitlines()), start=1)
                if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise WorkloadError(f"{p}: not a topology CSV ({exc})") from None
    if not rows:
        raise WorkloadError(f"{p}: empty topology file")
    header_line, header = rows[0]
    if len(header) > 1 and _is_int(header[1]):
        raise WorkloadError(f"{p}:{header_line}: missing header row (want 'Layer, M, N, K,' or "
                            "SCALE-Sim's conv header)")
    conv = len(header) >= 8 or any("ifmap" in h.lower() for h in header)
    want = 8 if conv else 4
    form = ("'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides'" if conv else "'Layer, M, N, K'")
    if len(rows) == 1:
        raise WorkloadError(f"{p}: no layers after the header")
    for lineno, cells in rows[1:]:
        if len(cells) < want:
            raise WorkloadError(f"{p}:{lineno}: want {form}, got {cells!r}")
        try:
            dims = [int(c) for c in cells[1:want]]
        except ValueError:
            raise WorkloadError(f"{p}:{lineno}: the dimensions must be integers, got "
                                f"{cells[1:want]}") from None
        try:
            m, n, k = conv_as_gemm(*dims) if conv else dims
            graph.add_op(matmul_op(cells[0], m, n, k, precision, layer=len(graph)))
        except WorkloadError as exc:
            raise WorkloadError(f"{p}:{lineno}: {exc}") from None
    return graph
