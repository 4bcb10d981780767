"""vitality_model: ViTALiTy's linear Taylor attention and the ViT/DeiT zoo, in plain PyTorch.

Knows nothing of the rest of accelsim. ``taylor_attention`` is the paper's Algorithm 1 (float32
inside for float16/bfloat16 inputs, so it cannot overflow at any n);
``build(name, attention=...)`` makes a zoo model; ``set_attention`` switches a trained model's
attention in place (the paper's fine-tuning flow).
"""

from .attention import (
    ATTENTIONS,
    elu_linear_attention,
    sanger_attention,
    softmax_attention,
    taylor_attention,
)
from .models import ZOO, Attention, VisionTransformer, ViTConfig, build, model_config, set_attention

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
