"""Analyses of trained checkpoints, as the paper shows them: PNGs and markdown tables.

    python -m vitality_model.analyze --dataset mnist5k --softmax CKPT [--taylor CKPT ...]
        [--seed S] [--images 256] --out DIR

- **Scores before / after row-mean centring** (paper Fig. 3), per layer of the softmax model, on
  real test images: histograms of ``QK^T/sqrt(d)`` and of the same rows centred on their mean
  (``scores_layer{i}.png``), and the share of centred scores in ``[-1, 1)``, where ``1 + x`` is a
  good fit to ``exp(x)`` (the paper's premise).
- **Per-layer output error of Taylor vs softmax** on the softmax model's own Q, K, V (each layer
  fed the real activations of the softmax model): ``||Z_taylor - Z_softmax|| / ||Z_softmax||``,
  and the same for ELU+1 linear attention.
- **Quantised operands**: accuracy of each ``--taylor`` checkpoint (run as Taylor attention, as
  the accelerator does) with Q, K^ (centred keys), V and G = K^^T V fake-quantised to 8 and 4 bits
  (signed, symmetric, one scale per image and head).

Writes ``DIR/analysis.md`` (the tables), ``DIR/analysis.json`` and the PNGs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from .attention import elu_linear_attention, softmax_attention, taylor_attention
from .data import DATASETS, load_split
from .models import Attention, set_attention
from .train import UsageError, accuracy, build_model, load_checkpoint


def capture_qkv(model: torch.nn.Module, x: Tensor) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Run ``model`` on ``x`` (eval mode) and return each attention layer's ``(q, k, v)``."""
    seen: list[tuple[Tensor, Tensor, Tensor]] = []
    layers = [m for m in model.modules() if isinstance(m, Attention)]
    originals = [m.kernel for m in layers]
    try:
        for m, kernel in zip(layers, originals, strict=True):
            def spy(q, k, v, kernel=kernel):
                seen.append((q.detach(), k.detach(), v.detach()))
                return kernel(q, k, v)
            m.kernel = spy  # type: ignore[method-assign]
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for m in layers:
            del m.kernel  # back to the class method
    return seen


