"""Attention kernels against explicit O(n^2) references, plus the cost of Algorithm 1."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch.utils.flop_counter import FlopCounterMode

from vitality_model import (
    ATTENTIONS,
    Attention,
    elu_linear_attention,
    sanger_attention,
    softmax_attention,
    taylor_attention,
)
from vitality_model.attention import _taylor_steps, check_attention, sanger_mask

torch.set_num_threads(1)

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def taylor_matrix(q, k):
    """The n x n attention map of the paper's Taylor attention, written out explicitly:
    scores = QK^T/sqrt(d); centre each row on its mean; exp(x) -> 1 + x; rows sum to one."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    centred = scores - scores.mean(dim=-1, keepdim=True)
    weights = 1 + centred
    return weights / weights.sum(dim=-1, keepdim=True)


def taylor_reference(q, k, v):
    return taylor_matrix(q, k) @ v


def softmax_reference(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ v


def qkv(*shape, seed=0, scale=1.0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return tuple(scale * torch.randn(*shape, generator=gen, dtype=dtype) for _ in range(3))


SHAPES = [
    (1, 4),  # a single token
    (5, 3),  # n > d
    (3, 16),  # n < d
    (17, 16),
    (2, 9, 8),  # batch only
    (2, 3, 7, 5),  # batch and heads, n != d
    (1, 3, 197, 64),  # DeiT-Tiny: 197 tokens, 3 heads of 64
    (2, 2, 1, 8),  # n == 1 with batch and heads
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("exact_denominator", [True, False])
def test_taylor_equals_explicit_reference(shape, exact_denominator):
    q, k, v = qkv(*shape)
    out = taylor_attention(q, k, v, exact_denominator=exact_denominator)
    assert out.shape == v.shape
    torch.testing.assert_close(out, taylor_reference(q, k, v), **TIGHT)


def test_taylor_single_token_returns_v():
    q, k, v = qkv(3, 1, 8)
    torch.testing.assert_close(taylor_attention(q, k, v), v, **TIGHT)


def test_taylor_float32_close_to_reference():
    q, k, v = qkv(2, 3, 50, 16, dtype=torch.float32)
    torch.testing.assert_close(taylor_attention(q, k, v), taylor_reference(q, k, v))


def test_taylor_gradients_match_reference():
    q, k, v = (t.requires_grad_() for t in qkv(2, 6, 4))
    grads = torch.autograd.grad(taylor_attention(q, k, v).sum(), (q, k, v))
    ref = torch.autograd.grad(taylor_reference(q, k, v).sum(), (q, k, v))
    for g, r in zip(grads, ref, strict=True):
        torch.testing.assert_close(g, r, **TIGHT)


def small_qkv():
    """Hypothesis strategy: float64 (q, k, v) with 1..8 tokens and head dim 1..6."""

    def build(nd):
        n, d = nd
        elems = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)
        arr = arrays(np.float64, (n, d), elements=elems)
        return st.tuples(arr, arr, arr, arrays(np.float64, (d,), elements=st.floats(-10, 10)))

    return st.tuples(st.integers(1, 8), st.integers(1, 6)).flatmap(build)


@settings(max_examples=60, deadline=None)
@given(small_qkv())
def test_property_matches_reference(arrs):
    q, k, v, _ = (torch.from_numpy(a) for a in arrs)
    torch.testing.assert_close(
        taylor_attention(q, k, v), taylor_reference(q, k, v), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(small_qkv())
def test_property_invariant_to_shifting_all_keys(arrs):
    """Adding one vector to every key shifts each score row by a constant, which centring removes."""
    q, k, v, c = (torch.from_numpy(a) for a in arrs)
    torch.testing.assert_close(
        taylor_attention(q, k + c, v), taylor_attention(q, k, v), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(small_qkv())
def test_property_reference_rows_sum_to_one(arrs):
    q, k, _, _ = (torch.from_numpy(a) for a in arrs)
    rows = taylor_matrix(q, k).sum(dim=-1)
    torch.testing.assert_close(rows, torch.ones_like(rows), rtol=0, atol=1e-12)


# --- cost: multiplications per head ---------------------------------------------------------


def macs(fn, *args, **kwargs):
    """Multiply-accumulates of the matmuls ``fn`` runs (FlopCounterMode counts 2 flops per MAC)."""
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return counter.get_total_flops() // 2


def test_algorithm1_cost_deit_head():
    n, d = 197, 64
    q, k, v = qkv(1, 1, n, d, dtype=torch.float32)
    taylor = macs(taylor_attention, q, k, v)
    softmax = macs(softmax_reference, q, k, v)
    assert taylor == 2 * n * d * d + n * d == 1_626_432
    assert softmax == 2 * n * n * d == 4_967_552
    assert round(softmax / taylor, 2) == 3.05
    # Without step 4 (the SA-Diag product Q k^_sum^T) only the two d x d products remain.
    assert macs(taylor_attention, q, k, v, exact_denominator=False) == 2 * n * d * d


@pytest.mark.parametrize(("n", "d"), [(1, 8), (50, 16), (785, 64), (64, 64)])
def test_algorithm1_cost_is_linear_in_tokens(n, d):
    q, k, v = qkv(2, 3, n, d, dtype=torch.float32)  # counts cover all 6 (batch, head) pairs
    assert macs(taylor_attention, q, k, v) == 6 * (2 * n * d * d + n * d)
    assert macs(softmax_reference, q, k, v) == 6 * 2 * n * n * d


# --- the other kernels ---------------------------------------------------------------------


def test_softmax_kernel_matches_reference():
    q, k, v = qkv(2, 3, 11, 8)
    torch.testing.assert_close(softmax_attention(q, k, v), softmax_reference(q, k, v), **TIGHT)


def make_attention(name, dim=32, heads=4):
    torch.manual_seed(0)
    return Attention(dim, heads, attention=name).double()


def test_vitality_eval_equals_taylor_exactly():
    x = torch.randn(2, 13, 32, dtype=torch.float64)
    vit, tay = make_attention("vitality").eval(), make_attention("taylor").eval()
    assert torch.equal(vit(x), tay(x))
    # taylor never uses the sparse branch, in either mode
    assert torch.equal(tay.train()(x), tay.eval()(x))


def test_vitality_train_adds_sparse_branch():
    x = torch.randn(2, 13, 32, dtype=torch.float64)
    vit, tay = make_attention("vitality").train(), make_attention("taylor").train()
    assert not torch.allclose(vit(x), tay(x))
    # the sparse branch is differentiable (straight-through through the 4-bit quantiser)
    vit(x).sum().backward()
    assert vit.qkv.weight.grad is not None and vit.qkv.weight.grad.abs().sum() > 0


def test_sanger_keeps_each_row_max():
    q, k, v = qkv(2, 3, 20, 8, scale=2.0)
    probs, mask = sanger_mask(q, k, threshold=1.0, bits=4)  # nothing passes the threshold
    best = probs.argmax(dim=-1, keepdim=True)
    assert mask.gather(-1, best).all()
    assert (mask.sum(dim=-1) >= 1).all()
    # with only the max kept, each output row is the value row at the predicted max
    out = sanger_attention(q, k, v, threshold=1.0)
    expected = torch.gather(v, -2, best.expand(*best.shape[:-1], v.shape[-1]))
    unique = mask.sum(dim=-1) == 1
    assert unique.any()
    torch.testing.assert_close(out[unique], expected[unique], **TIGHT)


def test_sanger_threshold_zero_is_softmax():
    q, k, v = qkv(2, 3, 15, 8)
    _, mask = sanger_mask(q, k, threshold=0.0, bits=4)
    assert mask.all()  # the 4-bit prediction does not matter when everything is kept
    torch.testing.assert_close(
        sanger_attention(q, k, v, threshold=0.0), softmax_reference(q, k, v), **TIGHT
    )


def test_sanger_default_threshold_is_sparse():
    q, k, _ = qkv(1, 2, 64, 16, scale=2.0)
    _, mask = sanger_mask(q, k, threshold=2e-2, bits=4)
    assert 0 < mask.double().mean() < 1


def test_linear_elu_matches_reference():
    q, k, v = qkv(2, 3, 9, 5)
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    weights = phi_q @ phi_k.transpose(-2, -1)
    ref = (weights @ v) / (weights.sum(dim=-1, keepdim=True) + 1e-6)
    torch.testing.assert_close(elu_linear_attention(q, k, v), ref, **TIGHT)


def test_check_attention_lists_names():
    assert check_attention("taylor") == "taylor"
    with pytest.raises(ValueError, match="valid names") as err:
        check_attention("flash")
    assert all(name in str(err.value) for name in ATTENTIONS)


def test_sanger_mask_of_an_image_does_not_depend_on_its_batch():
    from vitality_model.attention import sanger_mask

    torch.manual_seed(0)
    q, k = torch.randn(2, 3, 17, 8), torch.randn(2, 3, 17, 8)
    q[1] *= 100  # a loud second image must not change the first image's quantisation
    k[1] *= 100
    _, alone = sanger_mask(q[:1], k[:1], threshold=2e-3, bits=4)
    _, batched = sanger_mask(q, k, threshold=2e-3, bits=4)
    assert torch.equal(alone[0], batched[0])


# -- ViTALiTy's sparse branch and its scale --------------------------------------------------


def quantize_reference(x, bits):
    """Signed symmetric quantisation, one scale per sample (dim 0), written with numpy."""
    a = x.detach().numpy()
    levels = 2 ** (bits - 1) - 1
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        scale = max(np.abs(a[i]).max(), 1e-12) / levels
        out[i] = np.clip(np.round(a[i] / scale), -levels, levels) * scale
    return out


def sparse_branch_reference(q, k, v, threshold, bits, scale):
    """scale x (threshold-masked softmax of 4-bit Q K^T / sqrt(d), each row's max kept) @ V."""
    qq, kq = quantize_reference(q, bits), quantize_reference(k, bits)
    scores = qq @ np.swapaxes(kq, -1, -2) / math.sqrt(q.shape[-1])
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    keep = (probs > threshold) | (probs == probs.max(axis=-1, keepdims=True))
    return torch.from_numpy(scale * (np.where(keep, probs, 0.0) @ v.detach().numpy()))


@pytest.mark.parametrize(("scale", "factor"), [("inv_sqrt_d", 1 / math.sqrt(8)), (1, 1.0),
                                               (0.3, 0.3)])
def test_sparse_branch_equals_reference(scale, factor):
    from vitality_model.attention import vitality_sparse_branch

    q, k, v = qkv(2, 3, 21, 8, scale=1.5)
    out = vitality_sparse_branch(q, k, v, threshold=2e-2, bits=4, scale=scale)
    ref = sparse_branch_reference(q, k, v, 2e-2, 4, factor)
    torch.testing.assert_close(out, ref, **TIGHT)
    unscaled = sparse_branch_reference(q, k, v, 2e-2, 4, 1.0)
    assert factor == 1.0 or not torch.allclose(out, unscaled)


def test_default_sparse_scale_is_inv_sqrt_d():
    """The module default: training output = taylor + (1/sqrt(head_dim)) x sparse branch."""
    x = torch.randn(2, 13, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    vit = make_attention("vitality").train()
    with torch.no_grad():
        q, k, v = vit.qkv(x).reshape(2, 13, 3, 4, 8).permute(2, 0, 3, 1, 4).unbind(0)
        expected = taylor_attention(q, k, v) + sparse_branch_reference(
            q, k, v, 2e-3, 4, 1 / math.sqrt(8))
        expected = vit.proj(expected.transpose(1, 2).reshape(2, 13, 32))
        torch.testing.assert_close(vit(x), expected, **TIGHT)
        unscaled = make_attention("vitality").train()
        unscaled.sparse_scale = 1
        assert not torch.allclose(unscaled(x), expected)


@pytest.mark.parametrize("bad", ["sqrt", -1.0, float("nan")])
def test_bad_sparse_scale_is_rejected(bad):
    with pytest.raises(ValueError, match="sparse_scale"):
        Attention(32, 4, attention="vitality", sparse_scale=bad)


# -- low precision at large n ------------------------------------------------------------------

N_LARGE = 12545  # a 1792^2 image in 16x16 patches


def explicit_rows(q, k, v, rows):
    """The O(n^2) Taylor reference for the query ``rows`` only (float64)."""
    return taylor_matrix(q[..., rows, :], k) @ v


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_taylor_low_precision_at_large_n(dtype):
    """n sqrt(d) = 100,360 passes float16's largest value: the kernel must still match float64
    to the precision of its output dtype, in plain low precision and under CPU autocast."""
    q, k, v = (t.to(dtype) for t in qkv(1, 1, N_LARGE, 64, seed=3))
    rows = torch.arange(0, N_LARGE, 97)
    ref = explicit_rows(q.double(), k.double(), v.double(), rows)  # the rounded inputs, exactly
    tol = {"rtol": 0.0, "atol": 4 * torch.finfo(dtype).eps * float(ref.abs().max())}
    out = taylor_attention(q, k, v)
    assert out.dtype == dtype and torch.isfinite(out).all()
    torch.testing.assert_close(out[..., rows, :].double(), ref, **tol)
    with torch.autocast("cpu", dtype=dtype):
        auto = taylor_attention(q.float(), k.float(), v.float())
    assert auto.dtype == dtype
    torch.testing.assert_close(auto[..., rows, :].double(), ref, **tol)
    # the same six steps run in float16 itself are what the float32 path avoids: the
    # denominator n sqrt(d) overflows and the output collapses (to zeros or non-finite values)
    if dtype == torch.float16:
        naive = _taylor_steps(q, k, v, True)[..., rows, :].double()
        assert not torch.allclose(naive, ref, **tol)
