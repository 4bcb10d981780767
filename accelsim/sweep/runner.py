"""Run a sweep: prepare the points in this process, simulate them on a pool, record the rows.

The parent process loads the spec and the base architecture, resolves (traces) every workload
once and saves its graph to ``DIR/graphs/``; workers only load graph JSON (never torch), load the
architecture with the point's overrides, simulate with ``keep_intervals=False`` and return a
row. Backends: ``local`` (a ``ProcessPoolExecutor`` of spawned processes) and ``dask`` (a
``distributed.LocalCluster``, or an existing scheduler; the graphs are scattered to the workers,
so they need no shared filesystem). Both run the same worker function, so their rows are equal.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelsim.errors import InputError, input_error_types
from arch.errors import ConfigError
from safeio import check_limit, read_text
from workloads.ir import write_atomic

from .area import area_mm2_proxy
from .results import OutLock, ResultsFile, cell
from .spec import METRICS, SpecError, SweepSpec, code_workloads, load_spec, override, point_id


@dataclass(frozen=True)
class Task:
    """One design point as a worker sees it (picklable, small)."""

    id: str
    base: str
    overrides: tuple[str, ...]
    graph_key: str
    graph_path: str


@dataclass
class Report:
    """What one ``run_sweep`` call did."""

    out: Path
    points: int = 0
    skipped: int = 0
    ran: int = 0
    ok: int = 0
    failed: int = 0
    internal: int = 0
    pending: int = 0
    foreign: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        left = f"; {self.pending} left, rerun to continue" if self.pending else ""
        if self.foreign:
            left += f"; {self.foreign} rows of points not in this spec kept"
        return (f"sweep: {self.points} points: {self.ran} ran ({self.ok} ok, {self.failed} "
                f"failed), {self.skipped} already done{left}; {self.wall_s:.1f} s -> "
                f"{self.out / 'results.csv'}")


# -- the worker side ---------------------------------------------------------------------------
_GRAPHS: dict[str, Any] = {}  # graph_key -> OpGraph, per worker process
_BASES: dict[str, Any] = {}  # base spec -> its parsed architecture (arch.loader_for), per worker
#: (graph key, accelsim.mapper.mapping_key[, rate_key]) -> Plan, per worker: points whose axes
#: change only timing or energy (clock, bandwidths, latencies, energies) share one mapping,
#: per clock and bandwidths where the plan's choices read them (``Plan.rates``)
_PLANS: dict[tuple[str, ...], Any] = {}
_PLANS_KEPT = 4


def run_point(task: Task, graph_text: str | None = None) -> dict[str, Any]:
    """Simulate one point; never raises: a failure is a row with status ``error``."""
    from accelsim.api import simulate
    from arch.loader import loader_for

    out: dict[str, Any] = {"id": task.id, "status": "ok", "error": "", "metrics": {}}
    try:
        graph = _graph(task, graph_text)
        load_with = _BASES.get(task.base)
        if load_with is None:  # the base is read and parsed once per worker
            load_with = _BASES[task.base] = loader_for(task.base)
        arch = load_with(task.overrides)
        result = simulate(arch, graph, keep_intervals=False, plan=_plan(task, arch, graph))
        out["metrics"] = point_metrics(result.summary, arch)
    except input_error_types() as exc:
        out.update(status="error", error=f"{type(exc).__name__}: {_one_line(exc)}")
    except Exception as exc:  # a bug: keep the sweep going, flag it (exit code 1)
        out.update(status="error", error=f"internal error: {type(exc).__name__}: {_one_line(exc)}")
    return out


def _plan(task: Task, arch, graph):
    """The mapping of this point, reused from an earlier point with the same mapping key (and,
    for a plan whose choices read the clock and bandwidths, the same ``rate_key``)."""
    from accelsim.api import plan_for
    from accelsim.mapper import mapping_key, plan_fits, rate_key

    key: tuple[str, ...] = (task.graph_key, mapping_key(arch))
    plan = _PLANS.get(key)
    if plan is not None and not plan_fits(plan, arch):  # kept per rates as well
        key = (*key, rate_key(arch))
        plan = _PLANS.get(key)
    if plan is None:
        plan = plan_for(arch, graph)
        if len(_PLANS) >= _PLANS_KEPT:  # bounded: a sweep over shapes reuses nothing
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = plan
    return plan


def _graph(task: Task, graph_text: str | None):
    graph = _GRAPHS.get(task.graph_key)
    if graph is None:
        import json

        from workloads import load
        from workloads.ir import OpGraph

        graph = (load(task.graph_path) if graph_text is None
                 else OpGraph.from_dict(json.loads(graph_text), source=task.graph_path))
        _GRAPHS[task.graph_key] = graph
    return graph


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def point_metrics(summary: dict[str, Any], arch) -> dict[str, Any]:
    """Every metric of ``spec.METRICS`` from a summary. ``utilization`` is the PE-weighted mean
    busy fraction of all systolic-array instances (every array of every chunk)."""
    from arch.schema import SystolicArray

    arrays = {n: u.pes for n, u in arch.chunks.units.items() if isinstance(u, SystolicArray)}
    comps = summary["components"]
    weighted = total = 0.0
    for name, pes in arrays.items():
        for c in arch.chunks.holders(name):
            weighted += comps[f"chunk{c}.{name}"]["utilization"] * pes
            total += pes
    out = {m: summary[m] for m in METRICS if m in summary}
    out["utilization"] = round(weighted / total, 6) if total else 0.0
    out["area_mm2_proxy"] = area_mm2_proxy(arch)
    return out


# -- backends ----------------------------------------------------------------------------------
def run_local(tasks: list[Task], workers: int, on_result: Callable[[dict], None]) -> None:
    """A process pool of ``workers`` spawned (torch-free) processes (``accelsim.sweep.local``)."""
    from .local import run_local as run

    run(tasks, workers, on_result, run_point)


def preflight_dask(scheduler: str | None) -> None:
    """Fail before anything is written when Dask is missing or the scheduler unreachable."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("the dask backend needs Dask: pip install 'accelsim[dask]' "
                         "(or 'dask[distributed]')") from None
    if scheduler:
        try:
            Client(scheduler, timeout="10s").close()
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot connect to the Dask scheduler at {scheduler}: "
                             f"{_one_line(exc)}") from None


