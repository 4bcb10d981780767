"""validation.fronts: Pareto fronts and front-to-front ratios against hand-worked cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validation.fronts import (
    Point,
    _model_part,
    best_latency_within,
    by_shape,
    front,
    front_ratios,
    shape_of,
)


def P(lat: float, en: float) -> Point:
    return Point(lat, en, ())


def test_front_of_a_known_set():
    pts = [P(1, 9), P(2, 5), P(3, 6), P(4, 2), P(2, 7), P(5, 2)]
    assert front(pts) == [P(1, 9), P(2, 5), P(4, 2)]


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 50)), min_size=1, max_size=40))
def test_front_points_are_not_dominated_and_every_other_point_is(raw):
    pts = [P(a, b) for a, b in raw]
    f = front(pts)
    for p in f:  # nothing strictly better in one and no worse in the other
        assert not any((q.latency_ms <= p.latency_ms and q.energy_pj < p.energy_pj)
                       or (q.latency_ms < p.latency_ms and q.energy_pj <= p.energy_pj)
                       for q in pts)
    for p in pts:  # every point is matched or beaten by a front point
        assert any(q.latency_ms <= p.latency_ms and q.energy_pj <= p.energy_pj for q in f)


def test_front_ratios_worked_example():
    ours = [P(1.0, 10.0), P(2.0, 4.0)]
    theirs = [P(1.5, 12.0), P(3.0, 4.0), P(4.0, 3.0)]
    q = front_ratios(ours, theirs)
    # at energy 10 their best latency is 3.0 (1.5 needs 12): 3.0 / 1.0; at energy 4: 3.0 / 2.0
    assert q["latency_at_energy"] == {"median": 2.25, "min": 1.5, "max": 3.0, "points": 2}
    # within latency 1.0 they have nothing; within 2.0: 12.0 / 4.0
    assert q["energy_at_latency"] == {"median": 3.0, "min": 3.0, "max": 3.0, "points": 1}
    assert q["best_latency"] == 1.5 and q["best_energy"] == 3.0 / 4.0
    assert best_latency_within(theirs, 2.9) is None


def test_crossover_bisects_to_adjacent_sizes():
    from validation.sensitivity import PATCH, crossover, tokens_of

    truth = 304  # vitality wins from 304 px on
    probes = []

    def probe(img):
        probes.append(img)
        return img >= truth

    assert crossover({224: False, 448: True, 896: True}, probe) == truth
    assert all(i % PATCH == 0 and 224 < i < 448 for i in probes)
    assert len(probes) <= 4  # log2(224 / 16) probes
    assert crossover({224: True, 448: True}, probe) == 224  # wins already
    assert crossover({224: False, 448: False}, probe) is None
    assert tokens_of(224) == 197 and tokens_of(896) == 3137


def _shaped(lat: float, en: float, rows: int, cols: int, df: str) -> Point:
    return Point(lat, en, (("chunks.units.sa.dataflow", df), ("chunks.units.sa.rows", str(rows)),
                           ("chunks.units.sa.cols", str(cols)), ("chunks.units.x.rows", "1")))


def test_shape_is_the_first_unit_with_both_rows_and_cols():
    assert shape_of(_shaped(1, 1, 66, 65, "os")) == (66, 65)
    assert shape_of(P(1, 1)) is None
    only_rows = Point(1, 1, (("chunks.units.sa_diag.rows", "65"),
                             ("chunks.units.sa.rows", "39"), ("chunks.units.sa.cols", "110")))
    assert shape_of(only_rows) == (39, 110)


def test_by_shape_keeps_each_shapes_fastest_in_aspect_order():
    pts = [_shaped(3, 5, 66, 65, "os"), _shaped(2, 9, 66, 65, "ws"), _shaped(2, 4, 66, 65, "is"),
           _shaped(4, 1, 39, 110, "os"), _shaped(7, 1, 110, 39, "os")]
    got = by_shape(pts)
    assert list(got) == [(39, 110), (66, 65), (110, 39)]
    assert got[66, 65] == pts[2]  # fastest; the least energy of the two at 2


def test_a_model_part_states_who_wins_from_its_own_points():
    fams = {"vitality": [_shaped(2, 4, 65, 65, "ws"), _shaped(3, 3, 25, 169, "ws")],
            "systolic_iso": [_shaped(1, 8, 66, 65, "os")],
            "sanger_iso": [_shaped(4, 9, 65, 50, "ws")]}
    text, data = _model_part("deit_small", fams, None, "_deit_small")
    assert "### DeiT-S" in text and "validation_fronts_deit_small.png" in text
    assert data["ratios"]["systolic_iso"]["best_latency"] == 0.5  # 1 / 2
    assert data["ratios"]["sanger_iso"]["best_latency"] == 2.0
    assert data["shapes"]["vitality"] == {"25x169": 3, "65x65": 2}
    assert "2.00x slower" in text and "2.00x faster" in text


def test_rows_of_points_the_spec_no_longer_has_are_not_counted(tmp_path):
    """A results file keeps rows of an earlier spec's points (another base architecture gives
    other IDs); a family's points are only the current spec's."""
    from validation.fronts import QUICK_POINTS, family_points, run_family

    first = run_family("vitality", tmp_path, quick=True)
    assert list(first) == ["deit_tiny", "deit_small", "deit_base",  # the spec's order
                           "deit_tiny@448", "deit_small@448", "deit_base@448", "deit_tiny@896"]
    assert sum(len(p) for p in first.values()) == QUICK_POINTS
    results = tmp_path / "pareto_vitality" / "results.csv"
    lines = results.read_text().splitlines()
    stale = "f" * 12 + lines[1][lines[1].index(","):]  # the same cells under a foreign ID
    results.write_text("\n".join([*lines, stale]) + "\n")
    assert family_points("vitality", tmp_path) == first


def test_workloads_at_another_image_size_are_named_apart():
    from validation.fronts import workload_key, workload_title

    assert workload_key("deit_tiny", None) == "deit_tiny"
    assert workload_key("deit_tiny", 448) == workload_key("deit_tiny", "448") == "deit_tiny@448"
    assert workload_title("deit_tiny") == "DeiT-T"
    assert workload_title("deit_tiny@448") == "DeiT-T at 448 px"
    assert workload_title("vit_huge@896") == "vit_huge at 896 px"


@pytest.mark.parametrize("count", [2, 8])
@pytest.mark.parametrize("preset", ["vitality", "systolic_iso", "sanger_iso"])
def test_chunk_count_variants_keep_the_budget(preset, count):
    """Section 10's chunk-count rows: the same PEs, buffers and DRAM in ``count`` chunks, and
    vector lanes x chunks within one lane per chunk of the preset's."""
    import arch
    from arch.schema import VectorArray
    from validation.sensitivity import chunk_overrides

    base = arch.load(preset)
    a = arch.load(preset, overrides=chunk_overrides(preset, count))
    assert a.chunks.count == count and a.pes == base.pes == 17160
    assert a.memories == base.memories
    for name, u in base.chunks.units.items():
        if isinstance(u, VectorArray):
            want = u.lanes * base.chunks.count
            assert want <= a.chunks.units[name].lanes * count < want + count
