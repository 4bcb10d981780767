"""CPU time of softmax vs the paper's Taylor attention: kernel, DeiT-Tiny block, whole model.

    python benchmarks/attention_cpu.py [--tokens 197 785 3137 12545] [--model-sizes 224 448]
        [--repeats 5] [--threads 1] [--json]

Three kinds of rows, all float32, batch 1, inference mode:

- ``kernel``: one attention call on ``(1, heads, n, d)`` tensors (DeiT-Tiny: 3 heads of 64), no
  projections. ``softmax_sdpa`` is torch's fused ``F.scaled_dot_product_attention``;
  ``softmax_explicit`` writes the n x n map out (``softmax(QK^T/sqrt(d)) V``, what a non-fused
  implementation, and the paper's CPU baseline, computes; skipped above ``--explicit-max-tokens``,
  where the map alone needs gigabytes); ``taylor`` is ``taylor_attention`` (Algorithm 1).
- ``block``: one DeiT-Tiny encoder block (LayerNorms, QKV and output projections, MLP) on
  ``(1, n, 192)`` activations, softmax (SDPA) vs taylor.
- ``model``: the whole DeiT-Tiny on one ``S x S`` image (n = (S/16)^2 + 1), softmax vs taylor:
  what a user would see.

Timing is CPU time (``time.process_time``: this process's user + system time, so waiting for the
CPU behind other processes on a shared machine is not counted), the variants of a row interleaved
call by call so that changing load hits them alike, and each cell is the *minimum* over
``--repeats`` calls after one warm-up call each. A script, not a test: timings depend on the
machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from validation.cpu import cpu_name
from vitality_model import build, softmax_attention, taylor_attention
from vitality_model.models import Block


def softmax_explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Non-fused softmax attention: the n x n score map is materialised."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ v


def min_cpu_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Minimum CPU seconds of each zero-argument ``fns`` value over ``repeats`` calls, the
    functions interleaved (a, b, c, a, b, c, ...) after one warm-up call each."""
    best = {name: math.inf for name in fns}
    with torch.inference_mode():
        for fn in fns.values():
            fn()
        for _ in range(repeats):
            for name, fn in fns.items():
                t0 = time.process_time()
                fn()
                best[name] = min(best[name], time.process_time() - t0)
    return best


def kernel_rows(args: argparse.Namespace) -> list[dict]:
    rows = []
    gen = torch.Generator().manual_seed(0)
    for n in args.tokens:
        q, k, v = (torch.randn(1, args.heads, n, args.dim, generator=gen) for _ in range(3))
        fns: dict[str, Callable[[], object]] = {
            "softmax_sdpa": lambda q=q, k=k, v=v: softmax_attention(q, k, v),
            "taylor": lambda q=q, k=k, v=v: taylor_attention(q, k, v),
        }
        if n <= args.explicit_max_tokens:
            fns["softmax_explicit"] = lambda q=q, k=k, v=v: softmax_explicit(q, k, v)
        rows.append({"kind": "kernel", "tokens": n, **ms(min_cpu_times(fns, args.repeats))})
        print(f"kernel n={n}: done", file=sys.stderr, flush=True)
    return rows


def block_rows(args: argparse.Namespace) -> list[dict]:
    rows = []
    for n in args.tokens:
        x = torch.randn(1, n, 192, generator=torch.Generator().manual_seed(1))
        blocks = {}
        for a in ("softmax", "taylor"):
            torch.manual_seed(0)
            blocks[a] = Block(192, 3, 4.0, attention=a).eval()
        fns = {f"{a}{'_sdpa' if a == 'softmax' else ''}": (lambda b=b, x=x: b(x))
               for a, b in blocks.items()}
        rows.append({"kind": "block", "tokens": n, **ms(min_cpu_times(fns, args.repeats))})
        print(f"block n={n}: done", file=sys.stderr, flush=True)
    return rows


def model_rows(args: argparse.Namespace) -> list[dict]:
    rows = []
    for size in args.model_sizes:
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(2))
        models = {a: build("deit_tiny", a, img_size=size, seed=0).eval()
                  for a in ("softmax", "taylor")}
        fns = {f"{a}{'_sdpa' if a == 'softmax' else ''}": (lambda m=m, x=x: m(x))
               for a, m in models.items()}
        rows.append({"kind": "model", "tokens": (size // 16) ** 2 + 1, "img_size": size,
                     **ms(min_cpu_times(fns, args.repeats))})
        print(f"model {size} px: done", file=sys.stderr, flush=True)
    return rows


def ms(seconds: dict[str, float]) -> dict[str, float]:
    out = {f"{k}_ms": v * 1e3 for k, v in seconds.items()}
    out["sdpa_over_taylor"] = seconds["softmax_sdpa"] / seconds["taylor"]
    if "softmax_explicit" in seconds:
        out["explicit_over_taylor"] = seconds["softmax_explicit"] / seconds["taylor"]
    return out


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        f"CPU: {meta['cpu']}; torch {meta['torch']}; threads {meta['threads']}; float32, batch 1; "
        f"CPU time (process_time), minimum of {meta['repeats']} interleaved calls",
        "",
        "| what | tokens n | softmax SDPA (ms) | softmax explicit (ms) | taylor (ms) | "
        "SDPA / taylor | explicit / taylor | taylor per token (µs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"kernel": "attention kernel (3 heads of 64)", "block": "DeiT-T block",
             "model": "DeiT-T model"}
    for r in rows:
        what = names[r["kind"]] + (f", {r['img_size']} px" if "img_size" in r else "")
        exp = r.get("softmax_explicit_ms")
        exp_ms = "–" if exp is None else f"{exp:.3f}"
        exp_ratio = "–" if exp is None else f"{r['explicit_over_taylor']:.2f}x"
        lines.append(
            f"| {what} | {r['tokens']} | {r['softmax_sdpa_ms']:.3f} | "
            f"{exp_ms} | {r['taylor_ms']:.3f} | {r['sdpa_over_taylor']:.2f}x | {exp_ratio} | "
            f"{r['taylor_ms'] * 1e3 / r['tokens']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, nargs="+", default=[197, 785, 3137, 12545])
    p.add_argument("--model-sizes", type=int, nargs="*", default=[224, 448],
                   help="image sizes of the whole-model rows (px; tokens = (S/16)^2 + 1)")
    p.add_argument("--dim", type=int, default=64, help="head dimension d of the kernel rows")
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--explicit-max-tokens", type=int, default=3137,
                   help="largest n for the explicit softmax kernel (its n x n map is in memory)")
    p.add_argument("--no-blocks", action="store_true", help="skip the DeiT-T block rows")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--repeats", type=int, default=5, help="calls per cell (the minimum is kept)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    torch.set_num_threads(args.threads)
    meta = {"cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "heads": args.heads, "dim": args.dim, "repeats": args.repeats}
    t0 = time.process_time()
    rows = kernel_rows(args) + ([] if args.no_blocks else block_rows(args)) + model_rows(args)
    meta["cpu_s"] = round(time.process_time() - t0, 1)
    print(json.dumps({"meta": meta, "rows": rows}) if args.json else markdown(rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
