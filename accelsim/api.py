"""Python entry point: ``accelsim.simulate(arch, graph) -> SimResult``.

The run reads as its stages: load arch -> load or trace workload -> map -> simulate -> summarise.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator

from arch.schema import Architecture
from workloads.ir import OpGraph

from .engine import Engine
from .limits import check_finite, check_run
from .mapper import map_graph, plan_fits
from .plan import Plan
from .progress import Progress
from .result import SimResult, build_summary


def simulate(arch: Architecture | str, graph: OpGraph | str, *,
             keep_intervals: bool = True, progress: bool = False,
             plan: Plan | None = None) -> SimResult:
    """Simulate ``graph`` on ``arch``.

    ``arch`` is an ``Architecture`` or anything ``arch.load`` accepts (preset name, YAML/JSON
    path, ``scalesim:PATH.cfg``); ``graph`` an ``OpGraph`` or a workload spec
    (``workloads.resolve``: zoo name, graph JSON, ``gemm:M,N,K``, ``scalesim:TOPO.csv``).
    ``keep_intervals=False`` skips the per-interval log (faster; no timeline or trace then).
    ``progress=True`` draws a progress bar on stderr when it is a terminal. ``plan``: the
    mapping of ``graph`` on an architecture with the same ``mapping_key`` (a sweep reuses one
    across points that differ only in clock, bandwidth, latency or energy; the engine does not
    modify it); by default, or when a choice in ``plan`` read bandwidths that ``arch`` does
    not have (``mapper.plan_fits``), ``graph`` is mapped here.
    """
    if isinstance(arch, str):
        from arch import load

        arch = load(arch)
    if isinstance(graph, str):
        from workloads import resolve

        graph = resolve(graph)
    check_run(arch, graph)  # resource limits, before any work
    t0 = time.perf_counter()
    with _no_gc():
        if plan is None or not plan_fits(plan, arch):
            plan = map_graph(arch, graph)
        bar = Progress(len(plan.tiles), "simulating") if progress else None
        engine = Engine(arch, plan, keep_intervals=keep_intervals, progress=bar)
        record = engine.run()
        wall = time.perf_counter() - t0
        summary = build_summary(arch, graph, plan, record, engine.op_actions, wall)
    check_finite(summary, arch)
    return SimResult(summary, record, plan, arch)


def plan_for(arch: Architecture, graph: OpGraph) -> Plan:
    """The mapping ``simulate`` would make (resource limits checked first), to pass to
    ``simulate(..., plan=)`` for several architectures with one ``mapping_key``."""
    check_run(arch, graph)
    with _no_gc():
        return map_graph(arch, graph)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The mapper and the engine allocate many small long-lived objects and free none until
    the end: the cyclic collector would rescan them again and again (a third of the time)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
