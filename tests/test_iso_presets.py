"""The like-for-like presets (issue 15): `systolic_iso` and `sanger_iso` have vitality's budget,
read from the loaded architectures, and differ from today's presets only where documented."""

from __future__ import annotations

import pytest

import arch
from arch.schema import RegisterFile, SystolicArray, VectorArray

ISO = ("vitality", "systolic_iso", "sanger_iso")


def _budget(a: arch.Architecture) -> dict:
    units = list(a.chunks.units.values())
    return {
        "pes": a.pes,
        "chunks": a.chunks.count,
        "clock_mhz": a.clock_mhz,
        "precision": a.precision,
        "memories": a.memories,  # DRAM, SRAMs and NoC: capacities, bandwidths, energies, leakage
        "sram_kib": {n: m.capacity_kib for n, m in a.memories.items() if m.type == "sram"},
        "dram_gbps": {n: m.bandwidth_gbps for n, m in a.memories.items() if m.type == "dram"},
        "rf_bytes": sum(u.capacity_bytes for u in units if isinstance(u, RegisterFile)),
        "rf_energy": {(u.read_energy_pj_per_byte, u.write_energy_pj_per_byte)
                      for u in units if isinstance(u, RegisterFile)},
        "lanes": sum(u.lanes for u in units if isinstance(u, VectorArray)),
        "connections_to_chunk": sorted((c.src, c.dst) for c in a.connections
                                       if not c.src.startswith("chunk.")),
    }


def test_iso_presets_share_vitalitys_budget():
    budgets = {p: _budget(arch.load(p)) for p in ISO}
    for p in ISO[1:]:
        for key, value in budgets["vitality"].items():
            assert budgets[p][key] == value, (p, key)


def _fn_energies(a: arch.Architecture) -> dict[str, set[float]]:
    """``{function: energies of the vector units that name it}`` (class defaults apart)."""
    out: dict[str, set[float]] = {}
    for u in a.chunks.units.values():
        if isinstance(u, VectorArray):
            for fn, cost in u.fns.items():
                if not u.by_class(fn):
                    out.setdefault(fn, set()).add(cost.energy_pj)
    return out


def _class_energies(a: arch.Architecture) -> set[tuple[str, float]]:
    return {(cls, cost.energy_pj) for u in a.chunks.units.values()
            if isinstance(u, VectorArray) for cls, cost in u.classes.items()}


@pytest.mark.parametrize("preset", ISO[1:])
def test_iso_presets_share_vitalitys_energy_table(preset):
    base, other = arch.load("vitality"), arch.load(preset)
    mine, theirs = _fn_energies(base), _fn_energies(other)
    shared = mine.keys() & theirs.keys()
    assert {"add", "layernorm", "gelu"} <= shared
    assert {fn: theirs[fn] for fn in shared} == {fn: mine[fn] for fn in shared}
    assert _class_energies(other) == _class_energies(base)
    # every dense 8-bit array costs vitality's MAC; only sparse-capable arrays may add to it
    mac = {u.mac_energy_pj for u in base.chunks.units.values() if isinstance(u, SystolicArray)}
    for u in other.chunks.units.values():
        if isinstance(u, SystolicArray) and u.operand_bits is None:
            if "sparse_matmul" in u.fns:
                assert u.mac_energy_pj >= min(mac)
            else:
                assert {u.mac_energy_pj} == mac


def _facts(a: arch.Architecture) -> dict:
    """The architecture's data without its prose (name, descriptions, sources)."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in ("description", "sources")}
        return [strip(v) for v in x] if isinstance(x, list) else x
    return {k: v for k, v in strip(a.model_dump()).items() if k != "name"}


@pytest.mark.parametrize(("iso", "today", "changes"), [
    ("systolic_iso", "systolic", ["chunks.units.rf.capacity_bytes=28080"]),
    ("sanger_iso", "sanger", ["chunks.units.rf.capacity_bytes=28080",
                              "chunks.units.sa_sparse.dataflow=ws",
                              "chunks.units.sa_predict.dataflow=ws"]),
])
def test_iso_presets_are_todays_presets_with_the_documented_changes(iso, today, changes):
    """Today's presets stay as they were; the like-for-like ones differ only by ``changes``
    (and their names, descriptions and sources)."""
    got = arch.load(iso)
    assert _facts(got) == _facts(arch.load(today, changes))
    assert got.name == iso
    assert arch.native_attention(got) == arch.native_attention(arch.load(today))


def test_like_for_like_section_states_the_measured_direction():
    """docs/validation.md's like-for-like subsection: its ratios are the simulated ones and
    its sentences say whichever way they fall."""
    from accelsim.api import simulate
    from validation.paper import run_compare
    from validation.paper_iso import iso_subsection
    from workloads import resolve

    def summary(p: str) -> dict:
        a = arch.load(p)
        return simulate(a, resolve("deit_tiny", attention=arch.native_attention(a)),
                        keep_intervals=False).summary

    body, data = iso_subsection("deit_tiny", "DeiT-T", run_compare("deit_tiny"))
    v = summary("vitality")
    for b in ISO[1:]:
        s = summary(b)
        for key in ("cycles", "attention_exposed_cycles"):
            assert data["ratios"][b][key] == pytest.approx(s[key] / v[key])
        r = s["cycles"] / v["cycles"]
        word = "faster" if r > 1 else "slower"
        assert f"**vs `{b}`:** end to end, vitality is {max(r, 1 / r):.2f}x {word}" in body
        assert f"| {b} | {data['runs'][b]['attention']} | {s['cycles']:,} |" in body
