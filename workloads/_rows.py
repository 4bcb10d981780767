"""Row-axis tracking through view ops (for the ``rows_aligned`` flag of edges).

Every compute op's output has its *row axis* at dim -2 (the token axis of a ViT). A view op
moves, keeps or loses it; ``track`` returns where the tracked axis of a view's input lands in its
output, or None when it is lost (sliced, selected, merged with a neighbour, broadcast ...).
"""

from __future__ import annotations

import math
from typing import Any


def norm_dim(d: int, ndim: int) -> int:
    return d + ndim if d < 0 else d


def _dims(value: Any, ndim: int) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        value = [value]
    return [norm_dim(int(v), max(ndim, 1)) for v in value]


def reshape_track(a: int, src: tuple[int, ...], dst: tuple[int, ...]) -> int | None:
    """Axis ``a`` of ``src`` survives a reshape to ``dst`` when some axis of ``dst`` has its size
    and the same product of leading sizes (the axis was neither split nor merged)."""
    lead = math.prod(src[:a])
    for b, size in enumerate(dst):
        if size == src[a] and math.prod(dst[:b]) == lead:
            return b
    return None


RESHAPES = {"view", "reshape", "_unsafe_view", "view_as", "reshape_as", "flatten", "unflatten",
            "view_copy", "_reshape_alias"}
IDENTITIES = {"clone", "contiguous", "alias", "detach", "lift_fresh_copy", "lift_fresh", "_to_copy",
              "to", "type_as", "dropout", "native_dropout", "feature_dropout", "alpha_dropout",
              "copy", "_copy_from", "identity", "alias_copy", "detach_copy", "clone_copy"}
SPLITS = {"split", "split_with_sizes", "chunk", "unsafe_split", "tensor_split", "unsafe_chunk",
          "split_copy"}


def track(fn: str, args: dict[str, Any], a: int | None, src: tuple[int, ...],
          dst: tuple[int, ...], index: int = 0) -> int | None:
    """Where input axis ``a`` (of shape ``src``) is in the output (shape ``dst``) of view ``fn``."""
    if a is None or a >= len(src):
        return None
    nin, nout = len(src), len(dst)
    if fn in IDENTITIES:
        return a if src == dst else reshape_track(a, src, dst)
    if fn in RESHAPES:
        return reshape_track(a, src, dst)
    if fn == "permute":
        dims = _dims(args.get("dims"), nin)
        return dims.index(a) if a in dims else None
    if fn in ("transpose", "swapaxes", "swapdims"):
        d0 = norm_dim(int(args.get("dim0", 0)), nin)
        d1 = norm_dim(int(args.get("dim1", 1)), nin)
        return d1 if a == d0 else d0 if a == d1 else a
    if fn == "t":
        return 1 - a if nin == 2 else a
    if fn in ("movedim", "moveaxis"):
        srcs = _dims(args.get("source"), nin)
        dsts = _dims(args.get("destination"), nin)
        order: list[int | None] = [None] * nin
        for s, d in zip(srcs, dsts, strict=False):
            order[d] = s
        rest = iter(d for d in range(nin) if d not in srcs)
        order = [o if o is not None else next(rest) for o in order]
        return order.index(a)
    if fn in ("expand", "expand_as", "broadcast_to", "expand_copy"):
        b = a + nout - nin
        return b if 0 <= b < nout and dst[b] == src[a] else None
    if fn in ("repeat", "tile"):
        b = a + nout - nin
        return b if 0 <= b < nout and dst[b] == src[a] else None
    if fn in ("slice", "slice_copy"):
        d = norm_dim(int(args.get("dim", 0)), nin)
        return a if d != a or dst[a] == src[a] else None
    if fn == "narrow":
        d = norm_dim(int(args.get("dim", 0)), nin)
        return a if d != a or dst[a] == src[a] else None
    if fn in ("select", "unbind", "select_copy", "unbind_copy"):
        d = norm_dim(int(args.get("dim", 0)), nin)
        return None if d == a else a - 1 if d < a else a
    if fn in SPLITS:
        d = norm_dim(int(args.get("dim", 0)), nin)
        return a if d != a or dst[a] == src[a] else None
    if fn in ("unsqueeze", "unsqueeze_copy"):
        d = norm_dim(int(args.get("dim", 0)), nout)
        return a + 1 if d <= a else a
    if fn in ("squeeze", "squeeze_copy"):
        dims = _dims(args.get("dim"), nin) if args.get("dim") is not None else list(range(nin))
        removed = [d for d in dims if src[d] == 1]
        return None if a in removed else a - sum(d < a for d in removed)
    if fn in ("cat", "concat", "concatenate"):
        d = norm_dim(int(args.get("dim", 0)), nin)
        return None if d == a else a
    if fn == "stack":
        d = norm_dim(int(args.get("dim", 0)), nout)
        return a + 1 if d <= a else a
    if fn == "constant_pad_nd":
        pad = list(args.get("pad") or [])
        for i in range(0, len(pad), 2):
            d = nin - 1 - i // 2
            if d == a and (pad[i] or (i + 1 < len(pad) and pad[i + 1])):
                return None
        return a
    if fn == "flip":
        return None if a in _dims(args.get("dims"), nin) else a
    if fn == "roll":
        dims = _dims(args.get("dims"), nin)
        return None if not dims or a in dims else a
    return None


def track_groups(fn: str, args: dict[str, Any], gtrack: tuple | None, src: tuple[int, ...],
                 dst: tuple[int, ...], index: int = 0) -> tuple | None:
    """``track`` for each of the producer's group axes: ((position or None, size), ...)."""
    if gtrack is None:
        return None
    return tuple((None if p is None else track(fn, args, p, src, dst, index), size)
                 for p, size in gtrack)
