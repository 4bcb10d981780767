"""vitality_model.analyze (score statistics, quantised Taylor, the command) and the recall task."""

import itertools
import json
import math

import pytest
import torch

from vitality_model.analyze import capture_qkv, main, quantized_taylor, score_stats
from vitality_model.attention import taylor_attention
from vitality_model.recall import CLASSES, KEYS, curriculum_active, make_batch, run
from vitality_model.train import build_model

torch.set_num_threads(1)


def test_score_stats_of_a_known_map():
    # d = 4, so scores = q.k / 2: rows [0, 2, 4] and [1, 1, 1] -> centred [-2, 0, 2] and 0
    q = torch.tensor([[4.0, 0, 0, 0], [0, 2.0, 0, 0]], dtype=torch.float64)
    k = torch.tensor([[0.0, 1, 0, 0], [1.0, 1, 0, 0], [2.0, 1, 0, 0]], dtype=torch.float64)
    s = score_stats(q, k)
    assert (s["raw_min"], s["raw_max"]) == (0.0, 4.0)
    assert (s["centred_min"], s["centred_max"]) == (-2.0, 2.0)
    assert s["centred_in_unit_range"] == pytest.approx(4 / 6)  # 0 and the three 0s
    assert s["taylor_weight_negative"] == pytest.approx(1 / 6)


def test_quantized_taylor_converges_to_taylor_and_rounds():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 40, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    exact = taylor_attention(q, k, v)
    errors = [float((quantized_taylor(b)(q, k, v) - exact).abs().max()) for b in (4, 8, 16)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3 * float(exact.abs().max())
    assert errors[0] > 1e-3  # 4 bits really rounds


def test_capture_qkv_sees_every_layer_and_restores_kernels():
    model = build_model("digits", "softmax", 0)
    x = torch.rand(3, 1, 8, 8)
    before = model(x)
    seen = capture_qkv(model, x)
    assert len(seen) == 4 and seen[0][0].shape == (3, 4, 17, 16)
    assert torch.equal(model(x), before)
    assert all("kernel" not in vars(m) for m in model.modules())


def test_analyze_command_writes_tables_and_pngs(tmp_path, capsys):
    ckpt = tmp_path / "softmax.pt"
    torch.save(build_model("digits", "softmax", 0).state_dict(), ckpt)
    out = tmp_path / "an"
    code = main(["--dataset", "digits", "--softmax", str(ckpt), "--taylor", str(ckpt),
                 "--images", "32", "--out", str(out)])
    assert code == 0
    result = json.loads((out / "analysis.json").read_text())
    assert len(result["layers"]) == 4 and len(result["quantized"]) == 1
    assert all((out / f"scores_layer{i}.png").read_bytes()[:4] == b"\x89PNG" for i in range(4))
    assert "centred in [-1, 1)" in (out / "analysis.md").read_text()
    assert main(["--dataset", "digits", "--softmax", str(tmp_path / "none.pt"),
                 "--out", str(out)]) == 2


def test_recall_batch_has_exactly_one_match_holding_the_label():
    x, y = make_batch(65, 50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 65, KEYS + CLASSES + 1)
    query = x[:, 0, :KEYS].argmax(-1)
    keys, values = x[:, 1:, :KEYS].argmax(-1), x[:, 1:, KEYS:KEYS + CLASSES].argmax(-1)
    match = keys == query[:, None]
    assert torch.equal(match.sum(1), torch.ones(50, dtype=torch.long))
    assert torch.equal(values[match], y)
    assert torch.equal(x[:, 1:].sum(-1), torch.full((50, 64), 2.0))  # one key + one value
    assert len(set(match.float().argmax(1).tolist())) > 10  # the match moves around


def test_recall_is_learnable_and_deterministic():
    """A few steps at 9 tokens already beat chance; the same seed gives the same record."""
    first = run(9, "softmax", 0, steps=150, test_size=200)
    assert first["test_accuracy"] > 2 / CLASSES
    second = run(9, "softmax", 0, steps=150, test_size=200)
    assert first["test_accuracy"] == second["test_accuracy"]
    assert math.isfinite(first["final_loss"])


def test_recall_curriculum_fills_only_the_active_tokens():
    x, y = make_batch(65, 40, torch.Generator().manual_seed(1), active=20)
    assert torch.equal(x[:, 20:].abs().sum(), torch.tensor(0.0))  # empty beyond the active
    query = x[:, 0, :KEYS].argmax(-1)
    match = x[:, 1:20, :KEYS].argmax(-1) == query[:, None]
    assert torch.equal(match.sum(1), torch.ones(40, dtype=torch.long))
    assert torch.equal(x[:, 1:20, KEYS:KEYS + CLASSES].argmax(-1)[match], y)
    # a whole batch is what it was before the option existed (same draws)
    a, _ = make_batch(33, 8, torch.Generator().manual_seed(2))
    b, _ = make_batch(33, 8, torch.Generator().manual_seed(2), active=33)
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        make_batch(10, 2, torch.Generator(), active=11)


def test_recall_curriculum_schedule():
    steps, n = 800, 785
    act = [curriculum_active(n, s, steps) for s in range(steps)]
    assert act[0] == 65 and act[-1] == n and act[600] == n
    assert all(a <= b for a, b in itertools.pairwise(act))
    assert curriculum_active(9, 0, 100) == 9  # shorter than the start: whole from the start
