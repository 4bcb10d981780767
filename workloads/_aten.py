"""The aten-op mapping table: every known op -> OpKind, fn, matmul dims and element-op counts.

Counting conventions (scalar operations, by type, per call):

* matmul-likes: MACs = batch * m * n * k (* density); a bias adds ``add`` and an attention
  scale adds ``mul`` per output element (epilogue ops as results leave the array).
* softmax over R rows of L: ``max``, ``sub``, ``exp``, ``add``, ``div`` R*L each.
* layernorm over R rows of L: mean (``add`` R*L, ``div`` R), variance (``sub``, ``mul``, ``add``
  R*L, ``div`` R), ``add`` R (eps), ``sqrt`` R, normalise (``div`` R*L), affine (``mul``, ``add``
  R*L each when weight / bias exist).
* elementwise ``fn``: {fn: output elements}; activation: {fn: elements}; exp: {"exp": elements};
  comparisons: {"cmp": elements}; reduce: {"add"/"max"/"mul": input elements} (+ ``div`` per
  output for mean).
* views: zero cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import _rows
from ._consts import neutral_kept, no_mask
from ._convert import Builder, Val
from ._raw import RawNode
from ._rows import norm_dim
from .ir import OpKind

Handler = Callable[[Builder, RawNode, dict[str, Any], str], Any]
HANDLERS: dict[str, Handler] = {}


def _register(names, handler: Handler) -> None:
    for name in names.split() if isinstance(names, str) else names:
        HANDLERS[name] = handler


def numel(shape) -> int:
    return math.prod(shape)


def _self(a: dict[str, Any]) -> Any:
    for key in ("self", "input", "query"):
        if isinstance(a.get(key), Val):
            return a[key]
    return next((v for v in a.values() if isinstance(v, Val)), None)


def _out(raw: RawNode, i: int = 0) -> tuple[int, ...]:
    return raw.outputs[i] or ()


# -- matmul-likes --------------------------------------------------------------------------------


def h_linear(b: Builder, raw, a, fn):
    x, w = a["input"], a["weight"]
    m = numel(x.shape[:-1])
    return b.matmul(raw, "linear", [x, w, a.get("bias")], _out(raw), m, w.shape[0], x.shape[-1], 1)


def _matmul_dims(sa: tuple, sb: tuple, out: tuple) -> tuple[int, int, int, int]:
    """(m, n, k, batch) of torch.matmul semantics; a 2-D right operand folds A's leading dims
    into m (a linear layer), a batched one makes ``batch`` = product of the output's leading dims."""
    k = sa[-1]
    n = sb[-1] if len(sb) >= 2 else 1
    if len(sb) <= 2:
        return numel(sa[:-1]), n, k, 1
    if len(sa) == 1:  # vector @ batched matrix: the output is (*batch, n)
        return 1, n, k, numel(out[:-1])
    return sa[-2], n, k, numel(out[:-2])


def h_matmul(b: Builder, raw, a, fn):
    if fn in ("addmm", "baddbmm", "addmv", "addbmm"):
        bias = a["self"]
        x = a.get("mat1", a.get("batch1", a.get("mat")))
        y = a.get("mat2", a.get("batch2", a.get("vec")))
    else:
        x, y = a["self"], a.get("other", a.get("mat2", a.get("vec", a.get("tensor"))))
        bias = None
    m, n, k, batch = _matmul_dims(x.shape, y.shape, _out(raw))
    if fn == "addbmm":  # sums the batch away: same MACs
        batch = x.shape[0]
    return b.matmul(raw, fn, [x, y, bias], _out(raw), m, n, k, batch)


