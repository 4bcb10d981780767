"""Issue 17's engine rows: simulate() against SimPy's floor, sweep points per minute, and the
CLI against SCALE-Sim's, each beside a reference measured in the same run.

    python benchmarks/speed_engine.py [--repeat 5] [--no-sweep] [--no-scalesim]

* ``simulate()`` of DeiT-Base (Taylor) on ``vitality``, ``keep_intervals=False`` (what sweeps
  and ``run --json`` do): median CPU seconds of ``--repeat`` runs, split into mapping, engine
  and summary. Reference: *SimPy's floor*, one process yielding ``3 x tiles`` timeouts at raw
  SimPy speed, timed in the same process right after each run; the ratio is what is compared
  (absolute times drift with the load of this shared machine).
* Sweep: DeiT-Tiny on ``vitality``, 24 points (chunks x both SRAM sizes) on the local pool of 2
  workers, wall time including the pool start. Reference: ``2 x 60 s / median simulate()``
  of those points run here one after another (the points per minute two cores could give if
  nothing but simulate() ran); the ratio is the pool's efficiency. The same with prefetch
  depth x tile size (96 points), and from the two the steady state: the wall time each added
  point costs, and the rest of the 24-point sweep's wall time as its fixed cost (pool start,
  the first point's loads in each worker, ``pareto.png``).
* SCALE-Sim v3 CLI to our CLI on one DeiT-T block's GEMMs (examples/scalesim: a 32x32 ws
  array, USER bandwidth): both wall times, interpreter start included, bytecode cached (as
  installed tools run), and the ratio.
  SCALE-Sim runs in its own venv (``.venv-scalesim``, made by validation/scalesim_runner.py);
  the row is skipped with a message when it is missing.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from sweep_throughput import SPEC as SWEEP_SPEC  # noqa: E402  (the same 24 points)


def simpy_floor(events: int) -> float:
    """CPU seconds SimPy takes to process ``events`` timeouts of one process."""
    import simpy

    env = simpy.Environment()

    def proc():
        for _ in range(events):
            yield env.timeout(1)

    env.process(proc())
    t0 = time.process_time()
    env.run()
    return time.process_time() - t0


def simulate_row(repeat: int) -> dict[str, float]:
    from accelsim.engine import Engine
    from accelsim.mapper import map_graph
    from accelsim.result import build_summary
    from arch import load
    from workloads import resolve

    arch = load("vitality")
    graph = resolve("deit_base", attention="taylor")
    runs = []
    for _ in range(repeat):
        gc.disable()  # as accelsim.api.simulate does
        t0 = time.process_time()
        plan = map_graph(arch, graph)
        t1 = time.process_time()
        engine = Engine(arch, plan, keep_intervals=False)
        record = engine.run()
        t2 = time.process_time()
        build_summary(arch, graph, plan, record, engine.op_actions, 0.0)
        t3 = time.process_time()
        gc.enable()
        gc.collect()
        runs.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0, simpy_floor(3 * len(plan.tiles))))
    med = [statistics.median(r[i] for r in runs) for i in range(5)]
    ratios = statistics.median(r[3] / r[4] for r in runs)
    return {"map_s": med[0], "engine_s": med[1], "summary_s": med[2], "total_s": med[3],
            "floor_s": med[4], "ratio": ratios, "tiles": len(plan.tiles),
            "events": record.events}


#: The sweep row's 24 points x prefetch depth x tile size: 96 points, for the steady state.
SWEEP_SPEC_96 = SWEEP_SPEC.replace("axes:\n", "axes:\n  mapping.prefetch_depth: [2, 3]\n"
                                   "  mapping.tile_rows: [0, 64]\n")


def sweep_row(spec_text: str = SWEEP_SPEC) -> dict[str, float]:
    import arch
    from accelsim.api import simulate
    from accelsim.sweep import load_spec, run_sweep
    from accelsim.sweep.spec import override
    from workloads import resolve

    graph = resolve("deit_tiny", attention="taylor")
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(spec_text)
        points = load_spec(spec_path).params()
        cpu = []
        for p in points:
            a = arch.load("vitality", [override(k, v) for k, v in p.items()])
            t0 = time.process_time()
            simulate(a, graph, keep_intervals=False)
            cpu.append(time.process_time() - t0)
        report = run_sweep(spec_path, Path(tmp) / "out", backend="local", workers=2,
                           progress=False)
        assert report.ok == report.points, report.errors
    per_min = report.points / report.wall_s * 60
    ideal = 2 * 60 / statistics.median(cpu)
    return {"points": report.points, "wall_s": report.wall_s, "per_min": per_min,
            "ideal_per_min": ideal, "ratio": per_min / ideal}


def scalesim_row(repeat: int) -> dict[str, float] | str:
    venv_py = ROOT / ".venv-scalesim" / "bin" / "python"
    if not venv_py.exists():
        return ("skipped: no .venv-scalesim (python validation/scalesim_runner.py creates it)")
    cfg = ROOT / "examples/scalesim/array_32x32_ws.cfg"
    topo = ROOT / "examples/scalesim/deit_tiny_block_gemm.csv"
    accelsim = Path(sys.executable).parent / "accelsim"
    theirs, ours = [], []
    # both CLIs reuse compiled bytecode, as installed tools do (benchmarks/speed_cli.py: this
    # machine sets PYTHONDONTWRITEBYTECODE); ours runs once untimed to write its __pycache__
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    ours_cmd = [str(accelsim), "run", "--arch", f"scalesim:{cfg}", "--workload",
                f"scalesim:{topo}", "--json"]
    subprocess.run(ours_cmd, check=True, capture_output=True, env=env)
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "layout.csv"  # SCALE-Sim wants one, even when it has no layouts
        layout.write_text("Layer name,\n")
        for i in range(repeat):
            t0 = time.perf_counter()  # -s N: no per-cycle trace files (its fastest mode)
            subprocess.run([str(venv_py), "-m", "scalesim.scale", "-c", str(cfg), "-t", str(topo),
                            "-l", str(layout), "-p", str(Path(tmp) / f"s{i}"), "-i", "gemm",
                            "-s", "N"], check=True, capture_output=True, cwd=tmp, env=env)
            theirs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(ours_cmd, check=True, capture_output=True, env=env)
            ours.append(time.perf_counter() - t0)
    a, b = statistics.median(theirs), statistics.median(ours)
    return {"scalesim_s": a, "accelsim_s": b, "ratio": a / b}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--no-scalesim", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"median of {args.repeat}\n")
    print("| row | measured | reference (same run) | ratio |")
    print("|---|---:|---:|---:|")
    s = simulate_row(args.repeat)
    print(f"| simulate() DeiT-B on vitality ({s['tiles']:,} tiles, {s['events']:,} events): "
          f"map {s['map_s']:.3f} + engine {s['engine_s']:.3f} + summary {s['summary_s']:.3f} "
          f"CPU s | {s['total_s']:.3f} s | SimPy floor {s['floor_s']:.3f} s | "
          f"{s['ratio']:.1f}x the floor |")
    if not args.no_sweep:
        rows = [sweep_row(SWEEP_SPEC), sweep_row(SWEEP_SPEC_96)]
        for w in rows:
            print(f"| sweep, deit_tiny, {w['points']} points, 2 workers | {w['per_min']:.0f} "
                  f"points/min ({w['wall_s']:.1f} s wall) | {w['ideal_per_min']:.0f} points/min "
                  f"(2 x 60 s / median simulate()) | {w['ratio']:.0%} |")
        # the two sizes' difference: wall per added point, and the rest as a fixed cost
        (a, b) = rows
        slope = (b["wall_s"] - a["wall_s"]) / (b["points"] - a["points"])
        print(f"| sweep, steady state (96 - 24 points) | {60 / slope:.0f} points/min | "
              f"{b['ideal_per_min']:.0f} points/min | {60 / slope / b['ideal_per_min']:.0%}; "
              f"fixed cost {a['wall_s'] - a['points'] * slope:.2f} s |")
    if not args.no_scalesim:
        c = scalesim_row(3)
        if isinstance(c, str):
            print(f"| SCALE-Sim v3 CLI vs ours, one DeiT-T block | {c} | | |")
        else:
            print(f"| SCALE-Sim v3 CLI vs ours, one DeiT-T block's 4 GEMMs | accelsim "
                  f"{c['accelsim_s']:.2f} s wall | SCALE-Sim {c['scalesim_s']:.2f} s wall | "
                  f"{c['ratio']:.0f}x faster |")


if __name__ == "__main__":
    main()
