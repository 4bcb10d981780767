"""More of the aten-op table (``workloads._aten``): ops counted by what they compute although
no single matmul or vector op names them: ``einsum`` in every form, ``outer``, ``cdist``, ``bilinear``,
upsampling and ``col2im``. Imported by ``workloads._aten``, into whose ``HANDLERS`` it
registers."""

from __future__ import annotations

from ._aten import _out, _register, _self, numel
from ._convert import Builder, Val
from .ir import OpKind


def _expand_ellipsis(terms: list[str], rhs: str | None, shapes: list[tuple]) -> tuple:
    """``...`` replaced by fresh upper-case letters (as many as the broadcast dims)."""
    nell = max((len(sh) - len(t.replace("...", "")) for t, sh in zip(terms, shapes, strict=True)
                if "..." in t), default=0)
    fresh = "".join(chr(ord("A") + i) for i in range(nell))
    out = []
    for t, sh in zip(terms, shapes, strict=True):
        n = len(sh) - len(t.replace("...", ""))
        out.append(t.replace("...", fresh[nell - n:]))
    if rhs is not None:
        rhs = rhs.replace("...", fresh)
    return out, rhs


def h_einsum(b: Builder, raw, a, fn):
    """Any einsum: ``...`` expanded, operands contracted pairwise left to right (torch's order
    without opt_einsum), each pair one matmul over the indices it sums (``k``), keeps from
    both (``batch``) and keeps from one side (``m``, ``n``). One operand: a reduction."""
    eq = str(a["equation"]).replace(" ", "")
    ops = [v for v in a["tensors"] if isinstance(v, Val)]
    lhs, arrow, rhs_s = eq.partition("->")
    terms, rhs = _expand_ellipsis(lhs.split(","), rhs_s if arrow else None,
                                  [v.shape for v in ops])
    if rhs is None:  # implicit output: the indices seen once, sorted
        seen = "".join(terms)
        rhs = "".join(sorted(c for c in set(seen) if seen.count(c) == 1))
    if len(ops) != len(terms) or not ops:
        return b.unknown_op(raw, "einsum", ops, _out(raw))
    sizes: dict[str, int] = {}
    for term, v in zip(terms, ops, strict=True):
        sizes.update(zip(term, v.shape, strict=False))
    prod = lambda s: numel(sizes[c] for c in s)  # noqa: E731
    if len(ops) == 1:
        x = ops[0]
        e = numel(x.shape)
        return b.vector(raw, "einsum", OpKind.REDUCE, "sum", [x], False, _out(raw),
                        {"add": e}, reduce_len=e // max(1, numel(_out(raw))),
                        attrs={"equation": eq})
    cur, cur_t = ops[0], terms[0]
    for i in range(1, len(ops)):
        later = set("".join(terms[i + 1:])) | set(rhs)
        ta, tb = set(cur_t), set(terms[i])
        keep = (ta | tb) & later
        batch = prod(ta & tb & keep)
        m, n, k = prod((ta - tb) & keep), prod((tb - ta) & keep), prod((ta | tb) - keep)
        last = i == len(ops) - 1
        out_t = rhs if last else "".join(dict.fromkeys(c for c in cur_t + terms[i]
                                                       if c in keep))
        shape = _out(raw) if last else tuple(sizes[c] for c in out_t)
        cur = b.matmul(raw, "einsum", [cur, ops[i]], shape, m, n, k, batch, row_a=False,
                       attrs={"equation": eq})
        cur_t = out_t
    return cur


def h_outer(b: Builder, raw, a, fn):
    """Outer product of two vectors: an (m x 1) @ (1 x n) matmul."""
    x, y = a["self"], a.get("vec2", a.get("other"))
    return b.matmul(raw, "outer", [x, y], _out(raw), numel(x.shape), numel(y.shape), 1, 1,
                    row_a=False)


def h_cdist(b: Builder, raw, a, fn):
    """Pairwise distances: the (P x M) @ (M x R) product of torch's matrix path (the squared
    norms and the square root are per-output epilogue steps, not MACs)."""
    x1, x2 = a["x1"], a["x2"]
    P, R, M = x1.shape[-2], x2.shape[-2], x1.shape[-1]
    return b.matmul(raw, "cdist", [x1, x2], _out(raw), P, R, M, numel(_out(raw)[:-2]),
                    row_a=False)


def h_bilinear(b: Builder, raw, a, fn):
    """``y = x1 W x2 + bias`` with W of shape (O, I, J), for B rows: first ``x1 @ W`` as one
    (B x I) @ (I x O*J) product, then per row its (O x J) slice times that row's x2 (a
    batched matvec with the bias as epilogue): ``B*O*J*(I + 1)`` MACs, the order of torch's
    ``_trilinear`` (x1 with W first; x2 first would be ``B*O*I*(J + 1)``, fewer when J > I;
    FlopCounterMode counts none)."""
    x1, x2, w = a["input1"], a["input2"], a["weight"]
    out_f, i_f, j_f = w.shape
    rows = numel(x1.shape[:-1])
    t = b.matmul(raw, "bilinear", [x1, w], (rows, out_f, j_f), rows, out_f * j_f, i_f, 1,
                 row_a=False)
    return b.matmul(raw, "bilinear", [t, x2, a.get("bias")], _out(raw), out_f, 1, j_f, rows,
                    row_a=False)


def h_upsample(b: Builder, raw, a, fn):
    """Interpolation by what it computes per output element: nearest copies one input
    (``interpolate``); (bi/tri)linear weighs 2^d neighbours, bicubic 4^d (``mul`` per tap,
    ``add`` per tap but one)."""
    x, out = _self(a), _out(raw)
    e = numel(out)
    dims = int(fn[-2]) if fn[-2:-1].isdigit() else 1
    taps = 1 if "nearest" in fn else 4 ** dims if "bicubic" in fn else 2 ** dims
    ops = {"interpolate": e} if taps == 1 else {"mul": taps * e, "add": (taps - 1) * e}
    return b.vector(raw, fn, OpKind.ELEMENTWISE, "interpolate", [x], False, out, ops)


def h_col2im(b: Builder, raw, a, fn):
    """``fold``: every column element is added into its output pixel."""
    x = _self(a)
    return b.vector(raw, "col2im", OpKind.ELEMENTWISE, "add", [x], False, _out(raw),
                    {"add": numel(x.shape)})


_register("einsum", h_einsum)
_register("outer ger", h_outer)
_register("cdist _cdist_forward _euclidean_dist", h_cdist)
_register("upsample_nearest1d upsample_nearest2d upsample_nearest3d upsample_linear1d "
          "upsample_bilinear2d upsample_trilinear3d upsample_bicubic2d _upsample_nearest_exact1d "
          "_upsample_nearest_exact2d _upsample_nearest_exact3d _upsample_bilinear2d_aa "
          "_upsample_bicubic2d_aa", h_upsample)
_register("col2im", h_col2im)
_register("bilinear", h_bilinear)
