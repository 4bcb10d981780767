"""The model zoo as plain data: ``ViTConfig``, ``ZOO`` and ``model_config`` (no torch import, so
that the tracer's cache key can name a model's default image size without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ViTConfig:
    """Shape of a Vision Transformer; tokens = (img_size / patch_size)^2 + 1 (class token)."""

    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    img_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    num_classes: int = 1000
    #: Initial value of the (learned) position embedding: ``"trunc_normal"`` (std 0.02, DeiT) or
    #: ``"sincos"`` (2-D sine-cosine of the patch row and column, class token 0), which trains
    #: much faster from scratch on small data (docs/model.md, mnist5k).
    pos_init: str = "trunc_normal"

    @property
    def num_tokens(self) -> int:
        return (self.img_size // self.patch_size) ** 2 + 1


#: The zoo: DeiT-T/S/B (Touvron et al. 2021), ViT-L/16, and a small ViT for 8x8 digits.
ZOO: dict[str, ViTConfig] = {
    "deit_tiny": ViTConfig(embed_dim=192, depth=12, num_heads=3),
    "deit_small": ViTConfig(embed_dim=384, depth=12, num_heads=6),
    "deit_base": ViTConfig(embed_dim=768, depth=12, num_heads=12),
    "vit_large": ViTConfig(embed_dim=1024, depth=24, num_heads=16),
    "vit_digits": ViTConfig(
        embed_dim=64, depth=4, num_heads=4, mlp_ratio=2.0, img_size=8, patch_size=2,
        in_chans=1, num_classes=10,
    ),
}


def model_config(name: str, **overrides) -> ViTConfig:
    """The zoo config ``name`` with fields replaced by ``overrides`` (e.g. ``img_size=448``)."""
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(sorted(ZOO))}")
    return replace(ZOO[name], **overrides)
