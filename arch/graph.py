"""The architecture as a graph of components, its validation, and the path helpers of the mapper.

Nodes are the memories by name (``dram``, ``sram_act``, ``noc`` ...) and one node per unit of
every chunk, ``chunk{i}.{unit}`` (``chunk0.sa_general``); a connection ``chunk.<unit>`` expands
to every chunk (``memory -> chunk.x`` to each chunk's ``x``, ``chunk.x -> chunk.y`` within each
chunk). Node attributes: ``component`` (the schema object), ``kind`` (its ``type``: dram, sram,
noc, regfile, systolic, vector), ``chunk`` (index or None) and ``unit`` (unit name or None).

``validate`` checks what the schema alone cannot: every connection names a known component,
there is at least one DRAM, connections run away from the DRAMs without cycles, every component
is reachable from one, and every compute unit has SRAMs upstream holding its inputs, weights and
outputs. Chunks are identical, so validation builds one chunk only and is independent of
``chunks.count``. Every failure is a ``GraphError`` (a ``ConfigError``) whose ``loc`` is the
field path of the culprit, which the loader turns into a YAML line.

``build_graph`` gives the graph as a ``networkx.DiGraph``; the loader, the mapper and the engine
use ``component_graph``, the same graph as plain dicts (``ComponentGraph``), so loading and
simulating never import networkx. The path helpers take either: they read only ``nodes``,
``succ``, ``pred`` and ``graph``, which both have, and search as networkx's
``shortest_path`` does (a bidirectional breadth-first search, so the same path on a tie).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from workloads.dag import is_acyclic

from .errors import ConfigError
from .schema import NAME_PATTERN, Architecture, Sram, SystolicArray, VectorArray

ROLES = ("input", "weight", "output")
COMPUTE_KINDS = ("systolic", "vector")
#: Systolic fns that may run on an array listing another fn instead (the mapper's fallback). A
#: sparse matmul on a dense array computes the whole product (dense cycles and MACs).
SYSTOLIC_FALLBACK = {"matvec": "matmul", "lowbit_matmul": "matmul", "sparse_matmul": "matmul"}
_NAME = re.compile(NAME_PATTERN)


class GraphError(ConfigError):
    """A structural error; ``loc`` is the field path of the culprit, ``problem`` the text."""

    def __init__(self, loc: tuple, problem: str) -> None:
        self.loc = tuple(loc)
        self.problem = problem
        path = ".".join(str(p) for p in self.loc)
        super().__init__(f"{path}: {problem}" if path else problem)


class ComponentGraph:
    """A directed graph as plain dicts, read the way ``networkx.DiGraph`` is: ``nodes`` (name ->
    attributes), ``succ`` / ``pred`` (name -> {neighbour: edge attributes}, in insertion order)
    and ``graph`` (graph attributes). Never changed after ``component_graph`` builds it."""

    __slots__ = ("_order", "graph", "nodes", "pred", "succ")

    def __init__(self, **attrs: Any) -> None:
        self.graph: dict[str, Any] = dict(attrs)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.succ: dict[str, dict[str, dict[str, Any]]] = {}
        self.pred: dict[str, dict[str, dict[str, Any]]] = {}
        self._order: list[tuple[str, str]] = []  # edges as first added (networkx's pred order)

    def add_node(self, name: str, **attrs: Any) -> None:
        if name not in self.nodes:
            self.nodes[name], self.succ[name], self.pred[name] = {}, {}, {}
        self.nodes[name].update(attrs)

    def add_edge(self, src: str, dst: str, **attrs: Any) -> None:
        for name in (src, dst):
            self.add_node(name)
        data = self.succ[src].get(dst)
        if data is None:  # one dict for both directions, as in networkx
            data = self.succ[src][dst] = self.pred[dst][src] = {}
            self._order.append((src, dst))
        data.update(attrs)

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def to_networkx(self) -> Any:
        """The same graph as a ``networkx.DiGraph`` (same node and edge order and attributes)."""
        import networkx as nx

        g = nx.DiGraph(**{k: v for k, v in self.graph.items() if not k.startswith("_")})
        for name, attrs in self.nodes.items():
            g.add_node(name, **attrs)
        for src, dst in self._order:  # in the order added, so pred keeps its order too
            g.add_edge(src, dst, **self.succ[src][dst])
        return g


#: What the path helpers accept: a ``ComponentGraph`` or a ``networkx.DiGraph`` of one.
Graph = Any


def _reach(adj: dict[str, dict[str, Any]], start: str) -> set[str]:
    """Nodes reachable from ``start`` along ``adj`` (``start`` excluded unless on a cycle)."""
    seen: set[str] = set()
    todo = list(adj[start])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(adj[n])
    return seen


# -- building --------------------------------------------------------------------------------
def _endpoint(arch: Architecture, name: str, loc: tuple) -> tuple[str, str | None]:
    """(memory name, None) or ("chunk", unit name) for a connection endpoint."""
    if name in arch.memories:
        return name, None
    prefix, dot, unit = name.partition(".")
    if prefix == "chunk" and dot and unit in arch.chunks.units:
        return "chunk", unit
    known = sorted(arch.memories) + [f"chunk.{u}" for u in arch.chunks.units]
    hint = ""
    if re.match(r"^chunk\d+\.", name):
        hint = " (write chunk.<unit>: connections apply to every chunk)"
    raise GraphError(loc, f"unknown component {name!r}{hint}; known: {', '.join(known)}")


def build_graph(arch: Architecture, chunks: int | None = None) -> Any:
    """``component_graph`` as a ``networkx.DiGraph`` (graph attribute ``arch``), for analyses."""
    return component_graph(arch, chunks).to_networkx()


def component_graph(arch: Architecture, chunks: int | None = None) -> ComponentGraph:
    """The component graph of ``arch`` with ``chunks`` chunk instances (default: all).

    The default graph has each unit in the chunks that hold it (``Chunks.holders``); with an
    explicit ``chunks`` every chunk holds every unit (the template validation and the paths
    use: paths are the same in every chunk that holds a unit).

    Raises ``GraphError`` for a connection naming an unknown component or a self-loop.
    """
    count = arch.chunks.count if chunks is None else chunks
    g = ComponentGraph(arch=arch.name)
    for name, mem in arch.memories.items():
        g.add_node(name, component=mem, kind=mem.type, chunk=None, unit=None)

    def held(uname: str, c: int) -> bool:  # template chunks (an explicit count) hold every unit
        return chunks is not None or c in arch.chunks.holders(uname)

    for c in range(count):
        for uname, unit in arch.chunks.units.items():
            if held(uname, c):
                g.add_node(f"chunk{c}.{uname}", component=unit, kind=unit.type, chunk=c,
                           unit=uname)
    for i, conn in enumerate(arch.connections):
        src, su = _endpoint(arch, conn.src, ("connections", i, "src"))
        dst, du = _endpoint(arch, conn.dst, ("connections", i, "dst"))
        if conn.src == conn.dst:
            raise GraphError(("connections", i), f"connects {conn.src!r} to itself")
        for c in range(count):
            if all(held(u, c) for u in (su, du) if u):
                g.add_edge(f"chunk{c}.{su}" if su else src, f"chunk{c}.{du}" if du else dst,
                           connection=i)
    return g


# -- validation ------------------------------------------------------------------------------
def _unit_loc(g: Graph, node: str) -> tuple:
    unit = g.nodes[node]["unit"]
    return ("chunks", "units", unit) if unit else ("memories", node)


def validate(arch: Architecture) -> ComponentGraph:
    """Check the structure of ``arch`` (see the module docstring); returns the one-chunk graph."""
    for name in arch.memories:
        if not _NAME.match(name) or name == "chunk":
            raise GraphError(("memories", name), "bad name: use letters, digits, _ or -, "
                             "starting with a letter, and not 'chunk'")
    for name in arch.chunks.units:
        if not _NAME.match(name):
            raise GraphError(("chunks", "units", name),
                             "bad name: use letters, digits, _ or -, starting with a letter")
    for name, unit in arch.chunks.units.items():
        held, count = getattr(unit, "chunks", None), arch.chunks.count
        if held is not None and (not held or len(set(held)) != len(held)
                                 or not all(0 <= c < count for c in held)):
            raise GraphError(("chunks", "units", name, "chunks"),
                             f"want distinct chunk indices in 0..{count - 1} (chunks.count is "
                             f"{count}), got {held}")
    drams = [n for n, m in arch.memories.items() if m.type == "dram"]
    if not drams:
        raise GraphError(("memories",), "no DRAM: at least one memory must have type: dram")
    for i, conn in enumerate(arch.connections):
        if conn.dst in drams:
            raise GraphError(("connections", i, "dst"),
                             f"the DRAM {conn.dst!r} cannot be a destination: connections run "
                             "from DRAM towards the units")
    g = component_graph(arch, chunks=1)
    if not is_acyclic(g.pred, g.succ):
        import networkx as nx  # only to name the cycle

        a, b = nx.find_cycle(g.to_networkx())[0][:2]
        raise GraphError(("connections", g.succ[a][b]["connection"]),
                         f"connections form a cycle through {a} -> {b}")
    _check_local(arch, g)
    _check_bindings(arch)
    for d in drams if len(drams) > 1 else ():
        if not g.succ[d]:
            raise GraphError(("memories", d), f"the DRAM {d!r} connects to nothing: connect it "
                             "to the SRAMs it feeds, or remove it")
    reachable = set(drams).union(*(_reach(g.succ, d) for d in drams))
    for node in g.nodes:
        if node not in reachable:
            where = f"the DRAM {drams[0]!r}" if len(drams) == 1 else "any DRAM"
            raise GraphError(_unit_loc(g, node),
                             f"not reachable from {where}: add a connection to it")
    for node, attrs in g.nodes.items():
        if attrs["kind"] not in COMPUTE_KINDS:
            continue
        held = {r for s in _srams_above(g, node) for r in g.nodes[s]["component"].holds}
        missing = [r for r in ROLES if r not in held]
        if missing:
            raise GraphError(_unit_loc(g, node),
                             f"no SRAM holding {', '.join(missing)} on any path from DRAM "
                             "(compute units need SRAMs for input, weight and output)")
    return g


def _check_bindings(arch: Architecture) -> None:
    """Each rule of ``mapping.bindings`` names a compute unit that can run what it selects: its
    ``fn`` (by name, a class default or the matmul fallback), or ops of its ``kind`` (matmul
    kinds on a systolic array, the others on a vector unit). A rule that could never be obeyed
    is an error at load time, not at the first op it matches."""
    units = arch.chunks.units
    compute = [n for n, u in units.items() if isinstance(u, SystolicArray | VectorArray)]
    for i, rule in enumerate(arch.mapping.bindings):
        loc = ("mapping", "bindings", i)
        unit = units.get(rule.unit)
        if not isinstance(unit, SystolicArray | VectorArray):
            what = "not a compute unit" if unit is not None else "not a unit of the chunks"
            raise GraphError((*loc, "unit"), f"{rule.unit!r} is {what}; compute units: "
                             f"{', '.join(compute)}")
        # ``fn`` also matches an op's IR function: ``matmul`` names every matrix product
        # (the mapper's matvec, lowbit_matmul, sparse_matmul), whatever the array lists
        if rule.fn is not None and rule.fn not in unit.fns and not (
                isinstance(unit, SystolicArray)
                and (SYSTOLIC_FALLBACK.get(rule.fn) in unit.fns or rule.fn == "matmul")):
            raise GraphError((*loc, "fn"), f"{rule.unit!r} does not run {rule.fn!r} (it runs "
                             f"{', '.join(unit.fns)})")
        if rule.kind is not None and rule.fn is None:
            matmul = rule.kind in ("matmul", "sparse_matmul")
            if matmul != isinstance(unit, SystolicArray):
                need = "a systolic array" if matmul else "a vector unit"
                raise GraphError((*loc, "kind"), f"{rule.kind} ops run on {need}, and "
                                 f"{rule.unit!r} is a {unit.type} unit")


def _check_local(arch: Architecture, g: ComponentGraph) -> None:
    """A chunk-local SRAM (``local: true``) serves only its own chunk: nothing shared by the
    chunks may sit below it, and it cannot keep resident outputs, which ops on other chunks
    read (they stay in a shared buffer)."""
    for name, mem in arch.memories.items():
        if not (isinstance(mem, Sram) and mem.local):
            continue
        if "output" in mem.holds:
            raise GraphError(("memories", name, "holds"),
                             "a chunk-local SRAM cannot hold 'output' (resident results are "
                             "read by other chunks): keep outputs in a shared SRAM")
        shared = sorted(d for d in _reach(g.succ, name) if d in arch.memories
                        and not (isinstance(arch.memories[d], Sram)
                                 and arch.memories[d].local))  # type: ignore[union-attr]
        if shared:
            raise GraphError(("memories", name, "local"),
                             f"a chunk-local SRAM serves only its chunk, but the shared "
                             f"{shared[0]!r} is connected below it: connect it between the "
                             "NoC and the chunk's units")


# -- path helpers for the mapper and the simulator -------------------------------------------
def _memo(g: Graph) -> dict:
    """Answers of the path queries below, kept on the graph object: a graph is never changed
    after ``component_graph``, and the mapper, the engine and the summary ask the same questions
    of it many times (path searches were half of simulating one small GEMM)."""
    return g.graph.setdefault("_paths", {})


def _srams_above(g: Graph, node: str) -> list[str]:
    memo = _memo(g)
    key = ("srams", node)
    if key not in memo:
        memo[key] = sorted(a for a in _reach(g.pred, node) if g.nodes[a]["kind"] == "sram")
    return list(memo[key])


def _instance(g: Graph, unit: str) -> str:
    """``chunk3.sa``, ``chunk.sa`` or ``sa`` -> the node name (chunk 0 when none is given)."""
    if unit in g:
        return unit
    name = re.sub(r"^chunk\d*\.", "", unit)
    if f"chunk0.{name}" in g:
        return f"chunk0.{name}"
    raise ConfigError(f"no component {unit!r} in architecture {g.graph.get('arch')!r}")


def dram_of(g: Graph, node: str | None = None) -> str:
    """The DRAM serving ``node``: the nearest one upstream of it (ties: by name); the first
    DRAM when ``node`` is None. A design may have several (SCALE-Sim's one interface per
    SRAM): each operand role uses the DRAM upstream of the SRAM that stages it."""
    drams = sorted(n for n, a in g.nodes.items() if a["kind"] == "dram")
    if node is None or len(drams) == 1:
        return drams[0]
    hops = [(len(p), d) for d in drams if (p := _shortest(g, d, node, node))]
    return min(hops)[1] if hops else drams[0]


def _shortest(g: Graph, a: str, b: str, target: str) -> list[str] | None:
    """Shortest a -> b path through memories and regfiles only (no other compute unit),
    falling back to any path."""
    memo = _memo(g)
    key = ("path", a, b, target)
    if key not in memo:
        memo[key] = _search(g, a, b, target)
    got = memo[key]
    return None if got is None else list(got)


def _search(g: Graph, a: str, b: str, target: str) -> list[str] | None:
    skip = {n for n, attrs in g.nodes.items() if attrs["kind"] in COMPUTE_KINDS and n != target}
    for ok in (lambda n: n not in skip, lambda n: True):
        path = _bidirectional(g, a, b, ok)
        if path is not None:
            return path
    return None


def _bidirectional(g: Graph, a: str, b: str, ok: Callable[[str], bool]) -> list[str] | None:
    """A shortest ``a`` -> ``b`` path through nodes with ``ok``, or None: breadth-first from
    both ends, the smaller fringe first, neighbours in insertion order (networkx's
    ``bidirectional_shortest_path``, so ties go the same way)."""
    if a not in g or b not in g or not (ok(a) and ok(b)):
        return None
    if a == b:
        return [a]
    pred: dict[str, str | None] = {a: None}
    succ: dict[str, str | None] = {b: None}
    forward, reverse = [a], [b]
    meet = None
    while forward and reverse and meet is None:
        if len(forward) <= len(reverse):
            level, forward = forward, []
            for v in level:
                for w in g.succ[v]:
                    if not ok(w):
                        continue
                    if w not in pred:
                        forward.append(w)
                        pred[w] = v
                    if w in succ:
                        meet = w
                        break
                if meet is not None:
                    break
        else:
            level, reverse = reverse, []
            for v in level:
                for w in g.pred[v]:
                    if not ok(w):
                        continue
                    if w not in succ:
                        succ[w] = v
                        reverse.append(w)
                    if w in pred:
                        meet = w
                        break
                if meet is not None:
                    break
    if meet is None:
        return None
    path: list[str] = []
    node: str | None = meet
    while node is not None:
        path.append(node)
        node = pred[node]
    path.reverse()
    node = succ[path[-1]]
    while node is not None:
        path.append(node)
        node = succ[node]
    return path


def path_from_dram(g: Graph, unit: str, role: str | None = None) -> list[str]:
    """Components from the DRAM to ``unit`` (e.g. ``[dram, sram_act, noc, chunk0.rf,
    chunk0.sa_general]``); with ``role``, the path through the SRAM ``sram_for`` picks."""
    node = _instance(g, unit)
    if role is None:
        dram = dram_of(g, node)
        path = _shortest(g, dram, node, node)
    else:
        sram = sram_for(g, node, role)
        dram = dram_of(g, sram)
        head, tail = _shortest(g, dram, sram, node), _shortest(g, sram, node, node)
        path = head + tail[1:] if head and tail else None
    if path is None:
        raise ConfigError(f"{unit}: no path from the DRAM {dram!r}")
    return path


def sram_for(arch_or_graph: Architecture | Graph, unit: str, role: str) -> str:
    """The SRAM staging ``role`` (input / weight / output, or psum: the partial sums of folded
    reductions) for ``unit``: among the SRAMs upstream of it holding that role, the nearest
    one (ties: the one holding fewest roles, then by name)."""
    if role not in (*ROLES, "psum"):
        raise ConfigError(f"unknown operand role {role!r}; roles: {', '.join(ROLES)}, psum")
    g = (component_graph(arch_or_graph, 1) if isinstance(arch_or_graph, Architecture)
         else arch_or_graph)
    node = _instance(g, unit)
    best: tuple[int, int, str] | None = None
    for s in _srams_above(g, node):
        mem: Sram = g.nodes[s]["component"]
        if role in mem.holds:
            key = (len(_shortest(g, s, node, node) or ()), len(mem.holds), s)
            best = min(best, key) if best else key
    if best is None:
        raise ConfigError(f"{unit}: no SRAM holding {role!r} upstream")
    return best[2]


# -- which units run which op functions ------------------------------------------------------
def units_for(arch: Architecture, fn: str, *, by_name: bool = False) -> list[str]:
    """Unit names able to run ``fn``, in preference order (direct, then the fallback array);
    ``by_name``: only units that declare ``fn`` itself (not through a class default)."""
    direct = [n for n, u in arch.chunks.units.items()
              if isinstance(u, (SystolicArray, VectorArray)) and fn in u.fns
              and not (by_name and isinstance(u, VectorArray) and u.by_class(fn))]
    if direct or fn not in SYSTOLIC_FALLBACK or (by_name and fn == "sparse_matmul"):
        return direct
    alt = SYSTOLIC_FALLBACK[fn]
    return [n for n, u in arch.chunks.units.items() if isinstance(u, SystolicArray) and alt in u.fns]


def native_attention(arch: Architecture) -> str:
    """The attention variant ``arch`` is built for, from what its units can run: a sparse
    matmul array means Sanger's sparse attention, a softmax unit dense softmax attention, and
    neither the paper's linear Taylor attention (vitality: taylor, systolic: softmax, sanger:
    sanger)."""
    if units_for(arch, "sparse_matmul", by_name=True):  # the dense fallback does not count
        return "sanger"
    if units_for(arch, "softmax", by_name=True):  # a general unit's class default does not count
        return "softmax"
    return "taylor"


def required_units(arch: Architecture, fns: Iterable[str]) -> dict[str, list[str]]:
    """``{fn: units able to run it}`` for every op function of a workload (empty: none can)."""
    return {fn: units_for(arch, fn) for fn in sorted(set(fns))}


def check_runnable(arch: Architecture, fns: Iterable[str]) -> None:
    """Raise ``ConfigError`` naming every op function no unit of ``arch`` can run."""
    missing = [fn for fn, units in required_units(arch, fns).items() if not units]
    if missing:
        have = "; ".join(f"{n}: {_runs_text(u)}" for n, u in arch.chunks.units.items()
                         if isinstance(u, (SystolicArray, VectorArray)))
        what = ", ".join(repr(f) for f in missing)
        raise ConfigError(f"architecture {arch.name!r} has no unit that runs op fn {what} "
                          f"of the workload (units: {have})")


def _runs_text(unit: SystolicArray | VectorArray) -> str:
    """What a unit runs, short: its functions by name, then its classes (not every function
    a class default brings)."""
    if isinstance(unit, SystolicArray):
        return ", ".join(unit.fns)
    named = [f for f in unit.fns if not unit.by_class(f)]
    return ", ".join([*named, *(f"class {c}" for c in unit.classes)])


def workload_fns(opgraph) -> set[str]:
    """The op functions a workload needs (free view ops excluded), with matmuls named as the
    mapper names them: ``matvec`` for N = 1, ``sparse_matmul`` for sparse ones."""
    out = set()
    for op in opgraph:
        if op.kind.is_free:
            continue
        if op.kind.value == "matmul" and op.n == 1:
            out.add("matvec")
        elif op.kind.value == "sparse_matmul":
            out.add("sparse_matmul")
        else:
            out.add(op.fn)
    return out
