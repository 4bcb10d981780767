"""SCALE-Sim finite-bandwidth cross-check: our cycles and DRAM traffic against SCALE-Sim v3's.

Every row of ``validation/data/scalesim_memory.csv`` (recorded by ``scalesim_memory_runner.py``,
semantics in docs/scalesim_memory.md) is replayed: the exact SCALE-Sim config of the case (USER
bandwidth, its three SRAM sizes) is loaded as an architecture (``scalesim:PATH.cfg``), ``gemm:M,N,K``
is simulated, and ours are set beside SCALE-Sim's and beside two references that do not depend
on either simulator:

* the physical lower bound ``max(compute cycles, busiest interface's DRAM bytes / W)`` (W
  bytes/cycle per interface; SCALE-Sim and our import, ``arch/scalesim.py``, have one DRAM
  interface per SRAM), with the unique bytes (``bound_unique``) or our own traffic per
  interface (``bound_ours``);
* the **pipeline bound** (``pipeline_bound``): no schedule at all can beat it, because an
  output is final only once its whole row of A and column of B are in; and the **array
  bound**, the same with outputs final a whole array tile at a time (``array_grain``), which
  no schedule of full-array tiles (SCALE-Sim's or ours) can beat;
* the DRAM traffic of an ideal tiling (``validation/tiling_traffic.py``).

Per-operand traffic is read from ``summary["memory_traffic"][<dram>]["read_bytes" | "write_bytes"]
[role]`` (roles ``input``, ``weight``, ``output``, ``psum``) when the engine reports it; without it
only the total ``summary["dram_bytes"]`` is known and the per-operand columns are None.

``section()`` returns a ``tables.Section`` like ``scalesim_check.section``, for ``accelsim validate``.
"""

from __future__ import annotations

import csv
import statistics
import tempfile
from pathlib import Path
from typing import Any

from arch.scalesim import ACCUMULATOR_BYTES

from . import scalesim_runner as base
from .tables import Section, num, ratio, table
from .tiling_traffic import ideal_traffic, loop_nest_traffic

DATA = Path(__file__).resolve().parent / "data" / "scalesim_memory.csv"
ROLES = ("input", "weight", "output", "psum")
#: Below this ratio of compute cycles to the busiest interface's unique-bytes time a case is
#: "bandwidth-bound".
BANDWIDTH_BOUND = 1.0
#: The issue-11 target: bandwidth-bound cases within this factor of their physical bound.
WITHIN = 1.15
INT_COLUMNS = ("array_rows", "array_cols", "M", "N", "K", "bandwidth_words", "ifmap_sram_kb",
               "filter_sram_kb", "ofmap_sram_kb", "total_cycles", "total_cycles_incl_prefetch",
               "stall_cycles", "compute_cycles", "ifmap_dram_reads", "filter_dram_reads",
               "ofmap_dram_writes", "ifmap_dram_start", "ifmap_dram_stop", "filter_dram_start",
               "filter_dram_stop", "ofmap_dram_start", "ofmap_dram_stop", "ifmap_sram_reads",
               "filter_sram_reads", "ofmap_sram_writes", "unique_ifmap_words",
               "unique_filter_words", "unique_ofmap_words")


def load_rows(path: Path = DATA) -> list[dict[str, Any]]:
    """The recorded SCALE-Sim cases, integers parsed, plus derived reference columns."""
    with open(path, newline="") as fh:
        rows = [{k: (int(v) if k in INT_COLUMNS else v) for k, v in r.items()}
                for r in csv.DictReader(fh)]
    return [r | references(r) for r in rows]


def sram_words(r: dict[str, Any]) -> tuple[int, int, int]:
    """(ifmap, filter, ofmap) SRAM capacity in words (SCALE-Sim: kB x 1024, one-byte words)."""
    return (r["ifmap_sram_kb"] * 1024, r["filter_sram_kb"] * 1024, r["ofmap_sram_kb"] * 1024)


