"""``trace.json``: the run as Chrome trace-event JSON, for ui.perfetto.dev (or chrome://tracing).

Layout: one process per chunk with a thread per compute unit, one ``memory`` process with a
thread per DRAM channel, SRAM and NoC, and a ``critical path`` process (shown first) whose one
thread holds the segments of the critical path. Slices ("ph": "X") are tiles on the units (name = op,
cat = op group, args = op, kind, fn, macs, bytes, layer, cycles), stalls on the same thread
(name ``stall: <cause>``, cat ``stall``) and transfers on the memories. Counter tracks
("ph": "C") on the memory process show SRAM occupancy (weights / activations, bytes) and the
bandwidth of every memory (GB/s, averaged over time buckets). Timestamps are microseconds:
cycles / clock_mhz.

A big run stays openable: when there are more than ``MAX_SLICES`` slices, the busiest threads
are coarsened one level at a time (1: abutting slices of the same op and state merged, which
loses nothing but tile boundaries; 2: one slice per run of the same op, stalls folded into its
args; 3: only the longest slices kept) until the total fits, and ``otherData`` says what was
done. Counter series have at most ``MAX_BUCKETS`` points. Output is byte-identical for
identical inputs.

``write_trace`` streams: the head first, then each event is encoded and written as it is
made, so the events are never held all at once (``build_trace`` still returns them as a dict).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from ..critical_path import critical_path
from ..result import SimResult

#: Most "X" events in one trace; beyond this, threads are coarsened (see module docstring).
MAX_SLICES = 200_000
#: Most points of one counter series (bandwidth buckets, occupancy samples).
MAX_BUCKETS = 2000
#: Args summed when slices merge; other args are kept when equal, else set to "*".
SUM_ARGS = ("macs", "bytes", "cycles", "tiles")

# A slice while building: [start_cycle, end_cycle, name, cat, args, run_key]. ``args`` is a
# dict, or (tiles, stalls, transfers: most slices) a tuple ``(builder, *values)`` that
# ``args_of`` turns into that dict when a merge or the writer needs it: a tuple is a tenth of
# the memory of a dict, and the writer drops each dict once it is written.
Slice = list


def args_of(args: Any) -> dict[str, Any]:
    """A slice's args as a dict (see ``Slice``)."""
    return args if isinstance(args, dict) else args[0](*args[1:])


def _tile_args(op: Any, macs: int, nbytes: int, cycles: int) -> dict[str, Any]:
    return {"op": op.name, "kind": op.kind, "fn": op.fn, "group": op.group, "layer": op.layer,
            "macs": macs, "bytes": nbytes, "cycles": cycles, "tiles": 1}


def _stall_args(label: str, cause: str, cycles: int, layer: Any) -> dict[str, Any]:
    return {"op": label, "cause": cause, "cycles": cycles, "layer": layer}


def _transfer_args(op: Any, nbytes: int, what: str, cycles: int) -> dict[str, Any]:
    return {"op": op.name if op else "", "bytes": nbytes, "purpose": what, "cycles": cycles,
            "layer": op.layer if op else None}


def unit_slices(result: SimResult) -> dict[str, list[Slice]]:
    """Per unit instance, its tiles (from the tile timing) and stalls (from its intervals)."""
    plan, rec = result.plan, result.record
    out: dict[str, list[Slice]] = {inst: [] for inst in rec.units}
    for t in plan.tiles:
        start, end = rec.tile_start[t.index], rec.tile_end[t.index]
        if end <= start or t.unit not in out:
            continue
        op = plan.ops[t.op]
        args: tuple = (_tile_args, op, t.macs, t.in_bytes + t.out_bytes, end - start)
        out[t.unit].append([start, end, op.name, op.group, args, op.name])
    for inst, recorder in rec.units.items():
        for iv in recorder.intervals:
            if iv.state == "busy" or iv.end <= iv.start:
                continue
            label = plan.ops[iv.op].name if iv.op >= 0 else ""
            args = (_stall_args, label, iv.cause, iv.end - iv.start,
                    plan.ops[iv.op].layer if iv.op >= 0 else None)
            out[inst].append([iv.start, iv.end, f"stall: {iv.cause}", "stall", args, label])
    for slices in out.values():
        slices.sort(key=lambda s: (s[0], s[1]))
    return out


