"""Which memories each kind of transfer of a unit crosses, and what a byte along such a route
does at each (the engine's routes)."""

from __future__ import annotations

from arch.graph import component_graph, path_from_dram, sram_for
from arch.schema import Architecture

from .components import MemoryModel, Port
from .plan import Plan, Tile

#: Operand role of the bytes each path kind moves (for traffic per role).
ROLE_OF = {"dram_in": "input", "far_in": "input", "reread": "input", "sram_in": "input",
           "weight": "weight", "dma": "weight", "out": "output", "far_out": "output",
           "spill": "output", "psum": "psum", "partial_in": "psum", "partial_out": "psum"}
#: What a transfer of each path kind is for (``Interval.what`` on memories).
WHAT_OF = {"dram_in": "input", "far_in": "input", "reread": "input", "sram_in": "input",
           "weight": "input", "dma": "dma", "out": "output", "far_out": "spill",
           "spill": "spill", "psum": "psum", "partial_in": "psum", "partial_out": "spill"}
#: The actions one byte along a route performs: ((memory, action, role), count) pairs.
RouteActions = list[tuple[tuple[str, str, str], int]]


def out_kind(t: Tile) -> str:
    """The path kind of a tile's result: to its output SRAM, the far level, or DRAM."""
    return "far_out" if t.out_far else "spill" if t.out_dram else "out"


def transfer_paths(arch: Architecture, plan: Plan) -> dict[str, dict[str, list[str]]]:
    """Per unit name (that has tiles), per kind of transfer, the memory components its data
    crosses in order (``arch.graph`` picks the SRAM of each operand role)."""
    g = plan.graph if plan.graph is not None else component_graph(arch, 1)
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

        far = plan.regions.far.get(uname)
        # outputs kept in the far level: written up to it, read from it down to the unit
        far_down = full["output"][full["output"].index(far[0]):] if far else []

        paths[uname] = {
            "dram_in": full["input"],
            "far_in": far_down,
            "far_out": far_down[::-1],
            "reread": tail("input"),
            "weight": tail("weight"),
            "sram_in": tail("output"),
            "out": tail("output")[::-1],
            "spill": full["output"][::-1],
            "dma": full["weight"][: full["weight"].index(sram["weight"]) + 1],
            "psum": psum_tail,
            # partial sums of a split reduction spilled to DRAM and read back the way they
            # went out (through the output SRAM, from the DRAM they were written to)
            "partial_out": full["output"][::-1],
            "partial_in": full["output"],
        }
    return paths


def route_of(memories: dict[str, MemoryModel], names: list[str], kind: str, chunk: int,
             fanout: list[int] | None) -> tuple[list[Port], RouteActions]:
    """The ports of a ``kind`` transfer of ``chunk`` across the memories ``names`` (a
    multicast to the chunks in ``fanout``), and the actions one byte along it performs."""
    role = ROLE_OF[kind]
    stages: list[Port] = []
    actions: RouteActions = []
    for n in names:
        model = memories[n]
        port = model.port(chunk, fanout)
        stages.append(port)
        spec = model.spec
        if spec.type == "dram":
            direction = "read" if kind in ("dram_in", "dma", "partial_in") else "write"
        elif kind == "psum":  # written out and read back: one pass each way
            direction = "round_trip"
        elif kind in ("sram_in", "weight", "reread", "far_in") and n == names[0]:
            direction = "read"  # data resident there
        elif kind in ("out", "dma", "far_out") and n == names[-1]:
            direction = "write"  # data lands there
        else:  # a stream passing through: written, then read
            direction = "through"
        copies = len(port.servers)
        passes = ("write", "read") if direction == "round_trip" else (direction,)
        for way in passes:
            for action, count in model.actions(spec, way, 1, copies):
                actions.append(((n, action, role), count))
    return stages, actions


def expand_route_bytes(route_bytes: list[dict[tuple, int]],
                       routes: dict[tuple, tuple[list[Port], RouteActions]],
                       op_actions: list[dict[tuple[str, str, str], int]]) -> None:
    """After a run, from the bytes each op moved per route (``route_bytes[op][key]``, the
    engine's ``_move`` keys): add every route's action counts to ``op_actions[op]`` (in the
    order routes were first used, so the tables add in the same order whatever the engine's
    bookkeeping), and its bytes to each server it crossed (``Server.op_bytes``,
    ``moved_bytes``; twice for partial sums, which cross their path out and back), which
    adds up to what the reservations moved without counting per reservation."""
    for op, (per_op, acts) in enumerate(zip(route_bytes, op_actions, strict=True)):
        for key, nbytes in per_op.items():
            ports, actions = routes[key]
            for akey, mult in actions:
                acts[akey] += nbytes * mult
            if key[1] == "psum":
                nbytes *= 2
            for port in ports:
                for server in port.servers:
                    server.op_bytes[op] += nbytes
                    server.moved_bytes += nbytes
