"""`accelsim validate [--out DIR | --update-docs] [--quick] [--scalesim]`.

Generates the validation document (SCALE-Sim cross-check, analytic bounds, MAC counts, the
paper's comparison, token scaling, ablations, accuracy and CPU latency): ``DIR/validation.md``
and its PNGs in ``DIR/img/``, atomically; DIR defaults to ``out/validation``. The checkout's
tracked ``docs/validation.md`` and ``docs/img/validation_*.png`` are rewritten only with
``--update-docs``. ``--quick`` runs the subset the tests use; ``--scalesim`` first re-runs
SCALE-Sim v3 (``validation/scalesim_runner.py``, its own venv) on every recorded case and
rewrites ``validation/data/*.csv``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="write validation.md here, its PNGs in DIR/img/ (default "
                             "out/validation)")
    parser.add_argument("--update-docs", action="store_true",
                        help="rewrite the checkout's tracked docs/validation.md and "
                             "docs/img/validation_*.png instead")
    parser.add_argument("--quick", action="store_true",
                        help="a fast subset (DeiT-Tiny, fewer cases, no CPU timing)")
    parser.add_argument("--scalesim", action="store_true",
                        help="re-run SCALE-Sim v3 first and rewrite validation/data/*.csv "
                             "(minutes; creates .venv-scalesim on first use)")


def target(args: argparse.Namespace) -> Path:
    """Where validation.md goes (its PNGs in img/ beside it)."""
    from accelsim.errors import InputError
    from validation import report

    if args.update_docs:
        if args.out is not None:
            raise InputError("--out and --update-docs: give one (--update-docs writes docs/)")
        try:
            return report.docs_dir() / report.DOC_NAME
        except FileNotFoundError as exc:
            raise InputError(f"--update-docs: {exc}") from None
    out = Path(args.out) if args.out is not None else report.DEFAULT_OUT_DIR
    if args.out is not None and (not args.out or out.suffix):
        raise InputError(f"--out {args.out!r}: want a directory (validation.md and img/ go "
                         "into it)")
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            raise InputError(f"--out {out}: {p} exists and is not a directory")
    return out / report.DOC_NAME


def handle(args: argparse.Namespace) -> int:
    from validation import report

    out = target(args)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.scalesim:
        report.refresh_scalesim(log)
    report.generate(out, quick=args.quick, log=log)
    return 0
