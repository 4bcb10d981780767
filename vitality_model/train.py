"""Train the small ``vit_digits`` ViT on scikit-learn's bundled digits, with any attention variant.

    python -m vitality_model.train --dataset digits --attention vitality [--epochs N] [--seed S]
        [--json] [--save CKPT] [--init CKPT] [--lr LR] [--batch-size B] [--threads T]

Why digits: it ships inside scikit-learn (no download), is small enough to train a ViT from
scratch on two CPU cores in about a minute, and is still hard enough for the attention variants to
differ. Images are 8x8 grayscale in 0..16, scaled to [0, 1]; ``vit_digits`` cuts them into 2x2
patches (16 tokens + the class token).

The paper's flow is "train softmax, switch to ViTALiTy, fine-tune": ``--save`` writes the
state_dict, ``--init`` loads one (from a model trained with any attention; the variants share all
parameters) before training with ``--attention``. Accuracy is measured in eval mode, so a
``vitality`` model is evaluated with the low-rank Taylor part only, as the accelerator runs it.

Deterministic for a given seed and thread count: the split, the initial weights and the batch order
all derive from ``--seed``. There is no augmentation: a random +-1 pixel shift measured worse
(docs/model.md), since the digits fill their 8x8 frame. With ``--json`` the last stdout line is
``{"test_accuracy", "train_accuracy", "attention", "epochs", "seed", "params", "wall_s", ...}``;
for ``vitality`` it adds ``test_accuracy_with_sparse`` (sparse branch kept at inference, as the
authors' released code does).
Bad input (unknown dataset or attention, unreadable checkpoint) exits with code 2 and one line on
stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import ATTENTIONS, check_attention
from .models import build

MODEL = "vit_digits"
DATASETS = ("digits",)
#: One intra-op thread measured faster than two for this tiny model (docs/model.md), and it is
#: the only setting that is not slowed down by other processes sharing a two-core machine.
DEFAULT_THREADS = 1


class UsageError(Exception):
    """Bad command-line input: reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + exit; we want one line
        raise UsageError(message)


def load_digits_split(
    seed: int, test_fraction: float = 0.2
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Digits as ``(x_train, y_train, x_test, y_test)``; x is ``(N, 1, 8, 8)`` float in [0, 1].

    The split is stratified by class and fixed by ``seed`` (1437 train / 360 test images).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        range(len(y)), test_size=test_fraction, stratify=data.target, random_state=seed
    )
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def cosine_with_warmup(total_steps: int, warmup_steps: int):
    """LR multiplier: linear warm-up, then cosine decay to zero at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


@torch.no_grad()
def accuracy(
    model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 512, *, train_mode: bool = False
) -> float:
    """Top-1 accuracy, in eval mode by default (vitality: low-rank Taylor part only, as at
    inference). ``train_mode=True`` keeps vitality's sparse branch on, as the authors' released
    code does at inference; the model has no dropout, so this is still deterministic."""
    model.train(train_mode)
    correct = sum(
        int((model(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum())
        for i in range(0, len(y), batch_size)
    )
    model.eval()
    return correct / len(y)


def load_checkpoint(model: nn.Module, path: str) -> None:
    """Load a state_dict written by ``--save``; any failure is a UsageError (exit code 2)."""
    if not Path(path).is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise UsageError(f"cannot load checkpoint {path}: not a state_dict saved by "
                         "--save (torch.save of tensors)") from None
    try:
        model.load_state_dict(state)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot load checkpoint {path}: {first}") from None


def train(args: argparse.Namespace) -> dict:
    """Train and evaluate as configured by ``args``; return the result record."""
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_digits_split(args.seed)
    model = build(MODEL, attention=args.attention, seed=args.seed)
    if args.init:
        load_checkpoint(model, args.init)
    gen = torch.Generator().manual_seed(args.seed)

    steps_per_epoch = math.ceil(len(y_train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, cosine_with_warmup(total, warmup_steps=max(1, total // 20))
    )
    from tqdm import tqdm

    bar = tqdm(total=total, file=sys.stderr, disable=not sys.stderr.isatty(), desc=args.attention)
    loss_value = None  # stays None with --epochs 0 (evaluation only)
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=gen)
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_value = loss.item()
            bar.update()
            bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
    bar.close()

    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), args.save)
    result = {
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_accuracy": accuracy(model, x_train, y_train),
        "attention": args.attention,
        "epochs": args.epochs,
        "seed": args.seed,
        "params": sum(p.numel() for p in model.parameters()),
        "wall_s": round(time.perf_counter() - start, 3),
        "dataset": args.dataset,
        "model": MODEL,
        "init": args.init,
        "final_loss": None if loss_value is None else round(loss_value, 6),
        "threads": torch.get_num_threads(),
    }
    if args.attention == "vitality":  # what keeping the sparse branch at inference would give
        result["test_accuracy_with_sparse"] = accuracy(model, x_test, y_test, train_mode=True)
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and validate the command line; raise UsageError on bad input."""
    p = _Parser(
        prog="python -m vitality_model.train",
        description="Train vit_digits with a chosen attention variant on sklearn's digits.",
    )
    p.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    p.add_argument(
        "--attention",
        required=True,
        help="; ".join(f"{k}: {v}" for k, v in ATTENTIONS.items()),
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=40,
        help="training epochs (default 40); 0 only evaluates (e.g. a softmax checkpoint "
        "switched to taylor)",
    )
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the train/test split, the weights and the batches (default 0)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="torch intra-op threads")
    p.add_argument("--save", metavar="CKPT", help="write the trained state_dict here")
    p.add_argument("--init", metavar="CKPT", help="start from this state_dict (any attention)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    args = p.parse_args(argv)
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; valid names: {', '.join(DATASETS)}")
    try:
        check_attention(args.attention)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for name, low in (("epochs", 0), ("batch_size", 1), ("threads", 1)):
        if getattr(args, name) < low:
            raise UsageError(f"--{name.replace('_', '-')} must be >= {low}")
    if not args.lr > 0:
        raise UsageError("--lr must be > 0")
    if args.init and not Path(args.init).is_file():
        raise UsageError(f"checkpoint not found: {args.init}")
    if args.save and (Path(args.save).is_dir() or any(
            p.exists() and not p.is_dir() for p in Path(args.save).parents)):
        raise UsageError(f"--save {args.save}: want a file path (a directory, or a file in "
                         "the way of its directory, is given)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    try:
        args = parse_args(argv)
        torch.set_num_threads(args.threads)
        result = train(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        init = f", fine-tuned from {args.init}" if args.init else ""
        print(
            f"{MODEL} ({result['params']:,} params), attention={args.attention}{init}, "
            f"{args.epochs} epochs, seed {args.seed}: train {result['train_accuracy']:.2%}, "
            f"test {result['test_accuracy']:.2%} in {result['wall_s']:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