def server_slices(result: SimResult) -> dict[str, list[Slice]]:
    """Per memory server (DRAM, SRAM port, NoC link), its transfers in time order, named
    ``<purpose> <op>`` (dma, input, output, psum, spill)."""
    ops = result.plan.ops
    out: dict[str, list[Slice]] = {}
    labels: dict[tuple[str, int], str] = {}  # one string per (purpose, op), not per transfer
    for name, server in result.record.servers.items():
        slices = []
        for iv in sorted(server.intervals):
            if iv.end <= iv.start:
                continue
            op = ops[iv.op] if iv.op >= 0 else None
            label = labels.get((iv.what, iv.op))
            if label is None:
                label = labels[iv.what, iv.op] = f"{iv.what} {op.name}" if op else iv.what
            args = (_transfer_args, op, iv.nbytes, iv.what, iv.end - iv.start)
            slices.append([iv.start, iv.end, label, op.group if op else "other", args,
                           op.name if op else ""])
        out[name] = slices
    return out


def path_slices(result: SimResult) -> list[Slice]:
    """The critical path (``accelsim.critical_path``), one slice per segment, named by its
    activity and resource (``compute: sa_general``, ``transfer: dram``)."""
    plan = result.plan
    out: list[Slice] = []
    for seg in critical_path(result.arch, plan, result.record):
        op = plan.ops[seg.op].name if seg.op >= 0 else ""
        name = f"{seg.activity}: {seg.resource}"
        args = {"op": op, "resource": seg.resource, "activity": seg.activity,
                "role": seg.role, "unit": seg.instance, "cycles": seg.end - seg.start}
        out.append([seg.start, seg.end, name, "critical_path", args, name])
    return out


def _merge_args(a: Any, b: Any) -> dict[str, Any]:
    out = dict(args_of(a))
    for k, v in args_of(b).items():
        if k in SUM_ARGS or k.startswith("stall_"):
            out[k] = out.get(k, 0) + v
        elif out.get(k, v) != v:
            out[k] = "*"
    return out


def merge_abutting(slices: list[Slice]) -> list[Slice]:
    """Level 1: consecutive slices of the same name and op that touch become one."""
    out: list[Slice] = []
    for s in slices:
        p = out[-1] if out else None
        if p is not None and p[1] == s[0] and p[2] == s[2] and p[5] == s[5]:
            out[-1] = [p[0], s[1], p[2], p[3], _merge_args(p[4], s[4]), p[5]]
        else:
            out.append(s)
    return out


def _as_run(s: Slice) -> Slice:
    if s[3] != "stall":
        return list(s)
    args = dict(args_of(s[4]))
    cause = args.pop("cause")
    args[f"stall_{cause}"] = args.pop("cycles")
    return [s[0], s[1], s[5], None, args, s[5]]


def merge_op_runs(slices: list[Slice]) -> list[Slice]:
    """Level 2: consecutive slices of the same op (busy or stalled) become one slice spanning
    them; busy cycles stay in ``cycles``, stall cycles move to ``stall_<cause>`` args."""
    out: list[Slice] = []
    for s in map(_as_run, slices):
        p = out[-1] if out else None
        if p is not None and p[5] == s[5]:
            out[-1] = [p[0], s[1], p[2], p[3] or s[3], _merge_args(p[4], s[4]), p[5]]
        else:
            out.append(s)
    for s in out:
        if s[3] is None:  # a run of stalls only
            causes = sorted(k.removeprefix("stall_") for k in s[4] if k.startswith("stall_"))
            s[2], s[3] = "stall: " + "+".join(causes), "stall"
    return out


