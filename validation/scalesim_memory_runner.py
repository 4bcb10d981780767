"""Ground truth for a finite-bandwidth memory system: SCALE-Sim v3 in USER bandwidth mode.

Usage::

    python validation/scalesim_memory_runner.py [--venv DIR] [--out CSV] [--limit N]

The companion of ``scalesim_runner.py`` (whose venv, worker, config and report parsing this file
reuses): each case is a GEMM on a rows x cols array with one dataflow, a DRAM bandwidth of ``W``
words/cycle (``InterfaceBandwidth: USER``) and three SRAM sizes in kB. SCALE-Sim 3.0.0 gives each
of its three SRAMs its own DRAM interface; it takes the ifmap and filter read bandwidth from
``[layout] IfmapSRAMBankBandwidth`` / ``FilterSRAMBankBandwidth`` and only the ofmap write
bandwidth from ``Bandwidth``, so the config sets all three to ``W`` (see docs/scalesim_memory.md).

One CSV row per case (``validation/data/scalesim_memory.csv``) with SCALE-Sim's cycles, stalls,
DRAM reads / writes per operand with their start / stop cycles, average DRAM bandwidths and, for
reference, the unique words of each operand (a word is one byte in SCALE-Sim).

Case sets: ``derivation`` (a fixed grid: memory- and compute-bound, SRAMs that hold the operands
and SRAMs that do not) and ``holdout`` (seeded random cases, seed ``HOLDOUT_SEED``, kept out of
any model building: they are for checking only).

Only the standard library is imported at module level, so the project venv can run this file.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

if __package__:
    from . import scalesim_runner as base
else:  # run as a script: validation/ is sys.path[0]
    import scalesim_runner as base  # type: ignore[no-redef]

DEFAULT_OUT = base.REPO / "validation" / "data" / "scalesim_memory.csv"
HOLDOUT_SEED = 1111
HOLDOUT_COUNT = 16

COLUMNS = (
    "set",  # derivation | holdout
    "array_rows",
    "array_cols",
    "dataflow",
    "M",  # rows of A (ifmap) and of the output
    "N",  # columns of B (filter) and of the output
    "K",  # the reduction dimension
    "bandwidth_words",  # W: words/cycle of each of the three DRAM interfaces
    "ifmap_sram_kb",
    "filter_sram_kb",
    "ofmap_sram_kb",
    "total_cycles",  # COMPUTE_REPORT "Total Cycles" (compute + stalls, initial fill excluded)
    "total_cycles_incl_prefetch",  # "Total Cycles (incl. prefetch)"
    "stall_cycles",  # "Stall Cycles"
    "compute_cycles",  # total_cycles - stall_cycles
    "ifmap_dram_reads",  # DETAILED_ACCESS_REPORT "DRAM IFMAP Reads" (words)
    "filter_dram_reads",  # "DRAM Filter Reads"
    "ofmap_dram_writes",  # "DRAM OFMAP Writes"
    "ifmap_dram_start",
    "ifmap_dram_stop",
    "filter_dram_start",
    "filter_dram_stop",
    "ofmap_dram_start",
    "ofmap_dram_stop",
    "avg_ifmap_dram_bw",  # BANDWIDTH_REPORT, words/cycle over the interface's own start..stop
    "avg_filter_dram_bw",
    "avg_ofmap_dram_bw",
    "ifmap_sram_reads",
    "filter_sram_reads",
    "ofmap_sram_writes",
    "unique_ifmap_words",  # M * K
    "unique_filter_words",  # K * N
    "unique_ofmap_words",  # M * N
    "wall_s",
)


@dataclass(frozen=True)
class MemCase:
    """A compute case plus the memory system: W words/cycle and (ifmap, filter, ofmap) kB."""

    case: base.Case
    bandwidth: int
    sram_kb: tuple[int, int, int]


# (bandwidth words/cycle, (ifmap, filter, ofmap) kB): compute-bound and memory-bound with SRAMs
# that hold everything, then one operand's SRAM too small, then all three too small.
DERIVATION_MEMORY = (
    (64, (256, 256, 256)),
    (4, (256, 256, 256)),
    (16, (8, 256, 256)),
    (16, (256, 8, 256)),
    (16, (4, 4, 4)),
)
DERIVATION_GEMMS = ((128, 128, 128), (256, 64, 96), (64, 192, 256))
# Other array shapes: one GEMM, memory-bound with fitting SRAMs and compute-bound with small ones.
OTHER_ARRAYS = ((16, 16), (8, 32))
OTHER_MEMORY = ((4, (256, 256, 256)), (64, (4, 4, 4)))
# Only the ofmap SRAM too small (1 kB): output drains must overlap compute.
OFMAP_MEMORY = ((4, (256, 256, 1)), (16, (256, 256, 1)))


def derivation_cases() -> list[MemCase]:
    cases = []
    for df in base.DATAFLOWS:
        for m, n, k in DERIVATION_GEMMS:
            for bw, kb in DERIVATION_MEMORY:
                cases.append(MemCase(base.Case("derivation", 32, 32, df, m, n, k), bw, kb))
        for bw, kb in OFMAP_MEMORY:
            cases.append(MemCase(base.Case("derivation", 32, 32, df, 128, 128, 128), bw, kb))
        for rows, cols in OTHER_ARRAYS:
            for bw, kb in OTHER_MEMORY:
                cases.append(MemCase(base.Case("derivation", rows, cols, df, 128, 128, 128), bw, kb))
    return cases


def holdout_cases(count: int = HOLDOUT_COUNT, seed: int = HOLDOUT_SEED) -> list[MemCase]:
    """Seeded random arrays, GEMMs (16..256 per dim), bandwidths and SRAM sizes."""
    rng = random.Random(seed)
    cases: list[MemCase] = []
    while len(cases) < count:
        rows, cols = rng.choice(((32, 32), (32, 32), (16, 32), (32, 16), (8, 8)))
        m, n, k = (rng.randint(16, 256) for _ in range(3))
        df = base.DATAFLOWS[len(cases) % 3]
        if base._demand_lines(df, rows, cols, m, n, k) * (rows + cols) > 400_000:
            continue
        bw = rng.choice((2, 4, 8, 16, 32, 64))
        kb = (rng.choice((1, 2, 4, 16, 64, 256)), rng.choice((1, 2, 4, 16, 64, 256)),
              rng.choice((1, 4, 16, 256)))
        cases.append(MemCase(base.Case("holdout", rows, cols, df, m, n, k), bw, kb))
    return cases


def all_cases() -> list[MemCase]:
    return derivation_cases() + holdout_cases()


def _int(x: str) -> int:
    return int(float(x))


def run_case(py: Path, mc: MemCase, workdir: Path) -> dict[str, object]:
    """Run one case in the SCALE-Sim venv and return its CSV row."""
    c = mc.case
    cfg = base.config_text(c, mc.sram_kb, mc.bandwidth)
    reports, wall, _proc_wall = base.run_reports(py, c, workdir, cfg)
    comp = reports["COMPUTE_REPORT"]
    bw = reports["BANDWIDTH_REPORT"]
    det = reports["DETAILED_ACCESS_REPORT"]
    total, stall = _int(comp["Total Cycles"]), _int(comp["Stall Cycles"])
    row: dict[str, object] = {
        "set": c.set, "array_rows": c.rows, "array_cols": c.cols, "dataflow": c.dataflow,
        "M": c.m, "N": c.n, "K": c.k, "bandwidth_words": mc.bandwidth,
        "ifmap_sram_kb": mc.sram_kb[0], "filter_sram_kb": mc.sram_kb[1],
        "ofmap_sram_kb": mc.sram_kb[2],
        "total_cycles": total,
        "total_cycles_incl_prefetch": _int(comp["Total Cycles (incl. prefetch)"]),
        "stall_cycles": stall, "compute_cycles": total - stall,
    }
    for ours, theirs in (("ifmap", "IFMAP"), ("filter", "Filter"), ("ofmap", "OFMAP")):
        kind = "Writes" if ours == "ofmap" else "Reads"
        row[f"{ours}_dram_{kind.lower()}"] = _int(det[f"DRAM {theirs} {kind}"])
        row[f"{ours}_dram_start"] = _int(det[f"DRAM {theirs} Start Cycle"])
        row[f"{ours}_dram_stop"] = _int(det[f"DRAM {theirs} Stop Cycle"])
        row[f"avg_{ours}_dram_bw"] = f"{float(bw[f'Avg {theirs.upper()} DRAM BW']):.4f}"
        row[f"{ours}_sram_{kind.lower()}"] = _int(det[f"SRAM {theirs} {kind}"])
    row["unique_ifmap_words"] = c.m * c.k
    row["unique_filter_words"] = c.k * c.n
    row["unique_ofmap_words"] = c.m * c.n
    row["wall_s"] = f"{wall:.4f}"
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--venv", type=Path, default=base.DEFAULT_VENV,
                   help="SCALE-Sim venv (created if missing)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output CSV")
    p.add_argument("--limit", type=int, default=None, help="run only the first N cases (smoke test)")
    args = p.parse_args(argv)

    cases = all_cases()[: args.limit]
    py = base.ensure_venv(args.venv.resolve())
    t0 = time.perf_counter()
    failures: list[str] = []

    def rows() -> Iterator[dict[str, object]]:
        with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
            for i, mc in enumerate(cases, 1):
                c = mc.case
                label = (f"{c.dataflow} {c.rows}x{c.cols} M={c.m} N={c.n} K={c.k} "
                         f"W={mc.bandwidth} SRAM={mc.sram_kb}")
                try:
                    row = run_case(py, mc, Path(tmp))
                except RuntimeError as exc:
                    failures.append(f"{label}: {str(exc).strip().splitlines()[-1]}")
                    print(f"[{i}/{len(cases)}] FAILED {failures[-1]}", file=sys.stderr)
                    continue
                print(f"[{i}/{len(cases)}] {label}: {row['total_cycles']} cycles, "
                      f"{row['stall_cycles']} stalls ({row['wall_s']} s)", file=sys.stderr)
                yield row

    return base.write_rows(args.out, COLUMNS, rows(), failures, t0)

if __name__ == "__main__":
    sys.exit(main())
