"""Real third-party models (optional extra ``.[models]``: transformers; skipped when absent):
each traces, its MACs equal FlopCounterMode's, and it simulates on every preset with
busy + stall + idle = makespan for every component."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import arch
import workloads
from accelsim.api import simulate
from validation.bounds import op_bounds

torch.set_num_threads(1)


def _vit():
    tf = pytest.importorskip("transformers")
    cfg = tf.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, num_labels=10)
    return tf.ViTForImageClassification(cfg), torch.randn(1, 3, 32, 32)


def _hf(config: str, model: str, **kw):
    def make():
        tf = pytest.importorskip("transformers")
        return getattr(tf, model)(getattr(tf, config)(**kw)), torch.randn(1, 3, 32, 32)
    return make


HF_SMALL = {"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 64}


class MHA(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def _encoder():
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), torch.randn(1, 16, 32)


class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.GELU())
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.stem(x).mean((2, 3)))


class Mixer(nn.Module):
    def __init__(self, tokens=16, dim=32):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 8, 8)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.tok = nn.Sequential(nn.Linear(tokens, 32), nn.GELU(), nn.Linear(32, tokens))
        self.ch = nn.Sequential(nn.Linear(dim, 64), nn.GELU(), nn.Linear(64, dim))

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = x + self.tok(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.ch(self.norm2(x))


def reference_macs(module, x) -> int:
    """FlopCounterMode's MACs, with the two documented differences removed: PyTorch's fused
    inference fast path is off (it hides the encoder's matmuls from the counter, as from the
    tracer), and SDPA runs its math backend (FlopCounterMode does not count the CPU
    flash-attention kernel; the math backend computes the same two products as bmm)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc, \
                torch.no_grad():
            module(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
    return fc.get_total_flops() // 2


MODELS = {"hf_vit": _vit, "torch_encoder": _encoder,
          "conv_bn": lambda: (ConvBN(), torch.randn(1, 3, 32, 32)),
          "mixer": lambda: (Mixer(), torch.randn(1, 3, 32, 32)),
          "torch_mha": lambda: (MHA(), torch.randn(1, 16, 32)),
          "hf_deit": _hf("DeiTConfig", "DeiTForImageClassification", **HF_SMALL),
          "hf_beit": _hf("BeitConfig", "BeitForImageClassification",
                         use_relative_position_bias=True, **HF_SMALL),
          "hf_swin": _hf("SwinConfig", "SwinForImageClassification", image_size=32,
                         patch_size=2, embed_dim=16, depths=[1, 1], num_heads=[1, 2],
                         window_size=4),
          "hf_convnext": _hf("ConvNextConfig", "ConvNextForImageClassification",
                             hidden_sizes=[8, 16], depths=[1, 1], num_stages=2,
                             image_size=32),
          "hf_dinov2": _hf("Dinov2Config", "Dinov2Model", **HF_SMALL),
          "hf_segformer": _hf("SegformerConfig", "SegformerForSemanticSegmentation",
                              num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                              hidden_sizes=[16, 32], patch_sizes=[7, 3], strides=[4, 2],
                              num_attention_heads=[1, 2], mlp_ratios=[2, 2],
                              decoder_hidden_size=32),
          "hf_mobilevit": _hf("MobileViTConfig", "MobileViTForImageClassification",
                              image_size=32, hidden_sizes=[16, 24, 32],
                              neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32]),
          "hf_levit": _hf("LevitConfig", "LevitForImageClassification", image_size=32,
                          hidden_sizes=[32, 48, 64], num_attention_heads=[1, 2, 2],
                          depths=[1, 1, 1], key_dim=[8, 8, 8]),
          "hf_swinv2": _hf("Swinv2Config", "Swinv2ForImageClassification", image_size=32,
                           patch_size=2, embed_dim=16, depths=[1, 1], num_heads=[1, 2],
                           window_size=4),
          "hf_resnet": _hf("ResNetConfig", "ResNetForImageClassification", embedding_size=16,
                           hidden_sizes=[16, 32], depths=[1, 1]),
          "hf_siglip": _hf("SiglipVisionConfig", "SiglipVisionModel", **HF_SMALL)}


def folded_macs(module) -> int:
    """MACs of ops on weights alone, which the tracer folds into constants (computed once,
    offline) and FlopCounterMode counts: Swin-V2's continuous position bias, an MLP
    (``continuous_position_bias_mlp``) over a fixed table of relative coordinates (2 per row);
    SigLIP's pooling head, whose query is a learned probe: its projection (probe tokens x
    embed x embed) is weights times weights."""
    total = 0
    for m in module.modules():
        probe = getattr(m, "probe", None)
        if probe is not None and isinstance(getattr(m, "attention", None),
                                            nn.MultiheadAttention):
            embed = m.attention.embed_dim
            total += probe.shape[1] * embed * embed
        mlp = getattr(m, "continuous_position_bias_mlp", None)
        if mlp is not None:
            rows = m.relative_coords_table.numel() // 2
            total += rows * sum(layer.in_features * layer.out_features
                                for layer in mlp if isinstance(layer, nn.Linear))
    return total


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_traces_counts_and_runs_on_every_preset(name):
    module, x = MODELS[name]()
    module.eval()
    g = workloads.trace(module, x)
    assert g.meta["unknown_ops"] == {}
    assert g.total_macs() == reference_macs(module, x) - folded_macs(module)
    for preset in arch.presets():
        a = arch.load(preset)
        s = simulate(a, g, keep_intervals=False).summary
        for c in s["components"].values():
            assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]
        assert sum(s["ops_per_unit"].values()) == len(s["ops"])
        # no op faster than its compute or output-traffic bound (validation section 2)
        assert [b.name for b in op_bounds(a, g, s) if b.violation] == [], preset
