"""Ground truth for systolic-array compute cycles: run SCALE-Sim v3 on a list of GEMMs.

Usage::

    python validation/scalesim_runner.py [--venv DIR] [--out CSV] [--shapes default|extra]

SCALE-Sim v3 (``scalesim==3.0.0``) needs ``numpy<2.4``, so it never enters the project's venv: this
script creates (if missing) a separate venv (default ``.venv-scalesim`` beside the repo root, git-ignored)
and pip-installs it there. Each case then runs in a subprocess of that venv: this same file, started
with the hidden ``--worker DIR`` option, builds SCALE-Sim's own ``scalesim`` object on a config, a GEMM
topology and an (empty) layout file that this script wrote into ``DIR`` and times ``run_scale``. The
parent parses SCALE-Sim's ``COMPUTE_REPORT.csv`` and ``DETAILED_ACCESS_REPORT.csv`` and writes one CSV
row per case.

The configuration makes memory irrelevant, so that SCALE-Sim's "Total Cycles" is pure compute:
SRAMs of 16 MiB each and ``InterfaceBandwidth: CALC`` (SCALE-Sim's bandwidth-estimation mode, in which
its read buffers never stall). Stall cycles are recorded anyway and ``compute_cycles`` is SCALE-Sim's
"Total Cycles" minus its "Stall Cycles" (the memory model adds stalls into that column).

GEMM mode: a topology row ``Layer, M, N, K,`` is the product of an M x K ifmap (operand A) and a
K x N filter (operand B), giving an M x N ofmap; K is the reduction (SCALE-Sim maps it as a 1 x K
"convolution" window over M ifmap rows, with N filters). The trailing comma is required: SCALE-Sim
drops the last comma-separated field of every row.

Traces are not written (``save_disk_space=True``): SCALE-Sim's own CLI (``python -m scalesim.scale``)
always writes them, whatever its ``-s`` flag says, which only costs disk and time. ``wall_s`` is the
time of ``run_scale`` alone (parse config and topology, simulate, write reports); ``proc_wall_s`` is the
whole subprocess, interpreter start and imports included.

Only the standard library is imported at module level, so the project venv can run this file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VENV = REPO / ".venv-scalesim"
DEFAULT_OUT = REPO / "validation" / "data" / "scalesim_cycles.csv"
DEFAULT_OUT_EXTRA = REPO / "validation" / "data" / "scalesim_cycles_extra.csv"
SCALESIM_REQUIREMENTS = ("scalesim==3.0.0", "numpy<2.4")
DATAFLOWS = ("os", "ws", "is")
SRAM_KB = 16384  # per buffer: far more than any case here needs, so nothing is evicted

COLUMNS = (
    "set",  # derivation | holdout | extra
    "array_rows",
    "array_cols",
    "dataflow",
    "M",  # rows of A (ifmap) and of the output
    "N",  # columns of B (filter) and of the output
    "K",  # the reduction dimension
    "compute_cycles",  # total_cycles - stall_cycles
    "stall_cycles",  # COMPUTE_REPORT "Stall Cycles"
    "total_cycles",  # COMPUTE_REPORT "Total Cycles" (compute + stalls)
    "total_cycles_incl_prefetch",  # COMPUTE_REPORT "Total Cycles (incl. prefetch)" (DRAM model)
    "overall_util_pct",
    "mapping_efficiency_pct",
    "compute_util_pct",
    "ifmap_sram_reads",  # DETAILED_ACCESS_REPORT "SRAM IFMAP Reads" (operand A)
    "filter_sram_reads",  # "SRAM Filter Reads" (operand B)
    "ofmap_sram_writes",  # "SRAM OFMAP Writes"
    "wall_s",  # run_scale() only
    "proc_wall_s",  # the whole worker subprocess
)


@dataclass(frozen=True)
class Case:
    """One SCALE-Sim run: a GEMM (M x K) @ (K x N) on a rows x cols array with one dataflow."""

    set: str
    rows: int
    cols: int
    dataflow: str
    m: int
    n: int
    k: int


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

DERIVATION_ARRAYS = ((4, 4), (8, 8), (8, 4), (4, 8), (16, 16), (32, 8))
HOLDOUT_ARRAYS = ((12, 20), (32, 32), (20, 12), (5, 3), (1, 8), (8, 1), (1, 1))


def _category_value(cat: int, x: int, variant: int) -> int:
    """A dimension in one of five relations to the array dimension ``x`` it is mapped on.

    0: one; 1: below x; 2: equal to x; 3: above x, not a multiple; 4: a multiple of x (2x or 3x).
    ``variant`` alternates between two concrete values of the same relation.
    """
    if cat == 0:
        return 1
    if cat == 1:
        return max(1, x - 1) if variant % 2 == 0 else max(1, x // 2)
    if cat == 2:
        return x
    if cat == 3:
        return x + 1 if variant % 2 == 0 else 2 * x + 3
    return 2 * x if variant % 2 == 0 else 3 * x


# (relation of M, of N, of K) per derivation GEMM; see _category_value for the relations.
DERIVATION_PATTERN = (
    (0, 0, 0),
    (2, 2, 2),
    (1, 3, 4),
    (3, 4, 1),
    (4, 1, 3),
    (3, 3, 3),
    (1, 1, 1),
    (4, 4, 2),
    (0, 3, 3),
    (2, 4, 0),
)


def derivation_cases() -> list[Case]:
    """Ten GEMMs per (array, dataflow), crossing the five relations of each dimension.

    The spatial dimensions are related to the array dimension they are mapped on (os: M on rows,
    N on cols; ws: K on rows, N on cols; is: K on rows, M on cols); the temporal one (os: K, ws: M,
    is: N) is related to the larger array dimension, which is where the fill/drain terms compete.
    """
    cases: list[Case] = []
    for rows, cols in DERIVATION_ARRAYS:
        big = max(rows, cols)
        for df in DATAFLOWS:
            rel = {
                "os": (rows, cols, big),
                "ws": (big, cols, rows),
                "is": (cols, big, rows),
            }[df]
            seen: set[tuple[int, int, int]] = set()
            for i, cats in enumerate(DERIVATION_PATTERN):
                m, n, k = (
                    _category_value(cat, x, i + j) for j, (cat, x) in enumerate(zip(cats, rel, strict=True))
                )
                mnk = (m, n, k)
                if mnk not in seen:
                    seen.add(mnk)
                    cases.append(Case("derivation", rows, cols, df, *mnk))
    return cases


# Hold-out GEMMs: ViT-like odd shapes, matrix-vector products, single rows.
HOLDOUT_GEMMS = (
    (197, 64, 192),  # attention-head-sized projection slice
    (65, 65, 64),
    (197, 1, 64),  # N = 1: matrix-vector
    (1, 192, 64),  # M = 1: a single token
    (50, 7, 33),
    (3, 100, 5),
)


def holdout_cases() -> list[Case]:
    """Shapes never used to derive the formulas; small arrays get the smaller GEMMs only."""
    cases: list[Case] = []
    for rows, cols in HOLDOUT_ARRAYS:
        gemms: tuple[tuple[int, int, int], ...] = (
            HOLDOUT_GEMMS if rows * cols >= 64 else HOLDOUT_GEMMS[2:]
        )
        if rows * cols <= 8:
            gemms = tuple(g for g in gemms if g[0] * g[1] * g[2] <= 20000)
        for df in DATAFLOWS:
            for m, n, k in gemms:
                cases.append(Case("holdout", rows, cols, df, m, n, k))
    return cases


def extra_cases(count: int = 60, seed: int = 2023) -> list[Case]:
    """Seeded random arrays (2..32 per side) and GEMMs (1..300 per dim), bounded in work."""
    rng = random.Random(seed)
    cases: list[Case] = []
    while len(cases) < count:
        rows, cols = rng.randint(2, 32), rng.randint(2, 32)
        m, n, k = (rng.choice((1, rng.randint(1, 40), rng.randint(1, 300))) for _ in range(3))
        df = DATAFLOWS[len(cases) % 3]
        # Keep SCALE-Sim's Python loops short: bound its demand lines x array width.
        if _demand_lines(df, rows, cols, m, n, k) * (rows + cols) > 400_000:
            continue
        cases.append(Case("extra", rows, cols, df, m, n, k))
    return cases


def _demand_lines(df: str, rows: int, cols: int, m: int, n: int, k: int) -> int:
    """Rough count of SCALE-Sim demand-matrix lines (its run time is about linear in it)."""
    cdiv = lambda a, b: -(-a // b)  # noqa: E731
    if df == "os":
        return cdiv(m, rows) * cdiv(n, cols) * (k + rows + cols)
    if df == "ws":
        return cdiv(k, rows) * cdiv(n, cols) * (m + 2 * rows + cols)
    return cdiv(k, rows) * cdiv(m, cols) * (n + 2 * rows + cols)


def cases_for(shapes: str) -> list[Case]:
    if shapes == "default":
        return derivation_cases() + holdout_cases()
    if shapes == "extra":
        return extra_cases()
    raise ValueError(f"unknown shape set {shapes!r}")


# ---------------------------------------------------------------------------------------------
# SCALE-Sim inputs
# ---------------------------------------------------------------------------------------------


def config_text(
    case: Case, sram_kb: tuple[int, int, int] = (SRAM_KB,) * 3, bandwidth: int | None = None
) -> str:
    """A SCALE-Sim v3.0.0 config: every key its ``scale_config.read_conf_file`` reads.

    ``sram_kb`` is (ifmap, filter, ofmap) in kB; ``bandwidth`` None is ``InterfaceBandwidth: CALC``,
    an int ``W`` is ``USER`` mode with ``W`` words/cycle on all three DRAM interfaces (SCALE-Sim
    3.0.0 takes its read-buffer bandwidth from ``[layout] IfmapSRAMBankBandwidth`` /
    ``FilterSRAMBankBandwidth`` and only the ofmap one from ``Bandwidth``: see
    ``single_layer_sim.run``), so all three are set to ``W``.
    """
    bw = 1024 if bandwidth is None else bandwidth
    mode = "CALC" if bandwidth is None else "USER"
    return f"""\
