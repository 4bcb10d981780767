"""Constants are charged at their source size; a mask that masks nothing is dropped."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import arch
import workloads
from accelsim.api import simulate
from workloads.errors import WorkloadError

torch.set_num_threads(1)

N, H, D = 16, 2, 8  # tokens, heads, head dim


class Attn(nn.Module):
    """SDPA with a mask built from a constant: ``keep`` (1 x 1 x 1 x N, expanded), a
    relative-position ``table`` gathered by an index, or an additive ``zeros`` bias."""

    def __init__(self, mask: str, keep_all: bool = True):
        super().__init__()
        self.mask = mask
        self.qkv = nn.Linear(H * D, 3 * H * D)
        keep = torch.ones(1, 1, 1, N, dtype=torch.bool)
        if not keep_all:
            keep[..., -1] = False
        self.register_buffer("keep", keep, persistent=False)
        self.table = nn.Parameter(torch.randn(2 * N - 1, H))
        pos = torch.arange(N)
        self.register_buffer("index", (pos[:, None] - pos[None, :] + N - 1).reshape(-1))
        self.register_buffer("zeros", torch.zeros(1, 1, 1, N), persistent=False)

    def forward(self, x):
        q, k, v = self.qkv(x).view(1, N, 3, H, D).permute(2, 0, 3, 1, 4).unbind(0)
        if self.mask == "keep":
            mask = self.keep.expand(1, H, N, N)
        elif self.mask == "table":
            mask = self.table[self.index].view(N, N, H).permute(2, 0, 1).unsqueeze(0)
        else:  # eager attention with an additive mask
            scores = q @ k.transpose(-1, -2) + self.zeros.expand(1, H, N, N)
            return scores.softmax(-1) @ v
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _softmax(g):
    return next(op for op in g if op.kind.value == "softmax")


@pytest.mark.parametrize("device", ["real", "meta"])
def test_all_true_mask_is_dropped(device):
    g = workloads.trace(Attn("keep"), torch.randn(1, N, H * D), device=device)
    sm = _softmax(g)
    assert sm.input_shapes == [[1, H, N, N]] and sm.cost.weight_bytes == 0
    assert sm.cost.element_ops["add"] == H * N * N  # the softmax's sum only: no mask add


def test_mask_that_masks_something_is_kept_at_its_source_size():
    g = workloads.trace(Attn("keep", keep_all=False), torch.randn(1, N, H * D))
    sm = _softmax(g)
    assert sm.input_shapes == [[1, H, N, N], [1, H, N, N]]
    assert sm.attrs["stored_elements"] == {"1": N}  # the 1 x 1 x 1 x N buffer, expanded
    assert sm.cost.weight_bytes == N  # 8-bit operands: one byte per element
    assert sm.cost.element_ops["add"] == 2 * H * N * N


def test_gathered_table_is_charged_at_the_table_size():
    g = workloads.trace(Attn("table"), torch.randn(1, N, H * D))
    sm = _softmax(g)
    assert sm.stored_elements(1) == (2 * N - 1) * H  # not N x N x H
    assert sm.cost.weight_bytes == (2 * N - 1) * H


def test_all_zero_additive_mask_costs_nothing():
    g = workloads.trace(Attn("zeros"), torch.randn(1, N, H * D))
    adds = [op for op in g if op.fn == "add" and op.kind.value == "elementwise"]
    assert adds == []
    assert any(op.attrs.get("neutral") == "add" for op in g)


def test_stored_elements_survive_a_round_trip_and_are_checked(tmp_path):
    g = workloads.trace(Attn("table"), torch.randn(1, N, H * D))
    g.save(tmp_path / "g.json")
    assert _softmax(workloads.load(tmp_path / "g.json")).stored_elements(1) == (2 * N - 1) * H
    data = json.loads((tmp_path / "g.json").read_text())
    node = next(n for n in data["nodes"] if n["kind"] == "softmax")
    node["attrs"]["stored_elements"] = {"1": -3}
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(WorkloadError, match="stored_elements"):
        workloads.load(tmp_path / "bad.json")


def test_hf_vit_at_640_px_runs_on_every_preset():
    """transformers materialises an all-true 1601 x 1601 mask during export; staged whole as a
    weight it did not fit any preset's SRAM ("enlarge the SRAM")."""
    tf = pytest.importorskip("transformers")
    model = tf.ViTModel(tf.ViTConfig(image_size=640, num_hidden_layers=2)).eval()
    g = workloads.trace(model, torch.randn(1, 3, 640, 640), device="meta")
    assert all(len(op.input_shapes) == 1 for op in g if op.kind.value == "softmax")
    for preset in arch.presets():
        s = simulate(arch.load(preset), g, keep_intervals=False).summary
        assert s["cycles"] > 0
        for c in s["components"].values():
            assert c["busy_cycles"] + c["stall_cycles"] + c["idle_cycles"] == s["cycles"]
