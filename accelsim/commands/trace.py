"""`accelsim trace MODEL -o GRAPH.json [--json]`: trace a model into an operator graph.

MODEL is a zoo name (``deit_tiny`` ...), ``package.module:factory`` (``factory()`` returns an
``nn.Module``, traced on a 1x3xSxS image, or a tuple ``(module, example_inputs)``), an ONNX file
``.onnx`` (read without torch, ``workloads.onnx_import``), or any other
workload spec ``workloads.resolve`` accepts. Torch is imported only when a model is traced.
"""

from __future__ import annotations

import argparse
import sys

from safeio import dumps_strict
from workloads.resolver import ATTENTIONS

from ._options import positive_int

#: Kept in sync with vitality_model.ATTENTIONS by tests/test_trace.py (no torch import here).
ATTENTION_CHOICES = ATTENTIONS


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="zoo name (deit_tiny, deit_small, deit_base, vit_large, vit_digits), "
                             "package.module:factory, an ONNX file .onnx, or a saved graph .json")
    parser.add_argument("--attention", choices=ATTENTION_CHOICES, default=None,
                        help="attention variant (zoo models, or factory models built from "
                             "vitality_model.Attention; default softmax)")
    parser.add_argument("--img-size", type=positive_int, default=None, metavar="PIXELS",
                        help="input image side, unit: pixels (default: the zoo model's, 224 for "
                             "factories)")
    parser.add_argument("--patch-size", type=positive_int, default=None, metavar="PIXELS",
                        help="patch side of zoo models, unit: pixels (default 16)")
    parser.add_argument("--sparse-density", type=float, default=None, metavar="F",
                        help="density (0, 1] of sparse attention ops (sanger); default: "
                             "measured on real inputs, else 0.2")
    parser.add_argument("-o", "--output", metavar="GRAPH.json",
                        help="write the graph here (atomically)")
    parser.add_argument("--no-cache", action="store_true",
                        help="trace zoo models afresh instead of using ~/.cache/accelsim/graphs")
    parser.add_argument("--json", action="store_true",
                        help='print {"ops", "macs", "macs_by_kind"} to stdout; "ops" counts '
                             "the non-view ops (views are free and folded by the mapper)")


def handle(args: argparse.Namespace) -> int:
    from workloads import WorkloadError

    from ._options import resolve_with_progress

    if not args.output and not args.json:
        raise WorkloadError("nothing to do: give -o GRAPH.json and/or --json")
    if args.output and not args.output.endswith(".json"):
        raise WorkloadError(f"output {args.output!r} must be a .json file")
    graph = resolve_with_progress(args.model, attention=args.attention, img_size=args.img_size,
                                  patch_size=args.patch_size,
                                  sparse_density=args.sparse_density, cache=not args.no_cache)
    if args.output:
        try:
            graph.save(args.output)
        except OSError as exc:
            raise WorkloadError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    unknown = graph.meta.get("unknown_ops") or {}
    if unknown:
        names = ", ".join(f"{k} x{v}" for k, v in unknown.items())
        print(f"accelsim: warning: ops unknown to the tracer, charged as elementwise over their output: {names}",
              file=sys.stderr)
    if args.attention and graph.meta.get("attention") != args.attention and ":" in args.model:
        print(f"accelsim: warning: --attention {args.attention} ignored: the model has no "
              "vitality_model.Attention modules", file=sys.stderr)
    ops = len(graph.compute_ops())
    macs = graph.total_macs()
    if args.json:
        sys.stdout.write(dumps_strict({"ops": ops, "macs": macs,
                                     "macs_by_kind": graph.macs_by_kind()}) + "\n")
    else:
        meta = graph.meta
        what = ", ".join(str(x) for x in (meta.get("model"), meta.get("attention"),
                                          meta.get("tokens") and f"{meta['tokens']} tokens")
                         if x)
        print(f"{args.output}: {ops} ops, {macs / 1e9:.3f} GMACs ({what})")
    return 0
