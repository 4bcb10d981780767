"""Section 9: latency-energy Pareto fronts of the three design families at vitality's budget.

Each family (``FAMILIES``) is one sweep spec of ``examples/sweeps/`` over its array shape at a
fixed PE count, its dataflow, fold overlap, buffer split and tile size, every point with
vitality's 17,160 PEs, 1,280 KiB of SRAM, DRAM and NoC. The sweeps run on the local pool (a
rerun resumes; ``quick`` runs a slice of each). Each spec lists the workloads it sweeps (DeiT-T,
DeiT-S and DeiT-B at 224 px; an entry with its own image size is its own group,
``workload_key``); the section has one part per workload that every family has points for, and
``data`` holds the first model's numbers at its top level and every model's in ``models``.
From each family's ok points on a model:

* its *front*: the points no other point of the family beats in both latency and energy;
* each family's best point in latency and in energy, with the design that reached it;
* *front-to-front* ratios of vitality against each baseline family: for every point of
  vitality's front, the baseline's best latency within the same energy (``latency_at_energy``:
  baseline / vitality, > 1 means vitality is faster at that energy budget), and for every
  point the baseline's least energy within the same latency (``energy_at_latency``); their
  medians and ranges over vitality's front, where the baseline has such a point.

Every sentence that says who wins is computed from the numbers. Nothing is tuned.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tables import Section, command, ratio, table

ROOT = Path(__file__).resolve().parents[1]
#: family -> (sweep spec, what it is); each runs into ``<out>/<spec's stem>`` (the directory
#: the spec's own comment names, so ``accelsim sweep`` runs and ``validate`` share results)
FAMILIES = {
    "vitality": ("examples/sweeps/pareto_vitality.yaml", "ViTALiTy (Taylor attention)"),
    "systolic_iso": ("examples/sweeps/pareto_systolic.yaml", "dense systolic (softmax)"),
    "sanger_iso": ("examples/sweeps/pareto_sanger.yaml", "Sanger-style (sparse softmax)"),
}
#: Where the sweeps run unless told (relative to the working directory).
DEFAULT_SWEEP_DIR = Path("out")
#: Points per family run in quick mode (tests).
QUICK_POINTS = 4
#: One colour per family in the plots.
FAMILY_COLORS = {"vitality": "#1b9e77", "systolic_iso": "#7570b3", "sanger_iso": "#d95f02"}
#: Design axes shown for a family's best points (whatever of them the spec varies).
SHOWN = ("rows", "cols", "dataflow", "fold_overlap", "capacity_kib", "tile_rows")


@dataclass(frozen=True)
class Point:
    """One ok design point: latency (ms), energy (pJ) and its axis values."""

    latency_ms: float
    energy_pj: float
    axes: tuple[tuple[str, str], ...]


def front(points: list[Point]) -> list[Point]:
    """The Pareto front (minimise latency and energy), in increasing latency."""
    out: list[Point] = []
    for p in sorted(points, key=lambda p: (p.latency_ms, p.energy_pj)):
        if not out or p.energy_pj < out[-1].energy_pj:
            out.append(p)
    return out


def best_latency_within(points: list[Point], energy_pj: float) -> float | None:
    """The least latency among ``points`` using at most ``energy_pj`` (None: none does)."""
    got = [p.latency_ms for p in points if p.energy_pj <= energy_pj]
    return min(got) if got else None


def least_energy_within(points: list[Point], latency_ms: float) -> float | None:
    """The least energy among ``points`` taking at most ``latency_ms`` (None: none does)."""
    got = [p.energy_pj for p in points if p.latency_ms <= latency_ms]
    return min(got) if got else None


def front_ratios(ours: list[Point], theirs: list[Point]) -> dict[str, Any]:
    """Front-to-front ratios of ``ours`` (vitality) against ``theirs`` (a baseline family),
    each baseline / vitality (> 1: vitality better), over the points of our front."""
    f = front(ours)
    lat = [b / p.latency_ms for p in f
           if (b := best_latency_within(theirs, p.energy_pj)) is not None]
    en = [b / p.energy_pj for p in f
          if (b := least_energy_within(theirs, p.latency_ms)) is not None]

    def stats(xs: list[float]) -> dict[str, float | int | None]:
        return {"median": statistics.median(xs) if xs else None,
                "min": min(xs) if xs else None, "max": max(xs) if xs else None,
                "points": len(xs)}

    best_lat = min(p.latency_ms for p in theirs) / min(p.latency_ms for p in ours)
    best_en = min(p.energy_pj for p in theirs) / min(p.energy_pj for p in ours)
    return {"latency_at_energy": stats(lat), "energy_at_latency": stats(en),
            "best_latency": best_lat, "best_energy": best_en, "front_points": len(f)}


def run_family(name: str, out_dir: Path, quick: bool) -> dict[str, list[Point]]:
    """Run (or resume) family ``name``'s sweep into ``out_dir/<spec stem>``; its ok points per
    workload, in the spec's order of workloads."""
    from accelsim.sweep import run_sweep

    spec = ROOT / FAMILIES[name][0]
    run_sweep(spec, out_dir / spec.stem, backend="local", workers=2, progress=False,
              limit=QUICK_POINTS if quick else None)
    return family_points(name, out_dir)


