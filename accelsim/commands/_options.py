"""Command-line options shared by `run`, `compare` and `trace`, with their units, and the one
place that turns them into a workload graph."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from accelsim.errors import InputError
from workloads.resolver import ATTENTIONS

WORKLOAD_HELP = ("zoo name (deit_tiny, deit_small, deit_base, vit_large, vit_digits), saved graph "
                 ".json, ONNX file .onnx, gemm:M,N,K, scalesim:TOPOLOGY.csv or "
                 "package.module:factory")
ARCH_HELP = "preset name (vitality, systolic, sanger), .yaml/.json file, or scalesim:PATH.cfg"


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"want a positive integer, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser, attention_help: str) -> None:
    """--attention and --img-size (for zoo and factory models)."""
    parser.add_argument("--attention", choices=ATTENTIONS, default=None, help=attention_help)
    parser.add_argument("--img-size", type=positive_int, default=None, metavar="PIXELS",
                        help="input image side for zoo/factory models, unit: pixels (default: "
                             "the model's own, 224 for DeiT); tokens = (PIXELS/16)^2 + 1")


def add_set_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help=f"override a field of {what} by its dotted path, e.g. "
                             "chunks.count=8 or memories.dram.bandwidth_gbps=25.6 (repeatable)")


def load_workload(spec: str, *, attention: str | None, img_size: int | None,
                  default_attention: str, attention_options: dict | None = None) -> Any:
    """Resolve ``spec``; an option the user gave that the workload cannot honour (a saved graph
    traced with another attention, --img-size on a GEMM) is bad input, not silently ignored."""
    graph = resolve_with_progress(spec, attention=attention or default_attention,
                                  img_size=img_size, attention_options=attention_options)
    meta = graph.meta
    if attention is not None and meta.get("attention") != attention:
        raise InputError(f"--attention {attention}: workload {spec!r} is a fixed graph with "
                         f"attention {meta.get('attention')!r}; trace it with "
                         f"--attention {attention} or drop the option")
    if img_size is not None and meta.get("img_size") != img_size:
        raise InputError(f"--img-size {img_size}: workload {spec!r} is a fixed graph with image "
                         f"size {meta.get('img_size')!r}; trace it again or drop the option")
    return graph


def warn_unknown_ops(graph: Any) -> None:
    """One stderr warning naming the ops the tracer did not know (charged conservatively)."""
    unknown = graph.meta.get("unknown_ops") or {}
    if unknown:
        names = ", ".join(f"{k} x{v}" for k, v in unknown.items())
        print(f"accelsim: warning: ops unknown to the tracer, charged as elementwise over their "
              f"output: {names}", file=sys.stderr)


def resolve_with_progress(spec: str, **kw: Any) -> Any:
    """``workloads.resolve(spec, **kw)`` with its stages (import torch, build model, export,
    convert; ONNX: read, shape inference, convert) on one stderr line when stderr is a
    terminal (``accelsim.progress.Stages``); nothing otherwise, and nothing on a cache hit."""
    from accelsim.progress import Stages
    from workloads import resolve
    from workloads._progress import reporting

    with Stages(f"workload {spec}") as stages, reporting(stages):
        return resolve(spec, **kw)


def check_out_dir(out: str | None) -> None:
    """--out must be creatable as a directory, or one holding only report files (it is
    replaced as a whole, see ``accelsim.report``)."""
    if out is None:
        return
    if not out:
        raise InputError("--out: empty directory name")
    for p in (Path(out), *Path(out).parents):
        if p.exists() and not p.is_dir():
            raise InputError(f"--out {out}: {p} exists and is not a directory")
    from accelsim.report import check_out, clean_stale

    clean_stale(Path(out))
    check_out(Path(out))
