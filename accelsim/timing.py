"""Closed-form compute timing of the units (pure functions: no simpy, no torch).

The systolic formulas reproduce SCALE-Sim v3.0.0's "Total Cycles" (compute cycles, no memory
stalls) exactly; ``docs/timing.md`` derives them from SCALE-Sim's source and
``tests/test_timing.py`` checks them against every row of ``validation/data/scalesim_cycles.csv``.

Conventions (SCALE-Sim's GEMM mode): the GEMM is ``A (m x k) @ B (k x n) = C (m x n)``; A is
SCALE-Sim's *ifmap*, B its *filter*, C its *ofmap*; ``k`` is the reduction. The array has ``rows``
PE rows and ``cols`` PE columns. Each dataflow keeps one matrix resident in the PEs and maps two of
m, n, k on the array (the *spatial* dimensions, cut into ``folds`` when larger than the array) while
the third streams through in time (the *temporal* dimension):

========  ==========  ===========  ==========  ========================================
dataflow  on rows     on cols      in time     resident in the PEs
========  ==========  ===========  ==========  ========================================
os        m (A rows)  n (B cols)   k           C (each PE accumulates one output)
ws        k           n            m           B (weights)
is        k           m            n           A (inputs)
========  ==========  ===========  ==========  ========================================

SCALE-Sim runs the folds one after another with no overlap, each as a fixed-length block of
demand cycles, and reports the index of the last one (hence the ``- 1``)::

    cycles = folds * cycles_per_fold - 1
"""

from __future__ import annotations

import math

SYSTOLIC_DATAFLOWS = ("os", "ws", "is", "down_forward")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


FOLD_OVERLAPS = ("none", "double_buffered")