def family_points(name: str, out_dir: Path) -> dict[str, list[Point]]:
    """The ok points of family ``name``'s sweep in ``out_dir``, per workload (``run_family``)."""
    from accelsim.sweep import load_spec
    from accelsim.sweep.results import read
    from accelsim.sweep.runner import prepare

    spec = ROOT / FAMILIES[name][0]
    out = out_dir / spec.stem
    header, rows = read(out / "results.csv")
    # only this spec's points: a results file keeps the rows of points an earlier spec or base
    # architecture had (their IDs differ), which must not count here
    loaded = load_spec(spec)
    ours = set(prepare(loaded, out).cells)
    axes = [c for c in header if "." in c]  # axis columns are dotted field paths
    points: dict[str, list[Point]] = {workload_key(w.spec, w.img_size): []
                                      for w in loaded.workloads}  # spec order
    sized = {(w.spec, str(w.img_size)) for w in loaded.workloads if w.img_size}
    for pid, r in sorted(rows.items()):
        if r.get("status") != "ok" or pid not in ours:
            continue
        size = r.get("img_size", "")
        key = workload_key(r["workload"], size if (r["workload"], size) in sized else None)
        points.setdefault(key, []).append(Point(
            float(r["latency_ms"]), float(r["energy_pj"]), tuple((a, r[a]) for a in axes)))
    return points


def workload_key(model: str, img_size: int | str | None) -> str:
    """How a family's points are grouped: the model, or ``model@px`` for an entry of the spec
    that sets its image size (``{spec: deit_tiny, img_size: 448}``)."""
    return f"{model}@{img_size}" if img_size else model


def workload_title(key: str) -> str:
    """``deit_tiny`` -> DeiT-T; ``deit_tiny@448`` -> DeiT-T at 448 px."""
    from .paper import MODELS

    model, _, px = key.partition("@")
    name = MODELS.get(model, model)
    return f"{name} at {px} px" if px else name


def shape_of(p: Point) -> tuple[int, int] | None:
    """The (rows, cols) of the first unit whose rows and cols the point's axes both set (the
    family's main array), or None."""
    got: dict[str, dict[str, int]] = {}
    for path, value in p.axes:
        owner, leaf = path.rsplit(".", 2)[-2:]
        if leaf in ("rows", "cols"):
            got.setdefault(owner, {})[leaf] = int(float(value))
            if len(got[owner]) == 2:
                return got[owner]["rows"], got[owner]["cols"]
    return None


def by_shape(points: list[Point]) -> dict[tuple[int, int], Point]:
    """Each array shape's fastest point (the least energy on a tie), over every other axis."""
    best: dict[tuple[int, int], Point] = {}
    for p in points:
        shape = shape_of(p)
        if shape is not None and (shape not in best or (p.latency_ms, p.energy_pj)
                                  < (best[shape].latency_ms, best[shape].energy_pj)):
            best[shape] = p
    return dict(sorted(best.items(), key=lambda kv: kv[0][0] / kv[0][1]))


def _design(p: Point) -> str:
    parts = []
    for path, value in p.axes:
        leaf = path.rsplit(".", 1)[-1]
        if leaf in SHOWN:
            owner = path.split(".")[-2]
            parts.append(f"{owner}.{leaf}={value}")
    return ", ".join(dict.fromkeys(parts))