def scalesim_active_words(kb: int) -> int:
    """Words of a SCALE-Sim read buffer's active half: ``ceil(kB * 1024 * 0.5)``
    (``single_layer_sim.run`` sets ``active_buf_frac = 0.5``; ``read_buffer.set_params``)."""
    return -(-kb * 1024 // 2)


def scalesim_fetch_words(r: dict[str, Any]) -> tuple[int, int]:
    """Words of SCALE-Sim's (ifmap, filter) prefetch matrices, padding included: the
    ``create_*_prefetch_mat`` methods of ``compute/systolic_compute_{os,ws,is}.py`` pad the
    array-mapped dimension of every fold to the array size with -1 entries (os: M to rows and N
    to cols; ws: K to rows for the ifmap, N to cols for the filter; is: M to cols for the ifmap,
    K to rows for the filter)."""
    rows, cols, m, n, k = r["array_rows"], r["array_cols"], r["M"], r["N"], r["K"]

    def up(x: int, a: int) -> int:
        return -(-x // a) * a

    if r["dataflow"] == "os":
        return up(m, rows) * k, k * up(n, cols)
    if r["dataflow"] == "ws":
        return m * up(k, rows), k * up(n, cols)
    return k * up(m, cols), n * up(k, rows)


def scalesim_fit_reads(r: dict[str, Any]) -> tuple[int | None, int | None]:
    """SCALE-Sim's DRAM reads of (ifmap, filter) when its prefetch matrix fits the active half:
    the whole matrix in lines of W words, ``ceil(words / W) * W`` (``prefetch_active_buffer``
    counts every line in full, padding included); None for an operand that does not fit."""
    w = r["bandwidth_words"]
    out = []
    for words, kb in zip(scalesim_fetch_words(r), (r["ifmap_sram_kb"], r["filter_sram_kb"]),
                         strict=True):
        out.append(-(-words // w) * w if words <= scalesim_active_words(kb) else None)
    return out[0], out[1]


def pipeline_bound(m: int, n: int, k: int, w_a: float, w_b: float, w_o: float,
                   rows_grain: int = 1, cols_grain: int = 1) -> int:
    """Fewest cycles in which any schedule can read A (m x k) and B (k x n) over interfaces of
    ``w_a`` and ``w_b`` words/cycle and write C = A @ B over one of ``w_o``.

    An output is final only when its whole row of A and column of B have arrived, so by cycle
    t at most ``min(m, w_a t // k) * min(n, w_b t // k)`` outputs exist (complete rows times
    complete columns); the writes follow that curve no faster than ``w_o`` per cycle:
    ``written(t) = min(final(t), written(t - 1) + w_o)``. The bound is the first t at which
    all ``m * n`` are written. For a square case on equal interfaces it is the output's own
    time plus a quarter of ``w_o k^2 / (w_a w_b)`` (the write stream cannot start before
    enough rows and columns are in to keep it fed), e.g. 128^3 at 4 words/cycle: 5,151
    cycles, not the 4,096 of the busiest interface alone.

    ``rows_grain`` / ``cols_grain`` > 1: outputs become final only in blocks of that many rows
    / columns (the last block ragged), as on an array that finishes a whole tile at once
    (``array_grain``); the bound of every schedule made of such tiles, in any order."""
    total, written, t = m * n, 0.0, 0
    while written < total:
        t += 1
        rows, cols = min(m, int(w_a * t) // k), min(n, int(w_b * t) // k)
        rows = rows if rows == m else rows // rows_grain * rows_grain
        cols = cols if cols == n else cols // cols_grain * cols_grain
        written = min(rows * cols, written + w_o)
    return t


def array_grain(dataflow: str, rows: int, cols: int) -> tuple[int, int]:
    """In how many rows / columns of C = A @ B outputs become final together on a rows x cols
    array that uses all of it (SCALE-Sim's mappings): os finishes a rows x cols output tile at
    once; ws holds a block of B's columns (array columns) and streams A's rows one by one; is
    holds a block of A's rows (array columns) and streams B's columns."""
    return {"os": (rows, cols), "ws": (1, cols), "is": (cols, 1)}[dataflow]


def references(r: dict[str, Any]) -> dict[str, Any]:
    """Columns that follow from the case alone (no simulator): unique bytes, bounds, tiling."""
    w = r["bandwidth_words"]
    unique = r["unique_ifmap_words"] + r["unique_filter_words"] + r["unique_ofmap_words"]
    busiest_unique = max(r["unique_ifmap_words"], r["unique_filter_words"],
                         r["unique_ofmap_words"])
    ss_bytes = r["ifmap_dram_reads"] + r["filter_dram_reads"] + r["ofmap_dram_writes"]
    tiling = ideal_traffic(r["dataflow"], r["array_rows"], r["array_cols"], r["M"], r["N"],
                           r["K"], sram_words(r), ACCUMULATOR_BYTES)
    return {
        "unique_bytes": unique,
        "scalesim_dram_bytes": ss_bytes,
        # three interfaces of W words/cycle each, in parallel (SCALE-Sim's structure and ours,
        # arch/scalesim.py): the busiest one bounds the run
        "bound_unique": max(r["compute_cycles"], -(-busiest_unique // w)),
        "bound_scalesim_interfaces": max(r["compute_cycles"], -(-max(
            r["ifmap_dram_reads"], r["filter_dram_reads"], r["ofmap_dram_writes"]) // w)),
        "bandwidth_bound": r["compute_cycles"] < BANDWIDTH_BOUND * busiest_unique / w,
        "bound_pipeline": pipeline_bound(r["M"], r["N"], r["K"], w, w, w),
        "bound_array": pipeline_bound(r["M"], r["N"], r["K"], w, w, w, *array_grain(
            r["dataflow"], r["array_rows"], r["array_cols"])),
        "tiling": tiling,
        "tiling_bytes": tiling.total,
    }


def cfg_text(r: dict[str, Any]) -> str:
    """The SCALE-Sim config the case was recorded with (same text the runner wrote)."""
    case = base.Case(r["set"], r["array_rows"], r["array_cols"], r["dataflow"], r["M"], r["N"],
                     r["K"])
    return base.config_text(case, (r["ifmap_sram_kb"], r["filter_sram_kb"], r["ofmap_sram_kb"]),
                            r["bandwidth_words"])


def dram_traffic(summary: dict[str, Any], dram_names: list[str]) -> dict[str, int] | None:
    """Per-role DRAM bytes ``{"input_read", ..., "psum_write"}`` from ``memory_traffic``, or
    None when the summary has no ``memory_traffic`` field."""
    traffic = summary.get("memory_traffic")
    if not traffic:
        return None
    out = {f"{role}_{kind}": 0 for role in ROLES for kind in ("read", "write")}
    for name in dram_names:
        mem = traffic.get(name, {})
        for kind in ("read", "write"):
            for role, value in mem.get(f"{kind}_bytes", {}).items():
                out[f"{role}_{kind}"] = out.get(f"{role}_{kind}", 0) + int(value)
    return out


OURS_KEYS = ("ours_cycles", "ours_compute_cycles", "ours_dram_bytes", "ours_traffic", "loop_nest",
             "nest_traffic", "bound_ours",
             "bound_physical", "ours_vs_scalesim", "ours_vs_scalesim_incl_prefetch",
             "ours_vs_bound", "ours_vs_physical", "ours_vs_array",
             "bytes_vs_scalesim", "bytes_vs_tiling")


def replay(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Simulate every row on its own SCALE-Sim cfg; adds our cycles, bytes and ratios.

    A case our engine rejects keeps its SCALE-Sim columns, ``OURS_KEYS`` None and the message in
    ``ours_error``."""
    import arch
    from accelsim.api import simulate
    from accelsim.errors import InputError
    from workloads.simple import gemm_graph

    out = []
    with tempfile.TemporaryDirectory(prefix="accelsim-memcheck-") as tmp:
        for i, r in enumerate(rows):
            cfg = Path(tmp) / f"case{i}.cfg"
            cfg.write_text(cfg_text(r))
            a = arch.load(f"scalesim:{cfg}")
            drams = [name for name, m in a.memories.items() if m.type == "dram"]
            try:
                res = simulate(a, gemm_graph(r["M"], r["N"], r["K"]), keep_intervals=False)
            except InputError as exc:  # e.g. today's "enlarge the SRAM" on small buffers
                out.append(r | dict.fromkeys(OURS_KEYS) | {"ours_error": str(exc)})
                continue
            s = res.summary
            per_role = dram_traffic(s, drams)
            nest = res.plan.ops[0].loop_nest
            ours_bytes = int(s["dram_bytes"])
            w = r["bandwidth_words"]
            busiest = max(sum(int(v) for kind in ("read_bytes", "write_bytes")
                              for v in s["memory_traffic"].get(d, {}).get(kind, {}).values())
                          for d in drams)
            bound_ours = max(r["compute_cycles"], -(-busiest // w))
            out.append(r | {
                "ours_cycles": int(s["cycles"]),
                "ours_compute_cycles": int(s["ops"][0]["compute_cycles"]),
                "ours_dram_bytes": ours_bytes,
                "ours_traffic": per_role,
                "loop_nest": nest,
                "nest_traffic": loop_nest_traffic(r["M"], r["N"], r["K"], nest,
                                                  ACCUMULATOR_BYTES),
                "bound_ours": bound_ours,
                "bound_physical": max(bound_ours, r["bound_pipeline"]),
                "ours_vs_scalesim": s["cycles"] / r["total_cycles"],
                "ours_vs_scalesim_incl_prefetch": s["cycles"] / r["total_cycles_incl_prefetch"],
                "ours_vs_bound": s["cycles"] / bound_ours,
                "ours_vs_physical": s["cycles"] / max(bound_ours, r["bound_pipeline"]),
                "ours_vs_array": s["cycles"] / max(bound_ours, r["bound_array"]),
                "bytes_vs_scalesim": ours_bytes / max(1, r["scalesim_dram_bytes"]),
                "bytes_vs_tiling": ours_bytes / max(1, r["tiling_bytes"]),
                "ours_error": None,
            })
    return out


def operand_bytes(res: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """Our (A reads, B reads, output + psum writes) in bytes, or Nones without memory_traffic."""
    t = res.get("ours_traffic")
    if t is None:
        return None, None, None
    return t["input_read"], t["weight_read"], t["output_write"] + t["psum_write"]


def markdown_table(res: list[dict[str, Any]]) -> str:
    """One line per case: cycles (SCALE-Sim, incl. prefetch, ours, bound) and DRAM bytes."""
    lines = []
    for r in res:
        a, b, o = operand_bytes(r)
        lines.append((
            r["set"], f"{r['array_rows']}x{r['array_cols']}", r["dataflow"],
            f"{r['M']}x{r['N']}x{r['K']}", r["bandwidth_words"],
            f"{r['ifmap_sram_kb']}/{r['filter_sram_kb']}/{r['ofmap_sram_kb']}",
            num(r["total_cycles"]), num(r["total_cycles_incl_prefetch"]), num(r["ours_cycles"]),
            num(r["bound_ours"]) if r["ours_error"] is None else "rejected",
            num(r["bound_pipeline"]), ratio(r["ours_vs_physical"]), num(r["bound_array"]),
            ratio(r["ours_vs_array"]),
            f"{num(r['ifmap_dram_reads'])}/{num(r['filter_dram_reads'])}/"
            f"{num(r['ofmap_dram_writes'])}",
            "n/a" if a is None else f"{num(a)}/{num(b)}/{num(o)}",
            num(r["tiling_bytes"]), num(r["ours_dram_bytes"]),
        ))
    return table(["set", "array", "df", "M x N x K", "W", "SRAM kB (A/B/O)", "SCALE-Sim cycles",
                  "incl. prefetch", "ours", "bound", "pipeline bound", "ours / physical",
                  "array bound", "ours / array", "SCALE-Sim DRAM A/B/O", "ours A/B/O",
                  "ideal tiling bytes", "ours bytes"],
                 lines, "llllrlrrrrrrrrrrrr")


def summary_rows(res: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Per (set, regime): median ratios of ours to SCALE-Sim and to the bound."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in res:
        regime = "bandwidth-bound" if r["bandwidth_bound"] else "compute-bound"
        groups.setdefault((r["set"], regime), []).append(r)
    out = []
    for (st, regime), rs in sorted(groups.items()):
        ok = [x for x in rs if x["ours_cycles"] is not None]

        def med(key: str, ok: list[dict[str, Any]] = ok) -> str:
            return ratio(statistics.median(x[key] for x in ok)) if ok else "n/a"

        out.append((st, regime, len(rs), len(rs) - len(ok), med("ours_vs_scalesim"),
                    med("ours_vs_scalesim_incl_prefetch"), med("ours_vs_bound"),
                    med("ours_vs_physical"),
                    sum(x["ours_cycles"] >= x["bound_physical"] for x in ok),
                    sum(x["ours_vs_physical"] <= WITHIN for x in ok),
                    med("ours_vs_array"), sum(x["ours_vs_array"] <= WITHIN for x in ok),
                    med("bytes_vs_scalesim")))
    return out


def section(quick: bool = False) -> Section:
    rows = load_rows()
    if quick:
        rows = rows[::9]
    res = replay(rows)
    body = f"""
SCALE-Sim v3.0.0 in USER bandwidth mode (`validation/scalesim_memory_runner.py`, stored in
`validation/data/scalesim_memory.csv`; semantics in docs/scalesim_memory.md) against ours on the
same cfg (`scalesim:PATH.cfg`), {len(res)} cases. `bound` is max(compute cycles, the busiest
interface's DRAM bytes / W), with our bytes; `pipeline bound` the fewest cycles any schedule needs, an
output being final only once its row of A and column of B are in (`pipeline_bound`);
`physical` the larger of the two. `array bound` the same count with outputs final only a
whole array tile at a time (an os fold's rows x cols outputs, a ws / is fold's column block
of outputs: `array_grain`), the fewest cycles of any order of full-array tiles, which is what
SCALE-Sim and we both schedule. A case is bandwidth-bound when its unique bytes / W exceed
its compute cycles.

{table(["set", "regime", "cases", "rejected by us", "median ours / SCALE-Sim",
        "median ours / SCALE-Sim incl. prefetch", "median ours / bound",
        "median ours / physical", "ours >= physical", "within 15 % of physical",
        "median ours / array", "within 15 % of array",
        "median bytes ours / SCALE-Sim"], summary_rows(res), "llrrrrrrrrrrr")}

{markdown_table(res)}
"""
    return Section("scalesim_memory", "8. SCALE-Sim finite-bandwidth cross-check", body,
                   {"cases": len(res), "rows": res})
