"""vitality_model: ViTALiTy's linear Taylor attention and the ViT/DeiT zoo, in plain PyTorch.

Knows nothing of the rest of accelsim. ``taylor_attention`` is the paper's Algorithm 1 (float32
inside for float16/bfloat16 inputs, so it cannot overflow at any n);
``build(name, attention=...)`` makes a zoo model; ``set_attention`` switches a trained model's
attention in place (the paper's fine-tuning flow).

Names are loaded on first use (PEP 562): ``ZOO``, ``ViTConfig`` and ``model_config`` come from
the torch-free ``vitality_model.zoo``; everything else imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safeio.lazy import lazy_getattr

if TYPE_CHECKING:
    from .attention import (
        ATTENTIONS,
        elu_linear_attention,
        sanger_attention,
        softmax_attention,
        taylor_attention,
    )
    from .models import Attention, VisionTransformer, build, set_attention
    from .zoo import ZOO, ViTConfig, model_config

#: Public name -> the submodule that defines it.
_LAZY = {**dict.fromkeys(("ATTENTIONS", "elu_linear_attention", "sanger_attention",
                          "softmax_attention", "taylor_attention"), "attention"),
         **dict.fromkeys(("Attention", "VisionTransformer", "build", "set_attention"), "models"),
         **dict.fromkeys(("ZOO", "ViTConfig", "model_config"), "zoo")}

__all__ = [
    "ATTENTIONS",
    "ZOO",
    "Attention",
    "ViTConfig",
    "VisionTransformer",
    "build",
    "elu_linear_attention",
    "model_config",
    "sanger_attention",
    "set_attention",
    "softmax_attention",
    "taylor_attention",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
