"""``pareto.png``: latency vs energy of every ok point, coloured by PE count, Pareto front marked.

One panel per workload (latencies of different workloads do not compare). The front is the set
of points no other point beats on both latency and energy (ties kept), drawn as a red staircase.
Rendered with the Agg canvas, a fixed size and no PNG "Software" tag: same rows, same bytes.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from .results import Row

MAX_PANELS = 9


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated by another (both coordinates minimised), by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best = math.inf
    for i in order:
        if points[i][1] < best or (front and points[i] == points[front[-1]]):
            front.append(i)
            best = min(best, points[i][1])
    return front


def _num(row: Row, key: str) -> float | None:
    try:
        return float(row[key])
    except (KeyError, ValueError):
        return None


def render_pareto(rows: list[Row]) -> bytes:
    """The figure as PNG bytes. x: ``latency_ms`` (else ``cycles``), y: ``energy_pj`` in µJ.
    Text is plain (``$`` in a workload name is not math)."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        return _render_pareto(rows)


def _render_pareto(rows: list[Row]) -> bytes:
    from matplotlib import colormaps, colors, ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xkey = "latency_ms" if rows and "latency_ms" in rows[0] else "cycles"
    groups: dict[str, list[Row]] = {}
    for r in rows:
        label = r.get("workload", "") + (f" ({r['attention']})" if r.get("attention") else "")
        groups.setdefault(label, []).append(r)
    names = sorted(groups)[:MAX_PANELS]
    ncols = min(3, max(len(names), 1))
    nrows = max(math.ceil(len(names) / ncols), 1)
    fig = Figure(figsize=(5.2 * ncols + 1.2, 4.2 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    pes = [v for r in rows if (v := _num(r, "pes")) is not None]
    norm = colors.Normalize(min(pes), max(pes) if max(pes) > min(pes) else min(pes) + 1) \
        if pes else None
    cmap = colormaps["viridis"]
    mappable = None
    for k, name in enumerate(names):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        pts, cs = [], []
        for r in groups[name]:
            x, y = _num(r, xkey), _num(r, "energy_pj")
            if x is not None and y is not None:
                pts.append((x, y / 1e6))
                cs.append(_num(r, "pes") or 0.0)
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        if norm is not None:
            mappable = ax.scatter(xs, ys, c=cs, cmap=cmap, norm=norm, s=28, zorder=2)
        else:
            ax.scatter(xs, ys, s=28, zorder=2)
        front = [pts[i] for i in pareto_front(pts)]
        fx, fy = zip(*front, strict=True)
        ax.step(fx, fy, where="post", color="#d62728", lw=1.4, zorder=3, label="Pareto front")
        ax.scatter(fx, fy, s=90, facecolors="none", edgecolors="#d62728", lw=1.4, zorder=4)
        for values, axis in ((xs, ax.xaxis), (ys, ax.yaxis)):
            if min(values) > 0 and max(values) / min(values) > 20:  # over a decade: spread out
                (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
                axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(f"{name}: {len(pts)} points, {len(front)} on the front", fontsize=10)
        ax.set_xlabel("latency (ms)" if xkey == "latency_ms" else "cycles")
        ax.set_ylabel("energy (µJ)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    if mappable is not None:
        fig.colorbar(mappable, ax=fig.axes, label="PEs")
    if len(groups) > MAX_PANELS:
        fig.suptitle(f"first {MAX_PANELS} of {len(groups)} workloads", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def plot_pareto(rows: list[Row], path: str | Path) -> None:
    """Write ``render_pareto(rows)`` to ``path`` atomically."""
    from workloads.ir import write_atomic

    write_atomic(Path(path), render_pareto(rows))
