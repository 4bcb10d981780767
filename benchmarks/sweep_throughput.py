"""Sweep throughput: design points per minute on the local pool and on a Dask LocalCluster.

Usage: python benchmarks/sweep_throughput.py [--points-per-axis ...] [--no-dask]

DeiT-Tiny (Taylor attention) on the vitality preset, varying the chunk count and both SRAM
sizes (4 x 3 x 2 = 24 points). Each configuration runs the whole sweep into a fresh directory,
so the wall time includes starting the pool or cluster and loading the spec, the base
architecture and the (already traced, cached) graph. For reference, the first row simulates
the same points one after another in this process, without any pool. Prints a Markdown table
and checks that every backend wrote byte-identical results.csv files.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

SPEC = """\
base: vitality
axes:
  chunks.count: [1, 2, 4, 8]
  memories.sram_act.capacity_kib: [256, 512, 1024]
  memories.sram_weight.capacity_kib: [384, 768]
workloads: [deit_tiny]
"""


def in_process(spec_path: Path) -> tuple[int, float]:
    """The same points simulated serially here (no pool): the cost of the simulations alone."""
    import arch
    from accelsim.api import simulate
    from accelsim.sweep import load_spec
    from accelsim.sweep.spec import override
    from workloads import resolve

    spec = load_spec(spec_path)
    graph = resolve("deit_tiny", attention="taylor")
    t0 = time.perf_counter()
    points = spec.params()
    for p in points:
        simulate(arch.load("vitality", [override(k, v) for k, v in p.items()]), graph,
                 keep_intervals=False)
    return len(points), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask rows")
    args = parser.parse_args()
    from accelsim.sweep import run_sweep
    from workloads import resolve

    resolve("deit_tiny", attention="taylor")  # trace once (cached on disk): not timed
    configs = [("local", 1), ("local", 2)]
    if not args.no_dask:
        try:
            import distributed  # noqa: F401
            configs.append(("dask", 2))
        except ImportError:
            print("(dask not installed: pip install 'accelsim[dask]' for the Dask row)\n")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(SPEC)
        rows, csvs = [], []
        n, wall = in_process(spec)
        rows.append(("in-process, serial (no pool)", 1, n, wall))
        for backend, workers in configs:
            out = Path(tmp) / f"{backend}{workers}"
            report = run_sweep(spec, out, backend=backend, workers=workers, progress=False)
            assert report.ok == report.points, report.errors
            label = "local process pool" if backend == "local" else "Dask LocalCluster"
            rows.append((label, workers, report.points, report.wall_s))
            csvs.append((out / "results.csv").read_bytes())
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; "
          f"deit_tiny (taylor) on vitality, {n} points\n")
    print("| backend | workers | points | wall (s) | points / min |")
    print("|---|---:|---:|---:|---:|")
    for label, workers, points, wall in rows:
        print(f"| {label} | {workers} | {points} | {wall:.1f} | {points / wall * 60:.0f} |")
    same = all(c == csvs[0] for c in csvs)
    print(f"\nresults.csv identical across backends: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
