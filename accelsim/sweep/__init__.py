"""Design-space sweeps: a YAML spec of axes and workloads -> ``results.csv`` and ``pareto.png``.

``load_spec(path)`` validates a spec (``accelsim.sweep.spec``); ``run_sweep(spec, out, ...)``
runs or resumes it on a local process pool or a Dask cluster (``accelsim.sweep.runner``);
``area_mm2_proxy(arch)`` is the documented area proxy (``accelsim.sweep.area``). See
docs/sweeps.md. Importing this package imports neither torch nor dask.
"""

from __future__ import annotations

from .area import area_breakdown_mm2, area_mm2_proxy
from .runner import Report, run_sweep
from .spec import METRICS, SpecError, SweepSpec, load_spec, loads_spec

__all__ = [
    "METRICS",
    "Report",
    "SpecError",
    "SweepSpec",
    "area_breakdown_mm2",
    "area_mm2_proxy",
    "load_spec",
    "loads_spec",
    "run_sweep",
]
