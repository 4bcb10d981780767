"""Shape helpers of the mapper: how an op's work is laid out (groups x rows), how it is cut
into slices and bands, and how consumer groups map onto producer groups. Pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from workloads.ir import Op, OpKind, numel

#: One chunk's share of an op: (chunk, groups, row range, column range).
Part = tuple[int, list[int], tuple[int, int], tuple[int, int]]


@dataclass
class Geometry:
    """How an op's work is laid out: ``groups`` x ``rows`` streamed rows of ``row_len``."""

    groups: int
    rows: int
    row_len: int
    out_rows: int  # output rows per group (differs from rows when reducing over rows)
    reduces_rows: bool


def split_evenly(total: int, weights: list[int]) -> list[int]:
    """Integers proportional to ``weights`` that add up to ``total`` exactly (largest remainder,
    ties to the earlier entry), so tiling never changes an op's total."""
    wsum = sum(weights)
    if wsum == 0:
        return [0] * len(weights)
    exact = [total * w / wsum for w in weights]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def bands(lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(hi, a + size)) for a in range(lo, hi, size)]


def geometry(op: Op) -> Geometry:
    if op.kind.is_matmul:
        return Geometry(op.batch, op.m, op.n, op.m, False)
    out = op.output_shape
    src = op.input_shapes[0] if op.input_shapes else out
    reduces_rows = (
        op.kind is OpKind.REDUCE and len(src) >= 2 and len(out) >= 1
        and numel(out[:-1]) < numel(src[:-1]) and out[-1] == src[-1]
    )
    shape = src if reduces_rows or op.kind is OpKind.REDUCE else out  # a reduce streams its input
    if len(shape) < 2:
        return Geometry(1, 1, numel(shape), 1, reduces_rows)
    groups, rows = numel(shape[:-2]), shape[-2]
    out_rows = max(1, numel(out[:-1]) // max(1, groups)) if reduces_rows else rows
    return Geometry(groups, rows, shape[-1], out_rows, reduces_rows)


def per_row_divisor(op: Op) -> bool:
    """A division by a column of per-row divisors (Algorithm 1 step 6: T_N / t_D), as opposed
    to a division by one shared divisor (k_mean = sum / n)."""
    if op.fn != "div" or len(op.input_shapes) < 2:
        return False
    divisor = op.input_shapes[1]
    return len(divisor) >= 2 and divisor[-1] == 1 and divisor[-2] > 1


def map_groups(g: int, consumer_groups: int, producer_groups: int) -> range:
    """Producer groups a consumer group reads (heads of an image, or the image of a head)."""
    if producer_groups == consumer_groups:
        return range(g, g + 1)
    if consumer_groups % producer_groups == 0:
        p = g // (consumer_groups // producer_groups)
        return range(p, p + 1)
    if producer_groups % consumer_groups == 0:
        r = producer_groups // consumer_groups
        return range(g * r, (g + 1) * r)
    return range(producer_groups)
