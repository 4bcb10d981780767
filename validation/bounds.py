"""Section 2: every simulated op against an analytic lower bound on its time.

An op's simulated time is its *span*: from the cycle its first tile starts computing to the cycle
its last result is written (``end_cycle - start_cycle`` of the summary). Whatever the mapper and
the engine do, the span cannot be shorter than

* the **compute bound**: the op ran on ``p`` chunks (``chunks`` in the summary), one unit
  instance each, and an instance runs its tiles one after another, so the busiest instance does at
  least ``1/p`` of the op's work. For a matmul on an ``R x C`` array that is the larger of
  ``MACs / (R*C*p)`` and ``(batch * closed_form(m, n, k) - (p - 1)) / p`` where ``closed_form`` is
  the SCALE-Sim-exact compute cycles of one GEMM (``accelsim.timing``; the ``p - 1`` allows the
  ``- 1`` each chunk's share of a split GEMM saves; a sparse matmul multiplies it by
  ``density * (1 + sparse_overhead)``). For a vector op on ``L`` lanes at ``cpe`` cycles per
  element with pipeline latency ``lat``: ``E * density * cpe / (L * p) + lat``, where ``E`` is the
  largest tensor the op reads or writes (a reduction streams its whole input);
* the **work bound** (a check of the recorded ``compute_cycles``, the op's tile cycles summed
  over its chunks, which no waiting inflates): at least ``p`` times the compute bound's
  per-chunk work, i.e. the whole op's closed-form cycles (or streamed elements) however tiled;
* the **memory bound**: traffic that cannot happen before the op's first tile starts. Its output
  (``numel(out)`` operand bytes) is produced by its tiles and crosses the memories between its
  unit and the unit's own output SRAM (and on to DRAM when spilled) at the narrowest bandwidth
  of that path, counted as the op's ``p`` chunks can use it: a NoC with ``per_chunk`` links
  carries ``p`` links' worth, a shared link or a shared SRAM one port's (other units' paths and
  SRAMs above the near one, such as an L2, do not count); and of its weights, the bytes beyond
  what the weight SRAMs can hold must still come from DRAM. Inputs are not counted: the loader
  may stage the first tiles' operands before the op starts (prefetch).

``ratio = span / max(compute bound, memory bound)`` is >= 1 for every op, and its recorded
``compute_cycles`` >= the work bound, or it is a violation.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from arch.schema import Architecture, Noc, RegisterFile, Sram, SystolicArray, VectorArray
from workloads.ir import OpGraph, OpKind, numel

from .tables import Section, command, num, quantiles, ratio, table

#: Ops listed per preset among those furthest above their bound (one per op of a layer).
WORST = 3
#: A resource "dominates" an op when its bound is at least this many times the other's.
DOMINANCE = 2.0


@dataclass
class OpBound:
    """One op: its simulated span and its bounds, all in cycles."""

    name: str
    kind: str
    unit: str
    chunks: int
    span: int
    mac_bound: int
    closed_form_bound: int
    compute_bound: int
    memory_bound: int
    compute_cycles: int = 0  # recorded: the op's tile cycles summed over all its chunks
    work: int = 0  # lower bound on compute_cycles: the op's whole work, independent of tiling

    @property
    def bound(self) -> int:
        return max(self.compute_bound, self.memory_bound)

    @property
    def ratio(self) -> float:
        return self.span / self.bound if self.bound else float("nan")

    @property
    def violation(self) -> bool:
        return self.span < self.bound or self.compute_cycles < self.work

    @property
    def dominant(self) -> str:
        """"compute" or "memory" when one bound is DOMINANCE x the other, else "balanced"."""
        c, m = self.compute_bound, self.memory_bound
        if c >= DOMINANCE * m:
            return "compute"
        if m >= DOMINANCE * c:
            return "memory"
        return "balanced"


def _ceil(x: float) -> int:
    return max(0, math.ceil(x - 1e-9 * max(1.0, abs(x))))


def bandwidths(arch: Architecture) -> dict[str, float]:
    """Bytes per cycle of DRAM (all DRAMs together: bytes spread over several cannot move faster
    than their sum); weight SRAM bytes (all copies)."""
    dram = [m.bandwidth_gbps * 1e3 / arch.clock_mhz for m in arch.memories.values()
            if m.type == "dram"]
    weight_cap = sum(m.capacity_bytes * arch.instances(n) for n, m in arch.memories.items()
                     if m.type == "sram" and "weight" in m.holds)
    return {"dram": sum(dram) or math.inf, "weight_capacity": weight_cap}


def output_path(arch: Architecture, unit: str) -> list[str]:
    """The memories a result of ``unit`` crosses from the unit up to its output SRAM (that SRAM
    last), as the engine routes it (``arch.graph``)."""
    from arch.graph import component_graph, path_from_dram, sram_for

    g = component_graph(arch, 1)
    inst = f"chunk0.{unit}"
    path = [n for n in path_from_dram(g, inst, "output") if n in arch.memories]
    return path[path.index(sram_for(g, inst, "output")):][::-1]


def out_bandwidth(arch: Architecture, path: list[str], chunks: int) -> float:
    """Bytes per cycle the results of an op on ``chunks`` chunks can move along ``path``: the
    narrowest memory, a NoC with per-chunk links counted ``chunks`` times, a chunk-local SRAM
    once per chunk, anything shared once."""
    def width(name: str) -> float:
        m = arch.memories[name]
        assert isinstance(m, Noc | Sram)
        copies = 1
        if (isinstance(m, Noc) and m.links == "per_chunk") or arch.instances(name) > 1:
            copies = chunks
        return m.bandwidth_bytes_per_cycle * copies

    return min((width(n) for n in path if arch.memories[n].type in ("noc", "sram")),
               default=math.inf)


def op_bounds(arch: Architecture, graph: OpGraph, summary: dict[str, Any]) -> list[OpBound]:
    """The bounds of every op of a finished run (``summary`` of ``simulate(arch, graph)``)."""
    from accelsim.timing import systolic_compute_cycles

    bw = bandwidths(arch)
    ob = arch.precision.operand_bits / 8
    paths: dict[str, list[str]] = {}
    out: list[OpBound] = []
    for o in summary["ops"]:
        op = graph.op(o["name"])
        unit = arch.chunks.units[o["unit"]]
        p = max(1, o["chunks"])
        mac_b = cf_b = 0
        if isinstance(unit, SystolicArray):
            mac_b = _ceil(op.cost.macs / (unit.pes * p))
            total = op.batch * systolic_compute_cycles(unit.dataflow, unit.rows, unit.cols,
                                                       op.m, op.n, op.k)
            scale = 1.0
            if op.kind is OpKind.SPARSE_MATMUL and "sparse_matmul" in unit.fns:
                scale = op.density * (1 + unit.sparse_overhead)  # else computed densely
            work = _ceil((total - (p - 1)) * scale)
            cf_b = _ceil(work / p)
        else:
            assert isinstance(unit, VectorArray)
            fn = unit.fns[o["fn"]]
            elements = max([numel(s) for s in op.input_shapes] + [numel(op.output_shape)])
            stream = elements * op.density * fn.cycles_per_element / unit.lanes
            cf_b = _ceil(stream / p) + (fn.latency_cycles if elements else 0)
            work = _ceil(stream) + (p * fn.latency_cycles if elements else 0)
        out_bytes = numel(op.output_shape) * ob
        spilled = not o["output_in_sram"]
        dram_bytes = (out_bytes if spilled else 0)
        if op.kind.is_matmul and 1 in op.weight_inputs:
            dram_bytes += max(0, op.cost.weight_bytes - bw["weight_capacity"])
        if o["unit"] not in paths:
            paths[o["unit"]] = output_path(arch, o["unit"])
        out_bw = out_bandwidth(arch, paths[o["unit"]], p)
        mem_b = max(_ceil(out_bytes / out_bw), _ceil(dram_bytes / bw["dram"]))
        out.append(OpBound(o["name"], o["kind"], o["unit"], p, o["end_cycle"] - o["start_cycle"],
                           mac_b, cf_b, max(mac_b, cf_b), mem_b, o["compute_cycles"],
                           max(work, mac_b * p)))
    return out


def run_bounds(arch: Architecture, summary: dict[str, Any], bounds: list[OpBound]) -> dict:
    """Whole-run bounds: the busiest unit type's compute bounds summed (its ops run one after
    another on each instance) and spread over the chunks that hold it (all chunks, or the
    group a heterogeneous design names), and the DRAM bytes the run moved over the DRAM
    bandwidth (with several DRAMs, the busiest one's bytes over its own)."""
    per_unit: Counter[str] = Counter()
    for b in bounds:
        per_unit[b.unit] += b.compute_bound * b.chunks  # work in instance-cycles
    unit_b = max((math.ceil(w / len(arch.chunks.holders(u))) for u, w in per_unit.items()),
                 default=0)
    dram_b = _ceil(summary["dram_bytes"] / bandwidths(arch)["dram"])
    for name, m in arch.memories.items():  # and each DRAM its own bytes
        if m.type == "dram":
            moved = sum(n for kind in ("read_bytes", "write_bytes") for n in summary.get(
                "memory_traffic", {}).get(name, {}).get(kind, {}).values())
            dram_b = max(dram_b, _ceil(moved / (m.bandwidth_gbps * 1e3 / arch.clock_mhz)))
    return {"cycles": summary["cycles"], "unit_bound": unit_b, "dram_bound": dram_b,
            "busiest_unit": max(per_unit, key=per_unit.__getitem__) if per_unit else "-",
            "ratio": summary["cycles"] / max(1, unit_b, dram_b)}


def _dist(bs: list[OpBound]) -> list[str]:
    q = quantiles([b.ratio for b in bs if b.bound])
    return [ratio(q[k]) for k in ("min", "p10", "median", "p90", "max")]


def section(cases: list[tuple[str, str, Any, Any]], quick: bool = False) -> Section:
    """``cases``: (model, preset, arch, graph); simulates each and bounds every op."""
    from accelsim.api import simulate

    rows, unit_rows, run_rows, worst_rows = [], [], [], []
    violations: list[tuple[str, str, OpBound]] = []
    all_bounds: dict[tuple[str, str], list[OpBound]] = {}
    for model, preset, arch, graph in cases:
        s = simulate(arch, graph, keep_intervals=False).summary
        bs = op_bounds(arch, graph, s)
        all_bounds[(model, preset)] = bs
        viol = [b for b in bs if b.violation]
        violations += [(model, preset, b) for b in viol]
        dom = Counter(b.dominant for b in bs)
        close = sum(1 for b in bs if b.bound and b.ratio <= 1.10)
        rows.append([model, preset, len(bs), f"**{len(viol)}**", dom["compute"], dom["memory"],
                     dom["balanced"], close, *_dist(bs)])
        for kind in ("systolic", "vector"):
            sel = [b for b in bs if b.dominant == "compute"
                   and isinstance(arch.chunks.units[b.unit], SystolicArray) == (kind == "systolic")]
            if sel:
                unit_rows.append([model, preset, f"{kind}, compute-dominated", len(sel), *_dist(sel)])
        mem = [b for b in bs if b.dominant == "memory"]
        if mem:
            unit_rows.append([model, preset, "memory-dominated", len(mem), *_dist(mem)])
        rb = run_bounds(arch, s, bs)
        run_rows.append([model, preset, num(rb["cycles"]), num(rb["unit_bound"]),
                         rb["busiest_unit"], num(rb["dram_bound"]), ratio(rb["ratio"])])
        if model == cases[0][0]:
            seen: set[str] = set()
            for b in sorted(bs, key=lambda b: -b.ratio):
                generic = ".".join(x for x in b.name.split(".") if not x.isdigit())
                if generic in seen or len(seen) >= WORST:
                    continue
                seen.add(generic)
                worst_rows.append([preset, b.name, b.unit, num(b.span), num(b.compute_bound),
                                   num(b.memory_bound), ratio(b.ratio)])
    viol_text = "**No violations**: every op's simulated span is at least its bound." if not \
        violations else "**Violations** (simulated faster than physically possible):\n\n" + table(
            ["model", "preset", "op", "unit", "span", "compute bound", "memory bound",
             "compute_cycles", "work bound"],
            [[m, p, b.name, b.unit, b.span, b.compute_bound, b.memory_bound, b.compute_cycles,
              b.work]
             for m, p, b in violations[:20]])
    a0 = cases[0][2]
    min_out = min(out_bandwidth(a0, output_path(a0, u), 1) for u in a0.chunks.units
                  if not isinstance(a0.chunks.units[u], RegisterFile))
    body = f"""
The bound of every op of every run below, as defined in `validation/bounds.py` (and restated
independently in `tests/test_validation.py`):

* *span* = `end_cycle - start_cycle` of the op in the summary (first tile starts computing ->
  last result written);
* *compute bound* = the larger of `MACs / (PEs x p)` and `(batch x closed_form(m, n, k) - (p - 1))
  / p` for a matmul on its array (`closed_form`: the SCALE-Sim-exact cycles of section 1, times
  `density x (1 + sparse_overhead)` for a sparse matmul), and `E x density x cpe / (lanes x p) +
  latency` for a vector op on its unit (`E`: its largest operand or result), where `p` is the
  number of chunks the op ran on;
* *memory bound* = traffic that must happen inside the span: the op's output over the narrowest
  memory between its unit and the unit's own output SRAM, a NoC with a link per chunk counted
  once per chunk the op runs on ({num(min_out)} B/cycle on the presets: the activation SRAM's
  port, behind 1,024 B/cycle NoC links) or to DRAM when spilled, plus the weights that do not
  fit the weight SRAM, from DRAM
  ({bandwidths(cases[0][2])['dram']:.1f} B/cycle). Input operands are not counted, because the
  loader may stage the first tiles' inputs before the op starts (prefetch);
* *ratio* = span / max(compute bound, memory bound); a resource *dominates* when its bound is at
  least {DOMINANCE:g}x the other's.

* *work bound* = a check of the recorded `compute_cycles` (the op's tile cycles summed over
  its chunks, which no waiting inflates): the whole op's closed-form cycles `batch x
  closed_form - (p - 1)` (scaled for sparse), or `E x density x cpe / lanes + p x latency` for a
  vector op, however the mapper tiled it; `compute_cycles` below it is a violation too.

{viol_text}

{table(["model", "preset", "ops", "violations", "compute-dom.", "memory-dom.", "balanced",
        "within 1.10x", "ratio min", "p10", "median", "p90", "max"], rows, "ll" + "r" * 11)}

{command("accelsim validate", "section 2 (`validation.bounds.op_bounds(arch, graph, summary)` "
         "on the summary of `accelsim run --arch PRESET --workload MODEL --json`)")}

Where one resource dominates, how close the op gets to it:

{table(["model", "preset", "ops", "n", "ratio min", "p10", "median", "p90", "max"], unit_rows,
       "lllrrrrrr")}

Why ratios exceed 1: with the intra-layer pipeline an op starts as soon as the first rows it needs
exist, so its span also contains the time it waits for its producers' later row tiles (the
adder/divider ops of the attention are post-processors paced by the arrays), and units are shared
with the other ops in flight. Vector ops on few elements are dominated by their fixed pipeline
latency, weight matmuls by the systolic fold skew the bound already includes. The ops furthest
above their bound in {cases[0][0]} (the worst layer instance of each of the {WORST} worst ops):

{table(["preset", "op", "unit", "span", "compute bound", "memory bound", "ratio"], worst_rows,
       "lllrrrr")}

**Whole run.** The makespan against two run-level bounds: the busiest unit type's compute bounds
summed over its ops and spread over all chunks, and all DRAM bytes the run moved at the DRAM
bandwidth.

{table(["model", "preset", "cycles", "busiest-unit bound", "unit", "DRAM bound",
        "cycles / bound"], run_rows, "llrrlrr")}

{command("accelsim validate", "section 2")}
"""
    return Section("bounds", "2. Analytic bounds per op", body,
                   {"violations": len(violations), "bounds": all_bounds,
                    "ops": sum(len(v) for v in all_bounds.values())})
