"""``ops.csv``, ``layers.csv``, ``memory.csv``: the summary's per-op, per-layer and per-level
tables (``accelsim.breakdown``) flattened into columns, one row per op / layer / (level, role).

The columns are documented in docs/reports.md (a test compares them with the header). Columns
named after a memory level and an operand role (``dram_read_weight_bytes``) are made for the
levels, actions and roles the run has, in sorted level order and role order
(``accelsim.breakdown.ROLES``). Numbers are written as Python prints them, ``None`` as an
empty cell; rows end in ``\\n``: identical runs give identical bytes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..breakdown import ROLES
from ..components import STALL_CAUSES
from ..result import SimResult

OP_COLUMNS = ("index", "name", "kind", "fn", "unit", "group", "layer", "chunks",
              "output_in_sram", "start_cycle", "end_cycle", "cycles", "compute_cycles",
              *(f"stall_{c}_cycles" for c in STALL_CAUSES), "macs", "mac_utilization",
              "energy_pj", "compute_energy_pj")
LAYER_COLUMNS = ("layer", "ops", "start_cycle", "end_cycle", "cycles", "compute_cycles",
                 *(f"stall_{c}_cycles" for c in STALL_CAUSES), "macs", "mac_utilization",
                 "energy_pj", "compute_energy_pj")
MEMORY_COLUMNS = ("level", "type", "role", "read_bytes", "write_bytes", "byte_hops",
                  "energy_pj", "port_bytes", "avg_bandwidth_bytes_per_cycle",
                  "peak_bandwidth_bytes_per_cycle", "avg_bandwidth_gbps", "peak_bandwidth_gbps")


def traffic_column(level: str, action: str, role: str) -> str:
    """``read_bytes`` -> ``{level}_read_{role}_bytes``; another action (``byte_hops``) ->
    ``{level}_{role}_{action}``: the unit stays last."""
    if action.endswith("_bytes"):
        return f"{level}_{action.removesuffix('_bytes')}_{role}_bytes"
    return f"{level}_{role}_{action}"


def level_columns(s: dict[str, Any]) -> list[tuple[str, tuple]]:
    """(column, key) for the per-level columns of ops.csv and layers.csv: traffic by action
    and role, energy by role, port bytes and average bandwidth, from the run's levels."""
    cols: list[tuple[str, tuple]] = []
    levels = s["memory_levels"]
    for lv, entry in levels.items():
        for action, by_role in entry["traffic"].items():
            cols += [(traffic_column(lv, action, r), ("traffic", lv, action, r))
                     for r in ROLES if r in by_role]
    for lv, entry in levels.items():
        cols += [(f"{lv}_{r}_energy_pj", ("energy_by_level_pj", lv, r))
                 for r in ROLES if r in entry["energy_pj"]]
    for lv, entry in levels.items():
        if "port_bytes" in entry:
            cols += [(f"{lv}_port_bytes", ("port_bytes", lv)),
                     (f"{lv}_bandwidth_bytes_per_cycle", ("bandwidth_bytes_per_cycle", lv))]
    return cols


def _dig(row: dict[str, Any], key: tuple) -> Any:
    value: Any = row
    for k in key:
        value = value.get(k) if isinstance(value, dict) else None
        if value is None:
            return 0
    return value


def _flat(row: dict[str, Any], fixed: tuple[str, ...], extra: list[tuple[str, tuple]]) -> list:
    stalls = row["stalls"]
    out = []
    for c in fixed:
        if c.startswith("stall_") and c.endswith("_cycles"):
            out.append(stalls[c.removeprefix("stall_").removesuffix("_cycles")])
        else:
            out.append(row[c])
    return out + [_dig(row, key) for _, key in extra]


def _csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def ops_csv(result: SimResult) -> str:
    s = result.summary
    extra = level_columns(s)
    rows = [_flat({"index": i, **o}, OP_COLUMNS, extra) for i, o in enumerate(s["ops"])]
    return _csv([*OP_COLUMNS, *(c for c, _ in extra)], rows)


def layers_csv(result: SimResult) -> str:
    s = result.summary
    extra = level_columns(s)
    rows = [_flat(lay, LAYER_COLUMNS, extra) for lay in s["layers"]]
    return _csv([*LAYER_COLUMNS, *(c for c, _ in extra)], rows)


def memory_csv(result: SimResult) -> str:
    """One row per level and role it moved or spent energy on, then one ``all`` row with the
    level's totals and its bandwidth (port bytes, average and peak)."""
    rows = []
    for lv, e in result.summary["memory_levels"].items():
        roles = [r for r in ROLES if r in e["energy_pj"]
                 or any(r in by for by in e["traffic"].values())]
        total = {a: 0 for a in ("read_bytes", "write_bytes", "byte_hops")}
        for r in roles:
            counts = {a: e["traffic"].get(a, {}).get(r, 0) for a in total}
            for a, n in counts.items():
                total[a] += n
            rows.append([lv, e["type"], r, *counts.values(), e["energy_pj"].get(r, 0.0),
                         None, None, None, None, None])
        rows.append([lv, e["type"], "all", *total.values(),
                     round(sum(e["energy_pj"].values()), 3),
                     *(e.get(k) for k in MEMORY_COLUMNS[7:])])
    return _csv(list(MEMORY_COLUMNS), rows)


def _writer(render):
    def write(result: SimResult, path: str | Path) -> None:
        Path(path).write_text(render(result), encoding="utf-8")
    return write


write_ops_csv = _writer(ops_csv)
write_layers_csv = _writer(layers_csv)
write_memory_csv = _writer(memory_csv)
