"""Our wall time per GEMM beside SCALE-Sim v3's, on the same GEMMs and arrays.

    python benchmarks/vs_scalesim.py

SCALE-Sim's times are the ones recorded in validation/data/scalesim_cycles.csv by
validation/scalesim_runner.py (its own venv, same machine); ours are measured here: a SCALE-Sim
cfg loaded as an architecture, then `simulate` on `gemm:M,N,K` (mapping + simulation +
summary), median of 3. Compute cycles are compared too (they must be equal).
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import arch
from accelsim.api import simulate
from workloads.simple import gemm_graph

ROOT = Path(__file__).resolve().parent.parent
CFG = """[general]
run_name = bench
[architecture_presets]
ArrayHeight: {r}
ArrayWidth: {c}
IfmapSramSzkB: 1024
FilterSramSzkB: 1024
OfmapSramSzkB: 1024
Bandwidth: 64
Dataflow: {df}
[run_presets]
InterfaceBandwidth: CALC
"""


def main() -> None:
    with open(ROOT / "validation/data/scalesim_cycles.csv") as fh:
        rows = list(csv.DictReader(fh))
    by_array: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            cfg = Path(tmp) / "a.cfg"
            cfg.write_text(CFG.format(r=row["array_rows"], c=row["array_cols"],
                                      df=row["dataflow"]))
            a = arch.load(f"scalesim:{cfg}")
            g = gemm_graph(int(row["M"]), int(row["N"]), int(row["K"]))
            walls = []
            for _ in range(3):
                t0 = time.perf_counter()
                s = simulate(a, g, keep_intervals=False).summary
                walls.append(time.perf_counter() - t0)
            same = s["ops"][0]["compute_cycles"] == int(row["compute_cycles"])
            key = f"{row['array_rows']}x{row['array_cols']}"
            by_array[key].append((float(row["wall_s"]), statistics.median(walls), same))
    print("| array | GEMMs | SCALE-Sim median s/GEMM | accelsim median s/GEMM | speed-up | "
          "compute cycles equal |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, vals in sorted(by_array.items(), key=lambda kv: int(kv[0].split("x")[0])):
        theirs = statistics.median(v[0] for v in vals)
        ours = statistics.median(v[1] for v in vals)
        print(f"| {key} | {len(vals)} | {theirs:.4f} | {ours:.4f} | {theirs / ours:.0f}x | "
              f"{sum(v[2] for v in vals)}/{len(vals)} |")


if __name__ == "__main__":
    main()
