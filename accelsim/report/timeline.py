"""``timeline.png``: a utilization Gantt per unit instance plus stall and energy breakdowns.

Top panel: one row per compute unit of every chunk, then one per memory (DRAM channels
together). Time is cut into at most ``BUCKETS`` buckets (about one per pixel column); in each
bucket a row is filled, bottom up, by the fraction of the bucket spent busy on each op group
(attention, projection, MLP, other), then waiting for producers (grey) and then stalled
on operands or output space (orange, hatched), so a 12-layer model reads as well as a single
GEMM. Thin lines mark the start of each layer.
Bottom left: busy / stalled by cause / idle per unit type, averaged over its instances.
Bottom right: energy by component.

Rendered with the Agg canvas (headless, no pyplot state), fixed size and dpi, and without the
PNG "Software" tag, so identical runs give identical bytes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..result import SimResult

#: Figure size (inches) and resolution: 1600 x 1200 pixels.
FIGSIZE = (16.0, 12.0)
DPI = 100
#: Most time buckets in the Gantt (about the plot's width in pixels).
BUCKETS = 1200
GROUPS = ("attention", "projection", "mlp", "other")
COLORS = {"attention": "#d9534f", "projection": "#3e7cb1", "mlp": "#4aa564",
          "other": "#9b7fc4", "wait": "#d9d9d9", "stall": "#f5c09c"}
#: Gantt layers, bottom up: op groups, then waiting for producers, then memory stalls.
LAYERS = (*GROUPS, "wait", "stall")
LEGEND = {"wait": "stall: dependency", "stall": "stall: input/capacity/psum/output"}
STALL_COLORS = {"dependency": "#d9d9d9", "input": "#e8743b", "output": "#8c564b"}
STALL_EDGE = "#c8693a"
STALL_OTHER = "#c7a27c"
IDLE_COLOR = "#ffffff"
BUSY_COLOR = "#3e7cb1"


def _coverage(intervals: list[tuple[int, int]], edges: np.ndarray) -> np.ndarray:
    """Cycles covered by non-overlapping ``intervals`` in each bucket between ``edges``."""
    if not intervals:
        return np.zeros(len(edges) - 1)
    iv = np.array(sorted(intervals), dtype=np.int64)
    starts, ends = iv[:, 0], iv[:, 1]
    before = np.concatenate(([0], np.cumsum(ends - starts)))  # covered before interval k
    k = np.searchsorted(starts, edges, side="right") - 1
    kc = np.clip(k, 0, None)
    covered = np.where(k >= 0, before[kc] + np.clip(np.minimum(edges, ends[kc]) - starts[kc],
                                                     0, None), 0)
    return np.diff(covered).astype(float)


def gantt_rows(result: SimResult, buckets: int = BUCKETS):
    """(edges in cycles, rows); a row is (label, {layer: fraction per bucket}) with the layers
    of ``LAYERS``: op groups, "wait" (dependency stalls) and "stall" (the other causes)."""
    plan, rec = result.plan, result.record
    makespan = max(rec.makespan, 1)
    n = min(buckets, makespan)
    edges = np.round(np.linspace(0, makespan, n + 1)).astype(np.int64)
    width = np.diff(edges).astype(float)
    group_of = [op.group for op in plan.ops]
    rows = []

    def fractions(recorders) -> dict[str, np.ndarray]:
        parts: dict[str, list[list[tuple[int, int]]]] = {}
        for r in recorders:
            per: dict[str, list[tuple[int, int]]] = {}
            for iv in r.intervals:
                if iv.state == "busy":
                    key = group_of[iv.op] if iv.op >= 0 else "other"
                else:
                    key = "wait" if iv.cause == "dependency" else "stall"
                per.setdefault(key, []).append((iv.start, iv.end))
            for key, iv in per.items():
                parts.setdefault(key, []).append(iv)
        out = {}
        for key in LAYERS:
            cov = sum((_coverage(iv, edges) for iv in parts.get(key, [])), np.zeros(n))
            out[key] = cov / width / max(len(recorders), 1)
        return out

    names = list(result.arch.chunks.units)
    active = {r.kind for r in rec.units.values() if r.intervals}
    for inst in sorted(rec.units, key=lambda u: (int(u.split(".")[0][5:]),
                                                 names.index(u.split(".", 1)[1]))):
        chunk, unit = inst.split(".", 1)
        if unit in active:  # a unit type no chunk ever used (e.g. a register file) is left out
            rows.append((f"{chunk.replace('chunk', 'c')} {unit}", fractions([rec.units[inst]])))
    by_mem: dict[str, list] = {}
    for server in rec.servers.values():
        by_mem.setdefault(server.kind, []).append(server)
    for mem, servers in by_mem.items():
        label = mem if len(servers) == 1 else f"{mem} ({len(servers)} ch)"
        rows.append((label, fractions(servers)))
    return edges, rows


def _time_scale(result: SimResult) -> tuple[float, str]:
    """Cycles -> the unit the axis is drawn in (us or ms)."""
    us = result.record.makespan / result.arch.clock_mhz
    if us >= 5000:
        return 1 / (result.arch.clock_mhz * 1e3), "ms"
    return 1 / result.arch.clock_mhz, "µs"


def draw_gantt(ax, result: SimResult) -> None:
    edges, rows = gantt_rows(result)
    scale, unit = _time_scale(result)
    x = edges * scale
    height = 0.8
    for i, (_label, frac) in enumerate(rows):
        base = len(rows) - 1 - i - height / 2
        cum = np.zeros(len(x) - 1)
        for key in LAYERS:
            f = frac[key]
            if not f.any():
                continue
            lo, hi = base + cum * height, base + (cum + f) * height
            ax.fill_between(x, np.append(lo, lo[-1]), np.append(hi, hi[-1]), step="post",
                            facecolor=COLORS[key], linewidth=0,
                            hatch="////" if key == "stall" else None,
                            edgecolor=STALL_EDGE if key == "stall" else None)
            cum = cum + f
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)],
                  fontsize=max(5.0, min(8.0, 330 / max(len(rows), 1))))
    idle = sorted({r.kind for r in result.record.units.values()}
                  - {r.kind for r in result.record.units.values() if r.intervals})
    if idle:
        ax.set_title("not shown, never active: " + ", ".join(idle), fontsize=8, loc="left")
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0, x[-1])
    ax.set_xlabel(f"time ({unit})")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    starts: dict[int, int] = {}
    for op in result.summary["ops"]:
        if op["layer"] is not None:
            starts[op["layer"]] = min(starts.get(op["layer"], op["start_cycle"]),
                                      op["start_cycle"])
    if 1 < len(starts) <= 48:
        for layer, cycle in sorted(starts.items()):
            ax.axvline(cycle * scale, color="#555555", linewidth=0.5, linestyle=":")
            ax.text(cycle * scale, len(rows) - 0.45, f"L{layer}", fontsize=7, va="bottom",
                    color="#333333")
    handles = [ax.fill_between([], [], facecolor=COLORS[k],
                               hatch="////" if k == "stall" else None,
                               label=LEGEND.get(k, k),
                               edgecolor=STALL_EDGE if k == "stall" else None)
               for k in LAYERS]
    ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, 1.075), ncol=6,
              fontsize=8, frameon=False)


def draw_stalls(ax, result: SimResult) -> None:
    """Busy / stall causes / idle as a share of the makespan, per unit type."""
    s, rec = result.summary, result.record
    kinds = {n: r.kind for n, r in rec.units.items()} | {n: r.kind for n, r in
                                                        rec.servers.items()}
    agg: dict[str, dict[str, float]] = {}
    count: dict[str, int] = {}
    for name, c in s["components"].items():
        kind = kinds.get(name, name)
        a = agg.setdefault(kind, {})
        count[kind] = count.get(kind, 0) + 1
        a["busy"] = a.get("busy", 0) + c["busy_cycles"]
        for cause, cyc in c["stalls"].items():
            a[cause] = a.get(cause, 0) + cyc
        a["idle"] = a.get("idle", 0) + c["idle_cycles"]
    causes = sorted({k for a in agg.values() for k in a} - {"busy", "idle"})
    order = [*result.arch.chunks.units, *result.arch.memories]
    labels = sorted(agg, key=lambda k: (order.index(k) if k in order else len(order), k))
    total = max(s["cycles"], 1)
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for key in ("busy", *causes, "idle"):
        vals = np.array([agg[k].get(key, 0) / count[k] / total for k in labels])
        color = (BUSY_COLOR if key == "busy" else IDLE_COLOR if key == "idle"
                 else STALL_COLORS.get(key, STALL_OTHER))
        name = key if key in ("busy", "idle") else f"stall: {key}"
        ax.barh(y, vals, left=left, color=color, label=name, height=0.7,
                edgecolor="#bbbbbb" if key == "idle" else None, linewidth=0.5)
        left += vals
    for yi, k in zip(y, labels, strict=True):
        a = agg[k]
        stall = sum(v for c, v in a.items() if c not in ("busy", "idle")) / count[k] / total
        ax.text(1.01, yi, f"{a['busy'] / count[k] / total:.0%} busy, {stall:.0%} stall",
                va="center", fontsize=7)
    ax.set_yticks(y, [f"{k} (x{count[k]})" if count[k] > 1 else k for k in labels], fontsize=8)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    ax.set_title("time share per unit (mean over instances)", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(causes) + 2,
              fontsize=7, frameon=False)


def _energy_unit(pj: float) -> tuple[float, str]:
    for scale, unit in ((1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ")):
        if pj >= scale:
            return scale, unit
    return 1.0, "pJ"


def draw_energy(ax, result: SimResult) -> None:
    s = result.summary
    items = sorted(s["energy_breakdown_pj"].items(), key=lambda kv: (-kv[1], kv[0]))
    total = s["energy_pj"] or 1.0
    scale, unit = _energy_unit(max((v for _, v in items), default=0.0))
    y = np.arange(len(items))[::-1]
    ax.barh(y, [v / scale for _, v in items], color="#6c8ebf", height=0.7)
    vmax = max((v / scale for _, v in items), default=1.0) or 1.0
    for yi, (_, v) in zip(y, items, strict=True):
        ax.text(v / scale + vmax * 0.01, yi, f"{v / scale:.3g} {unit} ({v / total:.1%})",
                va="center", fontsize=7)
    ax.set_yticks(y, [k for k, _ in items], fontsize=8)
    ax.set_xlim(0, vmax * 1.35)
    ax.set_xlabel(f"energy ({unit})")
    tot_scale, tot_unit = _energy_unit(total)
    ax.set_title(f"energy by component (total {total / tot_scale:.3g} {tot_unit})", fontsize=10)


def render_png(result: SimResult) -> bytes:
    """The timeline figure as PNG bytes (deterministic). Text is plain: ``$`` in an op, unit
    or architecture name is not parsed as math."""
    import matplotlib  # imported here: report.html and trace.json need only the constants

    with matplotlib.rc_context({"text.parse_math": False}):
        return _render_png(result)


def _render_png(result: SimResult) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = result.summary
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, height_ratios=(2.2, 1), hspace=0.3, wspace=0.45,
                            left=0.09, right=0.95, top=0.92, bottom=0.08)
    att = f", {s['attention']} attention" if s.get("attention") else ""
    fig.suptitle(f"{s['workload']}{att} on {s['arch']} ({s['clock_mhz']:g} MHz): "
                 f"{s['cycles']:,} cycles = {s['latency_ms']:.4g} ms", fontsize=13)
    draw_gantt(fig.add_subplot(grid[0, :]), result)
    draw_stalls(fig.add_subplot(grid[1, 0]), result)
    draw_energy(fig.add_subplot(grid[1, 1]), result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def write_timeline(result: SimResult, path: str | Path) -> None:
    """Write ``timeline.png`` (see ``render_png``)."""
    Path(path).write_bytes(render_png(result))
