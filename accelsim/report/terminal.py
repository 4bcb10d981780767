"""The human summary printed on the terminal after a run."""

from __future__ import annotations

from typing import Any


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_summary(s: dict[str, Any]) -> str:
    """A few lines of headline numbers, then per-unit utilization and stalls, then energy."""
    lines = [
        f"{s['workload']} on {s['arch']} ({s['clock_mhz']:g} MHz)",
        f"  cycles      {s['cycles']:,}   latency {s['latency_ms']:.4f} ms",
        f"  MACs        {s['macs']:,}   DRAM traffic {_si(s['dram_bytes'], 'B')}",
        f"  MAC utilization {s['mac_utilization']:.1%} of {s['pes']:,} PEs "
        "(MACs / (PEs x cycles); util below is busy time)" if s.get("mac_utilization")
        is not None else "  MAC utilization -",
        f"  energy      {_si(s['energy_pj'] * 1e-12, 'J')}   attention: "
        f"{s['attention_cycles']:,} cycles, {_si(s['attention_energy_pj'] * 1e-12, 'J')}",
    ]
    if "critical_path" in s:
        lines.append(f"  bottleneck: {s['critical_path']['bottleneck']}")
    lines += [
        "",
        f"  {'component (mean of n)':<24}{'util':>7}{'MACs':>7}{'busy':>12}{'stall':>12}"
        f"{'idle':>12}  top stall",
    ]
    for name, group in _by_type(s["components"]).items():
        n = len(group)

        def mean(key: str, group: list = group, n: int = n) -> float:
            return sum(c[key] for c in group) / n

        stalls: dict[str, float] = {}
        for c in group:
            for cause, cycles in c["stalls"].items():
                stalls[cause] = stalls.get(cause, 0) + cycles / n
        top = max(stalls.items(), key=lambda kv: kv[1], default=("", 0))
        top_s = f"{top[0]} {top[1]:,.0f}" if top[1] else ""
        label = f"{name} (x{n})" if n > 1 else name
        macs = f"{mean('mac_utilization'):.1%}" if "mac_utilization" in group[0] else ""
        lines.append(f"  {label:<24}{mean('utilization'):>7.1%}{macs:>7}"
                     f"{mean('busy_cycles'):>12,.0f}"
                     f"{mean('stall_cycles'):>12,.0f}{mean('idle_cycles'):>12,.0f}  {top_s}")
    total = s["energy_pj"] or 1.0
    lines += ["", f"  {'energy by component':<24}{'pJ':>16}{'share':>8}"]
    for name, pj in sorted(s["energy_breakdown_pj"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<24}{pj:>16,.0f}{pj / total:>8.1%}")
    if "ops_per_unit" in s:
        lines.append("  ops per unit: " + ", ".join(f"{u} {n}" for u, n in s["ops_per_unit"].items()))
        idle = [u for u, n in s["ops_per_unit"].items() if not n]
        if idle:
            lines.append(f"  note: no op of this workload went to {', '.join(idle)} (the "
                         "workload has none of its functions, units declaring them by name "
                         "take them before class defaults, or the op would finish later "
                         "there; mapping.bindings can send ops there: docs/arch.md, Bindings)")
    for unit, fns in s.get("class_default_ops", {}).items():
        lines.append(f"  note: {unit} ran " + ", ".join(f"{f} x{n}" for f, n in fns.items())
                     + " by its class default (no unit declares them by name)")
    if s.get("unknown_ops"):
        lines.append("  warning: ops unknown to the tracer, charged as elementwise over their "
                     "output: " + ", ".join(f"{k} x{v}" for k, v in s["unknown_ops"].items()))
    lines.append(f"  simulated {s['sim']['tiles']:,} tiles, {s['sim']['events']:,} events "
                 f"in {s['sim']['wall_s']:.2f} s")
    return "\n".join(lines)


def _by_type(components: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Instances grouped by type: ``chunk3.sa_general`` -> ``sa_general``, ``dram.ch5`` ->
    ``dram``; the table stays a screenful however many chunks or channels there are (the
    per-instance numbers are in summary.json)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, c in components.items():
        head, _, tail = name.partition(".")
        if head.startswith("chunk") and head[5:].isdigit():
            key = tail
        elif tail.startswith("ch") and tail[2:].isdigit():
            key = head
        else:
            key = name
        out.setdefault(key, []).append(c)
    return out