[general]
run_name = run

[architecture_presets]
ArrayHeight: {case.rows}
ArrayWidth: {case.cols}
IfmapSramSzkB: {sram_kb[0]}
FilterSramSzkB: {sram_kb[1]}
OfmapSramSzkB: {sram_kb[2]}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: {bw}
Dataflow: {case.dataflow}
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bw}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bw}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 4
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""


def topology_text(case: Case) -> str:
    # Header row is skipped; each data row needs its trailing comma.
    return f"Layer, M, N, K,\ngemm, {case.m}, {case.n}, {case.k},\n"


# SCALE-Sim reads a layout file even when no custom layout is enabled; a header alone suffices.
LAYOUT_TEXT = "Layer name,\n"


# ---------------------------------------------------------------------------------------------
# venv
# ---------------------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(venv: Path) -> Path:
    """Create ``venv`` if missing and install SCALE-Sim there if it is not importable."""
    py = venv_python(venv)
    if not py.exists():
        print(f"creating venv {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = "import importlib.metadata as m; print(m.version('scalesim'))"
    got = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
    if got.returncode != 0 or got.stdout.strip() != "3.0.0":
        print(f"installing {' '.join(SCALESIM_REQUIREMENTS)} into {venv}", file=sys.stderr)
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", *SCALESIM_REQUIREMENTS], check=True
        )
    return py


