"""Resource limits of one simulation, checked before mapping (``accelsim.simulate`` calls
``check_run``): a workload or architecture that would exhaust memory or time is bad input,
``too large: N > LIMIT (...), raise it with ACCELSIM_LIMIT_<NAME>=N`` (see ``safeio.limits``).

The tile estimate is an upper bound of what the mapper makes: every group (head, image) of an
op is tiled separately, in row tiles of ``mapping.tile_rows`` rows (auto: at most 8 per chunk).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from arch.schema import Architecture
from safeio import check_limit
from safeio.limits import limit
from workloads.ir import OpGraph

from .errors import InputError

#: The mapper's auto row tiles per (chunk, group) slice (``accelsim.mapper``).
AUTO_TILES = 8


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{path}.{i}")


def _all_within(value: Any, bound: float) -> bool:
    """Every number in ``value`` (nested dicts, lists, tuples; not bools) finite and of
    magnitude at most ``bound``."""
    stack = [value]
    isfinite = math.isfinite
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int | float):
            if not isfinite(v) or abs(v) > bound:
                return False
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return True


def check_arch(arch: Architecture) -> None:
    """Every number of ``arch`` finite and of bounded magnitude (a clock of 1e308 MHz
    validates but overflows the timing), and a bounded count of unit instances."""
    data = arch.model_dump(mode="python")
    if not _all_within(data, limit("number")):  # else name the first bad number
        _check_numbers(arch, data)
    check_limit("instances", arch.chunks.count * len(arch.chunks.units),
                f"architecture {arch.name}: chunks.count x units", InputError)


def _check_numbers(arch: Architecture, data: Any) -> None:
    for path, value in _numbers(data):
        if not math.isfinite(value):
            raise InputError(f"architecture {arch.name}: {path}: must be finite, got {value}")
        check_limit("number", abs(value), f"architecture {arch.name}: {path}", InputError)


def estimate_tiles(arch: Architecture, graph: OpGraph) -> int:
    """An upper bound of the mapper's tile count (see the module docstring)."""
    tile_rows = arch.mapping.tile_rows
    total = 0
    for op in graph.compute_ops():
        shape = op.output_shape or [1]
        groups = op.batch if op.kind.is_matmul else math.prod(shape[:-2])
        rows = op.m if op.kind.is_matmul else (shape[-2] if len(shape) > 1 else 1)
        per_group = (math.ceil(rows / tile_rows) if tile_rows
                     else AUTO_TILES * arch.chunks.count)
        total += max(1, groups) * max(1, min(per_group, max(rows, 1)))
    return total


def check_graph(graph: OpGraph) -> None:
    """Bounded op count, dimensions, tensor sizes and MACs."""
    name = graph.meta.get("model", "workload") if isinstance(graph.meta, dict) else "workload"
    check_limit("ops", len(graph), f"workload {name}: ops", InputError)
    for op in graph:
        for dim in (op.m, op.n, op.k, op.batch, *op.output_shape,
                    *(d for s in op.input_shapes for d in s)):
            check_limit("dim", dim, f"workload {name}: op {op.name}: dimension", InputError)
        for shape in (op.output_shape, *op.input_shapes):
            check_limit("elements", math.prod(shape), f"workload {name}: op {op.name}: "
                        "tensor elements", InputError)
    check_limit("macs", graph.total_macs(), f"workload {name}: MACs", InputError)


def check_run(arch: Architecture, graph: OpGraph) -> None:
    """Everything above, then the tile estimate of this pair."""
    check_arch(arch)
    check_graph(graph)
    check_limit("tiles", estimate_tiles(arch, graph),
                f"{graph.meta.get('model', 'workload')} on {arch.name}: estimated tiles",
                InputError)


def check_finite(summary: dict[str, Any], arch: Architecture) -> None:
    """Every number of a summary finite: an architecture whose numbers validate one by one but
    overflow together (a clock of 1e-300 MHz, energies of 1e300 pJ) is bad input, never
    ``Infinity`` in the JSON out."""
    if _all_within(summary, math.inf):  # the common case, without a path per number
        return
    for path, value in _numbers(summary):
        if not math.isfinite(value):
            raise InputError(f"architecture {arch.name}: the result {path} is {value} (an "
                             "overflow: some number of the architecture is out of range)")
