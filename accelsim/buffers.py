"""Buffer regions: which byte budget (``Pool``) each operand role of each unit draws from.

Every SRAM is one region, except one that stages weights *and* activations, which is split
into a weight region (``mapping.weight_buffer_fraction`` of it) and an activation region (the
rest), named ``<sram>.weight`` and ``<sram>.act``. A unit's role goes to the region of the SRAM
``arch.graph.sram_for`` picks for it. Partial sums go, in this order of preference, to a
register file of the unit's chunk on its data path that ``holds: [psum]`` (a *local* region:
one pool per chunk, ``chunk<i>.<rf>``), to the SRAM holding ``psum``, or to the unit's output
SRAM. A chunk-local SRAM (``local: true``) is local too: each chunk draws on its own copy's
capacity (``chunk<i>.<sram>``, or ``chunk<i>.<sram>.weight`` / ``.act`` when split).

Outputs have two levels: the unit's output SRAM, and above it, when the output path crosses
another shared SRAM holding ``output`` (an L2), that one's region (``Regions.far``), which
keeps what does not fit the near one instead of DRAM. Both the mapper (which plans residency
against these budgets) and the engine (which enforces them while the run goes) use this one
table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arch.errors import ConfigError
from arch.graph import Graph, path_from_dram, sram_for
from arch.schema import Architecture, RegisterFile, Sram

ACT_ROLES = ("input", "output", "psum")


@dataclass(frozen=True)
class Regions:
    """Region capacities and, per unit name and role, the region and SRAM it uses."""

    capacity: dict[str, int]  # region -> bytes (a local region: per chunk)
    region: dict[tuple[str, str], str]  # (unit name, role) -> region
    sram: dict[tuple[str, str], str]  # (unit name, role) -> SRAM (or local register file) name
    local: frozenset[str] = frozenset()  # regions with one pool per chunk
    #: local regions that are a chunk's register file (partial sums only, no transfers)
    regfiles: frozenset[str] = frozenset()
    #: unit name -> (SRAM, region) of its *far* output level: the next SRAM holding outputs
    #: above its output SRAM on the way to DRAM (an L2), which keeps the outputs that do not
    #: fit the near one; units without one spill those to DRAM
    far: dict[str, tuple[str, str]] = field(default_factory=dict)

    def pool(self, region: str, chunk: int) -> str:
        """The pool name of ``region`` for a tile of ``chunk``."""
        return f"chunk{chunk}.{region}" if region in self.local else region


def _split(mem: Sram) -> bool:
    return "weight" in mem.holds and any(r in mem.holds for r in ACT_ROLES)


def regions(arch: Architecture, g: Graph, units: list[str]) -> Regions:
    """The regions of ``arch`` and the one each (unit, role) of ``units`` draws from."""
    frac = arch.mapping.weight_buffer_fraction
    capacity: dict[str, int] = {}
    local: set[str] = set()
    for name, mem in arch.memories.items():
        if not isinstance(mem, Sram):
            continue
        if _split(mem):
            parts = {f"{name}.weight": int(mem.capacity_bytes * frac),
                     f"{name}.act": mem.capacity_bytes - int(mem.capacity_bytes * frac)}
        else:
            parts = {name: mem.capacity_bytes}
        capacity.update(parts)
        if mem.local:
            local.update(parts)
    region: dict[tuple[str, str], str] = {}
    srams: dict[tuple[str, str], str] = {}
    rf_regions: set[str] = set()
    far: dict[str, tuple[str, str]] = {}
    for unit in units:
        inst = f"chunk0.{unit}"
        out_path = path_from_dram(g, inst, "output")
        rfs = [n.split(".", 1)[1] for n in out_path
               if n.startswith("chunk0.")
               and isinstance(arch.chunks.units.get(n.split(".", 1)[1]), RegisterFile)]
        rf = next((r for r in rfs if "psum" in arch.chunks.units[r].holds), None)  # type: ignore[union-attr]
        if rf is not None:
            spec = arch.chunks.units[rf]
            assert isinstance(spec, RegisterFile)
            capacity[rf] = spec.capacity_bytes
            local.add(rf)
            rf_regions.add(rf)
            region[unit, "psum"] = srams[unit, "psum"] = rf
        for role in ("input", "weight", "output", "psum"):
            if (unit, role) in region:
                continue
            try:
                sram = sram_for(g, inst, role)
            except ConfigError:  # no SRAM lists psum: the output SRAM holds the partial sums
                if role != "psum":
                    raise
                sram = sram_for(g, inst, "output")
            srams[unit, role] = sram
            region[unit, role] = _region_of(arch, sram, role)
        up = [n for n in out_path if n in arch.memories]
        near = up.index(srams[unit, "output"])
        above = [n for n in up[:near] if isinstance(m := arch.memories[n], Sram)
                 and "output" in m.holds and not m.local]
        if above:
            far[unit] = (above[-1], _region_of(arch, above[-1], "output"))
    return Regions(capacity, region, srams, frozenset(local), frozenset(rf_regions), far)


def _region_of(arch: Architecture, sram: str, role: str) -> str:
    mem = arch.memories[sram]
    assert isinstance(mem, Sram)
    if _split(mem):
        return f"{sram}.{'weight' if role == 'weight' else 'act'}"
    return sram
