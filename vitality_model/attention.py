"""Attention kernels: softmax, the paper's linear Taylor attention, ViTALiTy, Sanger and ELU+1.

Every kernel takes ``q, k, v`` shaped ``(..., n, d)`` (any leading batch/head dims) and applies
the ``1/sqrt(d)`` scaling itself. The Taylor kernel is written as the six steps of the paper's
Algorithm 1, one torch op per step, so that a tracer sees (and a simulator can map) each step to
the accelerator unit the paper assigns it:

====  ==========================================  ============================================
step  operation                                   unit in the ViTALiTy accelerator
====  ==========================================  ============================================
1     k_mean = mean_tokens(K); K^ = K - k_mean    accumulator + divider (shared /n) + adder
2     G = K^^T V                                  SA-General
3     k^_sum = sum_tokens(K^); v_sum = sum(V)     accumulator array
4     t_D = n sqrt(d) + Q k^_sum^T                SA-Diag + adder array
5     T_N = sqrt(d) v_sum + Q G                   SA-General + adder array
6     Z = T_N / t_D (row-wise)                    divider array, per-row divisor mode
====  ==========================================  ============================================

Where the authors' released code differs from the paper (keys centred over features, no v_sum, no
denominator, sparse branch at inference), we follow the paper; see docs/model.md.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

#: Sanger's published mask threshold (and the ViTALiTy code's default).
DEFAULT_THRESHOLD = 2e-3
#: Bits of the quantised Q and K used to predict the sparse mask.
DEFAULT_QUANT_BITS = 4
#: Scale of ViTALiTy's training-only sparse term: ``"inv_sqrt_d"`` is ``1/sqrt(d)``, as the
#: authors' released code multiplies it (the paper gives no formula). Unscaled (``1``) the
#: thresholded softmax map sums to up to 1 per row, like the Taylor map, so training would see
#: about twice the attention output that inference (Taylor only) sees.
DEFAULT_SPARSE_SCALE = "inv_sqrt_d"


def resolve_sparse_scale(scale: float | str, head_dim: int) -> float:
    """The multiplier of the sparse term: ``"inv_sqrt_d"`` -> ``1/sqrt(head_dim)``; a number
    (``1`` = unscaled) is used as given. Anything else is a ValueError."""
    if scale == "inv_sqrt_d":
        return 1.0 / math.sqrt(head_dim)
    if isinstance(scale, str):
        try:
            scale = float(scale)
        except ValueError:
            raise ValueError(
                f"sparse_scale must be 'inv_sqrt_d' or a number, got {scale!r}"
            ) from None
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale >= 0):
        raise ValueError(f"sparse_scale must be 'inv_sqrt_d' or a finite number >= 0, got {scale!r}")
    return float(scale)


# -- custom ops ---------------------------------------------------------------------------------
# Sanger's sparse products and the low-bit quantiser are registered as opaque torch.library ops:
# eager execution computes them densely (masked), autograd works, and torch.export keeps each as
# one node that a tracer can recognise (the accelerator runs them as sparse / low-bit units).


def _sum_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Undo broadcasting: sum ``grad`` down to ``shape``."""
    return grad if grad.shape == shape else grad.sum_to_size(shape)


