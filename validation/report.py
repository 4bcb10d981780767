"""``accelsim validate``: the validation document (and its PNGs) in one command.

The run is a list of stages, one per section; each returns a ``Section`` (markdown + data). The
document is written atomically, the PNGs beside it in ``img/``: by default into ``out/validation``
(``DEFAULT_OUT_DIR``), into the checkout's tracked ``docs/`` only with ``--update-docs``
(``docs_dir``). ``quick=True`` runs a subset
(every 9th SCALE-Sim case, DeiT-Tiny only, 224 and 448 px, four ablations, no CPU timing) for
tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads.ir import write_atomic

from . import (
    ablations,
    bounds,
    cpu,
    fronts,
    paper,
    plots,
    scalesim_check,
    scalesim_memory_check,
    sensitivity,
)
from .tables import Section, ratio, table

#: Where ``accelsim validate`` writes validation.md and img/ (relative to the working directory).
DEFAULT_OUT_DIR = Path("out") / "validation"
DOC_NAME = "validation.md"
#: The checkout this package lives in (``--update-docs`` rewrites its docs/).
CHECKOUT = Path(__file__).resolve().parents[1]


def docs_dir() -> Path:
    """The checkout's tracked ``docs/`` (what ``--update-docs`` rewrites); ``FileNotFoundError``
    when the package is not run from a checkout (an installed copy has no docs)."""
    docs = CHECKOUT / "docs"
    if not (docs / DOC_NAME).is_file() or not (CHECKOUT / "pyproject.toml").is_file():
        raise FileNotFoundError(f"no checkout with docs/{DOC_NAME} at {CHECKOUT}")
    return docs
RUNNER = Path(__file__).resolve().parent / "scalesim_runner.py"


def refresh_scalesim(log: Callable[[str], None] = print) -> None:
    """Re-run SCALE-Sim on every recorded case (its own venv; minutes) and rewrite the CSVs."""
    for shapes in ("default", "extra"):
        log(f"validate: running SCALE-Sim ({shapes} cases) via {RUNNER.name} ...")
        subprocess.run([sys.executable, str(RUNNER), "--shapes", shapes], check=True)


def _timed(log: Callable[[str], None], label: str, fn: Callable[[], Section]) -> Section:
    log(f"validate: {label} ...")
    t0 = time.perf_counter()
    s = fn()
    s.wall_s = time.perf_counter() - t0
    log(f"validate: {label} done in {s.wall_s:.1f} s")
    return s


def bound_cases(models: list[str]) -> list[tuple[str, str, Any, Any]]:
    import arch
    from workloads import resolve

    archs = {p: arch.load(p) for p in paper.PRESETS}
    return [(m, p, archs[p], resolve(m, attention=arch.native_attention(archs[p])))
            for m in models for p in paper.PRESETS]


def generate(out: str | Path = DEFAULT_OUT_DIR / DOC_NAME, *, quick: bool = False,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every section, write ``out`` and ``out.parent/img/validation_*.png``; returns the
    sections' data by key plus ``wall_s``."""
    t0 = time.perf_counter()
    out = Path(out)
    img = out.parent / "img"
    models = ["deit_tiny"] if quick else list(paper.MODELS)
    scale_models = ["deit_tiny"] if quick else ["deit_tiny", "deit_base"]
    sizes = [224, 448] if quick else [224, 448, 896]
    bound_models = ["deit_tiny"] if quick else ["deit_tiny", "deit_base"]
    secs: list[Section] = []
    secs.append(_timed(log, "SCALE-Sim cross-check", lambda: scalesim_check.section(quick)))
    secs.append(_timed(log, "analytic bounds",
                       lambda: bounds.section(bound_cases(bound_models), quick)))
    secs.append(_timed(log, "MAC counts", lambda: paper.macs_section(models)))
    comp = _timed(log, "paper comparison", lambda: paper.comparison_section(
        models, paper.attention_breakdown(models)))
    secs.append(comp)
    scal = _timed(log, "token scaling", lambda: paper.scaling_section(scale_models, sizes))
    secs.append(scal)
    secs.append(_timed(log, "ablations", lambda: ablations.section(quick)))
    cpu_sims = {224: comp.data["runs"][models[0]]}
    if (models[0], 448) in scal.data:
        cpu_sims[448] = scal.data[(models[0], 448)]["runs"]
    secs.append(_timed(log, "accuracy and CPU latency", lambda: cpu.section(cpu_sims, quick)))
    secs.append(_timed(log, "SCALE-Sim memory cross-check",
                       lambda: scalesim_memory_check.section(quick)))
    sweeps = out.parent / "sweeps" if quick else fronts.DEFAULT_SWEEP_DIR
    secs.append(_timed(log, "Pareto fronts", lambda: fronts.section(quick, sweeps, img)))
    secs.append(_timed(log, "sensitivity", lambda: sensitivity.section(quick, img)))
    t_plot = time.perf_counter()
    plots.ratio_bars(comp.data["ratios"], models, "speedup", paper.PAPER_SPEEDUP_VS_SANGER,
                     img / "validation_speedup.png")
    plots.ratio_bars(comp.data["ratios"], models, "energy", paper.PAPER_ENERGY_VS_SANGER,
                     img / "validation_energy.png")
    plots.token_curves(scal.data, img / "validation_tokens.png")
    plot_s = time.perf_counter() - t_plot
    wall = time.perf_counter() - t0
    text = _document(secs, models, quick, wall, plot_s)
    write_atomic(out, text)
    pngs = len(list(img.glob("validation_*.png")))
    log(f"validate: wrote {out} and {pngs} PNGs in {img} ({wall:.1f} s)")
    return {s.key: s.data for s in secs} | {"wall_s": wall}


