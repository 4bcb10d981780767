"""Section 10: how the like-for-like ratio moves with tokens, DRAM bandwidth and buffer size,
and the token count above which vitality wins end to end.

All runs are DeiT-Tiny on the like-for-like presets (``vitality``, ``systolic_iso``,
``sanger_iso``: one budget), each with its native attention, through
``accelsim.commands.compare.compare``. A ratio is baseline / vitality (> 1: vitality faster).

The *crossover* is measured, not interpolated: between the largest image size at which a
baseline is still faster end to end and the smallest at which vitality is, image sizes are
bisected in steps of one patch (16 px) until they are adjacent; the crossover is the token
count of the smaller winning size. Array shape is the fronts' axis (section 9).
"""

from __future__ import annotations

from typing import Any

from .tables import Section, command, num, ratio, table

PRESETS = ("vitality", "systolic_iso", "sanger_iso")
BASELINES = PRESETS[1:]
MODEL = "deit_tiny"
PATCH = 16
DRAM_GBPS = 76.8  # the presets' DRAM bandwidth (one budget)
SRAM_KIB = (512, 768)  # the presets' activation and weight SRAM


#: Sanger's published design point (Lu et al., MICRO 2021): 1,024 PEs at 1 GHz. Each family
#: shrinks to one chunk whose arrays hold about 1,024 PEs (our choice of shapes: the paper's
#: (M+1) x (M+1) SA-General cannot keep M = d = 64 at that size); buffers, DRAM, NoC and the
#: vector units stay as at vitality's budget; leakage is not rescaled, so energy is compared
#: at this point without it (``dynamic_pj``).
SANGER_POINT: dict[str, tuple[str, ...]] = {
    "vitality": ("chunks.units.sa_general.rows=31", "chunks.units.sa_general.cols=31",
                 "chunks.units.sa_diag.rows=31"),
    "systolic_iso": ("chunks.units.sa.rows=32", "chunks.units.sa.cols=32"),
    "sanger_iso": ("chunks.units.sa_sparse.rows=50", "chunks.units.sa_sparse.cols=16",
                   "chunks.units.sa_predict.rows=14"),
}
SANGER_COMMON = ("chunks.count=1", "clock_mhz=1000")


#: The same budget in 2 or 8 chunks instead of 4 (our choice of shapes, the PE count kept
#: exactly): 2 chunks double every array's rows; 8 chunks take 33 x 64 for vitality's
#: SA-General (its diagonal array 33 rows), 33 x 65 for the dense array, and half the columns
#: of both Sanger arrays. Vector lanes and register files scale with 4 / chunks (rounded up:
#: 8 chunks of 33 lanes are 264 against 260).
CHUNK_SHAPES: dict[int, dict[str, tuple[str, ...]]] = {
    2: {"vitality": ("chunks.units.sa_general.rows=130", "chunks.units.sa_diag.rows=130"),
        "systolic_iso": ("chunks.units.sa.rows=132",),
        "sanger_iso": ("chunks.units.sa_sparse.rows=130", "chunks.units.sa_predict.rows=130")},
    8: {"vitality": ("chunks.units.sa_general.rows=33", "chunks.units.sa_general.cols=64",
                     "chunks.units.sa_diag.rows=33"),
        "systolic_iso": ("chunks.units.sa.rows=33",),
        "sanger_iso": ("chunks.units.sa_sparse.cols=25", "chunks.units.sa_predict.cols=8")},
}


def chunk_overrides(preset: str, count: int) -> list[str]:
    """``CHUNK_SHAPES`` for ``preset`` at ``count`` chunks, with its vector lanes and register
    files scaled by the preset's own chunk count / ``count`` (rounded up)."""
    import arch
    from arch.schema import RegisterFile, VectorArray

    a = arch.load(preset)
    out = [f"chunks.count={count}", *CHUNK_SHAPES[count][preset]]
    for name, u in a.chunks.units.items():
        if isinstance(u, VectorArray):
            out.append(f"chunks.units.{name}.lanes={-(-u.lanes * a.chunks.count // count)}")
        elif isinstance(u, RegisterFile):
            out.append(f"chunks.units.{name}.capacity_bytes="
                       f"{-(-u.capacity_bytes * a.chunks.count // count)}")
    return out


