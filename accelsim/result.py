"""From what the engine recorded to the summary (``accelsim.summary/1``, DESIGN section 6).

Energy = action counts x per-action energy (from the architecture; never defaulted) + leakage
power x makespan. Busy, stall and idle cycles come from the recorded intervals, so for every
component busy + stall + idle = makespan exactly, and utilization = busy / makespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arch.schema import Architecture, RegisterFile, SystolicArray, VectorArray
from workloads.ir import OpGraph

from . import __version__
from .breakdown import OpCosts, layer_table, memory_levels, op_fields
from .components import MEMORY_MODELS
from .critical_path import critical_path, summarize
from .engine import Actions, RunRecord
from .plan import Plan

FORMAT = "accelsim.summary/1"
#: 1 mW for 1 us is 1e-9 J = 1e3 pJ; cycles / clock_mhz = microseconds.
PJ_PER_MW_US = 1e3


def memory_energy_pj(arch: Architecture, name: str, actions: dict[str, int]) -> dict[str, float]:
    """Dynamic energy of one memory component, by action, from its action counts (the
    memory kind's own policy, ``accelsim.components``)."""
    spec = arch.memories[name]
    return MEMORY_MODELS[spec.type].energy_pj(spec, actions)


def tile_energies(arch: Architecture, plan: Plan) -> list[tuple[str, float]]:
    """(action, pJ) of every tile on its unit, in tile order: MACs on a systolic array,
    elements on a vector one (the unit's cost per MAC or element looked up once per op)."""
    per_op: list[tuple[bool, str, float]] = []
    for op in plan.ops:
        unit = arch.chunks.units[op.unit]
        if isinstance(unit, SystolicArray):
            per_op.append((True, "mac", unit.mac_energy_pj))
        else:
            assert isinstance(unit, VectorArray)
            per_op.append((False, op.fn, unit.fns[op.fn].energy_pj))
    out = []
    for t in plan.tiles:
        mac, action, each = per_op[t.op]
        out.append((action, (t.macs if mac else t.elements) * each))
    return out


def regfile_energy_pj(spec: RegisterFile, nbytes_in: int, nbytes_out: int) -> dict[str, float]:
    """Operands land in registers and are read by the unit; results the other way round."""
    moved = nbytes_in + nbytes_out
    return {"read": moved * spec.read_energy_pj_per_byte,
            "write": moved * spec.write_energy_pj_per_byte}


def regfiles_on_paths(arch: Architecture, g: Any = None) -> dict[str, list[str]]:
    """For every unit of a chunk, the register files its operands and results pass through
    (on its paths from DRAM for inputs, weights and outputs), in path order."""
    from arch.graph import component_graph, path_from_dram

    if g is None:
        g = component_graph(arch, 1)
    out: dict[str, list[str]] = {}
    for uname, unit in arch.chunks.units.items():
        if isinstance(unit, RegisterFile):
            out[uname] = []
            continue
        names: list[str] = []
        for role in ("input", "weight", "output"):
            for node in path_from_dram(g, f"chunk0.{uname}", role):
                rf = node.split(".", 1)[-1]
                if (node.startswith("chunk0.") and rf not in names
                        and isinstance(arch.chunks.units.get(rf), RegisterFile)):
                    names.append(rf)
        out[uname] = names
    return out


@dataclass
class SimResult:
    """A finished simulation: ``summary`` (the JSON contract) plus the raw record and plan,
    which the reports read. Summary fields are also attributes: ``result.cycles``."""

    summary: dict[str, Any]
    record: RunRecord
    plan: Plan
    arch: Architecture

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["summary"][name]
        except KeyError:
            raise AttributeError(name) from None


def _state(busy: int, stalls: dict[str, int], makespan: int) -> dict[str, Any]:
    stall = sum(stalls.values())
    return {
        "busy_cycles": busy,
        "stall_cycles": stall,
        "idle_cycles": makespan - busy - stall,
        "utilization": round(busy / makespan, 6) if makespan else 0.0,
        "stalls": dict(sorted(stalls.items())),
    }


def build_summary(arch: Architecture, graph: OpGraph, plan: Plan, rec: RunRecord,
                  op_actions: list[Actions], wall_s: float) -> dict[str, Any]:
    """Assemble the summary dict (stable key order, rounded floats: deterministic JSON)."""
    makespan = rec.makespan
    clock = arch.clock_mhz
    leak_scale = makespan / clock * PJ_PER_MW_US  # pJ per mW over the run
    detail: dict[str, dict[str, float]] = {}

    def add(component: str, action: str, pj: float) -> None:
        slot = detail.setdefault(component, {})
        slot[action] = slot.get(action, 0.0) + pj

    for name, acts in rec.actions.items():
        for action, pj in memory_energy_pj(arch, name, acts).items():
            add(name, action, pj)
    for name, spec in arch.memories.items():
        add(name, "leakage", spec.leakage_mw * leak_scale * arch.instances(name))
    op_energy = [0.0] * len(plan.ops)
    regfiles = regfiles_on_paths(arch, plan.graph)
    rf_psum: dict[str, int] = {}  # register file -> partial-sum bytes read (and written)
    # Per tile, in tile order (the float sums must not change order): compute energy, then
    # the register files its operands and results cross, then its partial sums in a chunk's
    # accumulator registers (``regfile_energy_pj``, inlined: this loop runs once per tile).
    def slot_of(component: str) -> dict[str, float]:
        return detail.setdefault(component, {})

    rf_costs: dict[str, list[tuple[float, float, dict[str, float]]]] = {}
    for u, names in regfiles.items():
        specs = [(n, arch.chunks.units[n]) for n in names]
        rf_costs[u] = [(rf.read_energy_pj_per_byte, rf.write_energy_pj_per_byte, slot_of(n))
                       for n, rf in specs if isinstance(rf, RegisterFile)]
    local = plan.regions.regfiles
    op_unit = [op.unit for op in plan.ops]
    energies = tile_energies(arch, plan)
    for t, (action, pj) in zip(plan.tiles, energies, strict=True):
        uname = op_unit[t.op]
        slot = slot_of(uname)
        slot[action] = slot.get(action, 0.0) + pj
        e = op_energy[t.op] + pj
        rfs = rf_costs[uname]
        if rfs:
            moved = t.in_bytes + t.out_bytes
            for read_pj, write_pj, rf_slot in rfs:
                pj = moved * read_pj
                rf_slot["read"] = rf_slot.get("read", 0.0) + pj
                e += pj
                pj = moved * write_pj
                rf_slot["write"] = rf_slot.get("write", 0.0) + pj
                e += pj
        if t.psum_bytes:
            psum_rf = plan.regions.region.get((uname, "psum"))
            if psum_rf in local:
                # partial sums read-modify-written in the chunk's accumulator registers
                acc = arch.chunks.units[psum_rf]
                assert isinstance(acc, RegisterFile)
                rf_psum[psum_rf] = rf_psum.get(psum_rf, 0) + t.psum_bytes
                for action, pj in regfile_energy_pj(acc, t.psum_bytes, 0).items():
                    add(psum_rf, action, pj)
                    e += pj
        op_energy[t.op] = e
    for uname, unit in arch.chunks.units.items():
        add(uname, "leakage", unit.leakage_mw * leak_scale * len(arch.chunks.holders(uname)))
    for i, per_op in enumerate(op_actions):
        per_mem: dict[str, dict[str, int]] = {}
        for (mem, action, _role), n in per_op.items():
            counts = per_mem.setdefault(mem, {})
            counts[action] = counts.get(action, 0) + n
        for mem, acts in per_mem.items():
            op_energy[i] += sum(memory_energy_pj(arch, mem, acts).values())

    leakage_mw = sum(m.leakage_mw * arch.instances(n) for n, m in arch.memories.items()) + sum(
        len(arch.chunks.holders(n)) * u.leakage_mw for n, u in arch.chunks.units.items())
    ops = []
    costs = OpCosts(arch, plan, rec, op_actions, regfiles, energies)
    for op in plan.ops:
        start = min((rec.tile_start[t] for t in op.tiles), default=0)
        end = max((rec.tile_done[t] for t in op.tiles), default=0)
        ops.append({
            "name": op.name, "kind": op.kind, "fn": op.fn, "unit": op.unit, "group": op.group,
            "layer": op.layer, "start_cycle": start, "end_cycle": end,
            "compute_cycles": sum(plan.tiles[t].cycles for t in op.tiles), "macs": op.macs,
            "energy_pj": round(op_energy[op.index], 3),
            "chunks": len({plan.tiles[t].unit for t in op.tiles}),
            "output_in_sram": not op.spilled,
            **op_fields(arch, plan, costs, op.index, start, end),
        })
    attn_cycles, attn_exposed, attn_ops = attention_span(ops)
    attn_energy = sum(o["energy_pj"] for o in attn_ops) + leakage_mw * (
        attn_cycles / clock * PJ_PER_MW_US)
    components = {u: _state(r.busy_cycles, dict(r.stalls), makespan)
                  for u, r in sorted(rec.units.items())}
    unit_macs: dict[str, int] = {}
    for t in plan.tiles:
        unit_macs[t.unit] = unit_macs.get(t.unit, 0) + t.macs
    for u, c in components.items():
        unit = arch.chunks.units[u.split(".", 1)[1]]
        if isinstance(unit, SystolicArray):  # MACs / (PEs x makespan), beside busy time
            c["mac_utilization"] = (round(unit_macs.get(u, 0) / (unit.pes * makespan), 6)
                                    if makespan else 0.0)
    components |= {s: _state(r.busy_cycles, dict(r.stalls), makespan)
                   for s, r in sorted(rec.servers.items())}
    breakdown = {c: round(sum(v.values()), 3) for c, v in sorted(detail.items())}
    dram_bytes = sum(
        acts.get("read_bytes", 0) + acts.get("write_bytes", 0)
        for name, acts in rec.actions.items() if arch.memories[name].type == "dram")
    meta = graph.meta
    traffic = {m: {a: dict(sorted(r.items())) for a, r in sorted(acts.items())}
               for m, acts in sorted((rec.traffic | {
                   rf: {"read_bytes": {"psum": n}, "write_bytes": {"psum": n}}
                   for rf, n in rf_psum.items()}).items())}
    macs = sum(t.macs for t in plan.tiles)
    pes = arch.pes
    return {
        "format": FORMAT,
        "arch": arch.name,
        "workload": meta.get("model", "graph"),
        "attention": meta.get("attention"),
        "clock_mhz": clock,
        "cycles": makespan,
        "latency_ms": round(makespan / clock / 1e3, 9),
        "macs": macs,
        "dram_bytes": dram_bytes,
        "energy_pj": round(sum(breakdown.values()), 3),
        "energy_breakdown_pj": breakdown,
        "energy_detail_pj": {c: {a: round(v, 3) for a, v in sorted(d.items())}
                             for c, d in sorted(detail.items())},
        "attention_cycles": attn_cycles,
        "attention_exposed_cycles": attn_exposed,
        "attention_energy_pj": round(attn_energy, 3),
        "pes": arch.pes,
        "components": components,
        "sram_peak_bytes": {k: max(v for _, v in series)
                            for k, series in sorted(rec.sram_occupancy.items())},
        "sram_capacity_bytes": dict(sorted(rec.sram_capacity.items())),
        "memory_traffic": traffic,
        "memory_levels": memory_levels(arch, rec, traffic, costs),
        "mac_utilization": (round(macs / (pes * makespan), 6) if pes and makespan else None),
        "ops": ops,
        "layers": layer_table(ops, pes),
        "critical_path": summarize(plan, critical_path(arch, plan, rec)),
        **unit_usage(arch, plan, graph),
        "sim": {"events": rec.events, "tiles": len(plan.tiles), "ops": len(plan.ops),
                "folded_views": plan.folded_views, "wall_s": round(wall_s, 4),
                "version": __version__},
    }


def attention_span(ops: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
    """Attention time, summed over layers, two ways.

    ``cycles`` (the DESIGN contract): from the first attention op's start to the last one's
    end. With the intra-layer pipeline, attention ops that stream (the column sums of Taylor
    attention) start while the QKV projection still runs, so this span includes projection
    time. ``exposed``: from the end of the QKV projection (or the first attention op's start,
    if later) to the last attention op's end: the time attention adds after the projection.
    Returns (cycles, exposed, attention ops)."""
    by_layer: dict[Any, list[int]] = {}
    for i, o in enumerate(ops):
        if o["group"] == "attention":
            by_layer.setdefault(o["layer"], []).append(i)
    total = exposed = 0
    for layer, idx in by_layer.items():
        group = [ops[i] for i in idx]
        start = min(o["start_cycle"] for o in group)
        end = max(o["end_cycle"] for o in group)
        qkv_end = max((o["end_cycle"] for o in ops[: idx[0]]
                       if o["layer"] == layer and o["group"] == "projection"), default=start)
        total += end - start
        exposed += max(0, end - max(start, qkv_end))
    return total, exposed, [ops[i] for idx in by_layer.values() for i in idx]


def unit_usage(arch: Architecture, plan: Plan, graph: OpGraph) -> dict[str, Any]:
    """Which unit ran how many ops (``ops_per_unit``, every declared compute unit listed, so an
    idle one shows 0), which ops a unit ran only through its class default
    (``class_default_ops`` {unit: {fn: ops}}: e.g. softmax on vitality's general post unit),
    and the ops the tracer could not classify (``unknown_ops`` {aten op: count})."""
    per_unit = {n: 0 for n, u in arch.chunks.units.items()
                if isinstance(u, SystolicArray | VectorArray)}
    by_class: dict[str, dict[str, int]] = {}
    for op in plan.ops:
        per_unit[op.unit] = per_unit.get(op.unit, 0) + 1
        unit = arch.chunks.units[op.unit]
        if isinstance(unit, VectorArray) and unit.by_class(op.fn):
            slot = by_class.setdefault(op.unit, {})
            slot[op.fn] = slot.get(op.fn, 0) + 1
    return {"ops_per_unit": per_unit,
            "class_default_ops": {u: dict(sorted(f.items())) for u, f in sorted(by_class.items())},
            "unknown_ops": dict(sorted((graph.meta.get("unknown_ops") or {}).items()))}