def h_conv(b: Builder, raw, a, fn):
    x, w, out = a["input"], a["weight"], _out(raw)
    transposed = bool(a.get("transposed")) or fn.startswith("conv_transpose")
    spatial = len(w.shape) - 2
    batched = len(x.shape) == spatial + 2
    nimg = x.shape[0] if batched else 1
    kernel = numel(w.shape[2:])
    if transposed:  # every input pixel scatters Cin x (Cout/g) x kernel products
        m = nimg * numel(x.shape[-spatial:])
        k, n = w.shape[0], w.shape[1] * kernel
    else:  # im2col: (N * output pixels) x (Cin/g * kernel) @ (Cin/g * kernel) x Cout
        m = nimg * numel(out[-spatial:])
        k, n = w.shape[1] * kernel, w.shape[0]
    return b.matmul(raw, fn, [x, w, a.get("bias")], out, m, n, k, 1, row_a=False,
                    attrs={"groups": int(a.get("groups") or 1)} if (a.get("groups") or 1) > 1
                    else None)


def h_sdpa(b: Builder, raw, a, fn):
    """Fused attention expanded into QK^T (with the scale), softmax (with the mask) and PV."""
    q, k, v = a["query"], a["key"], a["value"]
    mask = a.get("attn_mask", a.get("attn_bias"))
    mask = mask if isinstance(mask, Val) and not no_mask(mask) else None
    lead = tuple(raw.outputs[0][:-2]) if raw.outputs[0] else tuple(q.shape[:-2])
    L, S, E, Ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    batch = numel(lead)
    attrs = {"fused": fn, **({"causal": True} if a.get("is_causal") else {})}
    scores = b.matmul(raw, "sdpa_qk", [q, k], (*lead, L, S), L, S, E, batch, scale=True,
                      attrs=attrs)
    rl = batch * L * S
    ops = {"max": rl, "sub": rl, "exp": rl, "add": rl * (2 if mask else 1), "div": rl}
    probs = b.vector(raw, "sdpa_softmax", OpKind.SOFTMAX, "softmax", [scores, mask],
                     [True, True], (*lead, L, S), ops, attrs=attrs, reduce_len=S)
    out = b.matmul(raw, "sdpa_sv", [probs, v], (*lead, L, Ev), L, Ev, S, batch, attrs=attrs)
    b.attention_core.update((scores.name, probs.name, out.name))
    return out


def h_masked_scores(b: Builder, raw, a, fn):
    q, k, mask = a["q"], a["k"], a["mask"]
    d = b.next_density(raw)
    lead = tuple(_out(raw)[:-2])
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    out = b.matmul(raw, "masked_scores", [q, k, mask], _out(raw), L, S, E, numel(lead),
                   kind=OpKind.SPARSE_MATMUL, density=d, scale=True)
    b.attention_core.add(out.name)
    return Val(out.source, out.name, out.shape, out.track, sparse=d, gtrack=out.gtrack)


def h_masked_context(b: Builder, raw, a, fn):
    p, v, mask = a["p"], a["v"], a["mask"]
    d = b.next_density(raw)
    out = _out(raw)
    L, S, Ev = p.shape[-2], p.shape[-1], v.shape[-1]
    res = b.matmul(raw, "masked_context", [p, v, mask], out, L, Ev, S, numel(out[:-2]),
                   kind=OpKind.SPARSE_MATMUL, density=d)
    b.attention_core.add(res.name)
    return res


_register("linear", h_linear)
_register("matmul mm bmm addmm baddbmm mv addmv dot vdot addbmm", h_matmul)
_register("conv1d conv2d conv3d convolution _convolution conv_transpose1d conv_transpose2d "
          "conv_transpose3d", h_conv)
_register("scaled_dot_product_attention _scaled_dot_product_flash_attention_for_cpu "
          "_scaled_dot_product_flash_attention _scaled_dot_product_efficient_attention "
          "_scaled_dot_product_attention_math _scaled_dot_product_cudnn_attention "
          "_scaled_dot_product_fused_attention_overrideable "
          "_scaled_dot_product_attention_math_for_mps", h_sdpa)
_register(["vitality::masked_scores"], h_masked_scores)
_register(["vitality::masked_context"], h_masked_context)


