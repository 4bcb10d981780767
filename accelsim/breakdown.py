"""Per-op, per-layer and per-memory-level tables of a run, from what the engine recorded.

Everything here is derived from typed records only: the ``Plan`` (tiles and their bytes), the
``RunRecord`` (tile timing, unit ``Recorder`` stalls per op, server bytes per op and per
window) and the per-op action counts the engine kept (``Engine.op_actions``). So the tables add
up to the summary's totals by construction:

* traffic: an op's ``traffic`` {level: {action: {role: count}}} summed over ops is
  ``memory_traffic`` exactly (integers);
* energy: an op's ``compute_energy_pj`` plus its ``energy_by_level_pj`` {level: {role: pJ}}
  is its ``energy_pj``; summed over ops, a level's energy is that component's dynamic energy
  in ``energy_detail_pj`` (everything but leakage);
* stalls: an op's ``stalls`` {cause: cycles} summed over ops are the units' stalls.

A *level* is a memory of the architecture (DRAM, an SRAM, the NoC) or a register file of the
chunks. Roles are the operand roles ``input``, ``weight``, ``output``, ``psum``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from arch.schema import Architecture, RegisterFile, SystolicArray

from .components import BANDWIDTH_WINDOW_CYCLES, STALL_CAUSES
from .engine import ROLE_OF, Actions, RunRecord
from .plan import Plan, Tile

ROLES = ("input", "weight", "output", "psum")

#: level -> action -> role -> count
Traffic = dict[str, dict[str, dict[str, int]]]


def tile_regfile_bytes(t: Tile) -> dict[str, tuple[int, int]]:
    """Bytes of a tile entering (in) and leaving (out) its unit's register files, by role."""
    weight_in = t.weight_in_bytes + sum(n for k, n in t.shared_in if ROLE_OF[k] == "weight")
    return {"input": (t.in_bytes - weight_in, 0), "weight": (weight_in, 0),
            "output": (0, t.out_bytes)}


def _nested_add(into: Traffic, level: str, action: str, role: str, n: int) -> None:
    slot = into.setdefault(level, {}).setdefault(action, {})
    slot[role] = slot.get(role, 0) + n


def _sorted_traffic(t: Traffic) -> Traffic:
    return {lv: {a: {r: acts[a][r] for r in ROLES if r in acts[a]} for a in sorted(acts)}
            for lv, acts in sorted(t.items())}


class OpCosts:
    """Per op: traffic, energy by level and role, compute energy, stalls, port bytes."""

    def __init__(self, arch: Architecture, plan: Plan, rec: RunRecord,
                 op_actions: list[Actions], regfiles: dict[str, list[str]],
                 energies: list[tuple[str, float]] | None = None) -> None:
        """``energies``: every tile's compute energy (``result.tile_energies``), when the
        caller has it already."""
        from .result import memory_energy_pj, regfile_energy_pj, tile_energies

        n = len(plan.ops)
        self.traffic: list[Traffic] = [{} for _ in range(n)]
        self.energy: list[dict[str, dict[str, float]]] = [{} for _ in range(n)]
        self.compute_pj = [0.0] * n
        for i, per_op in enumerate(op_actions):
            for (mem, action, role), count in sorted(per_op.items()):
                _nested_add(self.traffic[i], mem, action, role, count)
        # register-file bytes per (op, register file, role), priced once per op (linear)
        rf_bytes: dict[tuple[int, str, str], list[int]] = {}
        if energies is None:
            energies = tile_energies(arch, plan)
        # operand bytes by role entering (and results leaving) each op's units, summed over
        # its tiles first: they cross every register file on the unit's paths
        op_moved: list[dict[str, list[int]]] = [{} for _ in range(n)]
        for t, (_, pj) in zip(plan.tiles, energies, strict=True):
            self.compute_pj[t.op] += pj
            if regfiles[plan.ops[t.op].unit]:
                moved = op_moved[t.op]
                for role, (nin, nout) in tile_regfile_bytes(t).items():
                    if nin or nout:
                        both = moved.setdefault(role, [0, 0])
                        both[0] += nin
                        both[1] += nout
            if not t.psum_bytes:
                continue
            psum_rf = plan.regions.region.get((plan.ops[t.op].unit, "psum"))
            if psum_rf in plan.regions.regfiles:
                for action in ("read_bytes", "write_bytes"):
                    _nested_add(self.traffic[t.op], psum_rf, action, "psum", t.psum_bytes)
                rf_bytes.setdefault((t.op, psum_rf, "psum"), [0, 0])[0] += t.psum_bytes
        for op_index, moved in enumerate(op_moved):
            for rf_name in regfiles[plan.ops[op_index].unit]:
                for role, (nin, nout) in moved.items():
                    both = rf_bytes.setdefault((op_index, rf_name, role), [0, 0])
                    both[0] += nin
                    both[1] += nout
        for (op, rf_name, role), (nin, nout) in sorted(rf_bytes.items()):
            rf = arch.chunks.units[rf_name]
            assert isinstance(rf, RegisterFile)
            per_role = self.energy[op].setdefault(rf_name, {})
            per_role[role] = per_role.get(role, 0.0) + sum(
                regfile_energy_pj(rf, nin, nout).values())
        for i in range(n):
            for mem, acts in self.traffic[i].items():
                if mem not in arch.memories:
                    continue
                slot = self.energy[i].setdefault(mem, {})
                for role in ROLES:
                    counts = {a: by_role[role] for a, by_role in acts.items() if role in by_role}
                    if counts:
                        pj = sum(memory_energy_pj(arch, mem, counts).values())
                        slot[role] = slot.get(role, 0.0) + pj
        self.stalls: list[dict[str, int]] = [defaultdict(int) for _ in range(n)]
        for r in rec.units.values():
            for (op, cause), cycles in r.op_stalls.items():
                self.stalls[op][cause] += cycles
        #: per op, bytes crossing each memory's ports (all its servers)
        self.port_bytes: list[dict[str, int]] = [defaultdict(int) for _ in range(n)]
        for s in rec.servers.values():
            for op, nbytes in s.op_bytes.items():
                if op >= 0:
                    self.port_bytes[op][s.kind] += nbytes


