"""Regression tests for engine corner cases found in review."""

from __future__ import annotations

import pytest

from accelsim.api import simulate
from workloads.ir import Op, OpGraph, OpKind, matmul_cost, vector_cost
from workloads.simple import gemm_graph

from engine_helpers import GraphBuilder, tiny_arch


def test_energy_per_op_plus_leakage_is_the_total():
    """Every pJ is attributed: op energies (compute, memory traffic, registers) + leakage."""
    import arch
    from workloads import resolve

    a = arch.load("vitality")
    s = simulate(a, resolve("deit_tiny", attention="taylor")).summary
    leakage = sum(d.get("leakage", 0.0) for d in s["energy_detail_pj"].values())
    assert sum(o["energy_pj"] for o in s["ops"]) + leakage == pytest.approx(s["energy_pj"])


def test_full_size_vector_weights_over_several_groups_do_not_deadlock():
    """A per-head bias the size of the scores, streamed in row tiles through a small weight
    buffer: the DMA must fetch blocks in the order the unit consumes them."""
    shape = [2, 128, 64]
    b = GraphBuilder()
    op = Op("add", OpKind.ELEMENTWISE, "add", [shape, shape], shape, weight_inputs=[1],
            cost=vector_cost([shape, shape], shape, {"add": 2 * 128 * 64}, b.precision, [1]))
    b.graph.add_op(op)
    s = simulate(tiny_arch(tile_rows=32, sram_kib=4), b.graph).summary
    assert s["ops"][0]["compute_cycles"] == 2 * 128 * 64 // 8


def test_zero_byte_weight_block_runs():
    """1x1 weights at 4-bit round to less than a byte: no crash, and nothing negative."""
    from workloads.ir import Precision

    g = OpGraph({"model": "tiny", "precision": {"operand_bits": 4}})
    p = Precision(operand_bits=4)
    g.add_op(Op("mm", OpKind.MATMUL, "matmul", [[4, 1], [1, 1]], [4, 1], weight_inputs=[1],
                m=4, n=1, k=1, cost=matmul_cost(4, 1, 1, 1, 1.0, p, [1])))
    s = simulate(tiny_arch(), g).summary
    assert s["macs"] == 4 and s["cycles"] > 0


def test_row_reduction_with_one_group_stays_on_one_chunk():
    """A mean over all tokens of one image is one accumulation: not split over chunks (there
    is no combine step), and its output is written once."""
    b = GraphBuilder()
    b.vector("mean", OpKind.REDUCE, "mean", [None], [[1, 1024, 64]], [1, 1, 64])
    result = simulate(tiny_arch(chunks=4), b.graph)
    tiles = result.plan.tiles
    assert {t.unit for t in tiles} == {"chunk0.vec"}
    assert sum(t.out_bytes for t in tiles) == 64


def test_graph_nodes_out_of_topological_order_still_map():
    b = GraphBuilder()
    x = b.linear("a", None, 1, 16, 16, 16)
    b.vector("b", OpKind.ACTIVATION, "relu", [x], [[16, 16]], [16, 16])
    data = b.graph.to_dict()
    data["nodes"].reverse()
    s = simulate(tiny_arch(), OpGraph.from_dict(data)).summary
    assert [o["name"] for o in s["ops"]] == ["a", "b"]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_tiling_changes_neither_cycles_nor_energy(dataflow):
    """Operand reads, like cycles, come from the whole slice: row tiles only spread them."""
    runs = [simulate(tiny_arch(dataflow=dataflow, tile_rows=t), gemm_graph(256, 64, 64)).summary
            for t in (0, 16, 5)]
    assert len({r["ops"][0]["compute_cycles"] for r in runs}) == 1
    energies = [r["ops"][0]["energy_pj"] for r in runs]
    assert max(energies) == pytest.approx(min(energies), rel=1e-6)


def test_low_bit_array_moves_fewer_bytes():
    """An array with its own operand width (Sanger's 4-bit predictor) reads and writes its
    operands at that width: same MACs and cycles, less traffic and energy."""
    b = GraphBuilder()
    b.bmm("qk", None, None, 4, 64, 64, 64)
    wide = tiny_arch()
    narrow = tiny_arch()
    narrow.chunks.units["pe"].operand_bits = 4
    s8, s4 = simulate(wide, b.graph).summary, simulate(narrow, b.graph).summary
    assert s4["macs"] == s8["macs"]
    assert s4["ops"][0]["compute_cycles"] == s8["ops"][0]["compute_cycles"]
    assert s4["dram_bytes"] * 2 == s8["dram_bytes"]
    assert s4["energy_pj"] < s8["energy_pj"]


def test_two_slots_returned_in_one_step_reach_one_waiting_loader_and_the_free_count():
    """``Slots``: the first returned slot goes to the waiting loader, the second back to the
    free count, as two puts into a ``simpy.Container`` with one get waiting."""
    from accelsim.clock import Clock, Slots

    env = Clock()
    slots = Slots(env, 1)
    got: list[int] = []

    def loader():
        yield slots.take()
        yield slots.take()  # waits: the only slot is taken
        got.append(env.now)

    def unit():
        yield env.timeout(5)
        slots.give()
        slots.give()

    env.process(loader())
    env.process(unit())
    env.run()
    assert got == [5] and slots.free == 1 and slots.waiting is None
