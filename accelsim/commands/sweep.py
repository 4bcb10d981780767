"""`accelsim sweep SPEC --backend local|dask [--scheduler ADDRESS] [--workers N] --out DIR`.

Runs (or resumes) the design-space sweep of a YAML spec and writes ``DIR/results.csv``,
``DIR/spec.yaml``, ``DIR/graphs/`` and ``DIR/pareto.png`` (docs/sweeps.md). A point that fails
is recorded with its error and the sweep goes on. A spec naming ``package.module:factory``
workloads runs that code, so it needs ``--allow-code``. Exit code 0, 2 for bad input (spec, options,
base architecture, workloads), 1 if a point hit an internal error (a bug; its row says which).
"""

from __future__ import annotations

import argparse
import sys


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC",
                        help="sweep spec (YAML), e.g. examples/sweep_small.yaml")
    parser.add_argument("--backend", choices=("local", "dask"), default="local",
                        help="local: a process pool (default); dask: a Dask cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler to use (default: start a LocalCluster)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes of the pool or LocalCluster (default: min(2, CPUs))")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory; rerunning into it resumes the sweep")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="run at most N pending points, then stop (rerun to continue)")
    parser.add_argument("--allow-code", action="store_true",
                        help="WARNING: runs code. Let the spec's workloads name "
                             "package.module:factory, which is imported and called: only for "
                             "specs you trust (without it such a spec is refused)")
    parser.add_argument("--json", action="store_true", help="print the run report as JSON")


def handle(args: argparse.Namespace) -> int:
    from accelsim.sweep import run_sweep
    from safeio import dumps_strict

    if args.limit is not None and args.limit < 0:
        from accelsim.errors import InputError

        raise InputError(f"--limit must be >= 0, got {args.limit}")
    report = run_sweep(args.spec, args.out, backend=args.backend, workers=args.workers,
                       scheduler=args.scheduler, limit=args.limit, allow_code=args.allow_code)
    if args.json:
        print(dumps_strict({"out": str(report.out), "points": report.points, "ran": report.ran,
                          "ok": report.ok, "failed": report.failed, "skipped": report.skipped,
                          "pending": report.pending, "wall_s": round(report.wall_s, 3),
                          "errors": report.errors}))
    else:
        print(report.line())
        for err in report.errors[:5]:
            print(f"  failed {err}", file=sys.stderr)
        if len(report.errors) > 5:
            print(f"  ... {len(report.errors) - 5} more: see the error column", file=sys.stderr)
    return 1 if report.internal else 0