def _or(x: float | None, none: str) -> str:
    return none if x is None else ratio(x)


def _headline(secs: dict[str, Section], models: list[str]) -> str:
    sc, bd, mc, cp = secs["scalesim"], secs["bounds"], secs["macs"], secs["paper"]
    lines = [
        f"* **SCALE-Sim v3:** {sc.data['matches']} / {sc.data['cases']} GEMMs give exactly "
        "SCALE-Sim's compute cycles through the whole engine; our median wall time per GEMM is "
        f"{sc.data['ours_median_s'] * 1e3:.2f} ms against SCALE-Sim's "
        f"{sc.data['scalesim_median_s'] * 1e3:.0f} ms.",
        f"* **Analytic bounds:** {bd.data['violations']} violations over {bd.data['ops']} "
        "simulated ops (no op finishes faster than its compute or memory bound allows).",
        "* **MACs:** " + ", ".join(f"{paper.MODELS[m]} {mc.data[m]['softmax'] / 1e9:.2f} G "
                                   f"(published {paper.PUBLISHED_GMACS[m]} G)" for m in models)
        + ".",
    ]
    for m in models:
        q, s = cp.data["ratios"][(m, "sanger")], cp.data["ratios"][(m, "systolic")]
        lines.append(
            f"* **{paper.MODELS[m]}, vitality vs sanger** (speedup / energy ratio): attention "
            f"{ratio(q['attn_speedup'])} span, {ratio(q['attn_exposed_speedup'])} after QKV / "
            f"{ratio(q['attn_energy'])}, end to end "
            f"{ratio(q['e2e_speedup'])} / {ratio(q['e2e_energy'])}. Vs systolic: attention "
            f"{ratio(s['attn_speedup'])} span, {ratio(s['attn_exposed_speedup'])} after QKV / "
            f"{ratio(s['attn_energy'])}, end to end "
            f"{ratio(s['e2e_speedup'])} / {ratio(s['e2e_energy'])}. Paper: ~3x / ~3x vs Sanger.")
    iso = cp.data["iso"]["ratios"]
    lines.append(
        f"* **{paper.MODELS[models[0]]} like for like** (baselines at vitality's exact budget, "
        "section 4; speedup / energy ratio): " + "; ".join(
            f"vs {b}: end to end {ratio(r['cycles'])} / {ratio(r['energy_pj'])}, attention "
            f"{ratio(r['attention_exposed_cycles'])} after QKV, "
            f"{ratio(r['attention_cycles'])} span" for b, r in iso.items()) + ".")
    for model, part in secs["fronts"].data["models"].items():
        lines.append(
            f"* **{fronts.workload_title(model)}, Pareto fronts at equal budget** (section 9; "
            "baseline / vitality, median over vitality's front): " + "; ".join(
                f"vs {b}: latency at equal energy "
                f"{_or(r['latency_at_energy']['median'], f'unmatched (no {b} design uses as little)')}"
                f", energy at equal latency "
                f"{_or(r['energy_at_latency']['median'], f'unmatched (no {b} design is as fast)')}"
                f", best-point latency {ratio(r['best_latency'])}"
                for b, r in part["ratios"].items()) + ".")
    cross = secs["sensitivity"].data["crossover_px"]
    lines.append(
        f"* **Crossover** (section 10, {paper.MODELS[models[0]]} like for like): " + "; ".join(
            f"vitality is faster end to end than {b} from "
            + (f"{c} px ({sensitivity.tokens_of(c)} tokens)" if c else "no size measured")
            for b, c in cross.items()) + "; at Sanger's published point (1,024 PEs, 1 GHz) the "
        "baselines take " + ", ".join(
            f"{ratio(x)} vitality's cycles ({b})"
            for b, x in secs["sensitivity"].data["sanger_point"].items() if b != "vitality")
        + " and " + ", ".join(
            f"{ratio(x)} its dynamic energy ({b})" for b, x
            in secs["sensitivity"].data["sanger_point_dynamic_energy"].items() if b != "vitality")
        + ".")
    return "\n".join(lines)