# -- vector ops ------------------------------------------------------------------------------------


def h_softmax(b: Builder, raw, a, fn):
    x = _self(a)
    out = _out(raw)
    dim = norm_dim(int(a.get("dim", -1)), len(x.shape))
    L = x.shape[dim] if x.shape else 1
    density = x.sparse if x.sparse is not None else 1.0
    e = round(numel(x.shape) * density)
    rows = numel(x.shape) // max(L, 1)
    ops = {"max": e, "sub": e, "exp": e, "add": e}
    if "log" in fn:
        ops.update(log=rows, sub=2 * e)
    else:
        ops["div"] = e
    return b.vector(raw, "softmax", OpKind.SOFTMAX, "softmax", [x], dim == len(x.shape) - 1, out,
                    ops, density=density, reduce_len=L)


def _norm_ops(R: int, L: int, weight: bool, bias: bool) -> dict[str, int]:
    return {"add": 2 * R * L + R + (R * L if bias else 0), "sub": R * L,
            "mul": R * L + (R * L if weight else 0), "div": 2 * R + R * L, "sqrt": R}


def h_layer_norm(b: Builder, raw, a, fn):
    x = a["input"]
    norm = list(a.get("normalized_shape") or [x.shape[-1]])
    L = numel(norm)
    R = numel(x.shape) // max(L, 1)
    w, bias = a.get("weight"), a.get("bias")
    rms = fn == "rms_norm"
    if rms:
        ops = {"mul": R * L + (R * L if isinstance(w, Val) else 0), "add": R * L + R,
               "div": R + R * L, "sqrt": R}
    else:
        ops = _norm_ops(R, L, isinstance(w, Val), isinstance(bias, Val))
    return b.vector(raw, "rms_norm" if rms else "layer_norm", OpKind.LAYERNORM,
                    "rmsnorm" if rms else "layernorm", [x, w, bias], [len(norm) == 1, False, False],
                    _out(raw), ops, reduce_len=L)


def h_group_norm(b: Builder, raw, a, fn):
    x = a["input"]
    groups = int(a.get("num_groups", a.get("group", 1)) or 1)
    R = x.shape[0] * groups
    L = numel(x.shape) // max(R, 1)
    w, bias = a.get("weight"), a.get("bias")
    return b.vector(raw, "group_norm", OpKind.LAYERNORM, "groupnorm", [x, w, bias], False,
                    _out(raw), _norm_ops(R, L, isinstance(w, Val), isinstance(bias, Val)),
                    reduce_len=L)


def h_batch_norm(b: Builder, raw, a, fn):
    x = a["input"]
    e = numel(x.shape)
    extra = [a.get(k) for k in ("weight", "bias", "running_mean", "running_var")]
    return b.vector(raw, "batch_norm", OpKind.ELEMENTWISE, "batch_norm", [x, *extra],
                    [True, False, False, False, False], _out(raw), {"mul": e, "add": e})


def _elementwise_rowwise(operands: list) -> list[bool]:
    return [True] * len(operands)


ELEMENTWISE_FN = {
    "add": "add", "sub": "sub", "rsub": "sub", "mul": "mul", "div": "div", "true_divide": "div",
    "floor_divide": "div", "neg": "neg", "rsqrt": "rsqrt", "sqrt": "sqrt", "pow": "pow",
    "square": "mul", "where": "where", "clamp": "clamp", "clamp_min": "clamp",
    "clamp_max": "clamp", "clip": "clamp", "round": "round", "abs": "abs",
    "reciprocal": "div", "maximum": "maximum", "minimum": "minimum", "fmax": "maximum",
    "fmin": "minimum",
    "floor": "round", "ceil": "round", "trunc": "round", "sign": "sign", "log": "log",
    "log2": "log", "log10": "log", "log1p": "log", "exp2": "exp2", "expm1": "exp",
    "erf": "erf", "special_erf": "erf", "erfc": "erf", "sin": "sin", "cos": "cos",
    "fmod": "mod", "remainder": "mod", "hypot": "hypot", "atan2": "atan2",
    "nan_to_num": "where",
}
#: Boolean mask logic (combining thresholded masks): THRESHOLD ops, counted by their operation.
MASK_LOGIC = {"bitwise_not": "not", "logical_not": "not", "bitwise_and": "and",
              "logical_and": "and", "__and__": "and", "bitwise_or": "or", "logical_or": "or",
              "__or__": "or", "bitwise_xor": "xor", "logical_xor": "xor", "__xor__": "xor"}
