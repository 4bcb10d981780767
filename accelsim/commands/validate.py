"""`accelsim validate [--out docs/validation.md] [--quick] [--scalesim]`.

Regenerates the validation document (SCALE-Sim cross-check, analytic bounds, MAC counts, the
paper's comparison, token scaling, ablations, accuracy and CPU latency) and its PNGs in
``img/`` beside it, atomically. ``--quick`` runs the subset the tests use; ``--scalesim``
first re-runs SCALE-Sim v3 (``validation/scalesim_runner.py``, its own venv) on every recorded
case. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="FILE.md",
                        help="where to write the document (default docs/validation.md of the "
                             "checkout); PNGs go to img/ beside it")
    parser.add_argument("--quick", action="store_true",
                        help="a fast subset (DeiT-Tiny, fewer cases, no CPU timing)")
    parser.add_argument("--scalesim", action="store_true",
                        help="re-run SCALE-Sim v3 first and rewrite validation/data/*.csv "
                             "(minutes; creates .venv-scalesim on first use)")


def handle(args: argparse.Namespace) -> int:
    from accelsim.errors import InputError
    from validation import report

    out = args.out or report.DEFAULT_OUT
    if not str(out).endswith(".md"):
        raise InputError(f"--out {out!r} must be a .md file")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.scalesim:
        report.refresh_scalesim(log)
    report.generate(out, quick=args.quick, log=log)
    return 0
