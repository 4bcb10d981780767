"""The PNGs of docs/validation.md: speedup and energy bars per model, token-scaling curves.

Deterministic: the Agg backend, fixed sizes and DPI, and no software/date metadata in the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {"vitality": "#1b9e77", "systolic": "#7570b3", "sanger": "#d95f02"}
NAMES = {"deit_tiny": "DeiT-T", "deit_small": "DeiT-S", "deit_base": "DeiT-B"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "accelsim", "font.size": 9})
    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})


def ratio_bars(ratios: dict[tuple[str, str], dict[str, float]], models: list[str], what: str,
               paper: float, path: Path) -> Path:
    """Grouped bars per model: attention and end-to-end ``what`` ratio ("speedup" or
    "energy") of vitality over sanger and over systolic; a line at the paper's claim."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    series = [("sanger", "attn"), ("sanger", "e2e"), ("systolic", "attn"), ("systolic", "e2e")]
    key = {"speedup": "{}_speedup", "energy": "{}_energy"}[what]
    width = 0.8 / len(series)
    for j, (base, scope) in enumerate(series):
        vals = [ratios[(m, base)][key.format(scope)] for m in models]
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(models))]
        bars = ax.bar(xs, vals, width, color=COLORS[base], alpha=1.0 if scope == "attn" else 0.5,
                      label=f"vs {base}, {'attention' if scope == 'attn' else 'end to end'}")
        for b, v in zip(bars, vals, strict=True):
            ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, v), ha="center",
                        va="bottom", fontsize=7)
    ax.axhline(paper, color="black", ls="--", lw=1)
    ax.annotate(f"paper: ~{paper:g}x vs Sanger", (len(models) - 0.5, paper), ha="right",
                va="bottom", fontsize=8)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(range(len(models)), [NAMES.get(m, m) for m in models])
    label = "speedup of vitality (x)" if what == "speedup" else "energy ratio baseline / vitality (x)"
    ax.set_ylabel(label)
    ax.set_title(f"ViTALiTy preset vs baselines: {'latency' if what == 'speedup' else 'energy'}"
                 " (same PE budget and memories)")
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    ax.set_ylim(0, max(paper, *(r[key.format(s)] for r in ratios.values() for s in ("attn", "e2e")))
                * 1.25)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def token_curves(data: dict[tuple[str, int], dict[str, Any]], path: Path) -> Path:
    """Attention and end-to-end cycles against tokens, log-log, one line per preset and model."""
    plt = _plt()
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4))
    models = sorted({m for m, _ in data}, key=list(NAMES).index)
    styles = ["-", "--", ":"]
    for ax, key, title in ((axes[0], "attention_cycles", "attention"),
                           (axes[1], "cycles", "end to end")):
        for mi, m in enumerate(models):
            sizes = sorted(s for mm, s in data if mm == m)
            tokens = [data[(m, s)]["tokens"] for s in sizes]
            for p, color in COLORS.items():
                ys = [data[(m, s)]["runs"][p][key] for s in sizes]
                ax.plot(tokens, ys, styles[mi % 3], color=color, marker="o", ms=3,
                        label=f"{p}, {NAMES.get(m, m)}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = sorted({d["tokens"] for d in data.values()})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("tokens")
        ax.set_ylabel("cycles")
        ax.set_title(title)
        ax.grid(True, which="both", lw=0.3)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