# ---------------------------------------------------------------------------------------------
# Running and parsing
# ---------------------------------------------------------------------------------------------


def _read_report(path: Path) -> dict[str, str]:
    """The single data row of a SCALE-Sim report, keyed by its stripped header names."""
    with path.open(newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if row]
    header, data = rows[0], rows[1]
    return {h: v for h, v in zip(header, data, strict=False) if h}


def run_reports(
    py: Path, case: Case, workdir: Path, cfg: str | None = None
) -> tuple[dict[str, dict[str, str]], float, float]:
    """Run one case (config ``cfg``, default ``config_text(case)``) in the SCALE-Sim venv.

    Returns SCALE-Sim's reports ``{"COMPUTE_REPORT": row, "BANDWIDTH_REPORT": row,
    "DETAILED_ACCESS_REPORT": row}`` (one data row each), the ``run_scale`` wall time and the
    subprocess wall time.
    """
    case_dir = workdir / "case"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir()
    (case_dir / "scale.cfg").write_text(config_text(case) if cfg is None else cfg)
    (case_dir / "topology.csv").write_text(topology_text(case))
    (case_dir / "layout.csv").write_text(LAYOUT_TEXT)

    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(py), str(Path(__file__).resolve()), "--worker", str(case_dir)],
        capture_output=True,
        text=True,
    )
    proc_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"SCALE-Sim failed on {case}:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")

    wall = json.loads((case_dir / "wall.json").read_text())["wall_s"]
    report_dir = case_dir / "out" / "run"
    reports = {
        name: _read_report(report_dir / f"{name}.csv")
        for name in ("COMPUTE_REPORT", "BANDWIDTH_REPORT", "DETAILED_ACCESS_REPORT")
    }
    return reports, wall, proc_wall


