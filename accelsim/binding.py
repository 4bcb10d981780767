"""Which unit runs an op: the architecture's bindings, else a load-balancing policy.

Policy (docs/arch.md, "Bindings"):

1. Every op function of the workload must have a unit; all missing ones are named in one error.
2. The first rule of ``mapping.bindings`` whose criteria (kind, fn, scope glob, group) all match
   the op sends it to the rule's unit, which must be able to run it.
3. Otherwise the candidates are the units that declare the function by name (``matvec``,
   ``lowbit_matmul`` and ``sparse_matmul`` fall back to ``matmul`` arrays, a sparse one
   computed densely there); only when there are none, the vector units
   that run it through a class default. Among the candidates the op goes where it would finish
   first (list scheduling on closed-form compute cycles): it starts when the unit is free of
   the ops already given to it and its producers are estimated done, and takes its
   closed-form cycles there (ties: the unit declared first). So two arrays share independent
   work (heads, Q/K/V), while a chain of dependent ops stays on the faster one instead of
   waiting for a slow array to be "less loaded".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from arch.graph import SYSTOLIC_FALLBACK, check_runnable, workload_fns
from arch.schema import Architecture, SystolicArray, VectorArray
from workloads.ir import Op

from .errors import InputError
from .geometry import geometry
from .tiling import computed_densely
from .timing import systolic_compute_cycles, vector_cycles


class Binder:
    """Chooses units for the ops of one mapping, in program order."""

    def __init__(self, arch: Architecture, graph: Any) -> None:
        check_runnable(arch, workload_fns(graph))  # ConfigError naming every missing fn
        self.arch = arch
        #: per compute unit, when it is estimated free of the ops given to it so far
        self.load = {n: 0 for n, u in arch.chunks.units.items()
                     if isinstance(u, SystolicArray | VectorArray)}
        #: per op (by its index in program order), its estimated finish
        self.finish: dict[int, int] = {}

    def _runs(self, name: str, fn: str, by_name: bool) -> bool:
        unit = self.arch.chunks.units[name]
        if isinstance(unit, VectorArray):
            return fn in unit.fns and not (by_name and unit.by_class(fn))
        return isinstance(unit, SystolicArray) and fn in unit.fns

    def candidates(self, fn: str) -> list[str]:
        for want, by_name in ((fn, True), (SYSTOLIC_FALLBACK.get(fn), True), (fn, False)):
            found = [n for n in self.load if want and self._runs(n, want, by_name)]
            if found:
                return found
        return []

    def cycles(self, op: Op, name: str, fn: str) -> int:
        unit = self.arch.chunks.units[name]
        chunks = len(self.arch.chunks.holders(name))
        if isinstance(unit, SystolicArray):
            c = systolic_compute_cycles(unit.dataflow, unit.rows, unit.cols, op.out_rows,
                                        max(op.n, 1), max(op.k, 1))
            density = 1.0 if computed_densely(op, unit) else op.density
            return math.ceil(c * density / chunks)
        assert isinstance(unit, VectorArray)
        spec = unit.fns[fn]
        geo = geometry(op)
        elems = math.ceil(geo.groups * geo.rows * geo.row_len * op.density)
        return math.ceil(vector_cycles(elems, unit.lanes, spec.cycles_per_element,
                                       spec.latency_cycles) / chunks)

    def bound(self, op: Op, fn: str) -> str | None:
        for i, rule in enumerate(self.arch.mapping.bindings):
            if ((rule.kind is None or rule.kind == op.kind.value)
                    and (rule.fn is None or rule.fn in (fn, op.fn))
                    and (rule.scope is None or fnmatchcase(op.scope, rule.scope))
                    and (rule.group is None or rule.group == op.group)):
                # arch.graph checks at load time that a rule's unit is a compute unit
                assert rule.unit in self.load, rule.unit
                if not (self._runs(rule.unit, fn, False)
                        or self._runs(rule.unit, SYSTOLIC_FALLBACK.get(fn, ""), False)):
                    raise InputError(f"mapping.bindings.{i} sends op {op.name!r} ({fn}) to "
                                     f"{rule.unit!r}, which does not run {fn!r}")
                return rule.unit
        return None

    def unit(self, op: Op, fn: str, index: int = -1, deps: Iterable[int] = ()) -> str:
        """The unit of op ``index`` (program order), whose producers are ``deps``."""
        ready = max((self.finish.get(d, 0) for d in deps), default=0)
        name = self.bound(op, fn)
        if name is None:
            cands = self.candidates(fn)
            if not cands:
                raise InputError(f"architecture {self.arch.name!r} has no unit that runs "
                                 f"{fn!r} (op {op.name!r})")
            name = min(cands, key=lambda n: max(self.load[n], ready) + self.cycles(op, n, fn))
        run_fn = fn if self._runs(name, fn, False) else SYSTOLIC_FALLBACK.get(fn, fn)
        end = self.load[name] = max(self.load[name], ready) + self.cycles(op, name, run_fn)
        self.finish[index] = end
        return name


def binder_for(mapper: Any) -> Binder:
    """The mapper's binder (made on first use, so the missing-functions check runs once)."""
    b = mapper.__dict__.get("_binder")
    if b is None:
        b = mapper.__dict__["_binder"] = Binder(mapper.arch, mapper.graph)
    return b

