"""Graph helpers shared by the operator graph and the architecture's component graph, on
plain adjacency maps (networkx stays off the hot paths: see docs/engine.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sized


def is_acyclic(pred: Mapping[str, Sized], succ: Mapping[str, Iterable[str]]) -> bool:
    """True when the graph given by its predecessor and successor maps (every node a key of
    both) has no directed cycle: Kahn's algorithm, which peels nodes of in-degree zero and
    reaches every node only when there is no cycle."""
    indeg = {n: len(p) for n, p in pred.items()}
    ready = [n for n, d in indeg.items() if not d]
    seen = 0
    while ready:
        seen += 1
        for m in succ[ready.pop()]:
            indeg[m] -= 1
            if not indeg[m]:
                ready.append(m)
    return seen == len(indeg)
