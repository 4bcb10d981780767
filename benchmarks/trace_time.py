"""Wall time of tracing zoo models into OpGraphs (``workloads.trace``), real and meta paths.

Usage: python benchmarks/trace_time.py [--repeats N]

Prints a Markdown table (median of N runs after one warm-up trace): DeiT-T/S/B at 224 px
(197 tokens) on the default real-tensor path and on the meta path, and ViT-B at 896 px
(3137 tokens) and 1024 px (4097 tokens) on the meta path.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import vitality_model
import workloads

CASES = [  # (zoo name, label, img size, path)
    ("deit_tiny", "DeiT-T", 224, "real"),
    ("deit_small", "DeiT-S", 224, "real"),
    ("deit_base", "DeiT-B", 224, "real"),
    ("deit_tiny", "DeiT-T", 224, "meta"),
    ("deit_base", "DeiT-B", 224, "meta"),
    ("deit_base", "ViT-B", 896, "meta"),
    ("deit_base", "ViT-B", 1024, "meta"),
]


def trace_once(name: str, img: int, path: str) -> tuple[float, workloads.OpGraph]:
    if path == "meta":
        with torch.device("meta"):
            model = vitality_model.build(name, img_size=img, seed=None)
        x = torch.empty(1, 3, img, img, device="meta")
    else:
        model = vitality_model.build(name, img_size=img)
        x = torch.randn(1, 3, img, img)
    t0 = time.perf_counter()
    graph = workloads.trace(model, x, device=path)
    return time.perf_counter() - t0, graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trace_once("deit_tiny", 32, "real")  # warm-up: the first export in a process pays ~1 s
    print(f"torch {torch.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()}, 1 thread, median of {args.repeats}\n")
    print("| model | image | tokens | path | ops (non-view) | nodes | GMACs | trace time (s) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, label, img, path in CASES:
        times = []
        for _ in range(args.repeats):
            dt, graph = trace_once(name, img, path)
            times.append(dt)
        t = graph.meta["totals"]
        print(f"| {label} | {img} | {graph.meta['tokens']} | {graph.meta['tracer']} | "
              f"{t['ops']} | {t['nodes']} | {t['macs'] / 1e9:.2f} | "
              f"{statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
