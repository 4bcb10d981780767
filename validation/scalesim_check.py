"""Section 1: our compute cycles against SCALE-Sim v3's, GEMM by GEMM, through the whole engine.

Every row of ``validation/data/scalesim_cycles*.csv`` (recorded by ``scalesim_runner.py``) is
replayed here: the SCALE-Sim config of its array and dataflow is loaded as an architecture
(``scalesim:PATH.cfg``), ``gemm:M,N,K`` is mapped and simulated by the SimPy engine, and the
op's ``compute_cycles`` is compared with SCALE-Sim's "Compute cycles" (equality, no tolerance).
Wall time per GEMM is SCALE-Sim's recorded ``wall_s`` against ours (map + simulate + summary).
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
import timeit
from collections import defaultdict
from pathlib import Path
from typing import Any

from .tables import Section, command, num, table

DATA = Path(__file__).resolve().parent / "data"
CSVS = ("scalesim_cycles.csv", "scalesim_cycles_extra.csv")
CFG = """[general]
run_name = validate

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 1024
FilterSramSzkB: 1024
OfmapSramSzkB: 1024
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 64
Dataflow: {dataflow}
MemoryBanks: 1

[run_presets]
InterfaceBandwidth: CALC
"""


def cfg_text(rows: int, cols: int, dataflow: str) -> str:
    """A SCALE-Sim v3 cfg for one array, with SRAMs and bandwidth large enough that SCALE-Sim
    (and we) report pure compute cycles."""
    return CFG.format(rows=rows, cols=cols, dataflow=dataflow)


#: Rows of the sample table: the first case of each (set, dataflow) and the largest GEMMs.
SAMPLE_PER_SET = 2


def load_rows(data_dir: Path = DATA) -> list[dict[str, Any]]:
    """Every recorded SCALE-Sim case, numbers parsed."""
    out = []
    for name in CSVS:
        path = data_dir / name
        if not path.is_file():
            continue
        with open(path, newline="") as fh:
            for r in csv.DictReader(fh):
                out.append({
                    "set": r["set"], "rows": int(r["array_rows"]), "cols": int(r["array_cols"]),
                    "dataflow": r["dataflow"], "M": int(r["M"]), "N": int(r["N"]),
                    "K": int(r["K"]), "scalesim_cycles": int(r["compute_cycles"]),
                    "scalesim_wall_s": float(r["wall_s"]),
                })
    return out


def replay(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Simulate every row on its SCALE-Sim cfg; adds ``ours``, ``match`` and ``ours_wall_s``."""
    import arch
    from accelsim.api import simulate
    from accelsim.timing import systolic_compute_cycles
    from workloads.simple import gemm_graph

    archs: dict[tuple[int, int, str], Any] = {}
    out = []
    with tempfile.TemporaryDirectory(prefix="accelsim-validate-") as tmp:
        for r in rows:
            key = (r["rows"], r["cols"], r["dataflow"])
            if key not in archs:
                cfg = Path(tmp) / f"{r['rows']}x{r['cols']}_{r['dataflow']}.cfg"
                cfg.write_text(cfg_text(r["rows"], r["cols"], r["dataflow"]))
                archs[key] = arch.load(f"scalesim:{cfg}")
            graph = gemm_graph(r["M"], r["N"], r["K"])
            t0 = time.perf_counter()
            s = simulate(archs[key], graph, keep_intervals=False).summary
            wall = time.perf_counter() - t0
            ours = s["ops"][0]["compute_cycles"]
            closed = systolic_compute_cycles(r["dataflow"], r["rows"], r["cols"], r["M"], r["N"],
                                             r["K"])
            out.append(r | {"ours": ours, "closed_form": closed, "match": ours == r["scalesim_cycles"],
                            "macs_ok": s["macs"] == r["M"] * r["N"] * r["K"],
                            "ours_wall_s": wall, "makespan": s["cycles"]})
    return out


def closed_form_seconds(rows: list[dict[str, Any]]) -> float:
    """Seconds per GEMM of the closed form alone (``timeit`` over all rows, best of 3)."""
    from accelsim.timing import systolic_compute_cycles

    args = [(r["dataflow"], r["rows"], r["cols"], r["M"], r["N"], r["K"]) for r in rows]

    def run() -> None:
        for a in args:
            systolic_compute_cycles(*a)

    best = min(timeit.repeat(run, number=20, repeat=3))
    return best / 20 / max(1, len(args))


