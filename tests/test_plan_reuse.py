"""Reusing a mapping across architectures that differ only in timing or energy (sweeps), and
parsing a base architecture once (arch.loader_for): results equal those of a fresh run."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.api import plan_for, simulate
from accelsim.mapper import mapping_key
from arch import load
from arch.errors import ConfigError
from arch.loader import loader_for
from workloads import resolve

torch.set_num_threads(1)


def _summary(result):
    s = dict(result.summary)
    s["sim"] = {k: v for k, v in s["sim"].items() if k != "wall_s"}
    return s


@pytest.fixture(scope="module")
def graph():
    return resolve("deit_tiny", attention="taylor")


timing = st.fixed_dictionaries({
    "clock_mhz": st.sampled_from([250, 500, 800, 1000]),
    "memories.dram.bandwidth_gbps": st.floats(2, 200),
    "memories.dram.latency_ns": st.floats(0, 300),
    "memories.sram_act.bandwidth_bytes_per_cycle": st.integers(8, 512),
    "memories.noc.bandwidth_bytes_per_cycle": st.integers(8, 512),
    "memories.dram.read_energy_pj_per_bit": st.floats(1, 40),
    "chunks.units.sa_general.mac_energy_pj": st.floats(0.1, 2),
})


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=timing)
def test_reused_plan_gives_the_fresh_result(graph, values):
    base = load("vitality")
    variant = load("vitality", [f"{k}={v}" for k, v in values.items()])
    assert mapping_key(variant) == mapping_key(base)
    fresh = simulate(variant, graph, keep_intervals=False)
    reused = simulate(variant, graph, keep_intervals=False, plan=plan_for(base, graph))
    assert _summary(reused) == _summary(fresh)


@pytest.mark.parametrize("override", [
    "memories.sram_act.capacity_kib=128", "chunks.count=2", "mapping.prefetch_depth=3",
    "chunks.units.sa_general.rows=32", "chunks.units.post.fns.gelu.cycles_per_element=3",
])
def test_mapping_fields_change_the_key(override):
    assert mapping_key(load("vitality", [override])) != mapping_key(load("vitality"))


def test_a_plan_is_not_consumed_by_a_run(graph):
    arch = load("vitality")
    plan = plan_for(arch, graph)
    first = simulate(arch, graph, keep_intervals=False, plan=plan)
    second = simulate(arch, graph, keep_intervals=False, plan=plan)
    assert _summary(first) == _summary(second)


def test_loader_for_equals_load_and_keeps_its_errors():
    load_with = loader_for("vitality")
    for sets in ([], ["chunks.count=2"], ["memories.dram.bandwidth_gbps=8"]):
        assert load_with(sets) == load("vitality", sets)
    with pytest.raises(ConfigError) as fresh:
        load("vitality", ["chunks.count=0"])
    with pytest.raises(ConfigError) as cached:
        load_with(["chunks.count=0"])
    assert str(cached.value) == str(fresh.value)
    assert "\n" not in str(cached.value)
