"""`accelsim run`: load arch -> load or trace workload -> map -> simulate -> report."""

from __future__ import annotations

import argparse
import gc
import sys

from ._options import (
    ARCH_HELP,
    WORKLOAD_HELP,
    add_model_options,
    add_set_option,
    check_out_dir,
    load_workload,
    warn_unknown_ops,
)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", required=True, help=ARCH_HELP)
    parser.add_argument("--workload", required=True, help=WORKLOAD_HELP)
    add_model_options(parser, "attention variant for zoo/factory models (default: the "
                              "architecture's native one: vitality taylor, systolic softmax, "
                              "sanger sanger)")
    add_set_option(parser, "the architecture")
    parser.add_argument("--out", metavar="DIR",
                        help="write summary.json, trace.json, timeline.png, report.html, "
                             "ops.csv, layers.csv, memory.csv here")
    parser.add_argument("--json", action="store_true",
                        help="print the summary JSON (accelsim.summary/1: cycles, latency_ms, "
                             "energy_pj, ...) to stdout")


def handle(args: argparse.Namespace) -> int:
    from accelsim.api import simulate
    from accelsim.report import summary_json, write_outputs
    from accelsim.report.terminal import format_summary
    from arch import load as load_arch
    from arch import native_attention

    check_out_dir(args.out)
    arch = load_arch(args.arch, overrides=args.set)
    graph = load_workload(args.workload, attention=args.attention, img_size=args.img_size,
                          default_attention=native_attention(arch))
    warn_unknown_ops(graph)
    result = simulate(arch, graph, keep_intervals=bool(args.out), progress=True)
    if args.out:
        # Keep the garbage collector from rescanning the result's records (live throughout)
        # whenever the writers allocate: about a tenth of their time.
        gc.freeze()
        try:
            write_outputs(result, args.out)
        finally:
            gc.unfreeze()
    if args.json:
        sys.stdout.write(summary_json(result))
    else:
        print(format_summary(result.summary))
        if args.out:
            print(f"  wrote {args.out}/")
    return 0