COMPOSITE_OPS = {"addcmul": {"mul": 2, "add": 1}, "addcdiv": {"div": 1, "mul": 1, "add": 1},
                 "lerp": {"sub": 1, "mul": 1, "add": 1}}


def _neutral(b: Builder, raw, a, fn):
    """``x + 0``, ``x * 1``, ``masked_fill(x, all false)`` ...: a view of x (``_consts``)."""
    x = neutral_kept(fn, a, _out(raw))
    return None if x is None else b.view(raw, "alias", [x], _out(raw), x.track, gtrack=x.gtrack,
                                         attrs={"neutral": fn})


def h_elementwise(b: Builder, raw, a, fn):
    kept = _neutral(b, raw, a, fn)
    if kept is not None:
        return kept
    operands = [v for v in a.values() if isinstance(v, Val)]
    out = _out(raw)
    e = numel(out)
    if fn in COMPOSITE_OPS:
        ops, name = {k: v * e for k, v in COMPOSITE_OPS[fn].items()}, fn
    else:
        name = ELEMENTWISE_FN[fn]
        ops = {name: e}
    return b.vector(raw, fn.strip("_"), OpKind.ELEMENTWISE, name, operands,
                    _elementwise_rowwise(operands), out, ops)


ACTIVATIONS = ("gelu relu elu silu tanh sigmoid hardtanh hardswish hardsigmoid leaky_relu "
               "softplus mish relu6 selu celu logsigmoid prelu _prelu_kernel threshold_relu")


def h_activation(b: Builder, raw, a, fn):
    operands = [v for v in a.values() if isinstance(v, Val)]
    name = fn.lstrip("_").replace("_kernel", "")
    return b.vector(raw, name, OpKind.ACTIVATION, name, operands, [True] + [False] * (
        len(operands) - 1), _out(raw), {name: numel(_out(raw))})


def h_exp(b: Builder, raw, a, fn):
    x = _self(a)
    return b.vector(raw, "exp", OpKind.EXP, "exp", [x], True, _out(raw), {"exp": numel(_out(raw))})


def h_threshold(b: Builder, raw, a, fn):
    kept = _neutral(b, raw, a, fn)
    if kept is not None:
        return kept
    operands = [v for v in a.values() if isinstance(v, Val)]
    e = numel(_out(raw))
    ops = {"select": e} if fn == "masked_fill" else {MASK_LOGIC.get(fn, "cmp"): e}
    return b.vector(raw, MASK_LOGIC.get(fn, fn).strip("_"), OpKind.THRESHOLD, "threshold",
                    operands, True, _out(raw), ops)


REDUCE_FN = {"sum": "sum", "nansum": "sum", "mean": "mean", "nanmean": "mean", "amax": "max",
             "max": "max", "argmax": "max", "amin": "min", "min": "min", "argmin": "min",
             "prod": "prod", "var": "var", "std": "var", "var_mean": "var", "std_mean": "var",
             "linalg_vector_norm": "norm", "norm": "norm", "any": "any", "all": "all",
             "logsumexp": "logsumexp", "aminmax": "min"}


#: ``rowwise`` value of an input consumed row by row by an op whose output has fewer rows
STREAM_ROWS = "stream"


