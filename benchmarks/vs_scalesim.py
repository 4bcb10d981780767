"""Our wall time per GEMM beside SCALE-Sim v3's, on the same GEMMs and arrays.

    python benchmarks/vs_scalesim.py

SCALE-Sim's times are the ones recorded in validation/data/scalesim_cycles*.csv by
validation/scalesim_runner.py (its own venv, same machine); ours are measured here by
validation.scalesim_check.replay: a SCALE-Sim cfg loaded as an architecture, then `simulate` on
`gemm:M,N,K` (mapping + simulation + summary). Compute cycles are compared too (equal).
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from validation.scalesim_check import load_rows, replay


def main() -> None:
    by_array: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for r in replay(load_rows()):
        # the "extra" set draws a random array per GEMM: one row for all of them
        key = (0, 0) if r["set"] == "extra" else (r["rows"], r["cols"])
        by_array[key].append(r)
    print("| array | GEMMs | SCALE-Sim median s/GEMM | accelsim median s/GEMM | speed-up | "
          "compute cycles equal |")
    print("|---|---:|---:|---:|---:|---:|")
    for (rows, cols), vals in sorted(by_array.items()):
        theirs = statistics.median(v["scalesim_wall_s"] for v in vals)
        ours = statistics.median(v["ours_wall_s"] for v in vals)
        name = f"{rows}x{cols}" if rows else "random arrays"
        print(f"| {name} | {len(vals)} | {theirs:.4f} | {ours:.4f} | "
              f"{theirs / ours:.0f}x | {sum(v['match'] for v in vals)}/{len(vals)} |")


if __name__ == "__main__":
    main()
