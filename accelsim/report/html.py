"""``report.html``: one self-contained page (no network: inline CSS and script, the timeline
embedded as a base64 PNG) with the headline numbers, per-component utilization and stalls,
energy by component and every op. Every value is escaped. Deterministic: nothing of wall time.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from .. import __version__
from ..result import SimResult
from .interactive import timeline_section
from .timeline import COLORS, render_png

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1680px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#666;margin-bottom:16px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f5f5f5;position:sticky;top:0;cursor:pointer;user-select:none}
td.l,th.l{text-align:left}
.kv td:first-child{text-align:left;color:#555}
.track{display:inline-block;position:relative;width:120px;height:10px;background:#eee;
vertical-align:middle;margin-right:6px;overflow:hidden}
.bar{position:absolute;left:0;top:0;bottom:0;background:#3e7cb1}
td.util{text-align:left}
#tl-wrap{position:relative}#tl{width:100%;display:block;cursor:grab;border:1px solid #eee}
#tl-tip{position:absolute;display:none;background:#fff;border:1px solid #999;padding:4px 6px;
font-size:12px;white-space:pre;pointer-events:none;box-shadow:0 1px 4px rgba(0,0,0,.2)}
#tl-bar{margin:4px 0}.legend{font-size:12px;margin:4px 0}.key{margin-right:12px;white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;
vertical-align:middle}
img{max-width:100%;border:1px solid #eee}
details summary{cursor:pointer;margin:8px 0}
.note{color:#666;font-size:12px}
"""