def h_reduce(b: Builder, raw, a, fn):
    x = _self(a)
    name = REDUCE_FN[fn]
    nd = len(x.shape)
    dim = a.get("dim")
    dims = list(range(nd)) if dim is None or dim == [] else _rows._dims(dim, nd)
    out = _out(raw)
    e_in = numel(x.shape)
    e_out = numel(out)
    ops = {
        "sum": {"add": e_in}, "mean": {"add": e_in, "div": e_out}, "max": {"max": e_in},
        "min": {"max": e_in}, "prod": {"mul": e_in}, "any": {"or": e_in}, "all": {"and": e_in},
        "var": {"add": 2 * e_in, "sub": e_in, "mul": e_in, "div": 2 * e_out},
        "norm": {"mul": e_in, "add": e_in, "sqrt": e_out},
        "logsumexp": {"max": e_in, "sub": e_in, "exp": e_in, "add": e_in, "log": e_out},
    }[name]
    if fn == "std":
        ops["sqrt"] = e_out
    # a reduction along rows (last dim) keeps rows; one over the row axis (column sums:
    # k_mean, v_sum) accumulates rows as they arrive, so it streams its input too
    if nd >= 2 and set(dims) == {nd - 2}:
        rowwise: bool | str = STREAM_ROWS
    else:
        rowwise = nd >= 2 and set(dims) <= {nd - 1}
    reduce_len = e_in // max(e_out, 1)
    return b.vector(raw, name, OpKind.REDUCE, name, [x], [rowwise], out, ops,
                    reduce_len=reduce_len, attrs={"dims": dims})


