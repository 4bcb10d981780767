"""CPU latency of one attention kernel call: torch SDPA (softmax) vs the paper's Taylor attention.

    python benchmarks/attention_cpu.py [--tokens 197 785 3137 12545] [--threads 1] [--json]

One call of the *kernel* only (no QKV or output projection) on ``(batch, heads, n, d)`` float32
tensors, DeiT-Tiny's shape by default (3 heads of 64, batch 1). The token counts are
(S/16)^2 + 1 for S = 224, 448, 896, 1792. Softmax goes through ``F.scaled_dot_product_attention``
(fused and memory-efficient on CPU, so 12545 tokens fit); Taylor is ``taylor_attention``
(Algorithm 1). Each cell is the median of several calls after a warm-up; the number of calls
adapts so that the whole run takes a few minutes at most. Per-token time that stays flat as n
grows is the linear scaling the paper claims for Taylor attention; softmax's grows with n.

This is a script, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from validation.cpu import cpu_name
from vitality_model import softmax_attention, taylor_attention

KERNELS = {"softmax_sdpa": softmax_attention, "taylor": taylor_attention}


def time_call(fn, args, *, min_runs: int, max_runs: int, budget_s: float) -> tuple[float, int]:
    """Median seconds of ``fn(*args)`` over between ``min_runs`` and ``max_runs`` calls (after
    one warm-up call), stopping early once ``budget_s`` seconds have been spent."""
    with torch.inference_mode():
        fn(*args)
        times: list[float] = []
        spent = 0.0
        while len(times) < max_runs and (len(times) < min_runs or spent < budget_s):
            t0 = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t0)
            spent += times[-1]
    return statistics.median(times), len(times)


def measure(args: argparse.Namespace) -> list[dict]:
    """One row per token count: median latency of each kernel, their ratio and per-token time."""
    rows = []
    gen = torch.Generator().manual_seed(0)
    for n in args.tokens:
        shape = (args.batch, args.heads, n, args.dim)
        q, k, v = (torch.randn(*shape, generator=gen) for _ in range(3))
        row: dict = {"tokens": n}
        for name, fn in KERNELS.items():
            sec, runs = time_call(
                fn,
                (q, k, v),
                min_runs=args.min_runs,
                max_runs=args.max_runs,
                budget_s=args.budget_s,
            )
            row[f"{name}_ms"] = sec * 1e3
            row[f"{name}_us_per_token"] = sec * 1e6 / n
            row[f"{name}_runs"] = runs
        row["speedup"] = row["softmax_sdpa_ms"] / row["taylor_ms"]
        rows.append(row)
        print(f"n={n}: done", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        f"CPU: {meta['cpu']}; torch {meta['torch']}; threads {meta['threads']}; "
        f"batch {meta['batch']}, heads {meta['heads']}, d {meta['dim']}, float32; "
        "median of the runs shown",
        "",
        "| tokens n | softmax SDPA (ms) | taylor (ms) | softmax / taylor | "
        "softmax per token (us) | taylor per token (us) | runs (softmax, taylor) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['tokens']} | {r['softmax_sdpa_ms']:.3f} | {r['taylor_ms']:.3f} | "
            f"{r['speedup']:.2f}x | {r['softmax_sdpa_us_per_token']:.3f} | "
            f"{r['taylor_us_per_token']:.3f} | {r['softmax_sdpa_runs']}, {r['taylor_runs']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, nargs="+", default=[197, 785, 3137, 12545])
    p.add_argument("--dim", type=int, default=64, help="head dimension d")
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--min-runs", type=int, default=3)
    p.add_argument("--max-runs", type=int, default=21)
    p.add_argument(
        "--budget-s",
        type=float,
        default=15.0,
        help="stop adding runs to one cell after this many seconds",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    meta = {
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "heads": args.heads,
        "dim": args.dim,
    }
    t0 = time.perf_counter()
    rows = measure(args)
    meta["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}))
    else:
        print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