def section(quick: bool = False) -> Section:
    rows = load_rows()
    if quick:
        rows = rows[::9]
    res = replay(rows)
    n_match = sum(r["match"] for r in res)
    by: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in res:
        by[(r["set"], r["dataflow"])].append(r)
    summary_rows = []
    for (st, df), rs in sorted(by.items()):
        diffs = [abs(r["ours"] - r["scalesim_cycles"]) for r in rs]
        summary_rows.append((st, df, len(rs), sum(r["match"] for r in rs), max(diffs),
                             sum(r["macs_ok"] for r in rs)))
    summary_rows.append(("**all**", "", len(res), n_match,
                         max((abs(r["ours"] - r["scalesim_cycles"]) for r in res), default=0),
                         sum(r["macs_ok"] for r in res)))
    sample = []
    for (_st, _df), rs in sorted(by.items()):
        sample += sorted(rs, key=lambda r: -r["M"] * r["N"] * r["K"])[:SAMPLE_PER_SET]
    sample_rows = [(r["set"], f"{r['rows']}x{r['cols']}", r["dataflow"],
                    f"{r['M']}x{r['N']}x{r['K']}", num(r["scalesim_cycles"]), num(r["ours"]),
                    "yes" if r["match"] else "**NO**") for r in sample]
    cf_s = closed_form_seconds(res)
    ss = [r["scalesim_wall_s"] for r in res]
    ours = [r["ours_wall_s"] for r in res]
    big = [r for r in res if r["scalesim_cycles"] >= 1000]
    wall_rows = [
        ("all cases", len(res), f"{statistics.median(ss) * 1e3:.1f}",
         f"{statistics.median(ours) * 1e3:.2f}", f"{cf_s * 1e6:.1f}",
         f"{statistics.median(s / o for s, o in zip(ss, ours, strict=True)):.0f}x"),
    ]
    if big:
        bs = [r["scalesim_wall_s"] for r in big]
        bo = [r["ours_wall_s"] for r in big]
        wall_rows.append(("GEMMs of >= 1,000 cycles", len(big), f"{statistics.median(bs) * 1e3:.1f}",
                          f"{statistics.median(bo) * 1e3:.2f}", f"{cf_s * 1e6:.1f}",
                          f"{statistics.median(s / o for s, o in zip(bs, bo, strict=True)):.0f}x"))
    wall_rows.append(("total over the cases", len(res), f"{sum(ss):.1f} s", f"{sum(ours):.2f} s",
                      "", f"{sum(ss) / max(sum(ours), 1e-9):.0f}x"))
    scope = f"every 9th case ({len(res)} of {len(load_rows())})" if quick else f"all {len(res)} cases"
    body = f"""
SCALE-Sim v3.0.0's compute cycles (recorded by `validation/scalesim_runner.py` in its own venv,
stored in `validation/data/scalesim_cycles*.csv`) against ours, {scope}. Ours go through the
**whole pipeline**: the SCALE-Sim config of the case's array and dataflow loaded as an
architecture (`scalesim:PATH.cfg`), `gemm:M,N,K` mapped into tiles and simulated by the SimPy
engine; the op's `compute_cycles` must *equal* SCALE-Sim's (no tolerance).
`docs/timing.md` derives the closed forms and describes the case sets.

**{n_match} / {len(res)} cases match exactly**; the MAC count equals M·N·K in
{sum(r['macs_ok'] for r in res)} / {len(res)}.

{table(["set", "dataflow", "cases", "exact matches", "max abs diff (cycles)", "MACs = MNK"],
       summary_rows, "llrrrr")}

{command("accelsim validate", "section 1; one case: write the cfg below with the case's "
         "array and dataflow, then `accelsim run --arch scalesim:CASE.cfg --workload "
         "gemm:M,N,K --json` and read `ops[0].compute_cycles`")}

```ini
{CFG.format(rows="R", cols="C", dataflow="os|ws|is").strip()}
```

Sample (the {SAMPLE_PER_SET} largest GEMMs of each set and dataflow):

{table(["set", "array", "dataflow", "M x N x K", "SCALE-Sim cycles", "ours", "equal"],
       sample_rows, "llllrrl")}

**Wall time per GEMM.** SCALE-Sim's `run_scale()` time as recorded in the CSV (it walks one demand
line per simulated cycle) against our whole `simulate()` (map + SimPy + summary) measured now, and
the closed form alone. Both on this shared 2-core machine; expect up to 2x noise.

{table(["cases", "n", "SCALE-Sim median (ms)", "ours median (ms)", "closed form (us)",
        "median SCALE-Sim / ours"], wall_rows)}

{command("accelsim validate", "section 1 (SCALE-Sim's times: `accelsim validate --scalesim` "
         "re-runs SCALE-Sim and rewrites the CSVs)")}
"""
    mismatches = [r for r in res if not r["match"]]
    return Section("scalesim", "1. SCALE-Sim cross-check (compute cycles per GEMM)", body,
                   {"cases": len(res), "matches": n_match, "mismatches": mismatches,
                    "scalesim_median_s": statistics.median(ss),
                    "ours_median_s": statistics.median(ours), "closed_form_s": cf_s})
