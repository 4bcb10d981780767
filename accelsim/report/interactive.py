"""The interactive timeline of ``report.html``: the run's tiles, stalls, transfers and critical
path as compact JSON, drawn by ``timeline.js`` on a canvas (inlined; no network).

Lanes: the critical path first, then one per compute unit of every chunk (its tiles and
stalls), then one per memory server (DRAM, SRAM ports, NoC links: its transfers). A lane's
intervals are a flat integer list, five per interval, sorted by start:
``start, duration, code, op, extra``. ``code`` indexes ``CODES`` (op groups for busy time,
``stall:<cause>`` for stalls, critical-path activities); ``op`` indexes ``ops`` (-1: none);
``extra`` is the tile index on units (-1 on stalls), the bytes on memories, the role's index
in ``ROLES`` on the critical path. Deterministic: sorted keys, no wall time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from ..breakdown import ROLES
from ..components import STALL_CAUSES
from ..critical_path import critical_path
from ..result import SimResult
from .timeline import COLORS, GROUPS, STALL_COLORS

CP_ACTIVITIES = ("compute", "transfer", "output queue", "wait for room", "start")
CODES = (*GROUPS, *(f"stall:{c}" for c in STALL_CAUSES), *(f"cp:{a}" for a in CP_ACTIVITIES))
CODE_COLORS = {
    **{g: COLORS[g] for g in GROUPS},
    "stall:dependency": STALL_COLORS["dependency"], "stall:input": STALL_COLORS["input"],
    "stall:capacity": "#f0ad4e", "stall:psum": "#c7a27c", "stall:output": STALL_COLORS["output"],
    "cp:compute": "#222222", "cp:transfer": "#e8743b", "cp:output queue": "#8c564b",
    "cp:wait for room": "#f0ad4e", "cp:start": "#bbbbbb",
}


def _lane_order(result: SimResult) -> list[str]:
    names = list(result.arch.chunks.units)
    rec = result.record
    used = {r.kind for r in rec.units.values() if r.busy_cycles or r.stall_cycles}
    return [u for u in sorted(rec.units, key=lambda u: (int(u.split(".")[0][5:]),
                                                        names.index(u.split(".", 1)[1])))
            if u.split(".", 1)[1] in used]


def timeline_data(result: SimResult) -> dict[str, Any]:
    """Everything the page's timeline draws, as plain JSON-able data."""
    plan, rec = result.plan, result.record
    code = {c: i for i, c in enumerate(CODES)}
    group = [code[op.group if op.group in GROUPS else "other"] for op in plan.ops]
    per_unit: dict[str, list[tuple[int, ...]]] = {u: [] for u in rec.units}
    for t in plan.tiles:
        s = rec.tile_start[t.index]
        e = s + t.cycles  # busy only: a partial-sum stall after it is its own interval
        if e > s and t.unit in per_unit:
            per_unit[t.unit].append((s, e - s, group[t.op], t.op, t.index))
    for inst, r in rec.units.items():
        for iv in r.intervals:
            if iv.state == "stall":
                per_unit[inst].append((iv.start, iv.end - iv.start, code[f"stall:{iv.cause}"],
                                       iv.op, -1))
    segs = critical_path(result.arch, plan, rec)
    cp = [(s.start, s.end - s.start, code[f"cp:{s.activity}"], s.op,
           ROLES.index(s.role) if s.role in ROLES else -1) for s in segs]
    lanes = [{"name": "critical path", "kind": "path", "iv": _flat(cp)}]
    lanes += [{"name": f"{u.split('.')[0].replace('chunk', 'c')} {u.split('.', 1)[1]}",
               "id": u, "kind": "unit", "iv": _flat(per_unit[u])} for u in _lane_order(result)]
    for name, server in sorted(rec.servers.items()):
        ivs = [(iv.start, iv.end - iv.start, group[iv.op] if iv.op >= 0 else code["other"],
                iv.op, iv.nbytes) for iv in server.intervals if iv.end > iv.start]
        lanes.append({"name": name, "id": name, "kind": "memory", "iv": _flat(ivs)})
    return {
        "cycles": rec.makespan, "clock_mhz": result.arch.clock_mhz,
        "codes": list(CODES), "colors": [CODE_COLORS[c] for c in CODES], "roles": list(ROLES),
        "ops": [[op.name, op.group, op.layer, op.unit] for op in plan.ops],
        "lanes": lanes,
        "cp_compute": [[s.start, s.end, s.instance] for s in segs if s.activity == "compute"],
        "cp_labels": [s.resource for s in segs],
    }


def _flat(ivs: Sequence[tuple[int, ...]]) -> list[int]:
    return [x for iv in sorted(ivs) for x in iv]


def timeline_section(result: SimResult) -> str:
    """The HTML of the interactive timeline: a canvas, its legend, the data and the script."""
    data = json.dumps(timeline_data(result), sort_keys=True, separators=(",", ":"))
    data = data.replace("<", "\\u003c")  # nothing in it can close the script element
    script = resources.files("accelsim.report").joinpath("timeline.js").read_text("utf-8")
    legend = "".join(
        f'<span class="key"><span class="dot" style="background:{CODE_COLORS[c]}"></span>'
        f"{c.replace('stall:', 'stall: ').replace('cp:', 'path: ')}</span>" for c in CODES)
    return "\n".join([
        '<div id="tl-wrap"><div id="tl-bar"><span id="tl-range"></span> '
        '<button id="tl-reset" type="button">reset zoom</button> '
        '<span class="note">wheel: zoom, drag: pan, hover: details; thick black outlines: '
        "compute on the critical path</span></div>",
        '<canvas id="tl" height="200"></canvas><div id="tl-tip"></div></div>',
        f'<div class="legend">{legend}</div>',
        f'<script type="application/json" id="tl-data">{data}</script>',
        f"<script>{script}</script>",
    ])