@torch.library.custom_op("vitality::masked_scores", mutates_args=())
def masked_scores(q: Tensor, k: Tensor, mask: Tensor) -> Tensor:
    """``Q K^T / sqrt(d)`` where ``mask`` is true, ``-inf`` elsewhere (sampled dense-dense matmul)."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~mask, float("-inf"))


@masked_scores.register_fake
def _masked_scores_fake(q: Tensor, k: Tensor, mask: Tensor) -> Tensor:
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    return q.new_empty((*lead, q.shape[-2], k.shape[-2]))


def _masked_scores_setup(ctx, inputs, output) -> None:
    q, k, mask = inputs
    ctx.save_for_backward(q, k, mask)


def _masked_scores_backward(ctx, grad: Tensor):
    q, k, mask = ctx.saved_tensors
    g = grad.masked_fill(~mask, 0.0) / math.sqrt(q.shape[-1])
    return _sum_to(g @ k, q.shape), _sum_to(g.transpose(-2, -1) @ q, k.shape), None


masked_scores.register_autograd(_masked_scores_backward, setup_context=_masked_scores_setup)


@torch.library.custom_op("vitality::masked_context", mutates_args=())
def masked_context(p: Tensor, v: Tensor, mask: Tensor) -> Tensor:
    """``P V`` using only the entries of ``P`` where ``mask`` is true (sparse-dense matmul)."""
    return p.masked_fill(~mask, 0.0) @ v


@masked_context.register_fake
def _masked_context_fake(p: Tensor, v: Tensor, mask: Tensor) -> Tensor:
    lead = torch.broadcast_shapes(p.shape[:-2], v.shape[:-2])
    return p.new_empty((*lead, p.shape[-2], v.shape[-1]))


def _masked_context_setup(ctx, inputs, output) -> None:
    p, v, mask = inputs
    ctx.save_for_backward(p, v, mask)


def _masked_context_backward(ctx, grad: Tensor):
    p, v, mask = ctx.saved_tensors
    pm = p.masked_fill(~mask, 0.0)
    grad_p = (grad @ v.transpose(-2, -1)).masked_fill(~mask, 0.0)
    return _sum_to(grad_p, p.shape), _sum_to(pm.transpose(-2, -1) @ grad, v.shape), None


masked_context.register_autograd(_masked_context_backward, setup_context=_masked_context_setup)


@torch.library.custom_op("vitality::fake_quantize", mutates_args=())
def fake_quantize(x: Tensor, bits: int) -> Tensor:
    """Round ``x`` to signed ``bits``-bit levels, then scale back. One scale per sample (dim
    0), so an image's sparse mask never depends on the other images of its batch."""
    levels = 2 ** (bits - 1) - 1
    dims = tuple(range(1, x.ndim)) if x.ndim > 1 else None
    scale = x.abs().amax(dim=dims, keepdim=True).clamp_min(1e-12) / levels
    return torch.round(x / scale).clamp(-levels, levels) * scale


@fake_quantize.register_fake
def _fake_quantize_fake(x: Tensor, bits: int) -> Tensor:
    return torch.empty_like(x)


def _fake_quantize_backward(ctx, grad: Tensor):
    return grad, None  # straight-through estimator


fake_quantize.register_autograd(_fake_quantize_backward)


def softmax_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Vanilla attention ``softmax(Q K^T / sqrt(d)) V`` (torch's fused SDPA kernel)."""
    return F.scaled_dot_product_attention(q, k, v)


#: Dtypes that ``taylor_attention`` computes in float32 (then rounds its output back): in float16,
#: ``n sqrt(d)`` alone passes the largest finite value (65504) at n >= 8188 for d = 64, and the
#: token sums (``v_sum``, ``G``) grow with n too.
LOW_PRECISION = (torch.float16, torch.bfloat16)
AUTOCAST_DEVICES = ("cpu", "cuda", "xpu")


def taylor_attention(q: Tensor, k: Tensor, v: Tensor, *, exact_denominator: bool = True) -> Tensor:
    """Linear first-order Taylor attention with row-mean centring (the paper's Algorithm 1).

    Equal, in exact arithmetic, to explicit n x n attention in which every row of
    ``Q K^T / sqrt(d)`` is centred on its mean, ``exp(x)`` is replaced by ``1 + x`` and rows are
    normalised to sum to one; it costs ``2 n d^2 + n d`` multiplications per head instead of
    ``2 n^2 d``.

    ``exact_denominator=False`` drops step 4: since ``k^_sum`` is zero in exact arithmetic the
    denominator becomes the constant ``n sqrt(d)`` (an ablation of the SA-Diag sub-array).

    Numerically safe at any n: float16 / bfloat16 inputs (and inputs under autocast) are computed
    in float32, with autocast off, and the output is returned in the low-precision dtype, so the
    sums over n tokens cannot overflow. float32 / float64 run the six steps as written.
    """
    device = q.device.type
    # autocast exists for real devices only (the tracer runs this on the meta device)
    autocast_on = device in AUTOCAST_DEVICES and torch.is_autocast_enabled(device)
    if autocast_on or q.dtype in LOW_PRECISION:
        out_dtype = torch.get_autocast_dtype(device) if autocast_on else q.dtype
        with torch.autocast(device_type=device, enabled=False):
            out = _taylor_steps(q.float(), k.float(), v.float(), exact_denominator)
        return out.to(out_dtype)
    return _taylor_steps(q, k, v, exact_denominator)


def _taylor_steps(q: Tensor, k: Tensor, v: Tensor, exact_denominator: bool) -> Tensor:
    """Algorithm 1's six steps, one torch op per step (see the module docstring)."""
    n, d = k.shape[-2], k.shape[-1]
    sqrt_d = math.sqrt(d)
    k_mean = k.mean(dim=-2, keepdim=True)  # step 1: column sums / n
    k_hat = k - k_mean  # step 1: centre keys over tokens
    g = k_hat.transpose(-2, -1) @ v  # step 2: global context matrix, d x d
    v_sum = v.sum(dim=-2, keepdim=True)  # step 3
    if exact_denominator:
        k_hat_sum = k_hat.sum(dim=-2, keepdim=True)  # step 3
        t_d = q @ k_hat_sum.transpose(-2, -1) + n * sqrt_d  # step 4: n x 1
    else:
        t_d = torch.full((1,), n * sqrt_d, dtype=q.dtype, device=q.device)
    t_n = q @ g + sqrt_d * v_sum  # step 5: n x d
    return t_n / t_d  # step 6: row-wise division


def quantize_symmetric(x: Tensor, bits: int) -> Tensor:
    """Fake-quantise ``x`` to signed ``bits``-bit integers with one scale per sample.

    The straight-through estimator keeps gradients flowing as if no rounding happened, which is
    how a quantised mask predictor is trained. Implemented as the custom op
    ``vitality::fake_quantize`` so that a tracer sees one quantize step, not its arithmetic.
    """
    if bits < 2:
        raise ValueError(f"quantisation needs at least 2 bits, got {bits}")
    return fake_quantize(x, bits)


def sanger_mask(q: Tensor, k: Tensor, *, threshold: float, bits: int) -> tuple[Tensor, Tensor]:
    """Predict the sparse attention pattern from ``bits``-bit Q and K (Sanger's step 1).

    Returns the low-precision probabilities and the boolean mask of entries above ``threshold``.
    Each row keeps at least its largest entry, so no row is ever empty.
    """
    d = q.shape[-1]
    scores = quantize_symmetric(q, bits) @ quantize_symmetric(k, bits).transpose(-2, -1)
    probs = torch.softmax(scores / math.sqrt(d), dim=-1)
    row_max = probs.amax(dim=-1, keepdim=True)
    mask = (probs > threshold) | (probs == row_max)
    return probs, mask


def sanger_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    bits: int = DEFAULT_QUANT_BITS,
) -> Tensor:
    """Sanger's sparse attention: a low-bit mask prediction, then full-precision softmax
    attention restricted to the predicted entries.

    The two masked products are the custom ops ``vitality::masked_scores`` (SDDMM) and
    ``vitality::masked_context`` (SpMM), so a tracer can count them as sparse matmuls at the
    mask's density instead of as dense ones.
    """
    _, mask = sanger_mask(q, k, threshold=threshold, bits=bits)
    scores = masked_scores(q, k, mask)
    return masked_context(torch.softmax(scores, dim=-1), v, mask)