def _stall_dict(stalls: dict[str, int]) -> dict[str, int]:
    return {c: stalls.get(c, 0) for c in STALL_CAUSES}


def _mac_util(macs: int, pes: int, cycles: int) -> float | None:
    return round(macs / (pes * cycles), 6) if pes and cycles else None


def _round_energy(e: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {lv: {r: round(by[r], 3) for r in ROLES if r in by} for lv, by in sorted(e.items())}


def _bandwidth(port_bytes: dict[str, int], cycles: int) -> dict[str, float]:
    return {m: round(b / cycles, 6) if cycles else 0.0 for m, b in sorted(port_bytes.items())}


def op_fields(arch: Architecture, plan: Plan, costs: OpCosts, i: int, start: int,
              end: int) -> dict[str, Any]:
    """The table fields an op entry of the summary gets beside the contract's."""
    op = plan.ops[i]
    unit = arch.chunks.units[op.unit]
    cycles = end - start
    instances = len({plan.tiles[t].unit for t in op.tiles})
    pes = unit.pes * instances if isinstance(unit, SystolicArray) else 0
    return {
        "cycles": cycles,
        "stalls": _stall_dict(costs.stalls[i]),
        "mac_utilization": _mac_util(op.macs, pes, cycles),
        "compute_energy_pj": round(costs.compute_pj[i], 3),
        "traffic": _sorted_traffic(costs.traffic[i]),
        "energy_by_level_pj": _round_energy(costs.energy[i]),
        "port_bytes": dict(sorted(costs.port_bytes[i].items())),
        "bandwidth_bytes_per_cycle": _bandwidth(costs.port_bytes[i], cycles),
    }


def layer_table(ops: list[dict[str, Any]], pes: int) -> list[dict[str, Any]]:
    """Ops grouped by ``layer`` (in order of each layer's first op; ``None`` for ops outside
    any layer): the same fields summed, the span from its first start to its last end, and
    MAC utilization of the whole chip's PEs over that span."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for o in ops:
        groups.setdefault(o["layer"], []).append(o)
    out = []
    for layer, group in groups.items():
        start = min(o["start_cycle"] for o in group)
        end = max(o["end_cycle"] for o in group)
        traffic: Traffic = {}
        energy: dict[str, dict[str, float]] = {}
        port: dict[str, int] = defaultdict(int)
        stalls: dict[str, int] = defaultdict(int)
        for o in group:
            for lv, acts in o["traffic"].items():
                for a, by_role in acts.items():
                    for r, n in by_role.items():
                        _nested_add(traffic, lv, a, r, n)
            for lv, by_role in o["energy_by_level_pj"].items():
                slot = energy.setdefault(lv, {})
                for r, pj in by_role.items():
                    slot[r] = slot.get(r, 0.0) + pj
            for m, b in o["port_bytes"].items():
                port[m] += b
            for c, n in o["stalls"].items():
                stalls[c] += n
        macs = sum(o["macs"] for o in group)
        out.append({
            "layer": layer, "ops": len(group), "start_cycle": start, "end_cycle": end,
            "cycles": end - start, "compute_cycles": sum(o["compute_cycles"] for o in group),
            "stalls": _stall_dict(stalls), "macs": macs,
            "mac_utilization": _mac_util(macs, pes, end - start),
            "energy_pj": round(sum(o["energy_pj"] for o in group), 3),
            "compute_energy_pj": round(sum(o["compute_energy_pj"] for o in group), 3),
            "traffic": _sorted_traffic(traffic), "energy_by_level_pj": _round_energy(energy),
            "port_bytes": dict(sorted(port.items())),
            "bandwidth_bytes_per_cycle": _bandwidth(port, end - start),
        })
    return out


def memory_levels(arch: Architecture, rec: RunRecord, traffic: Traffic,
                  costs: OpCosts) -> dict[str, dict[str, Any]]:
    """Per level: its type, traffic by action and role (``memory_traffic``), dynamic energy by
    role, and for memories the bytes through its ports with their average over the run and
    peak over ``BANDWIDTH_WINDOW_CYCLES`` windows (bytes/cycle and GB/s)."""
    makespan = rec.makespan
    energy: dict[str, dict[str, float]] = {}
    for per_op in costs.energy:
        for lv, by_role in per_op.items():
            slot = energy.setdefault(lv, {})
            for r, pj in by_role.items():
                slot[r] = slot.get(r, 0.0) + pj
    servers: dict[str, list] = defaultdict(list)
    for s in rec.servers.values():
        servers[s.kind].append(s)
    gbps = arch.clock_mhz * 1e6 / 1e9  # bytes/cycle -> GB/s
    out: dict[str, dict[str, Any]] = {}
    for lv in sorted(set(traffic) | set(energy)):
        entry: dict[str, Any] = {
            "type": arch.memories[lv].type if lv in arch.memories else "regfile",
            "traffic": _sorted_traffic({lv: traffic.get(lv, {})}).get(lv, {}),
            "energy_pj": {r: round(energy.get(lv, {})[r], 3) for r in ROLES
                          if r in energy.get(lv, {})},
        }
        if lv in servers:
            moved = sum(s.moved_bytes for s in servers[lv])
            windows = _summed_windows(servers[lv], makespan)
            peak = max((b / max(1, min(BANDWIDTH_WINDOW_CYCLES,
                                       makespan - k * BANDWIDTH_WINDOW_CYCLES))
                        for k, b in windows.items()), default=0.0)
            avg = moved / makespan if makespan else 0.0
            entry |= {
                "port_bytes": moved,
                "avg_bandwidth_bytes_per_cycle": round(avg, 6),
                "peak_bandwidth_bytes_per_cycle": round(peak, 6),
                "avg_bandwidth_gbps": round(avg * gbps, 6),
                "peak_bandwidth_gbps": round(peak * gbps, 6),
                "bandwidth_window_cycles": BANDWIDTH_WINDOW_CYCLES,
            }
        out[lv] = entry
    return out


def _summed_windows(servers: list, makespan: int) -> dict[int, float]:
    """Bytes per window summed over ``servers``, at every window where the sum can change
    and at the run's last window (between them it stays as it was): partial windows plus the
    running sum of the whole-window steps (``Server.window_steps``)."""
    partial: dict[int, float] = defaultdict(float)
    steps: dict[int, float] = defaultdict(float)
    for s in servers:
        for k, b in s.window_bytes.items():
            partial[k] += b
        for k, b in s.window_steps.items():
            steps[k] += b
    last = max(0, makespan - 1) // BANDWIDTH_WINDOW_CYCLES
    out: dict[int, float] = {}
    running = 0.0
    for k in sorted(set(partial) | set(steps) | {last}):
        running += steps.get(k, 0.0)
        out[k] = partial.get(k, 0.0) + running
    return out
