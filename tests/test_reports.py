"""Reports: trace.json structure and event cap, timeline.png, report.html, atomic --out, and
byte-identical output for identical runs."""

from __future__ import annotations

import io
import itertools
import json
import re
import struct

import pytest

import accelsim.report as report
from accelsim.api import simulate
from accelsim.cli import main
from accelsim.components import Interval
from accelsim.progress import Progress
from accelsim.report.html import render_html
from accelsim.report.perfetto import build_trace, trace_json, write_trace
from accelsim.report.timeline import DPI, FIGSIZE, render_png
from workloads.ir import OpKind

from engine_helpers import GraphBuilder, tiny_arch
from test_engine import attention_like_graph

ARCH = {"chunks": 2, "dram_bytes_per_cycle": 8, "noc_bytes_per_cycle": 16, "dram_latency_cycles": 5}


def small_result():
    return simulate(tiny_arch(**ARCH), attention_like_graph(heads=3, n=40, d=16, layers=2))


@pytest.fixture(scope="module")
def result():
    return small_result()


def slices_by_thread(events):
    out = {}
    for e in events:
        if e["ph"] == "X":
            out.setdefault((e["pid"], e["tid"]), []).append(e)
    return out


def check_trace(trace: dict) -> None:
    events = trace["traceEvents"]
    assert events
    for e in events:
        assert {"ph", "pid", "tid", "ts", "name"} <= e.keys(), e
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["ts"] >= 0 and isinstance(e["cat"], str), e
    names = {(e["pid"], e["tid"]) for e in events if e["name"] == "thread_name"}
    procs = {e["pid"] for e in events if e["name"] == "process_name"}
    by_thread = slices_by_thread(events)
    assert set(by_thread) <= names  # every thread used has a name
    assert {pid for pid, _ in names} <= procs
    # slices on one thread never partially overlap (Perfetto needs proper nesting)
    for key, slices in by_thread.items():
        slices.sort(key=lambda e: e["ts"])
        for a, b in itertools.pairwise(slices):
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-9, (key, a, b)