def _verdict(x: float | None, good: str, bad: str, none: str = "") -> str:
    if x is None:
        return none
    if abs(x - 1) < 0.005:
        return "on par"
    return f"{x:.2f}x {good}" if x > 1 else f"{1 / x:.2f}x {bad}"


def section(quick: bool = False, out_dir: Path | None = None, img: Path | None = None) -> Section:
    out_dir = out_dir or DEFAULT_SWEEP_DIR
    runs = {name: run_family(name, out_dir, quick) for name in FAMILIES}
    models = [m for m in runs["vitality"] if all(runs[f].get(m) for f in FAMILIES)]
    parts, by_model = [], {}
    for k, model in enumerate(models):
        text, data = _model_part(model, {f: runs[f][model] for f in FAMILIES},
                                 img, "" if k == 0 else f"_{model.replace('@', '_')}")
        parts.append(text)
        by_model[model] = data
    specs = " ; ".join(f"accelsim sweep {spec} --out out/{Path(spec).stem}"
                       for spec, _ in FAMILIES.values())
    body = f"""
Every point at vitality's budget: 17,160 PEs, 1,280 KiB of SRAM, vitality's DRAM and NoC, at
224 px unless a part's title gives another image size. Each family sweeps its array shape at
a fixed PE count, its dataflow, fold overlap, buffer split (activations / weights) and tile
size, on each model
(`examples/sweeps/pareto_*.yaml`){" — quick mode: the first " + str(QUICK_POINTS) + " points of each" if quick else ""}.
Latency in ms at each preset's clock, energy in uJ (1e6 pJ). Front to front (baseline /
vitality; > 1: vitality better): *at equal energy*, for each point of vitality's front, the
baseline family's best latency within that point's energy; *at equal latency*, its least
energy within that point's latency; medians over vitality's front points where the baseline
has such a point (how many: the column beside).
{"".join(parts)}
{command(specs, "then `accelsim validate` reads their results.csv")}
"""
    first = by_model[models[0]] if models else {"ratios": {}, "families": {}, "shapes": {}}
    data = first | {"models": by_model}
    return Section("fronts", "9. Pareto fronts at equal budget", body, data)