def _document(secs: list[Section], models: list[str], quick: bool, wall: float,
              plot_s: float) -> str:
    by = {s.key: s for s in secs}
    toc = "\n".join(f"{i + 1}. [{s.title.split('. ', 1)[1]}](#{_anchor(s.title)})"
                    for i, s in enumerate(secs))
    timing = table(["stage", "wall (s)"], [[s.title, f"{s.wall_s:.1f}"] for s in secs]
                   + [["plots", f"{plot_s:.1f}"], ["**total**", f"{wall:.1f}"]])
    mode = ("**`--quick` subset** (tests): DeiT-Tiny only, every 9th SCALE-Sim case, fewer "
            "ablations, no CPU timing. Run `accelsim validate` for the full document.\n\n"
            if quick else "")
    head = f"""# Validation

{mode}Generated by **`accelsim validate --update-docs`** ({wall:.0f} s on this shared 2-core
machine; every table names the command that reproduces it; without `--update-docs` the same
document goes to `out/validation/`). Do not edit by hand: rerun the command.
`accelsim validate --scalesim` first re-runs SCALE-Sim v3 to refresh its recorded cycles.

## Headline

{_headline(by, models)}

## Contents

{toc}
"""
    tail = f"""## Regeneration time

{timing}

Traced graphs are cached (`~/.cache/accelsim/graphs`); a cold cache adds about 1-2 s per graph
(`docs/workloads.md`). Section 9 resumes its three sweeps from `out/pareto_*` (the table
above is such a run when its section 9 took seconds); run from nothing they take about 45
minutes on 2 cores (4,284 points: 756 / 2,016 / 1,512; measured 2026-12-05, `accelsim
validate --update-docs` from empty sweeps: section 9 in 2,684 s).
"""
    return "\n".join([head, *(s.markdown() for s in secs), tail])


def _anchor(title: str) -> str:
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return keep.replace(" ", "-")