def _check(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> str:
    """Validate the arguments; return the SCALE-Sim dataflow whose fold structure ``dataflow``
    shares (down_forward keeps ws's: stationary k x n block, m rows streaming)."""
    if rows <= 0 or cols <= 0:
        raise ValueError(f"array must have positive rows and cols, got {rows}x{cols}")
    if min(m, n, k) < 0:
        raise ValueError(f"GEMM dimensions must be >= 0, got m={m} n={n} k={k}")
    if dataflow == "down_forward":
        return "ws"
    if dataflow not in ("os", "ws", "is"):
        raise ValueError(f"unknown dataflow {dataflow!r}; expected one of {SYSTOLIC_DATAFLOWS}")
    return dataflow


def systolic_folds(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """How many array-sized blocks (folds) the GEMM's two spatial dimensions are cut into.

    os: ``ceil(m/rows) * ceil(n/cols)``; ws and down_forward: ``ceil(k/rows) * ceil(n/cols)``;
    is: ``ceil(k/rows) * ceil(m/cols)``. Zero when any dimension is zero (no work).
    """
    df = _check(dataflow, rows, cols, m, n, k)
    if min(m, n, k) == 0:
        return 0
    if df == "os":
        return _cdiv(m, rows) * _cdiv(n, cols)
    if df == "ws":
        return _cdiv(k, rows) * _cdiv(n, cols)
    return _cdiv(k, rows) * _cdiv(m, cols)


def systolic_output_pieces(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """In how many pieces a GEMM's outputs become final, one after another: os, one per fold
    (each accumulates its own outputs); ws / down_forward and is, one per fold of the
    non-reduced spatial dimension, since the reduction folds of one block run back to back
    (innermost, as ``accelsim.tiling`` assumes for the live partial sums). At least 1."""
    df = _check(dataflow, rows, cols, m, n, k)
    if min(m, n, k) == 0:
        return 1
    if df == "os":
        return systolic_folds(df, rows, cols, m, n, k)
    return _cdiv(n, cols) if df == "ws" else _cdiv(m, cols)


def systolic_fold_cycles(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """Cycles one fold occupies the array (every fold of a GEMM takes the same time).

    * os: ``k + rows + cols - 2``: the k-long operand streams, skewed by ``rows - 1`` (A enters
      row by row) and ``cols - 1`` (B column by column), meet in the PEs; the drain of the
      outputs is overlapped with the tail of that skew.
    * ws / down_forward: ``m + 2*rows + cols - 2``: ``rows`` cycles to shift the weights in, then
      the m rows of A stream through (skewed by ``rows - 1``) and the last partial sums take
      ``cols - 1`` more cycles to leave.
    * is: ``n + 2*rows + cols - 2``: the same with the roles of A and B (and of m and n) swapped.

    A partially filled fold costs as much as a full one: the unused PEs still sit in the skew.
    """
    df = _check(dataflow, rows, cols, m, n, k)
    if df == "os":
        return k + rows + cols - 2
    if df == "ws":
        return m + 2 * rows + cols - 2
    return n + 2 * rows + cols - 2


def _stream_and_reload(df: str, rows: int, m: int, n: int, k: int) -> tuple[int, int]:
    """(cycles the temporal dimension streams per fold, cycles to replace the resident block).

    os streams k and drains its ``rows`` outputs per column; ws / down_forward stream m and
    shift in a ``rows``-deep weight block; is streams n and shifts in a ``rows``-deep input block."""
    return {"os": k, "ws": m, "is": n}[df], rows


def systolic_compute_cycles(dataflow: str, rows: int, cols: int, m: int, n: int, k: int,
                            fold_overlap: str = "none") -> int:
    """Cycles a ``rows x cols`` array spends computing ``A (m x k) @ B (k x n)``.

    ``fold_overlap="none"`` (SCALE-Sim's timing) runs the folds back to back, each paying its
    whole fill, skew and drain. Equal to SCALE-Sim v3's compute cycles ("Total Cycles" of
    ``COMPUTE_REPORT.csv`` with no memory stalls) for the same array, dataflow and GEMM::

        os:  ceil(m/rows) * ceil(n/cols) * (k + rows + cols - 2)     - 1
        ws:  ceil(k/rows) * ceil(n/cols) * (m + 2*rows + cols - 2)   - 1
        is:  ceil(k/rows) * ceil(m/cols) * (n + 2*rows + cols - 2)   - 1

    ``fold_overlap="double_buffered"``: the resident block of the next fold is loaded into
    shadow registers while the current fold streams (weights / inputs for ws / is, output
    accumulators for os), so folds follow each other as soon as the stream and the reload of
    ``rows`` values allow; the fill and the skew are paid once::

        os:  F * max(k, rows) + rows + cols - 2 - 1
        ws:  rows + F * max(m, rows) + rows + cols - 2 - 1      (is: n for m)
        down_forward:  rows + U * max(m, rows) + R * max(m, rows + 1) + rows + cols - 2 - 1

    With one fold (and a stream at least ``rows`` long) both give the same cycles.

    ``down_forward`` is the ViTALiTy accelerator's *down-forward accumulation* (paper, section
    "Dataflow"): the stationary operand (V for K^T V, G for Q G) sits in the PEs, loaded
    column-wise from the top, one row of PEs per cycle (``rows`` cycles); the other operand (K^
    or Q) streams in from the left, skewed by one cycle per PE row (``m + rows - 1``); every
    PE adds its product to the partial sum arriving from above and forwards it down, so the
    last sum of a column leaves the bottom edge ``cols - 1`` cycles after the first column's
    (the skew across columns). Its fold is therefore ``rows + m + rows - 1 + cols - 1``
    cycles, the same count as SCALE-Sim's ws although derived independently; where the two
    differ is where the sums of successive reduction folds meet: in down-forward they enter at
    the top of each column from the partial-sum buffer (``systolic_psum_traffic``), in ws they
    are added at the output buffer. That makes the ``R = F - ceil(n/cols)`` folds that continue
    an earlier fold's sums (every reduction fold but a column block's first; the reduction
    folds run innermost) wait for them: row ``i``'s sum leaves the bottom of column ``c``
    ``rows`` cycles after row ``i`` entered its top, and takes one cycle through the
    partial-sum buffer back to the top, so such a fold starts at least ``rows + 1`` cycles after
    the one it continues. Folds back to back (``fold_overlap="none"``) are always that far
    apart (``m + 2*rows + cols - 2``), so there down_forward's cycles equal ws's; with
    ``double_buffered`` its ``U = ceil(n/cols)`` first folds follow at ``max(m, rows)`` and the
    ``R`` continuing ones at ``max(m, rows + 1)``: one cycle more each when the stream is no
    longer than the array is tall (ViTALiTy's K^T V: m = d = 64 on 65 rows).

    Returns 0 when any of m, n, k is 0 (SCALE-Sim cannot run such a GEMM; there is no work).
    Raises ``ValueError`` for an unknown dataflow or overlap, a non-positive array or a
    negative dimension.
    """
    if fold_overlap not in FOLD_OVERLAPS:
        raise ValueError(f"unknown fold_overlap {fold_overlap!r}; expected one of {FOLD_OVERLAPS}")
    folds = systolic_folds(dataflow, rows, cols, m, n, k)
    if folds == 0:
        return 0
    if fold_overlap == "none":
        return folds * systolic_fold_cycles(dataflow, rows, cols, m, n, k) - 1
    df = _check(dataflow, rows, cols, m, n, k)
    stream, reload = _stream_and_reload(df, rows, m, n, k)
    first_load = 0 if df == "os" else rows
    # down_forward: the folds continuing a column block's sums wait for them (docstring)
    chained = folds - _cdiv(n, cols) if dataflow == "down_forward" else 0
    return (first_load + (folds - chained) * max(stream, reload)
            + chained * max(stream, reload + 1) + rows + cols - 2 - 1)


def systolic_psum_traffic(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """Partial sums one GEMM writes out of the array and reads back, each (elements).

    Dataflows that put the reduction k on the PE rows (ws, is, down_forward) cut it into
    ``ceil(k/rows)`` reduction folds; every fold but the last leaves an m x n block of partial
    sums (accumulator width) that the next fold of the same outputs reads back and adds to:
    ``m * n * (ceil(k/rows) - 1)`` writes and as many reads. The last fold's sums are the
    outputs (``systolic_output_writes`` counts all of them: with these, equal to SCALE-Sim's
    "SRAM OFMAP Writes"). os accumulates inside the PEs: none.
    """
    df = _check(dataflow, rows, cols, m, n, k)
    if min(m, n, k) == 0 or df == "os":
        return 0
    return m * n * (_cdiv(k, rows) - 1)


def systolic_operand_reads(dataflow: str, rows: int, cols: int, m: int, n: int,
                           k: int) -> tuple[int, int]:
    """Elements of A (m x k) and of B (k x n) the array reads from its SRAMs for the GEMM.

    Equal to SCALE-Sim's "SRAM IFMAP Reads" (A) and "SRAM Filter Reads" (B). The stationary
    matrix is read once; a streaming matrix is read again for every fold of the spatial
    dimension it does not span:

    * os: A ``m*k*ceil(n/cols)`` (once per column fold), B ``k*n*ceil(m/rows)`` (once per row fold);
    * ws / down_forward: A ``m*k*ceil(n/cols)``, B ``k*n`` (stationary, read once);
    * is: A ``m*k`` (stationary, read once), B ``k*n*ceil(m/cols)``.
    """
    df = _check(dataflow, rows, cols, m, n, k)
    if min(m, n, k) == 0:
        return 0, 0
    if df == "os":
        return m * k * _cdiv(n, cols), k * n * _cdiv(m, rows)
    if df == "ws":
        return m * k * _cdiv(n, cols), k * n
    return m * k, k * n * _cdiv(m, cols)


def systolic_output_writes(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """Elements of C (or of its partial sums) the array writes to its output SRAM.

    os: ``m*n`` (each output leaves its PE once, complete). ws / down_forward / is: the reduction
    over k is cut into ``ceil(k/rows)`` row folds, each of which writes a full set of partial
    sums: ``m*n*ceil(k/rows)``. This equals SCALE-Sim's "SRAM OFMAP Writes" for ws and is; for os
    SCALE-Sim's count is larger by ``rows + cols`` per fold, an artefact of its bookkeeping (it
    adds the height plus width of every padded output block), not a data movement.
    """
    df = _check(dataflow, rows, cols, m, n, k)
    if min(m, n, k) == 0:
        return 0
    if df == "os":
        return m * n
    return m * n * _cdiv(k, rows)


def vector_cycles(elements: int, lanes: int, cycles_per_element: float, latency: int) -> int:
    """Cycles ``lanes`` parallel lanes take to process ``elements`` elements.

    ``ceil(ceil(elements / lanes) * cycles_per_element) + latency``: each lane handles one element
    every ``cycles_per_element`` cycles (the initiation interval; fractional values model units
    that do several elements per cycle), and the pipeline adds ``latency`` cycles once. Zero
    elements cost nothing (no latency either).
    """
    if lanes <= 0:
        raise ValueError(f"lanes must be positive, got {lanes}")
    if cycles_per_element < 0 or latency < 0:
        raise ValueError("cycles_per_element and latency must be >= 0")
    if elements <= 0:
        return 0
    per = _cdiv(elements, lanes) * cycles_per_element
    # Tolerate binary round-off (30 * 0.1 is 3.0000000000000004, which is 3 cycles, not 4).
    return math.ceil(per - 1e-9 * max(1.0, per)) + latency