def run_case(py: Path, case: Case, workdir: Path) -> dict[str, object]:
    """Run one case in the SCALE-Sim venv and return its CSV row."""
    reports, wall, proc_wall = run_reports(py, case, workdir)
    comp, det = reports["COMPUTE_REPORT"], reports["DETAILED_ACCESS_REPORT"]
    total = int(float(comp["Total Cycles"]))
    stall = int(float(comp["Stall Cycles"]))
    return {
        "set": case.set,
        "array_rows": case.rows,
        "array_cols": case.cols,
        "dataflow": case.dataflow,
        "M": case.m,
        "N": case.n,
        "K": case.k,
        "compute_cycles": total - stall,
        "stall_cycles": stall,
        "total_cycles": total,
        "total_cycles_incl_prefetch": int(float(comp["Total Cycles (incl. prefetch)"])),
        "overall_util_pct": f"{float(comp['Overall Util %']):.4f}",
        "mapping_efficiency_pct": f"{float(comp['Mapping Efficiency %']):.4f}",
        "compute_util_pct": f"{float(comp['Compute Util %']):.4f}",
        "ifmap_sram_reads": int(float(det["SRAM IFMAP Reads"])),
        "filter_sram_reads": int(float(det["SRAM Filter Reads"])),
        "ofmap_sram_writes": int(float(det["SRAM OFMAP Writes"])),
        "wall_s": f"{wall:.4f}",
        "proc_wall_s": f"{proc_wall:.4f}",
    }


def worker(case_dir: str) -> None:
    """Runs inside the SCALE-Sim venv: simulate the case in ``case_dir`` and time it."""
    from scalesim.scale_sim import scalesim  # only importable in the SCALE-Sim venv

    d = Path(case_dir)
    t0 = time.perf_counter()
    sim = scalesim(
        save_disk_space=True,
        verbose=False,
        config=str(d / "scale.cfg"),
        topology=str(d / "topology.csv"),
        layout=str(d / "layout.csv"),
        input_type_gemm=True,
    )
    sim.run_scale(top_path=str(d / "out"))
    wall = time.perf_counter() - t0
    (d / "wall.json").write_text(json.dumps({"wall_s": wall}))


def iter_rows(
    py: Path, cases: list[Case], failures: list[str]
) -> Iterator[dict[str, object]]:
    """Run the cases one after another; a case SCALE-Sim crashes on is reported and skipped."""
    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        for i, case in enumerate(cases, 1):
            try:
                row = run_case(py, case, Path(tmp))
            except RuntimeError as exc:
                failures.append(f"{case}: {str(exc).strip().splitlines()[-1]}")
                print(f"[{i}/{len(cases)}] FAILED {failures[-1]}", file=sys.stderr)
                continue
            print(
                f"[{i}/{len(cases)}] {case.dataflow} {case.rows}x{case.cols} "
                f"M={case.m} N={case.n} K={case.k}: {row['compute_cycles']} cycles "
                f"({row['wall_s']} s)",
                file=sys.stderr,
            )
            yield row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="SCALE-Sim venv (created if missing)")
    p.add_argument("--out", type=Path, default=None, help="output CSV")
    p.add_argument("--shapes", choices=("default", "extra"), default="default")
    p.add_argument("--limit", type=int, default=None, help="run only the first N cases (smoke test)")
    p.add_argument("--worker", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        worker(args.worker)
        return 0

    out = args.out or (DEFAULT_OUT if args.shapes == "default" else DEFAULT_OUT_EXTRA)
    cases = cases_for(args.shapes)[: args.limit]
    py = ensure_venv(args.venv.resolve())
    t0 = time.perf_counter()
    failures: list[str] = []
    return write_rows(out, COLUMNS, iter_rows(py, cases, failures), failures, t0)


def write_rows(out: Path, columns: tuple[str, ...], rows: Iterator[dict[str, object]],
               failures: list[str], t0: float) -> int:
    """Write ``rows`` to ``out`` as CSV (through ``out.part``, renamed when complete), report
    on stderr, and return the exit code: 1 if any case failed (``failures``, filled while
    ``rows`` runs)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(out.suffix + ".part")
    n_rows = 0
    with tmp_out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            f.flush()
            n_rows += 1
    tmp_out.replace(out)
    print(f"wrote {n_rows} rows to {out} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if failures:
        print(f"{len(failures)} case(s) failed in SCALE-Sim:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