def keep_longest(slices: list[Slice], n: int) -> list[Slice]:
    """Level 3: the ``n`` longest slices (ties: earlier first), back in time order."""
    ranked = sorted(range(len(slices)), key=lambda i: (slices[i][0] - slices[i][1], i))
    return [slices[i] for i in sorted(ranked[:n])]


def fit_budget(tracks: dict[str, list[Slice]], budget: int) -> dict[str, int]:
    """Coarsen the busiest track by one level until all fit in ``budget``; returns the level of
    every coarsened track (tracks left exact are omitted). Mutates ``tracks``."""
    levels = dict.fromkeys(tracks, 0)
    total = sum(map(len, tracks.values()))
    steps = (merge_abutting, merge_op_runs)
    while total > budget:
        open_ = [k for k in tracks if levels[k] < len(steps)]
        if not open_:
            break
        key = max(open_, key=lambda k: len(tracks[k]))  # first of equals: dict order
        before = len(tracks[key])
        tracks[key] = steps[levels[key]](tracks[key])
        levels[key] += 1
        total += len(tracks[key]) - before
    if total > budget:  # still over: keep each track's longest slices, proportionally
        for key, slices in tracks.items():
            tracks[key] = keep_longest(slices, len(slices) * budget // total)
            levels[key] = 3
    return {k: v for k, v in levels.items() if v}


def bandwidth_series(result: SimResult, buckets: int) -> tuple[int, dict[str, list[float]]]:
    """Bucket width (cycles) and, per memory, bytes moved per bucket (all its servers)."""
    makespan = max(result.record.makespan, 1)
    width = math.ceil(makespan / min(buckets, makespan))
    n = math.ceil(makespan / width)
    out: dict[str, list[float]] = {}
    for server in result.record.servers.values():
        series = out.setdefault(server.kind, [0.0] * n)
        for start, end, _state, _cause, _op, nbytes, _what in server.intervals:
            if end <= start or not nbytes:
                continue
            rate = nbytes / (end - start)
            for b in range(start // width, min((end - 1) // width, n - 1) + 1):
                lo, hi = max(start, b * width), min(end, (b + 1) * width)
                series[b] += rate * (hi - lo)
    return width, out


def downsample(series: list[tuple[int, int]], buckets: int, makespan: int) -> list[tuple[int, int]]:
    """A step series with at most ~``buckets`` points: per bucket, its highest level."""
    if len(series) <= buckets:
        return list(series)
    width = math.ceil(max(makespan, 1) / buckets)
    best: dict[int, tuple[int, int]] = {}
    for cycle, level in series:
        b = cycle // width
        if b not in best or level > best[b][1]:
            best[b] = (b * width, level)
    return [best[b] for b in sorted(best)]


class _Emitter:
    """Hands events, with cycle -> microsecond conversion, to ``sink`` one by one; slices go to
    ``slice_sink(pid, tid, ts, dur, name, cat, args)`` instead when one is given (the writer
    then never makes their event dicts)."""

    def __init__(self, clock_mhz: float, sink: Callable[[dict[str, Any]], Any],
                 slice_sink: Callable[..., Any] | None = None) -> None:
        self.clock = clock_mhz
        self.sink = sink
        self.slice_sink = slice_sink

    def us(self, cycle: int) -> float:
        return round(cycle / self.clock, 6)

    def meta(self, pid: int, tid: int, name: str, args: dict[str, Any]) -> None:
        self.sink({"ph": "M", "pid": pid, "tid": tid, "ts": 0, "name": name, "args": args})

    def slice(self, pid: int, tid: int, s: Slice) -> None:
        ts = round(s[0] / self.clock, 6)  # self.us, inlined: called once per slice
        dur = round(round(s[1] / self.clock, 6) - ts, 6)
        if self.slice_sink is not None:
            self.slice_sink(pid, tid, ts, dur, s[2], s[3], args_of(s[4]))
        else:
            self.sink({"ph": "X", "pid": pid, "tid": tid, "ts": ts, "dur": dur, "name": s[2],
                       "cat": s[3], "args": args_of(s[4])})

    def counter(self, pid: int, name: str, cycle: int, args: dict[str, Any]) -> None:
        self.sink({"ph": "C", "pid": pid, "tid": 0, "ts": self.us(cycle), "name": name,
                   "args": args})


def build_trace(result: SimResult, max_slices: int = MAX_SLICES,
                max_buckets: int = MAX_BUCKETS) -> dict[str, Any]:
    """The trace as a dict: ``{"traceEvents": [...], "displayTimeUnit": "ns", "otherData"}``."""
    events: list[dict[str, Any]] = []
    head = _emit_trace(result, max_slices, max_buckets, events.append)
    return {"traceEvents": events, **head}


def _emit_trace(result: SimResult, max_slices: int, max_buckets: int,
                sink: Callable[[dict[str, Any]], Any],
                on_head: Callable[[dict[str, Any]], Any] | None = None,
                slice_sink: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Compute the trace's head (``displayTimeUnit``, ``otherData``), pass it to ``on_head``,
    then every event, in order, to ``sink``; returns the head. Nothing is held but the slices."""
    arch, rec, s = result.arch, result.record, result.summary
    unit_names = list(arch.chunks.units)
    mem_pid = arch.chunks.count + 1
    em = _Emitter(arch.clock_mhz, sink, slice_sink)
    tracks = {f"u:{k}": v for k, v in unit_slices(result).items()}
    units = [k[2:] for k in tracks]
    tracks |= {f"m:{k}": v for k, v in server_slices(result).items()}
    servers = [k[2:] for k in tracks if k.startswith("m:")]
    tracks["p:critical path"] = path_slices(result)
    total_before = sum(map(len, tracks.values()))
    levels = fit_budget(tracks, max_slices)
    slices = sum(map(len, tracks.values()))
    width, bw = bandwidth_series(result, max_buckets)
    other = {
        "generator": f"accelsim {__version__}",
        "arch": s["arch"], "workload": s["workload"], "attention": s["attention"],
        "clock_mhz": arch.clock_mhz, "cycles": rec.makespan,
        "time_unit": "ts and dur in microseconds = cycles / clock_mhz",
        "max_slices": max_slices, "slices_recorded": total_before, "slices_written": slices,
        "coarsened_tracks": {k[2:]: _LEVELS[v] for k, v in levels.items()},
        "bandwidth_bucket_cycles": width,
        "counter_max_points": max_buckets,
    }
    if levels:
        other["note"] = (f"{total_before} slices exceed the budget of {max_slices}: the listed "
                         "threads were coarsened (merged tiles, op runs or longest slices only); "
                         "summary.json has the exact totals")
    head = {"displayTimeUnit": "ns", "otherData": other}
    if on_head is not None:
        on_head(head)

    for c in range(arch.chunks.count):
        em.meta(c + 1, 0, "process_name", {"name": f"chunk {c}"})
        em.meta(c + 1, 0, "process_sort_index", {"sort_index": c + 1})
    em.meta(mem_pid, 0, "process_name", {"name": "memory"})
    em.meta(mem_pid, 0, "process_sort_index", {"sort_index": mem_pid})
    for inst in units:
        chunk, unit = inst.split(".", 1)
        pid, tid = int(chunk.removeprefix("chunk")) + 1, unit_names.index(unit) + 1
        em.meta(pid, tid, "thread_name", {"name": unit})
        em.meta(pid, tid, "thread_sort_index", {"sort_index": tid})
        for sl in tracks.pop(f"u:{inst}"):
            em.slice(pid, tid, sl)
    for tid, name in enumerate(servers, start=1):
        em.meta(mem_pid, tid, "thread_name", {"name": name})
        em.meta(mem_pid, tid, "thread_sort_index", {"sort_index": tid})
        for sl in tracks.pop(f"m:{name}"):
            em.slice(mem_pid, tid, sl)
    path_pid = mem_pid + 1
    em.meta(path_pid, 0, "process_name", {"name": "critical path"})
    em.meta(path_pid, 0, "process_sort_index", {"sort_index": 0})
    em.meta(path_pid, 1, "thread_name", {"name": "critical path"})
    for sl in tracks.pop("p:critical path"):
        em.slice(path_pid, 1, sl)

    for which, series in sorted(rec.sram_occupancy.items()):
        name = f"SRAM {which} (bytes)"
        for cycle, level in downsample(series, max_buckets, rec.makespan):
            em.counter(mem_pid, name, cycle, {"bytes": level})
    for mem, per_bucket in bw.items():
        name = f"{mem} bandwidth (GB/s)"
        last = None
        for b, nbytes in enumerate(per_bucket):
            cycles = min(width, rec.makespan - b * width)  # the last bucket may be shorter
            gbps = round(nbytes * arch.clock_mhz / cycles / 1e3, 3)
            if gbps != last:
                em.counter(mem_pid, name, b * width, {"GB/s": gbps})
                last = gbps
        em.counter(mem_pid, name, rec.makespan, {"GB/s": 0})
    return head


_LEVELS = {1: "abutting slices merged", 2: "one slice per op run", 3: "longest slices only"}


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(obj, separators=(",", ":"))`` as one callable: the C encoder is built once
    instead of once per call (the same text; without the C accelerator, the same function)."""
    from json import encoder

    c_make_encoder = getattr(encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return json.JSONEncoder(separators=(",", ":")).encode
    make = c_make_encoder(None, json.JSONEncoder().default, encoder.encode_basestring_ascii,
                          None, ":", ",", False, False, True)
    return lambda obj: "".join(make(obj, 0))


class _TraceWriter:
    """Writes the trace text as it is emitted: the head, then one compact event per line
    (``_compact_encoder``), in blocks of ``BLOCK`` events."""

    BLOCK = 4096

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.encode = _compact_encoder()
        from json.encoder import encode_basestring_ascii

        self.text = lambda v: encode_basestring_ascii(v) if type(v) is str else self.encode(v)
        self.block: list[str] = []
        self.first = True

    def head(self, head: dict[str, Any]) -> None:
        self.out.write(json.dumps(head, indent=1)[:-2] + ',\n "traceEvents": [\n')

    def event(self, event: dict[str, Any]) -> None:
        self.block.append(self.encode(event))
        if len(self.block) >= self.BLOCK:
            self.flush()

    def slice(self, pid: int, tid: int, ts: float, dur: float, name: Any, cat: Any,
              args: dict[str, Any]) -> None:
        """An "X" event, as ``event`` would write its dict: the fixed keys formatted here
        (ints and floats as ``json`` writes them, ``repr``), only the values encoded."""
        text = self.text
        self.block.append(f'{{"ph":"X","pid":{pid:d},"tid":{tid:d},"ts":{ts!r},'
                          f'"dur":{dur!r},"name":{text(name)},"cat":{text(cat)},'
                          f'"args":{self.encode(args)}}}')
        if len(self.block) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.block:
            self.out.write(("" if self.first else ",\n") + ",\n".join(self.block))
            self.first = False
            self.block = []

    def close(self) -> None:
        self.flush()
        self.out.write("\n]}\n")


def stream_trace(result: SimResult, out: TextIO, max_slices: int = MAX_SLICES,
                 max_buckets: int = MAX_BUCKETS) -> None:
    """Write the trace as JSON text to ``out`` while it is built: the head, then one event per
    line, compact, deterministic (the text of ``trace_json``)."""
    writer = _TraceWriter(out)
    _emit_trace(result, max_slices, max_buckets, writer.event, writer.head, writer.slice)
    writer.close()


def trace_json(result: SimResult, **kw: Any) -> str:
    """The trace as JSON text: one event per line, compact, deterministic."""
    buf = io.StringIO()
    stream_trace(result, buf, **kw)
    return buf.getvalue()


def write_trace(result: SimResult, path: str | Path) -> None:
    """Write ``trace.json`` (see ``build_trace``), streamed: the events are never all held."""
    with open(path, "w") as out:
        stream_trace(result, out)