def score_stats(q: Tensor, k: Tensor) -> dict:
    """Scores ``QK^T/sqrt(d)`` and their row-centred version: range, spread and the share of
    centred scores in ``[-1, 1)``."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    centred = scores - scores.mean(dim=-1, keepdim=True)
    inside = ((centred >= -1) & (centred < 1)).double().mean()
    return {
        "raw_min": float(scores.min()), "raw_max": float(scores.max()),
        "raw_std": float(scores.std()),
        "centred_min": float(centred.min()), "centred_max": float(centred.max()),
        "centred_std": float(centred.std()),
        "centred_in_unit_range": float(inside),
        "taylor_weight_negative": float((centred < -1).double().mean()),
    }


def relative_error(approx: Tensor, exact: Tensor) -> float:
    """``||approx - exact||_F / ||exact||_F``."""
    return float((approx - exact).norm() / exact.norm())


def quantized_taylor(bits: int) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Algorithm 1 with Q, K^, V and G rounded to signed ``bits``-bit levels (one scale per
    image and head; accumulation in float, as an accelerator's wide accumulators do)."""
    levels = 2 ** (bits - 1) - 1

    def quant(x: Tensor) -> Tensor:
        scale = x.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12) / levels
        return torch.round(x / scale).clamp(-levels, levels) * scale

    def kernel(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        n, d = k.shape[-2], k.shape[-1]
        q, v = quant(q), quant(v)
        k_hat = quant(k - k.mean(dim=-2, keepdim=True))
        g = quant(k_hat.transpose(-2, -1) @ v)
        t_d = q @ k_hat.sum(dim=-2, keepdim=True).transpose(-2, -1) + n * math.sqrt(d)
        return (q @ g + math.sqrt(d) * v.sum(dim=-2, keepdim=True)) / t_d

    return kernel


def accuracy_with_kernel(model: torch.nn.Module, kernel, x: Tensor, y: Tensor) -> float:
    """Eval-mode accuracy with every attention layer running ``kernel(q, k, v)``."""
    layers = [m for m in model.modules() if isinstance(m, Attention)]
    try:
        for m in layers:
            m.kernel = kernel  # type: ignore[method-assign]
        return accuracy(model, x, y)
    finally:
        for m in layers:
            del m.kernel


def plot_scores(qkv: list[tuple[Tensor, Tensor, Tensor]], out: Path) -> list[str]:
    """One PNG per layer: histograms of raw and row-centred scores (paper Fig. 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for i, (q, k, _) in enumerate(qkv):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        centred = scores - scores.mean(dim=-1, keepdim=True)
        fig, ax = plt.subplots(figsize=(6, 3.2))
        lo = float(min(scores.min(), centred.min()))
        hi = float(max(scores.max(), centred.max()))
        bins = torch.linspace(lo, hi, 121).numpy()
        ax.hist(scores.flatten().numpy(), bins=bins, alpha=0.55, density=True,
                label="QK^T/sqrt(d)")
        ax.hist(centred.flatten().numpy(), bins=bins, alpha=0.55, density=True,
                label="row-mean centred")
        ax.axvspan(-1, 1, color="grey", alpha=0.12, label="[-1, 1)")
        ax.set_xlabel("score")
        ax.set_ylabel("density")
        ax.set_title(f"layer {i}: attention scores before / after row-mean centring")
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"scores_layer{i}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def analyze(args: argparse.Namespace) -> dict:
    """Run the three analyses; write PNGs, analysis.json and analysis.md under ``args.out``."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _, _, x_test, y_test = load_split(args.dataset, args.seed)
    x = x_test[: args.images]
    softmax = build_model(args.dataset, "softmax", args.seed)
    load_checkpoint(softmax, args.softmax)
    qkv = capture_qkv(softmax, x)
    layers = []
    for i, (q, k, v) in enumerate(qkv):
        z = softmax_attention(q, k, v)
        layers.append({"layer": i, **score_stats(q, k),
                       "taylor_rel_error": relative_error(taylor_attention(q, k, v), z),
                       "linear_elu_rel_error": relative_error(elu_linear_attention(q, k, v), z)})
    pngs = plot_scores(qkv, out)
    quant = []
    for path in args.taylor:
        model = build_model(args.dataset, "taylor", args.seed)
        load_checkpoint(model, path)
        set_attention(model, "taylor")
        row = {"checkpoint": path, "float32": accuracy(model, x_test, y_test)}
        for bits in (8, 4):
            row[f"int{bits}"] = accuracy_with_kernel(model, quantized_taylor(bits), x_test, y_test)
        quant.append(row)
    result = {"dataset": args.dataset, "seed": args.seed, "images": len(x),
              "softmax_checkpoint": args.softmax, "layers": layers, "quantized": quant,
              "pngs": pngs}
    (out / "analysis.json").write_text(json.dumps(result, indent=1))
    (out / "analysis.md").write_text(markdown(result))
    return result


def markdown(r: dict) -> str:
    lines = [f"Softmax checkpoint `{r['softmax_checkpoint']}`, {r['images']} test images of "
             f"{r['dataset']} (seed {r['seed']}).", "",
             "| layer | raw scores min / max | raw std | centred min / max | centred std | "
             "centred in [-1, 1) (%) | centred < -1, 1 + x < 0 (%) | taylor vs softmax rel. "
             "error | linear_elu vs softmax rel. error |",
             "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for s in r["layers"]:
        lines.append(
            f"| {s['layer']} | {s['raw_min']:.2f} / {s['raw_max']:.2f} | {s['raw_std']:.2f} | "
            f"{s['centred_min']:.2f} / {s['centred_max']:.2f} | {s['centred_std']:.2f} | "
            f"{100 * s['centred_in_unit_range']:.1f} | {100 * s['taylor_weight_negative']:.1f} | "
            f"{s['taylor_rel_error']:.3f} | {s['linear_elu_rel_error']:.3f} |")
    if r["quantized"]:
        lines += ["", "| checkpoint (run as taylor) | float32 test acc. (%) | Q, K^, V, G int8 (%) "
                  "| Q, K^, V, G int4 (%) |", "|---|---:|---:|---:|"]
        for q in r["quantized"]:
            lines.append(f"| `{q['checkpoint']}` | {100 * q['float32']:.1f} | "
                         f"{100 * q['int8']:.1f} | {100 * q['int4']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vitality_model.analyze",
                                description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k", choices=sorted(DATASETS))
    p.add_argument("--softmax", required=True, metavar="CKPT", help="trained softmax state_dict")
    p.add_argument("--taylor", nargs="*", default=[], metavar="CKPT",
                   help="checkpoints to evaluate as taylor with quantised operands")
    p.add_argument("--seed", type=int, default=0, help="seed of the split the models used")
    p.add_argument("--images", type=int, default=256, help="test images for the score analyses")
    p.add_argument("--out", required=True, help="output directory")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        result = analyze(args)
    except UsageError as exc:  # a missing or unloadable checkpoint: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