def h_pool(b: Builder, raw, a, fn):
    """Pooling: a reduction over each window (max, or sum and one division for the average)."""
    x, out = _self(a), _out(raw)
    e_out = numel(out)
    window = max(1, numel(x.shape) // max(e_out, 1))
    if fn.endswith("pool1d") or fn.endswith("pool2d") or fn.endswith("pool3d"):
        ks = a.get("kernel_size") or a.get("output_size")
        if ks and "adaptive" not in fn:
            window = numel(ks if isinstance(ks, list) else [ks])
    name = "max" if "max" in fn else "mean"
    ops = {"max": e_out * window} if name == "max" else {"add": e_out * window, "div": e_out}
    return b.vector(raw, fn, OpKind.REDUCE, name, [x], False, out, ops, reduce_len=window)


def h_quantize(b: Builder, raw, a, fn):
    x = _self(a)
    e = numel(x.shape)
    if fn == "vitality::fake_quantize":  # per-tensor scale from the data: needs all of x
        ops = {"abs": e, "max": e, "div": e + 1, "round": e, "clamp": e, "mul": e}
        return b.vector(raw, "fake_quantize", OpKind.QUANTIZE, "quantize", [x], False, _out(raw),
                        ops, attrs={"bits": int(a.get("bits", 8))})
    operands = [v for v in a.values() if isinstance(v, Val)]
    ops = {"div": e, "round": e, "add": e, "clamp": e}
    if fn.startswith("fake_quantize"):
        ops.update(sub=e, mul=e)
    return b.vector(raw, fn, OpKind.QUANTIZE, "quantize", operands,
                    [True] + [False] * (len(operands) - 1), _out(raw), ops)


_register(["softmax", "_softmax", "_safe_softmax", "log_softmax", "_log_softmax"], h_softmax)
_register("layer_norm native_layer_norm rms_norm _fused_rms_norm", h_layer_norm)
_register("group_norm native_group_norm", h_group_norm)
_register("batch_norm _native_batch_norm_legit_no_training native_batch_norm "
          "_batch_norm_with_update _native_batch_norm_legit cudnn_batch_norm "
          "_batch_norm_no_update", h_batch_norm)
_register(list(ELEMENTWISE_FN) + list(COMPOSITE_OPS), h_elementwise)
_register(ACTIVATIONS, h_activation)
_register("exp", h_exp)
_register("gt ge lt le eq ne greater greater_equal less less_equal masked_fill isnan isinf "
          "isfinite", h_threshold)
_register(list(MASK_LOGIC), h_threshold)
_register(list(REDUCE_FN), h_reduce)
_register("max_pool1d max_pool2d max_pool3d max_pool2d_with_indices max_pool3d_with_indices "
          "avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
          "adaptive_avg_pool3d _adaptive_avg_pool2d adaptive_max_pool1d adaptive_max_pool2d "
          "adaptive_max_pool3d", h_pool)
_register(["vitality::fake_quantize", "quantize_per_tensor", "quantize_per_channel",
           "fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine"], h_quantize)


# -- views -------------------------------------------------------------------------------------------


def h_view(b: Builder, raw, a, fn):
    x = _self(a)
    if fn in ("cat", "concat", "concatenate", "stack", "hstack", "vstack"):
        tensors = [v for v in a["tensors"] if isinstance(v, Val)]
        live = [v for v in tensors if not v.is_const]
        tracks = {_rows.track(fn, a, v.track, v.shape, _out(raw)) for v in live}
        t = tracks.pop() if len(tracks) == 1 else None
        gtracks = {_rows.track_groups(fn, a, v.gtrack, v.shape, _out(raw)) for v in live}
        g = gtracks.pop() if len(gtracks) == 1 else None
        return b.view(raw, fn, tensors, _out(raw), t, gtrack=g)
    if x is None:
        return None
    if len(raw.outputs) > 1 or raw.multi:  # unbind / split / chunk: one view per used output
        res = []
        for i, shape in enumerate(raw.outputs):
            used = (raw.name, i) in b.used
            if shape is None or not used:
                res.append(None if shape is None else Val("const", raw.name, shape))
                continue
            t = _rows.track(fn, a, x.track, x.shape, shape, i)
            g = _rows.track_groups(fn, a, x.gtrack, x.shape, shape, i)
            res.append(b.view(raw, fn, [x], shape, t, gtrack=g, attrs={"index": i}))
        return res
    t = _rows.track(fn, a, x.track, x.shape, _out(raw))
    g = _rows.track_groups(fn, a, x.gtrack, x.shape, _out(raw))
    extra = [v for v in Builder.tensors(a) if v is not x]  # index tensors of gathers
    return b.view(raw, fn, [x, *extra], _out(raw), t, gtrack=g)


def h_embedding(b: Builder, raw, a, fn):
    """A table lookup: data movement (a gather), so a view whose input 0 is the index tensor."""
    return b.view(raw, fn, [a["indices"], a["weight"]], _out(raw), None)


VIEWS = (
    "view reshape _unsafe_view view_as reshape_as flatten unflatten view_copy _reshape_alias "
    "permute transpose t swapaxes swapdims movedim moveaxis expand expand_as broadcast_to "
    "expand_copy slice slice_copy select select_copy narrow unsqueeze unsqueeze_copy squeeze "
    "squeeze_copy clone contiguous alias alias_copy detach detach_copy lift_fresh_copy lift_fresh "
    "_to_copy to type_as dropout native_dropout feature_dropout alpha_dropout copy _copy_from "
    "cat concat concatenate stack hstack vstack constant_pad_nd pad repeat tile flip roll split "
    "split_with_sizes chunk unbind unsafe_split tensor_split unsafe_chunk split_copy unbind_copy "
    "index index_select gather take_along_dim masked_select unfold im2col pixel_shuffle "
    "pixel_unshuffle as_strided diagonal triu tril"
)
_register(VIEWS, h_view)
_register("embedding embedding_bag", h_embedding)


def h_like(b: Builder, raw, a, fn):
    """``zeros_like(x)`` and friends use only x's shape: a constant, no data dependence."""
    return Val("const", raw.name, _out(raw))


_register("zeros_like ones_like empty_like full_like rand_like randn_like new_zeros new_ones "
          "new_empty new_full fill", h_like)


from . import _aten_counted  # noqa: E402,F401  (registers einsum, upsample ... handlers)
