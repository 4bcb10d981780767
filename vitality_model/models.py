"""A plain-torch ViT / DeiT with switchable attention, and the model zoo.

Parameter names follow the common ViT layout (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
``blocks.{i}.attn.qkv`` ...), so module scopes read naturally in traced graphs (``blocks.3.attn``).
Changing the attention variant never adds or removes parameters: a trained softmax model switched
to ``vitality`` keeps every weight, which is the paper's fine-tuning flow.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import (
    DEFAULT_QUANT_BITS,
    DEFAULT_SPARSE_SCALE,
    DEFAULT_THRESHOLD,
    check_attention,
    elu_linear_attention,
    resolve_sparse_scale,
    sanger_attention,
    softmax_attention,
    taylor_attention,
    vitality_sparse_branch,
)
from .zoo import ViTConfig, model_config


class Attention(nn.Module):
    """Multi-head self-attention whose kernel is chosen by name (see ``ATTENTIONS``).

    ``exact_denominator`` (taylor/vitality) keeps step 4 of Algorithm 1; ``threshold`` and
    ``quant_bits`` configure the Sanger-style sparse mask (vitality while training, sanger always);
    ``sparse_scale`` multiplies vitality's training-only sparse term (``"inv_sqrt_d"`` or a
    number, see ``attention.DEFAULT_SPARSE_SCALE``).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        attention: str = "softmax",
        qkv_bias: bool = True,
        exact_denominator: bool = True,
        threshold: float = DEFAULT_THRESHOLD,
        quant_bits: int = DEFAULT_QUANT_BITS,
        sparse_scale: float | str = DEFAULT_SPARSE_SCALE,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embedding dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attention = check_attention(attention)
        self.exact_denominator = exact_denominator
        self.threshold = threshold
        self.quant_bits = quant_bits
        resolve_sparse_scale(sparse_scale, self.head_dim)  # reject bad values early
        self.sparse_scale = sparse_scale
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, head_dim={self.head_dim}, attention={self.attention!r}"

    def kernel(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Apply the selected attention kernel to per-head ``q, k, v`` of shape (B, H, N, d)."""
        name = self.attention
        if name == "softmax":
            return softmax_attention(q, k, v)
        if name == "linear_elu":
            return elu_linear_attention(q, k, v)
        if name == "sanger":
            return sanger_attention(q, k, v, threshold=self.threshold, bits=self.quant_bits)
        out = taylor_attention(q, k, v, exact_denominator=self.exact_denominator)
        if name == "vitality" and self.training:
            out = out + vitality_sparse_branch(
                q, k, v, threshold=self.threshold, bits=self.quant_bits, scale=self.sparse_scale
            )
        return out

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = self.kernel(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """Two-layer feed-forward network with GELU."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer encoder block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, **attn_kwargs) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, **attn_kwargs)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Split an image into non-overlapping patches and project each (a strided convolution)."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
        self.img_size = img_size
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.img_size or x.shape[-2] != self.img_size:
            raise ValueError(
                f"expected a {self.img_size}x{self.img_size} image, got {tuple(x.shape[-2:])}"
            )
        return self.proj(x).flatten(2).transpose(1, 2)


def sincos_2d(side: int, dim: int) -> Tensor:
    """``(side * side, dim)`` 2-D sine-cosine position codes (MAE / ViT-22B style), row-major
    patches: a quarter of the channels each for sin and cos of the column and of the row."""
    if dim % 4:
        raise ValueError(f"sincos position codes need dim divisible by 4, got {dim}")
    gy, gx = torch.meshgrid(torch.arange(side, dtype=torch.float32),
                            torch.arange(side, dtype=torch.float32), indexing="ij")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    y, x = gy.flatten()[:, None] * omega, gx.flatten()[:, None] * omega
    return torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1)


class VisionTransformer(nn.Module):
    """ViT/DeiT classifier (class token, learned position embedding, pre-norm blocks)."""

    def __init__(self, cfg: ViTConfig, **attn_kwargs) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, cfg.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.embed_dim))
        self.blocks = nn.ModuleList(
            Block(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, **attn_kwargs)
            for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        if self.cfg.pos_init == "sincos":
            side = self.cfg.img_size // self.cfg.patch_size
            with torch.no_grad():
                self.pos_embed.zero_()
                self.pos_embed[0, 1:] = sincos_2d(side, self.cfg.embed_dim)
        elif self.cfg.pos_init == "trunc_normal":
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            raise ValueError(f"unknown pos_init {self.cfg.pos_init!r}; valid: sincos, trunc_normal")
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def build(
    name: str,
    attention: str = "softmax",
    *,
    img_size: int | None = None,
    patch_size: int | None = None,
    num_classes: int | None = None,
    seed: int | None = 0,
    **attn_kwargs,
) -> VisionTransformer:
    """Build zoo model ``name`` with random weights (``seed``) and the given attention variant.

    ``img_size`` and ``patch_size`` set the token count; ``attn_kwargs`` go to ``Attention``
    (``exact_denominator``, ``threshold``, ``quant_bits``, ``sparse_scale``).
    """
    check_attention(attention)
    overrides = {
        k: v
        for k, v in (("img_size", img_size), ("patch_size", patch_size), ("num_classes", num_classes))
        if v is not None
    }
    cfg = model_config(name, **overrides)
    if seed is not None:
        torch.manual_seed(seed)
    return VisionTransformer(cfg, attention=attention, **attn_kwargs)


def set_attention(model: nn.Module, attention: str, **attn_kwargs) -> nn.Module:
    """Switch every ``Attention`` in ``model`` to another variant in place; weights carry over.

    ``attn_kwargs`` may also update ``exact_denominator``, ``threshold``, ``quant_bits`` or
    ``sparse_scale``.
    """
    check_attention(attention)
    allowed = {"exact_denominator", "threshold", "quant_bits", "sparse_scale"}
    unknown = set(attn_kwargs) - allowed
    if unknown:
        raise ValueError(f"unknown attention options {sorted(unknown)}; valid: {sorted(allowed)}")
    for m in model.modules():
        if isinstance(m, Attention):
            if "sparse_scale" in attn_kwargs:
                resolve_sparse_scale(attn_kwargs["sparse_scale"], m.head_dim)
            m.attention = attention
            for key, value in attn_kwargs.items():
                setattr(m, key, value)
    return model