def test_trace_structure(result):
    trace = json.loads(trace_json(result))
    check_trace(trace)
    events = trace["traceEvents"]
    procs = {e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert procs == {"chunk 0", "chunk 1", "memory", "critical path"}
    path = [e for e in events if e["ph"] == "X" and e["cat"] == "critical_path"]
    assert path and sum(e["args"]["cycles"] for e in path) == result.summary["cycles"]
    assert {e["name"] for e in path} & {"compute: pe", "compute: vec"}
    threads = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {"pe", "vec", "dram", "sram", "noc.c0", "noc.c1"} <= threads
    assert any(e["name"] == "thread_sort_index" for e in events)
    x = [e for e in events if e["ph"] == "X"]
    tiles = [e for e in x if e["cat"] in ("attention", "projection", "other")
             and "kind" in e["args"]]
    assert {"op", "kind", "fn", "macs", "bytes", "layer", "cycles"} <= tiles[0]["args"].keys()
    # every tile is there, and the MACs add up
    assert sum(e["args"]["macs"] for e in tiles) == result.summary["macs"]
    assert any(e["cat"] == "stall" and e["name"].startswith("stall: ") for e in x)
    counters = {e["name"] for e in events if e["ph"] == "C"}
    assert {"SRAM sram.weight (bytes)", "SRAM sram.act (bytes)", "dram bandwidth (GB/s)"} <= counters
    # timestamps in microseconds: cycles / clock_mhz (the last write's latency ends the run)
    end_us = result.summary["cycles"] / 1000
    assert end_us - 0.01 <= max(e["ts"] + e["dur"] for e in x) <= end_us
    meta = trace["otherData"]
    assert meta["arch"] == "tiny" and meta["max_slices"] == 200_000
    assert meta["slices_written"] == len(x) == meta["slices_recorded"]
    assert meta["coarsened_tracks"] == {}


def test_dram_bandwidth_counter_integrates_to_dram_bytes(result):
    events = build_trace(result, max_buckets=50)["traceEvents"]
    bw = [e for e in events if e["name"] == "dram bandwidth (GB/s)"]
    assert len(bw) <= 51
    # GB/s x us = 1e3 bytes
    moved = sum(a["args"]["GB/s"] * 1e3 * (b["ts"] - a["ts"]) for a, b in itertools.pairwise(bw))
    assert moved == pytest.approx(result.summary["dram_bytes"], rel=1e-3)


def big_synthetic(result):
    """The small result with 30,000 more intervals: abutting 1-cycle NoC transfers of one op
    and a unit alternating stall / busy (which only op runs can merge)."""
    rec = result.record
    noc, pe = rec.servers["noc.c0"], rec.units["chunk0.pe"]
    saved = list(noc.intervals), list(pe.intervals)
    t0 = rec.makespan
    index = {op.name: op.index for op in result.plan.ops}
    noc.intervals += [Interval(t0 + i, t0 + i + 1, "busy", "", index["l0.q"], 8, "input")
                      for i in range(20_000)]
    pe.intervals += [Interval(t0 + 2 * i, t0 + 2 * i + 1, "stall", "input", index["l1.q"], 0, "")
                     for i in range(10_000)]
    return saved


@pytest.mark.parametrize("budget", [5_000, 100])
def test_event_cap_coarsens_the_busiest_threads(result, budget):
    rec = result.record
    saved = big_synthetic(result)
    try:
        trace = build_trace(result, max_slices=budget)
    finally:
        rec.servers["noc.c0"].intervals, rec.units["chunk0.pe"].intervals = saved
    check_trace(trace)
    x = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    meta = trace["otherData"]
    assert len(x) == meta["slices_written"] <= budget < meta["slices_recorded"]
    assert "noc.c0" in meta["coarsened_tracks"] and "note" in meta
    if budget == 5_000:  # merging keeps every cycle and byte, only fewer slices
        assert meta["coarsened_tracks"]["noc.c0"] == "abutting slices merged"
        noc = [e for e in x if e["pid"] == 3 and e["args"]["op"] == "l0.q"]
        assert sum(e["args"]["bytes"] for e in noc) >= 20_000 * 8
        pe = [e for e in x if e["pid"] == 1 and e["tid"] == 1]
        assert sum(e["args"].get("stall_input", 0) for e in pe) >= 10_000


def test_counters_are_capped(result):
    rec = result.record
    saved = list(rec.sram_occupancy["sram.weight"])
    rec.sram_occupancy["sram.weight"] = [(i, i % 7) for i in range(rec.makespan)]
    try:
        events = build_trace(result, max_buckets=100)["traceEvents"]
    finally:
        rec.sram_occupancy["sram.weight"] = saved
    for name in {e["name"] for e in events if e["ph"] == "C"}:
        assert len([e for e in events if e["name"] == name]) <= 102, name


def test_timeline_png_renders_headless_at_fixed_size(result):
    png = render_png(result)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
    assert b"Software" not in png


def test_html_is_self_contained_and_escaped():
    b = GraphBuilder()
    x = b.linear("<b>&evil</b>", None, 1, 16, 16, 16, "projection")
    b.vector("gelu\"'", OpKind.ELEMENTWISE, "gelu", [x], [[16, 16]], [16, 16])
    res = simulate(tiny_arch(), b.graph)
    page = render_html(res)
    assert "<b>&evil</b>" not in page and "&lt;b&gt;&amp;evil&lt;/b&gt;" in page
    assert "gelu&quot;&#x27;" in page
    for attr in re.findall(r'(?:src|href)\s*=\s*["\']?([^"\' >]+)', page, re.I):
        assert not re.match(r"(https?:)?//", attr), attr
    for url in re.findall(r"url\(([^)]*)\)", page, re.I):
        assert "http" not in url and "//" not in url, url
    assert "@import" not in page
    assert 'src="data:image/png;base64,' in page
    for column in ("name", "kind", "unit", "group", "layer", "start cycle", "end cycle",
                   "compute cycles", "MACs", "energy (pJ)"):
        assert f">{column}</th>" in page


def test_out_dir_gets_all_four_files_via_cli(tmp_path, capsys):
    arch_path = tmp_path / "tiny.json"
    arch_path.write_text(json.dumps(tiny_arch(**ARCH).model_dump(mode="json")))
    graph_path = tmp_path / "g.json"
    attention_like_graph(heads=2, n=24, d=8).save(graph_path)
    out = tmp_path / "out"
    assert main(["run", "--arch", str(arch_path), "--workload", str(graph_path),
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(report.REPORT_FILES) == [
        "layers.csv", "memory.csv", "ops.csv", "report.html", "summary.json", "timeline.png",
        "trace.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "out", "tiny.json"]
    capsys.readouterr()


def _boom(result, path):
    path.write_text("half")
    raise RuntimeError("writer failed")


@pytest.mark.parametrize("existing", [False, True])
def test_a_failing_writer_leaves_out_untouched(result, tmp_path, monkeypatch, existing):
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "summary.json").write_text("keep")
    monkeypatch.setattr(report, "_extra_writers",
                        lambda: [("trace.json", write_trace), ("zzz.txt", _boom)])
    with pytest.raises(RuntimeError, match="writer failed"):
        report.write_outputs(result, out)
    if existing:
        assert [p.name for p in out.iterdir()] == ["summary.json"]
        assert (out / "summary.json").read_text() == "keep"
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["out"] if existing else [])  # no staging


def test_outputs_are_deterministic(tmp_path):
    dirs = []
    for i in range(2):
        d = tmp_path / f"run{i}"
        report.write_outputs(small_result(), d)
        dirs.append(d)
    for name in ("trace.json", "timeline.png", "report.html", "ops.csv", "layers.csv",
                 "memory.csv"):
        assert (dirs[0] / name).read_bytes() == (dirs[1] / name).read_bytes(), name
    a, b = (json.loads((d / "summary.json").read_text()) for d in dirs)
    a["sim"].pop("wall_s"), b["sim"].pop("wall_s")
    assert a == b


def test_progress_prints_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    p = Progress(10, stream=quiet)
    p.update(5, force=True)
    p.close(10)
    assert quiet.getvalue() == ""
    tty = Tty()
    with Progress(10, label="sim", stream=tty, min_interval=0) as p:
        p(3)
        p(10)
    text = tty.getvalue()
    assert "\r" in text and "30%" in text and "10/10 tiles" in text and text.endswith("\n")
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress(-1)


def test_html_timeline_data_is_embedded_and_complete(result):
    page = render_html(result)
    raw = re.search(r'<script type="application/json" id="tl-data">(.*?)</script>', page, re.S)
    assert raw is not None and "<" not in raw.group(1)
    data = json.loads(raw.group(1))
    lanes = {lane["name"]: lane for lane in data["lanes"]}
    assert data["lanes"][0]["name"] == "critical path" and "c0 pe" in lanes and "dram" in lanes
    path = data["lanes"][0]["iv"]
    assert sum(path[1::5]) == result.summary["cycles"]  # the path covers the run
    tiles = [i for lane in data["lanes"] if lane["kind"] == "unit"
             for i in lane["iv"][4::5] if i >= 0]
    assert sorted(tiles) == [t.index for t in result.plan.tiles if t.cycles]
    for lane in data["lanes"]:  # sorted, non-overlapping: the page binary-searches them
        iv = lane["iv"]
        ends = [s + d for s, d in zip(iv[0::5], iv[1::5], strict=True)]
        assert all(e <= s for e, s in zip(ends, iv[5::5], strict=False)), lane["name"]
    for header in (">resource</th>", ">share</th>", ">peak GB/s</th>", ">port bytes</th>",
                   ">MAC utilization</th>"):
        assert header in page, header
    # utilization bars grow from the left of their track
    assert 'class="util"' in page and ".bar{position:absolute;left:0" in page
