"""Which memories each kind of transfer of a unit crosses (the engine's routes start here)."""

from __future__ import annotations

from arch.graph import build_graph, path_from_dram, sram_for
from arch.schema import Architecture

from .plan import Plan


def transfer_paths(arch: Architecture, plan: Plan) -> dict[str, dict[str, list[str]]]:
    """Per unit name (that has tiles), per kind of transfer, the memory components its data
    crosses in order (``arch.graph`` picks the SRAM of each operand role)."""
    g = plan.graph if plan.graph is not None else build_graph(arch, 1)
    mems = arch.memories

    def memories(path: list[str]) -> list[str]:
        return [n for n in path if n in mems]

    paths: dict[str, dict[str, list[str]]] = {}
    for uname in arch.chunks.units:
        inst = f"chunk0.{uname}"
        if not any(plan.queues.get(f"chunk{c}.{uname}")
                   for c in range(arch.chunks.count)):
            continue
        full = {role: memories(path_from_dram(g, inst, role))
                for role in ("input", "weight", "output")}
        sram = {role: sram_for(g, inst, role) for role in full}
        psum_sram = plan.regions.sram[uname, "psum"]
        psum_path = memories(path_from_dram(g, inst, "output"))
        if psum_sram not in mems:  # a register file of the chunk: no transfer
            psum_tail = []
        elif psum_sram in psum_path:
            psum_tail = psum_path[psum_path.index(psum_sram):]
        else:  # a dedicated psum SRAM: its own path to the unit
            psum_tail = [psum_sram] + [m for m in psum_path if mems[m].type == "noc"]

        def tail(role: str) -> list[str]:
            return full[role][full[role].index(sram[role]):]  # noqa: B023

        paths[uname] = {
            "dram_in": full["input"],
            "reread": tail("input"),
            "weight": tail("weight"),
            "sram_in": tail("output"),
            "out": tail("output")[::-1],
            "spill": full["output"][::-1],
            "dma": full["weight"][: full["weight"].index(sram["weight"]) + 1],
            "psum": psum_tail,
            # partial sums of a split reduction spilled to DRAM and read back
            "partial_out": full["output"][::-1],
            "partial_in": full["input"],
        }
    return paths