#: Click a header to sort its table (numbers numerically); no external code.
SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function(th, i) {
  th.addEventListener("click", function() {
    var body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
    var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir > 0 ? "asc" : "desc";
    var key = function(r) { var c = r.cells[i], v = c.dataset.v !== undefined ? c.dataset.v
      : c.textContent; var n = parseFloat(v); return isNaN(n) ? v : n; };
    rows.sort(function(a, b) { var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir; });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
"""


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def _energy(pj: float) -> str:
    for scale, unit in ((1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ")):
        if abs(pj) >= scale:
            return f"{pj / scale:.4g} {unit}"
    return f"{pj:.4g} pJ"


def _cell(value: Any, cls: str = "", sort: Any = None) -> str:
    attrs = f' class="{cls}"' if cls else ""
    if sort is not None:
        attrs += f' data-v="{escape(str(sort))}"'
    text = "" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
    return f"<td{attrs}>{escape(text)}</td>"


def _table(headers: list[str], rows: list[str], left: int = 1, sortable: bool = True) -> str:
    ths = "".join(f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>"
                  for i, h in enumerate(headers))
    cls = ' class="sortable"' if sortable else ""
    return (f"<table{cls}><thead><tr>{ths}</tr></thead><tbody>\n" + "\n".join(rows)
            + "\n</tbody></table>")


def headline(s: dict[str, Any]) -> str:
    pes = s.get("pes") or 0
    mac_util = s.get("mac_utilization")
    items = [
        ("architecture", s["arch"]), ("clock", f"{s['clock_mhz']:g} MHz"),
        ("workload", s["workload"]), ("attention", s.get("attention") or "-"),
        ("cycles", f"{s['cycles']:,}"), ("latency", f"{s['latency_ms']:.6g} ms"),
        ("MACs", f"{s['macs']:,}"),
        ("PE utilization (MACs / (PEs x cycles))",
         f"{mac_util:.1%} of {pes:,} PEs" if mac_util is not None else "-"),
        ("DRAM traffic", _si(s["dram_bytes"], "B")),
        ("energy", f"{_energy(s['energy_pj'])} ({s['energy_pj']:,.0f} pJ)"),
        ("attention span", f"{s['attention_cycles']:,} cycles, "
                           f"{_energy(s['attention_energy_pj'])}"),
    ]
    items += [(f"SRAM peak ({k})", _si(v, "B")) for k, v in s.get("sram_peak_bytes", {}).items()]
    sim = s["sim"]
    items.append(("simulated", f"{sim.get('tiles', 0):,} tiles of {sim.get('ops', 0):,} ops, "
                               f"{sim['events']:,} events (accelsim {sim['version']})"))
    rows = "\n".join(f"<tr><td>{escape(k)}</td><td class=\"l\">{escape(str(v))}</td></tr>"
                     for k, v in items)
    return f'<table class="kv"><tbody>\n{rows}\n</tbody></table>'


def components_table(s: dict[str, Any]) -> str:
    rows = []
    for name, c in s["components"].items():
        u = c["utilization"]
        bar = (f'<span class="track"><span class="bar" style="width:{u * 100:.1f}%"></span>'
               f"</span>{escape(f'{u:.1%}')}")
        stalls = ", ".join(f"{k} {v:,}" for k, v in c["stalls"].items())
        mu = c.get("mac_utilization")
        rows.append(f"<tr>{_cell(name, 'l')}<td class=\"util\" data-v=\"{u}\">{bar}</td>"
                    f"{_cell('' if mu is None else f'{mu:.1%}', sort=mu or 0)}"
                    f"{_cell(c['busy_cycles'])}{_cell(c['stall_cycles'])}"
                    f"{_cell(c['idle_cycles'])}{_cell(stalls, 'l')}</tr>")
    return _table(["component", "utilization", "MAC utilization", "busy cycles", "stall cycles", "idle cycles",
                   "stalls by cause (cycles)"], rows)


def energy_table(s: dict[str, Any]) -> str:
    total = s["energy_pj"] or 1.0
    detail = s.get("energy_detail_pj", {})
    rows = []
    for name, pj in sorted(s["energy_breakdown_pj"].items(), key=lambda kv: (-kv[1], kv[0])):
        parts = ", ".join(f"{a} {_energy(v)}" for a, v in detail.get(name, {}).items())
        rows.append(f"<tr>{_cell(name, 'l')}{_cell(f'{pj:,.1f}', sort=pj)}"
                    f"{_cell(_energy(pj), sort=pj)}{_cell(f'{pj / total:.1%}', sort=pj)}"
                    f"{_cell(parts, 'l')}</tr>")
    return _table(["component", "energy (pJ)", "energy", "share", "by action"], rows)


def critical_path_table(s: dict[str, Any]) -> str:
    rows = []
    for r in s.get("critical_path", {}).get("by_resource", []):
        share = f"{r['share']:.1%}"
        rows.append(f"<tr>{_cell(r['resource'], 'l')}{_cell(r['activity'], 'l')}"
                    f"{_cell(r['role'], 'l')}{_cell(r['cycles'])}"
                    f"{_cell(share, sort=r['share'])}"
                    f"{_cell(' '.join(x for x in (r['op_group'], r['op_fn']) if x), 'l')}"
                    f"{_cell(r['longest_op'], 'l')}</tr>")
    return _table(["resource", "activity", "role", "cycles", "share", "mostly ops",
                   "e.g."], rows, left=3)


def memory_table(s: dict[str, Any]) -> str:
    rows = []
    for lv, e in s.get("memory_levels", {}).items():
        t = e["traffic"]

        def total(action: str, t: dict = t) -> int:
            return sum(t.get(action, {}).values())

        energy = sum(e["energy_pj"].values())
        rows.append(f"<tr>{_cell(lv, 'l')}{_cell(e['type'], 'l')}{_cell(total('read_bytes'))}"
                    f"{_cell(total('write_bytes'))}{_cell(total('byte_hops'))}"
                    f"{_cell(e.get('port_bytes'))}{_cell(e.get('avg_bandwidth_gbps'))}"
                    f"{_cell(e.get('peak_bandwidth_gbps'))}"
                    f"{_cell(f'{energy:,.1f}', sort=energy)}</tr>")
    return _table(["level", "type", "read bytes", "write bytes", "byte-hops", "port bytes",
                   "avg GB/s", "peak GB/s", "energy (pJ)"], rows, left=2)


def ops_table(s: dict[str, Any]) -> str:
    rows = []
    for i, o in enumerate(s["ops"]):
        pj = o.get("energy_pj", 0)
        color = COLORS.get(o["group"], COLORS["other"])
        group = (f'<td class="l"><span class="dot" style="background:{escape(color)}"></span>'
                 f"{escape(str(o['group']))}</td>")
        rows.append(
            f"<tr>{_cell(i)}{_cell(o['name'], 'l')}{_cell(o['kind'], 'l')}"
            f"{_cell(o['unit'], 'l')}{group}{_cell(o['layer'])}{_cell(o['start_cycle'])}"
            f"{_cell(o['end_cycle'])}{_cell(o['compute_cycles'])}{_cell(o['macs'])}"
            f"{_cell(f'{pj:,.1f}', sort=pj)}</tr>")
    return _table(["#", "name", "kind", "unit", "group", "layer", "start cycle", "end cycle",
                   "compute cycles", "MACs", "energy (pJ)"], rows, left=0)


def render_html(result: SimResult, png: bytes | None = None) -> str:
    """The report page; ``png`` is the timeline (rendered here when not given)."""
    s = result.summary
    png = render_png(result) if png is None else png
    img = base64.b64encode(png).decode("ascii")
    title = f"{s['workload']} on {s['arch']}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>accelsim: {escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<div class="sub">{escape(_subtitle(s))}</div>',
        headline(s),
        "<h2>Timeline</h2>",
        f'<p class="note">{escape(_bottleneck(s))}</p>',
        timeline_section(result),
        "<details><summary>Utilization Gantt (timeline.png)</summary>",
        f'<img alt="utilization timeline" src="data:image/png;base64,{img}">',
        '<p class="note">Rows: compute units per chunk, then memories; colour = op group, grey '
        "= waiting for producer tiles, orange hatched = stalled on operands or output space. "
        "trace.json (beside this file) has every tile: open it in the "
        "Perfetto UI (ui.perfetto.dev, Open trace file) or chrome://tracing.</p></details>",
        "<h2>Critical path</h2>",
        '<p class="note">Time on the chain of tiles, transfers and waits that sets the '
        "makespan, per resource (summary.json critical_path; docs/reports.md).</p>",
        critical_path_table(s),
        "<h2>Memory levels</h2>",
        '<p class="note">Traffic, bandwidth (peak: busiest 256-cycle window) and dynamic '
        "energy per level; by operand role in memory.csv, per op in ops.csv, per layer in "
        "layers.csv.</p>",
        memory_table(s),
        "<h2>Components: utilization and stalls</h2>",
        components_table(s),
        "<h2>Energy by component</h2>",
        energy_table(s),
        f"<h2>Ops ({len(s['ops']):,})</h2>",
        '<p class="note">Click a column header to sort.</p>',
        ops_table(s),
        f'<p class="note">Generated by accelsim {escape(__version__)} '
        f"({escape(s['format'])}).</p>",
        f"<script>{SCRIPT}</script>",
        "</body></html>",
        "",
    ])


def _bottleneck(s: dict[str, Any]) -> str:
    cp = s.get("critical_path")
    return f"Bottleneck: {cp['bottleneck']}." if cp else ""


def _subtitle(s: dict[str, Any]) -> str:
    att = f", {s['attention']} attention" if s.get("attention") else ""
    return (f"{s['arch']} at {s['clock_mhz']:g} MHz{att}: {s['cycles']:,} cycles, "
            f"{s['latency_ms']:.4g} ms, {_energy(s['energy_pj'])}")


def write_html(result: SimResult, path: str | Path) -> None:
    """Write ``report.html``; reuses ``timeline.png`` if it was already written beside it."""
    path = Path(path)
    png_path = path.with_name("timeline.png")
    png = png_path.read_bytes() if png_path.exists() else None
    path.write_text(render_html(result, png), encoding="utf-8")