def run_dask(tasks: list[Task], workers: int, on_result: Callable[[dict], None],
             scheduler: str | None = None) -> None:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded processes, or the cluster
    of the scheduler at ``scheduler``."""
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise InputError("the dask backend needs Dask: pip install 'accelsim[dask]' "
                         "(or 'dask[distributed]')") from None
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot connect to the Dask scheduler at {scheduler}: "
                                 f"{_one_line(exc)}") from None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        try:
            texts = {}
            for t in tasks:
                if t.graph_key not in texts:
                    texts[t.graph_key] = client.scatter(Path(t.graph_path).read_text(),
                                                        broadcast=True)
            futures = [client.submit(run_point, t, texts[t.graph_key], pure=False)
                       for t in tasks]
            ids = {f.key: t.id for f, t in zip(futures, tasks, strict=True)}
            for fut in dask_completed(futures):
                try:
                    res = fut.result()
                except Exception as exc:  # KilledWorker: the point killed its workers
                    res = {"id": ids[fut.key], "status": "error", "metrics": {},
                           "error": f"worker died: {type(exc).__name__}: {_one_line(exc)}"}
                on_result(res)
                fut.release()
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


# -- the parent side ---------------------------------------------------------------------------
@dataclass
class Prepared:
    """Everything the parent knows before running: the tasks and their CSV cells."""

    spec: SweepSpec
    tasks: list[Task]
    cells: dict[str, dict[str, str]]  # id -> the row's parameter cells
    columns: list[str]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(spec: SweepSpec, out: Path) -> Prepared:
    """Load the base, check the axis paths, resolve and save the graphs, number the points."""
    import json

    from arch import load as load_arch
    from arch import native_attention
    from arch.loader import apply_override
    from workloads import resolve

    base = spec.resolve_path(spec.base)
    fixed = tuple(override(p, v) for p, v in spec.fixed.items())
    try:
        base_arch = load_arch(base, fixed)
    except ConfigError as exc:
        raise SpecError(f"{spec.where('base')}{exc}") from None
    dump = base_arch.model_dump(mode="json")
    for loc, p in spec.axis_locations():
        try:
            apply_override(json.loads(json.dumps(dump)), f"{p}=null")
        except ConfigError as exc:
            problem = str(exc).split(": ", 1)[-1]
            raise SpecError(f"{spec.where(*loc)}{problem}") from None
    arch_digest = _digest(json.dumps(dump, sort_keys=True))

    graphs_dir = out / "graphs"
    graphs_dir.mkdir(parents=True, exist_ok=True)
    workloads: list[tuple[dict[str, str], str, str]] = []  # (cells, digest, path)
    for i, w in enumerate(spec.workloads):
        try:
            graph = resolve(spec.resolve_path(w.spec), attention=w.attention or native_attention(
                base_arch), img_size=w.img_size)
        except input_error_types() as exc:
            raise SpecError(f"{spec.where('workloads', i)}{_one_line(exc)}") from None
        text = graph.to_json()
        digest = _digest(text)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", w.spec.split("/")[-1])[:40]
        path = graphs_dir / f"{slug}_{digest[:12]}.json"
        if not path.is_file():
            write_atomic(path, text)
        w_cells = {"workload": w.spec, "attention": cell(graph.meta.get("attention")),
                   "img_size": cell(graph.meta.get("img_size"))}
        workloads.append((w_cells, digest, str(path.resolve())))

    tasks, cells = [], {}
    for wcells, wdigest, wpath in workloads:
        for params in spec.params():
            pid = point_id(arch_digest, spec.fixed, params, wdigest)
            if pid in cells:
                continue
            cells[pid] = {"id": pid, **wcells, **{p: cell(v) for p, v in params.items()}}
            tasks.append(Task(pid, base, fixed + tuple(override(p, v) for p, v in params.items()),
                              wdigest, wpath))
    columns = ["id", "workload", "attention", "img_size", *spec.axis_paths,
               *spec.columns_metrics, "status", "error"]
    return Prepared(spec, tasks, cells, columns)


def run_sweep(spec: SweepSpec | str | os.PathLike, out: str | os.PathLike, *,
              backend: str = "local", workers: int | None = None, scheduler: str | None = None,
              limit: int | None = None, progress: bool = True, allow_code: bool = False,
              on_row: Callable[[dict[str, str]], None] | None = None) -> Report:
    """Run (or resume) a sweep into ``out``; see the module docstring and docs/sweeps.md.

    ``limit`` runs at most that many pending points; ``on_row`` is called with each row
    after it is durably appended (an exception from it stops the sweep, as a kill would).
    ``allow_code`` lets the spec's workloads name ``package.module:factory`` (imported and
    called: a spec is then code). One sweep at a time writes ``out`` (a lock file).
    Raises ``SpecError``/``InputError`` for bad input before any point runs."""
    t0 = time.perf_counter()
    if backend not in ("local", "dask"):
        raise InputError(f"unknown backend {backend!r}; one of: local, dask")
    if scheduler and backend != "dask":
        raise InputError("--scheduler needs --backend dask")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if workers is not None:
        check_limit("workers", workers, "--workers", InputError)
    if scheduler and workers is not None:
        raise InputError("--workers sets the size of a local pool or LocalCluster; with "
                         "--scheduler the cluster's own workers are used")
    spec_text = None
    if not isinstance(spec, SweepSpec):
        path = spec
        spec = load_spec(path)
        spec_text = read_text(path, "sweep spec", SpecError)
    code = code_workloads(spec)
    if code and not allow_code:
        i, name = code[0]
        raise SpecError(f"{spec.where('workloads', i)}{name!r} names Python code (imported and "
                        "called); pass --allow-code to run code from a spec")
    if backend == "dask":
        preflight_dask(scheduler)
    out = Path(out)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the directory ({exc.strerror})") from None
    with OutLock(out), _terminate_on_sigterm():
        try:
            try:
                prep = prepare(spec, out)
                if spec_text is not None:
                    write_atomic(out / "spec.yaml", spec_text)
            except OSError as exc:
                raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
        except BaseException:
            if created:  # bad input found while preparing: leave no trace of this run
                shutil.rmtree(out, ignore_errors=True)
            raise
        try:
            return _run_prepared(spec, prep, out, backend, workers, scheduler, limit, progress,
                                 on_row, t0)
        except OSError as exc:  # a full or read-only disk: the rows written so far are kept
            raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None


def _run_prepared(spec: SweepSpec, prep: Prepared, out: Path, backend: str,
                  workers: int | None, scheduler: str | None, limit: int | None,
                  progress: bool, on_row: Callable[[dict[str, str]], None] | None,
                  t0: float) -> Report:
    from accelsim.progress import Progress

    results = ResultsFile(out / "results.csv", prep.columns)
    done = results.done()
    todo = [t for t in prep.tasks if t.id not in done]
    report = Report(out=out, points=len(prep.tasks), skipped=len(prep.tasks) - len(todo))
    if limit is not None:
        todo, report.pending = todo[: max(limit, 0)], max(len(todo) - max(limit, 0), 0)
    bar = Progress(len(todo), "sweep", unit="points", enabled=None if progress else False)

    def record(res: dict[str, Any]) -> None:
        row = dict(prep.cells[res["id"]])
        row.update({m: cell(res["metrics"].get(m)) for m in spec.columns_metrics})
        row.update(status=res["status"], error=res["error"])
        results.append(row)
        report.ran += 1
        if res["status"] == "ok":
            report.ok += 1
        else:
            report.failed += 1
            report.internal += res["error"].startswith("internal error")
            report.errors.append(f"{res['id']}: {res['error']}")
        bar.update(report.ran)
        if on_row is not None:
            on_row(row)

    n = min(workers or min(2, os.cpu_count() or 1), max(len(todo), 1))
    try:
        if todo and backend == "local":
            run_local(todo, n, record)
        elif todo:
            run_dask(todo, n, record, scheduler)
    finally:
        bar.close(report.ran)
        results.close()
    results.rewrite()
    ids = {t.id for t in prep.tasks}
    report.foreign = len(set(results.rows) - ids)
    ok_rows = [r for i, r in sorted(results.rows.items()) if i in ids and r["status"] == "ok"]
    if ok_rows:
        from .plot import plot_pareto

        plot_pareto(ok_rows, out / "pareto.png")
    report.wall_s = time.perf_counter() - t0
    return report


@contextlib.contextmanager
def _terminate_on_sigterm():
    """SIGTERM raises SystemExit in the main thread, so the pools' cleanup (which kills the
    workers) runs; the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