def sanger_point() -> dict[str, dict[str, Any]]:
    """Each family at Sanger's published point (``SANGER_POINT``), DeiT-Tiny at 224 px."""
    from accelsim.commands.compare import compare

    return {p: compare(MODEL, [p], overrides=[*SANGER_COMMON, *SANGER_POINT[p]],
                       extra_keys=("pes", "energy_detail_pj"))[0] for p in PRESETS}


def dynamic_pj(row: dict[str, Any]) -> float:
    """A run's energy without leakage: MACs, vector work, memory and NoC traffic, registers."""
    return sum(e for acts in row["energy_detail_pj"].values()
               for action, e in acts.items() if action != "leakage")


def tokens_of(img: int) -> int:
    return (img // PATCH) ** 2 + 1


#: Further models whose crossover is measured (224 and 448 px, then the bisection).
OTHER_MODELS = ("deit_small", "deit_base")


def _run(img: int = 224, overrides: tuple[str, ...] | dict[str, list[str]] = (),
         model: str = MODEL) -> dict[str, dict[str, Any]]:
    """``accelsim compare`` rows of ``model`` by preset, with ``overrides`` for all presets or
    (a dict) each preset's own."""
    from accelsim.commands.compare import compare

    if isinstance(overrides, dict):
        return {p: compare(model, [p], img_size=img, overrides=overrides[p],
                           extra_keys=("pes",))[0] for p in PRESETS}
    rows = compare(model, list(PRESETS), img_size=img, overrides=list(overrides))
    return {r["arch"]: r for r in rows}


def model_crossovers(model: str, sizes: list[int],
                     by_size: dict[int, dict[str, dict[str, Any]]] | None = None,
                     bisect: bool = True) -> tuple[dict[str, int | None], dict[int, Any]]:
    """Per baseline, the crossover image size of ``model`` (``crossover``), from runs at
    ``sizes`` (or the given ``by_size``) and, with ``bisect``, probes between them; also
    every run made, by image size."""
    cache: dict[int, dict[str, dict[str, Any]]] = dict(by_size or {})
    for s in sizes:
        if s not in cache:
            cache[s] = _run(s, model=model)

    def probe_for(b: str):
        def probe(s: int) -> bool:
            if s not in cache:
                cache[s] = _run(s, model=model)
            return ratios(cache[s])[b]["e2e"] > 1
        return probe

    cross: dict[str, int | None] = {}
    for b in BASELINES:
        wins = {s: ratios(cache[s])[b]["e2e"] > 1 for s in sizes}
        cross[b] = (crossover(wins, probe_for(b)) if bisect
                    else min((s for s, w in wins.items() if w), default=None))
    return cross, cache


def ratios(runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    v = runs["vitality"]
    return {b: {"e2e": runs[b]["cycles"] / v["cycles"],
                "exposed": runs[b]["attention_exposed_cycles"]
                / max(1, v["attention_exposed_cycles"])} for b in BASELINES}


def crossover(wins: dict[int, bool], probe) -> int | None:
    """The smallest image size (a multiple of ``PATCH``) at which vitality wins, given
    ``wins`` {img: won} measured so far, probing (``probe(img) -> won``) between the largest
    losing size below the smallest winning one until they are adjacent. None: no win yet."""
    won = sorted(i for i, w in wins.items() if w)
    if not won:
        return None
    hi = won[0]
    lost = [i for i, w in wins.items() if not w and i < hi]
    if not lost:
        return hi
    lo = max(lost)
    while hi - lo > PATCH:
        mid = (lo + hi) // 2 // PATCH * PATCH
        if probe(mid):
            hi = mid
        else:
            lo = mid
    return hi


def section(quick: bool = False, img=None) -> Section:
    sizes = [224, 448] if quick else [224, 448, 896]
    cross, cache = model_crossovers(MODEL, sizes, bisect=not quick)
    others = {} if quick else {m: model_crossovers(m, [224, 448])[0] for m in OTHER_MODELS}
    names = {"deit_tiny": "DeiT-T", "deit_small": "DeiT-S", "deit_base": "DeiT-B"}

    def where(c: int | None, top: int) -> str:
        return f"{c} px ({tokens_of(c)} tokens)" if c else f"none up to {tokens_of(top)} tokens"

    cross_rows = [[names[MODEL], *(where(cross[b], max(sizes)) for b in BASELINES)]] + [
        [names[m], *(where(c[b], 448) for b in BASELINES)] for m, c in others.items()]
    bw = [0.5, 1.0] if quick else [0.25, 0.5, 1.0, 2.0, 4.0]
    by_bw = {f: _run(224, (f"memories.dram.bandwidth_gbps={DRAM_GBPS * f:g}",)) for f in bw}
    buf = [1.0] if quick else [0.5, 1.0, 2.0]
    by_buf = {f: _run(224, (f"memories.sram_act.capacity_kib={int(SRAM_KIB[0] * f)}",
                            f"memories.sram_weight.capacity_kib={int(SRAM_KIB[1] * f)}"))
              for f in buf}

    counts = [2, 4] if quick else [2, 4, 8]
    by_chunks = {(c, img): (_run(img, {p: chunk_overrides(p, c) for p in PRESETS})
                            if c != 4 else (cache[img] if img in cache else _run(img)))
                 for img in ([224] if quick else [224, 896]) for c in counts}

    def rows_of(series: dict[Any, dict[str, dict[str, Any]]], label) -> list[list[str]]:
        out = []
        for key, runs in series.items():
            q = ratios(runs)
            out.append([label(key), *(num(runs[p]["cycles"]) for p in PRESETS),
                        *(ratio(q[b]["e2e"]) for b in BASELINES),
                        *(ratio(q[b]["exposed"]) for b in BASELINES)])
        return out

    head = ["", *(f"{p} cycles" for p in PRESETS), *(f"{b}/vit e2e" for b in BASELINES),
            *(f"{b}/vit exposed attn" for b in BASELINES)]
    tok_rows = rows_of(dict(sorted(cache.items())), lambda s: f"{s} px, {tokens_of(s)} tokens")
    bw_rows = rows_of(by_bw, lambda f: f"DRAM {DRAM_GBPS * f:g} GB/s")
    buf_rows = rows_of(by_buf, lambda f: f"SRAM {int(SRAM_KIB[0] * f)} + {int(SRAM_KIB[1] * f)} KiB")
    chunk_rows = rows_of(by_chunks, lambda ci: f"{ci[0]} chunks, {ci[1]} px")
    said = []
    for b in BASELINES:
        c = cross[b]
        if c is None:
            said.append(f"* **vs `{b}`:** vitality does not win end to end up to "
                        f"{tokens_of(max(sizes))} tokens.")
        elif c == min(sizes):
            said.append(f"* **vs `{b}`:** vitality wins end to end at every size measured, "
                        f"from {tokens_of(c)} tokens.")
        else:
            said.append(f"* **vs `{b}`:** vitality wins end to end from {c} px "
                        f"({tokens_of(c)} tokens) on; at {c - PATCH} px "
                        f"({tokens_of(c - PATCH)} tokens) `{b}` is still faster."
                        if not quick else
                        f"* **vs `{b}`:** vitality wins end to end at {c} px "
                        f"({tokens_of(c)} tokens), not at the smaller sizes measured.")
    at_sanger = sanger_point()
    sp = at_sanger["vitality"]
    sanger_rows = [[f"`{p}`", num(at_sanger[p]["pes"]), num(at_sanger[p]["cycles"]),
                    f"{at_sanger[p]['latency_ms']:.4f}",
                    ratio(at_sanger[p]["cycles"] / sp["cycles"]),
                    ratio(at_sanger[p]["attention_exposed_cycles"]
                          / max(1, sp["attention_exposed_cycles"])),
                    f"{dynamic_pj(at_sanger[p]) / 1e6:.0f}",
                    ratio(dynamic_pj(at_sanger[p]) / dynamic_pj(sp))] for p in PRESETS]
    if img is not None:
        plot_sensitivity({"tokens": {tokens_of(s): ratios(r) for s, r in sorted(cache.items())},
                          "DRAM GB/s": {DRAM_GBPS * f: ratios(r) for f, r in by_bw.items()},
                          "SRAM KiB": {sum(SRAM_KIB) * f: ratios(r) for f, r in by_buf.items()}},
                         img / "validation_sensitivity.png")
    body = f"""
DeiT-Tiny on the like-for-like presets (one budget, each its native attention). Ratios are
baseline / vitality cycles (> 1: vitality faster), end to end and for attention after the QKV
projection (exposed). One parameter varies per table; the others stay at the presets' values.

**Tokens** (image size; the sizes between 224 and 448 px are the crossover's bisection probes{", skipped in quick mode" if quick else ""}):

{table(head, tok_rows)}

{chr(10).join(said)}

The crossover per model (the smallest image size, in steps of one patch, from which vitality
is faster end to end; DeiT-S and DeiT-B measured at 224 and 448 px, then bisected{"; quick mode: DeiT-T only, not bisected" if quick else ""}):

{table(["model", *(f"vs `{b}`" for b in BASELINES)], cross_rows)}

**DRAM bandwidth** (224 px):

{table(head, bw_rows)}

**Buffer size** (both SRAMs scaled, 224 px):

{table(head, buf_rows)}

**Chunk count** (the same 17,160 PEs in 2, 4 or 8 chunks; `CHUNK_SHAPES` in
`validation/sensitivity.py`: 2 chunks double every array's rows, 8 take 33 x 64 for
vitality's SA-General, 33 x 65 for the dense array and half the columns of both Sanger arrays;
vector lanes and register files scale with 4 / chunks; buffers, DRAM and NoC as above):

{table(head, chunk_rows)}

![sensitivity](img/validation_sensitivity.png)

**At Sanger's published design point** (1,024 PEs, 1 GHz; one chunk per family, arrays
shrunk to about 1,024 PEs: {"; ".join(f"`{p}`: " + ", ".join(o.split(".", 2)[-1] for o in SANGER_POINT[p]) for p in PRESETS)};
buffers, DRAM and NoC as above; their leakage is not rescaled, so energy is compared
without it: the dynamic energy of MACs, vector work, memory and NoC traffic):

{table(["family", "PEs", "cycles", "ms", "/ vitality e2e", "/ vitality exposed attn",
        "dynamic uJ", "/ vitality dynamic energy"], sanger_rows)}

{command("accelsim compare --workload deit_tiny --img-size N --arch vitality --arch systolic_iso "
         "--arch sanger_iso [--set memories.dram.bandwidth_gbps=B]", "one row each")}
"""
    data = {"crossover_px": cross, "crossover_px_models": others, "tokens": {s: ratios(r) for s, r in cache.items()},
            "dram": {f: ratios(r) for f, r in by_bw.items()},
            "buffer": {f: ratios(r) for f, r in by_buf.items()},
            "chunks": {f"{c}@{i}": ratios(r) for (c, i), r in by_chunks.items()},
            "chunk_pes": {f"{c}@{i}": {p: r[p].get("pes") for p in PRESETS}
                          for (c, i), r in by_chunks.items()},
            "sanger_point": {p: r["cycles"] / sp["cycles"] for p, r in at_sanger.items()},
            "sanger_point_dynamic_energy": {p: dynamic_pj(r) / dynamic_pj(sp)
                                            for p, r in at_sanger.items()}}
    return Section("sensitivity", "10. Sensitivity and the crossover token count", body, data)


def plot_sensitivity(panels: dict[str, dict[float, dict[str, dict[str, float]]]], path) -> None:
    """One panel per parameter: each baseline's end-to-end ratio (solid) and exposed-attention
    ratio (dashed) against it; a line at 1 (parity)."""
    from matplotlib.ticker import NullFormatter

    from .plots import _plt, _save

    colors = {"systolic_iso": "#7570b3", "sanger_iso": "#d95f02"}
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(9.6, 3.2))
    for ax, (name, series) in zip(axes, panels.items(), strict=True):
        xs = sorted(series)
        for b in BASELINES:
            ax.plot(xs, [series[x][b]["e2e"] for x in xs], "o-", color=colors[b], ms=3,
                    label=f"{b} / vitality, end to end")
            ax.plot(xs, [series[x][b]["exposed"] for x in xs], "s--", color=colors[b], ms=3,
                    alpha=0.6, label=f"{b} / vitality, exposed attention")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"{x:g}" for x in xs], rotation=45, fontsize=7)
        ax.xaxis.set_minor_formatter(NullFormatter())
        lo, hi = ax.get_ylim()
        ticks = [t for t in (0.5, 0.8, 1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200) if lo <= t <= hi]
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("baseline / vitality cycles")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
