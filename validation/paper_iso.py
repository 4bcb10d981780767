"""Section 4's like-for-like comparison: vitality against `systolic_iso` and `sanger_iso`, the
baselines at vitality's exact budget (docs/arch.md, "Like-for-like presets"), at one point.

The numbers come from ``accelsim.commands.compare.compare`` on the shipped presets; every
sentence that says which design wins is computed from them, so it reads the same whichever way
the numbers fall. Nothing is tuned.
"""

from __future__ import annotations

from typing import Any

from .tables import command, num, ratio, table

ISO_PRESETS = ("vitality", "systolic_iso", "sanger_iso")
#: The preset each like-for-like one was derived from (today's numbers stay beside it).
TODAY = {"systolic_iso": "systolic", "sanger_iso": "sanger"}
#: (row key, label) of the measures compared; exposed attention first, the headline.
MEASURES = (("cycles", "end-to-end cycles"), ("energy_pj", "end-to-end energy"),
            ("attention_exposed_cycles", "attention after QKV (exposed)"),
            ("attention_cycles", "attention span"), ("attention_energy_pj", "attention energy"))


def iso_ratios(runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{baseline: {measure: baseline / vitality}}``: > 1 means vitality is faster or uses
    less energy."""
    v = runs["vitality"]
    return {b: {k: runs[b][k] / max(1, v[k]) for k, _ in MEASURES} for b in ISO_PRESETS[1:]}


def _verdict(x: float, fast: str, slow: str) -> str:
    """``baseline / vitality`` as words about vitality: "1.50x faster", "1.07x slower"."""
    if abs(x - 1) < 0.005:
        return "on par"
    return f"{x:.2f}x {fast}" if x > 1 else f"{1 / x:.2f}x {slow}"


def iso_subsection(model: str, label: str, today: dict[str, dict[str, Any]]) -> tuple[str, Any]:
    """The markdown of the like-for-like subsection for ``model`` (shown as ``label``) and its
    data (``runs``, ``ratios``); ``today`` holds the same model's rows on today's presets."""
    from .paper import run_compare

    runs = run_compare(model, presets=ISO_PRESETS)
    q = iso_ratios(runs)
    rows = [[p, runs[p]["attention"], num(runs[p]["cycles"]),
             f"{runs[p]['energy_pj'] / 1e6:.0f}", num(runs[p]["attention_exposed_cycles"]),
             num(runs[p]["attention_cycles"]), f"{runs[p]['attention_energy_pj'] / 1e6:.1f}"]
            for p in ISO_PRESETS]
    rel = [[f"vitality vs {b}", *(ratio(q[b][k]) for k, _ in MEASURES)] for b in ISO_PRESETS[1:]]
    said = []
    for b in ISO_PRESETS[1:]:
        r = q[b]
        said.append(
            f"* **vs `{b}`:** end to end, vitality is "
            f"{_verdict(r['cycles'], 'faster', 'slower')} and "
            f"{_verdict(r['energy_pj'], 'more energy-efficient', 'less energy-efficient')}; "
            f"its attention after the QKV projection is "
            f"{_verdict(r['attention_exposed_cycles'], 'faster', 'slower')} "
            f"(by the contract's span: {_verdict(r['attention_cycles'], 'faster', 'slower')}).")
    changed = "; ".join(
        f"`{b}` runs in {num(runs[b]['cycles'])} cycles, `{t}` in {num(today[t]['cycles'])}"
        for b, t in TODAY.items())
    body = f"""
### Like for like: the baselines at vitality's exact budget ({label})

`systolic_iso` and `sanger_iso` (docs/arch.md, "Like-for-like presets") have vitality's PE
count, clock, memories, register file, vector lanes and energy table, checked on the loaded
architectures by `tests/test_iso_presets.py`; each baseline's array shape and dataflow are the
best end-to-end latency on DeiT-T of one search over its family's shapes at a fixed PE count
and `os` / `ws` / `is` (vitality keeps the paper's arrays and down-forward dataflow). On
{label}: {changed}. One point each, native attention, 224 px:

{table(["preset", "attention", "end-to-end cycles", "energy µJ",
        "attention after QKV (cycles)", "attention span (cycles)", "attention µJ"], rows,
       "llrrrrr")}

{command(f"accelsim compare --workload {model} --arch vitality --arch systolic_iso "
         "--arch sanger_iso --json")}

Ratios (baseline / vitality; > 1 means vitality is faster or uses less energy):

{table(["comparison", *(lbl for _, lbl in MEASURES)], rel, "lrrrrr")}

{chr(10).join(said)}

This is one design point per family. The sweep specs `examples/sweeps/pareto_*.yaml`
(docs/sweeps.md section 6) hold each family's equal-budget grid; their latency-energy fronts,
compared front to front, are the comparison issue 15 asks for and are not computed here yet.
"""
    return body, {"runs": runs, "ratios": q}
