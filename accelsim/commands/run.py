"""`accelsim run`: load arch -> load or trace workload -> map -> simulate -> report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from accelsim.errors import InputError


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", required=True,
                        help="preset name, .yaml/.json file, or scalesim:PATH.cfg")
    parser.add_argument("--workload", required=True,
                        help="zoo name, saved graph .json, gemm:M,N,K or scalesim:TOPOLOGY.csv")
    parser.add_argument("--attention", default=None,
                        help="attention variant for zoo workloads (default: the preset's native)")
    parser.add_argument("--img-size", type=int, default=None,
                        help="image size for zoo models (default: the model's own, 224 for DeiT)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override an architecture field, e.g. chunks.count=8 (repeatable)")
    parser.add_argument("--out", metavar="DIR", help="write summary.json and the reports here")
    parser.add_argument("--json", action="store_true", help="print the summary JSON to stdout")


def handle(args: argparse.Namespace) -> int:
    from accelsim.api import simulate
    from accelsim.report import summary_json, write_outputs
    from accelsim.report.terminal import format_summary
    from arch import load as load_arch
    from arch import native_attention
    from workloads import resolve

    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out}: exists and is not a directory")
    arch = load_arch(args.arch, overrides=args.set)
    attention = args.attention or native_attention(arch)
    graph = resolve(args.workload, attention=attention, img_size=args.img_size)
    result = simulate(arch, graph, keep_intervals=bool(args.out), progress=True)
    if args.out:
        write_outputs(result, args.out)
    if args.json:
        sys.stdout.write(summary_json(result))
    else:
        print(format_summary(result.summary))
        if args.out:
            print(f"  wrote {args.out}/")
    return 0
