"""Small architectures and graphs for engine tests, built in Python (no presets, no torch)."""

from __future__ import annotations

from arch.schema import Architecture
from workloads.ir import Op, OpGraph, OpKind, Precision, matmul_cost, vector_cost

VECTOR_FNS = ["add", "sub", "mul", "div", "sum", "mean", "max", "exp", "softmax", "layernorm",
              "gelu", "relu"]


def tiny_arch(*, chunks: int = 1, dataflow: str = "os", rows: int = 8, cols: int = 8,
              dram_bytes_per_cycle: float = 1e6, dram_latency_cycles: int = 0,
              sram_kib: float = 1024, sram_bytes_per_cycle: float = 1e6,
              noc_bytes_per_cycle: float = 1e6, lanes: int = 8, pipeline: bool = True,
              tile_rows: int = 0, prefetch_depth: int = 2, channels: int = 1,
              activation_b_room: str = "all_tiles") -> Architecture:
    """One DRAM, one SRAM, one NoC and per chunk a systolic array and a vector array.

    The clock is 1000 MHz, so ``dram_bytes_per_cycle`` bytes/cycle is that many GB/s and a
    latency of N cycles is N ns.
    """
    return Architecture.model_validate({
        "name": "tiny", "clock_mhz": 1000,
        "memories": {
            "dram": {"type": "dram", "bandwidth_gbps": dram_bytes_per_cycle, "channels": channels,
                     "latency_ns": dram_latency_cycles, "read_energy_pj_per_bit": 1.0,
                     "write_energy_pj_per_bit": 2.0, "leakage_mw": 1.0},
            "sram": {"type": "sram", "capacity_kib": sram_kib,
                     "bandwidth_bytes_per_cycle": sram_bytes_per_cycle,
                     "read_energy_pj_per_byte": 0.5, "write_energy_pj_per_byte": 0.7,
                     "leakage_mw": 1.0},
            "noc": {"type": "noc", "bandwidth_bytes_per_cycle": noc_bytes_per_cycle, "hops": 2,
                    "latency_cycles_per_hop": 0, "energy_pj_per_byte_hop": 0.1,
                    "leakage_mw": 0.5},
        },
        "chunks": {"count": chunks, "units": {
            "pe": {"type": "systolic", "rows": rows, "cols": cols, "dataflow": dataflow,
                   "fns": ["matmul", "matvec"], "mac_energy_pj": 1.0, "leakage_mw": 2.0},
            "vec": {"type": "vector", "lanes": lanes, "leakage_mw": 1.0,
                    "fns": {f: {"energy_pj": 0.25} for f in VECTOR_FNS}},
        }},
        "connections": [{"src": "dram", "dst": "sram"}, {"src": "sram", "dst": "noc"},
                        {"src": "noc", "dst": "chunk.pe"}, {"src": "noc", "dst": "chunk.vec"}],
        "mapping": {"intra_layer_pipeline": pipeline, "tile_rows": tile_rows,
                    "prefetch_depth": prefetch_depth, "activation_b_room": activation_b_room},
    })


class GraphBuilder:
    """Builds OpGraphs op by op; each op consumes earlier ops' outputs by name."""

    def __init__(self, precision: Precision | None = None) -> None:
        self.precision = precision or Precision()
        self.graph = OpGraph({"model": "test", "precision": self.precision.__dict__})

    def _add(self, op: Op, inputs: list[str | None], aligned: list[bool]) -> str:
        self.graph.add_op(op)
        for i, (src, al) in enumerate(zip(inputs, aligned, strict=True)):
            if src is not None:
                self.graph.add_edge(src, op.name, input=i, rows_aligned=al)
        return op.name

    def linear(self, name: str, x: str | None, groups: int, m: int, k: int, n: int,
               group: str = "other", layer: int | None = 0) -> str:
        """(groups*m x k) @ weight (k x n): weight B operand, rows of x aligned."""
        op = Op(name, OpKind.MATMUL, "matmul", [[groups * m, k], [k, n]], [groups * m, n],
                group=group, layer=layer, weight_inputs=[1], m=groups * m, n=n, k=k,
                cost=matmul_cost(groups * m, n, k, 1, 1.0, self.precision, [1]))
        return self._add(op, [x, None], [True, False])

    def bmm(self, name: str, a: str, b: str, batch: int, m: int, k: int, n: int,
            group: str = "attention", layer: int | None = 0) -> str:
        """Batched activation x activation product (e.g. QK^T, attention x V)."""
        op = Op(name, OpKind.MATMUL, "matmul", [[batch, m, k], [batch, k, n]], [batch, m, n],
                group=group, layer=layer, m=m, n=n, k=k, batch=batch,
                cost=matmul_cost(m, n, k, batch, 1.0, self.precision, []))
        return self._add(op, [a, b], [True, False])

    def vector(self, name: str, kind: OpKind, fn: str, inputs: list[str | None],
               shapes: list[list[int]], out: list[int], group: str = "other",
               layer: int | None = 0, aligned: list[bool] | None = None) -> str:
        from math import prod

        op = Op(name, kind, fn, shapes, out, group=group, layer=layer,
                cost=vector_cost(shapes, out, {fn: prod(out)}, self.precision, []))
        return self._add(op, inputs, aligned or [True] * len(inputs))