def _model_part(model: str, fams: dict[str, list[Point]], img: Path | None,
                suffix: str) -> tuple[str, dict[str, Any]]:
    """Section 9's part for one model: fronts, ratios, best designs, array shapes."""
    rows = []
    for name, pts in fams.items():
        f = front(pts)
        fast = min(pts, key=lambda p: (p.latency_ms, p.energy_pj))
        thrifty = min(pts, key=lambda p: (p.energy_pj, p.latency_ms))
        rows.append([f"`{name}`", FAMILIES[name][1], len(pts), len(f),
                     f"{fast.latency_ms:.4f}", f"{fast.energy_pj / 1e6:.0f}",
                     f"{thrifty.latency_ms:.4f}", f"{thrifty.energy_pj / 1e6:.0f}"])
    ratios = {b: front_ratios(fams["vitality"], fams[b]) for b in FAMILIES if b != "vitality"}
    rel = []
    said = []
    for b, q in ratios.items():
        la, ea = q["latency_at_energy"], q["energy_at_latency"]
        rel.append([f"vitality vs `{b}`", ratio(q["best_latency"]), ratio(q["best_energy"]),
                    ratio(la["median"]), f"{ratio(la['min'])} – {ratio(la['max'])}",
                    f"{la['points']} / {q['front_points']}", ratio(ea["median"]),
                    f"{ea['points']} / {q['front_points']}"])
        at_energy = _verdict(la["median"], "faster", "slower",
                             f"unmatched: no `{b}` design uses as little energy")
        at_latency = _verdict(ea["median"], "more energy-efficient", "less energy-efficient",
                              f"unmatched: no `{b}` design is as fast")
        said.append(
            f"* **vs `{b}`:** at equal energy vitality's front is {at_energy}; at equal latency "
            f"it is {at_latency} (medians over its front); best point against best point: "
            f"{_verdict(q['best_latency'], 'faster', 'slower')}, "
            f"{_verdict(q['best_energy'], 'more energy-efficient', 'less energy-efficient')}.")
    single = [n for n, pts in fams.items() if len(front(pts)) == 1]
    single_note = (f"{len(single)} of {len(fams)} fronts ({', '.join(f'`{n}`' for n in single)}) "
                   "are a single point: in that family the fastest design is also the one "
                   "using the least energy, so the front-to-front ratio is a point-to-point "
                   "one there." if single else "")
    best = []
    for name, pts in fams.items():
        fast = min(pts, key=lambda p: (p.latency_ms, p.energy_pj))
        best.append([f"`{name}`", f"{fast.latency_ms:.4f}", _design(fast)])
    shapes = {name: by_shape(pts) for name, pts in fams.items()}
    shape_rows = []
    for name, per in shapes.items():
        top = min((p.latency_ms for p in per.values()), default=0.0)
        for (r, c), p in per.items():
            shape_rows.append([f"`{name}`", f"{r} x {c}", f"{r / c:.2f}", f"{p.latency_ms:.4f}",
                               ratio(p.latency_ms / top) if top else "-",
                               f"{p.energy_pj / 1e6:.0f}"])
    title = workload_title(model)
    fronts_png, shapes_png = f"validation_fronts{suffix}.png", f"validation_shapes{suffix}.png"
    if img is not None:
        plot_fronts(fams, img / fronts_png, title)
        plot_shapes(shapes, img / shapes_png, title)
    text = f"""
### {title}

{table(["family", "design", "points", "on the front", "fastest: ms", "its uJ",
        "least energy: ms", "its uJ"], rows, "llrrrrrr")}

{table(["", "best latency", "best energy", "latency at equal energy (median)", "range",
        "front points compared", "energy at equal latency (median)", "front points compared"],
       rel)}

{chr(10).join(said)}

{single_note}

The fastest design of each family on {title}:

{table(["family", "ms", "design"], best, "lrl")}

![fronts](img/{fronts_png})

**Array shape** (sensitivity, {title}): each family's main array at its fixed PE count, the
fastest design of each shape over the other axes (dataflow, overlap, buffer split, tile
size), and how much slower it is than the family's fastest shape:

{table(["family", "rows x cols", "rows / cols", "fastest: ms", "x family's best", "its uJ"],
       shape_rows, "llrrrr")}

![shapes](img/{shapes_png})
"""
    data = {"families": {n: [p.__dict__ for p in pts] for n, pts in fams.items()},
            "ratios": ratios,
            "shapes": {n: {f"{r}x{c}": p.latency_ms for (r, c), p in per.items()}
                       for n, per in shapes.items()}}
    return text, data


def plot_fronts(fams: dict[str, list[Point]], path: Path, model: str = "DeiT-T") -> Path:
    """Every point of each family (faint) and its front (a step line), one axes."""
    from .plots import _plt

    colors = FAMILY_COLORS
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, pts in fams.items():
        c = colors[name]
        ax.scatter([p.latency_ms for p in pts], [p.energy_pj / 1e6 for p in pts], s=8,
                   color=c, alpha=0.25, lw=0)
        f = front(pts)
        ax.step([p.latency_ms for p in f], [p.energy_pj / 1e6 for p in f], where="post",
                color=c, lw=1.6, label=f"{name} front ({len(f)} of {len(pts)})")
        ax.scatter([p.latency_ms for p in f], [p.energy_pj / 1e6 for p in f], s=14, color=c)
    return _finish(plt, fig, ax, path, "latency (ms)", "energy (uJ)",
                   f"{model} at vitality's budget: latency-energy fronts")


def plot_shapes(shapes: dict[str, dict[tuple[int, int], Point]], path: Path,
                model: str = "DeiT-T") -> Path:
    """Each family's fastest latency per array shape against the shape's rows / cols."""
    from matplotlib.ticker import NullFormatter

    from .plots import _plt

    colors = FAMILY_COLORS
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, per in shapes.items():
        xs = [r / c for r, c in per]
        ax.plot(xs, [p.latency_ms for p in per.values()], "o-", color=colors[name], ms=4,
                label=name)
        for (r, c), p in per.items():
            ax.annotate(f"{r}x{c}", (r / c, p.latency_ms), fontsize=6, xytext=(2, 3),
                        textcoords="offset points")
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if lo <= t <= hi]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    return _finish(plt, fig, ax, path, "array rows / cols (fixed PEs per family)",
                   "fastest latency (ms)", f"{model} at vitality's budget: array shape")


def _finish(plt, fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Labels, grid and legend of a one-axes figure; saved to ``path`` and closed."""
    from .plots import _save

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
