"""Closed-form DRAM traffic of an ideal tiling of one GEMM on a rows x cols systolic array.

The reference a mapper's tiling is compared with (docs/scalesim_memory.md, "Ideal tiling"): an
(M x K) @ (K x N) GEMM, three SRAMs of ``S_A`` (ifmap / A), ``S_B`` (filter / B) and ``S_O``
(ofmap) words, fold counts ``F_r = ceil(M/rows)``, ``F_c = ceil(N/cols)``, ``F_k = ceil(K/rows)``,
``F_m = ceil(M/cols)`` (the array dimension each one is mapped on depends on the dataflow). Every
count is in words and has no padding: a tiling never fetches the lanes a partial fold leaves idle.

* **os** (outputs accumulate in the PEs; A and B stream along K): each output is written once,
  ``M*N``. Two loop orders; the smaller total wins.

  - *A outer*: ``a = floor(S_A / (rows*K))`` row folds of A stay resident while every column fold
    of B streams past: A = ``M*K``; B = ``K*N`` if B fits (``S_B >= K*N``) else
    ``K*N * ceil(F_r / a)``. If not even one row fold fits (``a = 0``), A is re-read for every
    column fold (``M*K * F_c``) and B for every row fold (``K*N * F_r``, or ``K*N`` if it fits).
  - *B outer*: the mirror (``b = floor(S_B / (K*cols))`` column folds of B resident).

* **ws** (B stationary in the array, fold = rows of K x cols of N; A streams M rows): when
  ``c = floor(S_B / (K*cols))`` column folds of B with their whole reduction fit (``c >= 1``),
  B stays resident in blocks of ``c`` column folds and each is read once: B = ``K*N``, outputs
  written once; A is re-read for every such block unless it fits (A = ``M*K`` if
  ``S_A >= M*K``, else ``M*K * ceil(F_c / c)``). Otherwise (``c = 0``) the reduction is split
  and the partial sums of M x cols outputs per column fold either stay in the ofmap SRAM, in
  blocks of ``m_b = floor(S_O / (cols * psum_words))`` output rows (B's folds fetched again
  once per block: B = ``K*N * ceil(M / m_b)``, outputs written once, ``M*N``), or spill (B =
  ``K*N``; partial sums written ``F_k`` times and read back ``F_k - 1`` times, ``psum_words``
  words each; final outputs one word), with A = ``M*K`` if it fits else ``M*K * F_c``. The
  smaller total wins.
* **is** (A stationary, fold = rows of K x cols of M; B streams N rows): the mirror of ws with
  A <-> B and M <-> N (``c = floor(S_A / (K*cols))``, ``n_b = floor(S_O / (cols * psum_words))``,
  B = ``K*N`` if it fits else ``K*N * ceil(F_m / c)`` or ``K*N * F_m``).
* For ws and is alike, the operand the DRAM-level tiling keeps resident need not be the one
  the array keeps stationary: the smaller total of the two forms (B kept, A streaming; A kept, B
  streaming) wins, the array's own form on a tie (``order`` says which).

``psum_words`` is the size of a partial sum in operand words: 1 counts words as SCALE-Sim does
(it writes partial sums at the operand word size); 4 is a 32-bit accumulator with 8-bit operands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Traffic:
    """DRAM words per operand of one tiling (``order`` names the loop order or psum choice)."""

    ifmap_read: int
    filter_read: int
    ofmap_write: int
    psum_read: int
    order: str

    @property
    def total(self) -> int:
        return self.ifmap_read + self.filter_read + self.ofmap_write + self.psum_read


def _os(rows: int, cols: int, m: int, n: int, k: int, s_a: int, s_b: int) -> Traffic:
    fr, fc = _cdiv(m, rows), _cdiv(n, cols)
    a_words, b_words = m * k, k * n

    def outer(x_words: int, x_fold: int, x_folds: int, s_x: int, y_words: int, y_folds: int,
              s_y: int) -> tuple[int, int]:
        """(traffic of the outer operand X, of the inner Y) for X resident in blocks of folds."""
        x_b = min(x_folds, s_x // x_fold)
        y_fits = s_y >= y_words
        if x_b >= 1:
            return x_words, y_words if y_fits else y_words * _cdiv(x_folds, x_b)
        return x_words * y_folds, y_words if y_fits else y_words * x_folds

    a1, b1 = outer(a_words, rows * k, fr, s_a, b_words, fc, s_b)
    b2, a2 = outer(b_words, k * cols, fc, s_b, a_words, fr, s_a)
    first = Traffic(a1, b1, m * n, 0, "A outer")
    second = Traffic(a2, b2, m * n, 0, "B outer")
    return min(first, second, key=lambda t: t.total)


def _stationary(cols: int, rows: int, k: int, streamed: int, other: int, s_stat: int,
                s_stream: int, s_o: int, psum_words: int) -> tuple[int, int, int, int, str]:
    """ws / is: (stationary reads, streamed reads, output writes, psum reads, choice).

    ``streamed`` is the streamed operand's outer dimension (ws: M, is: N), ``other`` the
    stationary operand's array-mapped one (ws: N, is: M)."""
    fk, f_other = _cdiv(k, rows), _cdiv(other, cols)
    stat_words, stream_words, out_words = k * other, streamed * k, streamed * other
    fits = s_stream >= stream_words
    resident = min(f_other, s_stat // (k * cols))
    if resident >= 1:  # whole-reduction column folds of the stationary operand stay put
        stream = stream_words if fits else stream_words * _cdiv(f_other, resident)
        return stat_words, stream, out_words, 0, "stationary resident"
    stream = stream_words if fits else stream_words * f_other
    block = max(1, min(streamed, s_o // (cols * psum_words)))
    keep = (stat_words * _cdiv(streamed, block), stream, out_words, 0, "psums in SRAM")
    if fk == 1:
        return keep
    spill = (stat_words, stream, out_words + out_words * (fk - 1) * psum_words,
             out_words * (fk - 1) * psum_words, "psums spilled")
    return min(keep, spill, key=lambda t: t[0] + t[1] + t[2] + t[3])


def ideal_traffic(dataflow: str, rows: int, cols: int, m: int, n: int, k: int,
                  sram_words: tuple[int, int, int], psum_words: int = 1) -> Traffic:
    """DRAM traffic (words) of the ideal tiling described in the module docstring."""
    s_a, s_b, s_o = sram_words
    if dataflow == "os":
        return _os(rows, cols, m, n, k, s_a, s_b)
    if dataflow in ("ws", "is"):
        # which operand the DRAM-level tiling keeps resident need not be the one the array
        # keeps stationary: the better of B resident (A streaming) and its mirror
        b, a, o, p, choice = _stationary(cols, rows, k, m, n, s_b, s_a, s_o, psum_words)
        a2, b2, o2, p2, choice2 = _stationary(cols, rows, k, n, m, s_a, s_b, s_o, psum_words)
        first = Traffic(a, b, o, p, f"B kept: {choice}")
        second = Traffic(a2, b2, o2, p2, f"A kept: {choice2}")
        own, other = (first, second) if dataflow == "ws" else (second, first)
        return min(own, other, key=lambda t: t.total)  # ties: the array's own form
    raise ValueError(f"unknown dataflow {dataflow!r}")


def unique_words(m: int, n: int, k: int) -> Traffic:
    """The compulsory traffic: every operand read once, every output written once."""
    return Traffic(m * k, k * n, m * n, 0, "unique")


def loop_nest_traffic(m: int, n: int, k: int, nest: Any, acc_bytes: int) -> dict[str, int]:
    """DRAM bytes per role of an (M x K) @ (K x N) GEMM of one-byte operands, A and the output
    in DRAM and B a weight, under the loop nest the mapper reports (``accelsim.plan.LoopNest``;
    docs/engine.md, Tiles): the closed form a tiling's traffic must equal.

    * A is read once, or once per column block unless it is kept staged across them;
    * B is read once, or once per row band when the reduction blocks run inside the bands or
      the bands outside the column blocks (``rows_outer``, A then kept);
    * the output is written once; spilled partial sums are written after every reduction
      block but the last and read back before every one but the first, at ``acc_bytes``."""
    a_times = 1 if nest.input_kept else nest.col_blocks
    b_times = nest.row_bands if nest.order in ("bands", "rows_outer") else 1
    spilled = (nest.k_blocks - 1) * m * n * acc_bytes if nest.psums_spilled else 0
    return {"input_read": m * k * a_times, "weight_read": k * n * b_times,
            "output_write": m * n, "psum_write": spilled, "psum_read": spilled}