def vitality_sparse_branch(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    threshold: float,
    bits: int,
    scale: float | str = DEFAULT_SPARSE_SCALE,
) -> Tensor:
    """The training-only sparse part of ViTALiTy: ``scale`` x (thresholded low-bit softmax map)
    x V. ``scale`` is ``"inv_sqrt_d"`` (default, ``1/sqrt(d)`` as in the released code) or a
    number (``1``: unscaled); see ``DEFAULT_SPARSE_SCALE``."""
    probs, mask = sanger_mask(q, k, threshold=threshold, bits=bits)
    return resolve_sparse_scale(scale, q.shape[-1]) * ((probs * mask) @ v)


def elu_linear_attention(q: Tensor, k: Tensor, v: Tensor, eps: float = 1e-6) -> Tensor:
    """Kernelised linear attention with ``phi(x) = elu(x) + 1`` (Katharopoulos et al., ICML 2020)."""
    phi_q = F.elu(q) + 1
    phi_k = F.elu(k) + 1
    kv = phi_k.transpose(-2, -1) @ v
    denom = phi_q @ phi_k.sum(dim=-2, keepdim=True).transpose(-2, -1)
    return (phi_q @ kv) / (denom + eps)


#: Attention variants by name, with a one-line description each (for errors and `--help`).
ATTENTIONS: dict[str, str] = {
    "softmax": "vanilla softmax attention (torch SDPA)",
    "taylor": "the paper's linear Taylor attention, Algorithm 1 (low-rank part only)",
    "vitality": "taylor + Sanger-style sparse branch while training; taylor alone in eval mode",
    "sanger": "Sanger sparse attention: 4-bit mask prediction, masked softmax",
    "linear_elu": "ELU+1 kernel linear attention (Katharopoulos et al. 2020)",
}


def check_attention(name: str) -> str:
    """Return ``name`` if it is a known attention variant, else raise a ValueError listing them."""
    if name not in ATTENTIONS:
        valid = ", ".join(sorted(ATTENTIONS))
        raise ValueError(f"unknown attention {name!r}; valid names: {valid}")
    return name
