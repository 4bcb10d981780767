"""Architecture configs: presets, YAML/JSON/SCALE-Sim loading, overrides, errors, graph, CLI."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arch
from accelsim.cli import main
from arch.graph import build_graph, check_runnable, path_from_dram, required_units, sram_for
from arch.loader import PRESET_DIR

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("sanger", "sanger_iso", "systolic", "systolic_iso", "vitality")
RAW = {p: yaml.safe_load((PRESET_DIR / f"{p}.yaml").read_text()) for p in PRESETS}

TINY = """\
name: tiny
clock_mhz: 500
memories:
  dram:
    type: dram
    bandwidth_gbps: 12.8
    latency_ns: 100
    read_energy_pj_per_bit: 4.0
    write_energy_pj_per_bit: 4.0
    leakage_mw: 20
  buf:
    type: sram
    capacity_kib: 64
    bandwidth_bytes_per_cycle: 32
    read_energy_pj_per_byte: 2.5
    write_energy_pj_per_byte: 2.5
    leakage_mw: 6.4
chunks:
  count: 2
  units:
    pe:
      type: systolic
      rows: 8
      cols: 8
      dataflow: os
      mac_energy_pj: 0.4
      leakage_mw: 1.3
    vec:
      type: vector
      lanes: 8
      fns:
        add: {energy_pj: 0.1}
      leakage_mw: 0.5
connections:
  - {src: dram, dst: buf}
  - {src: buf, dst: chunk.pe}
  - {src: buf, dst: chunk.vec}
"""


def error_of(text: str, overrides=(), source: str = "t.yaml") -> str:
    with pytest.raises(arch.ConfigError) as info:
        arch.loads(text, source, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- presets ---------------------------------------------------------------------------------
def test_presets_are_shipped():
    assert arch.presets() == list(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_validates_round_trips_and_matches_the_json_schema(name):
    a = arch.load(name)
    text = arch.to_yaml(a)
    again = arch.loads(text, "again.yaml")
    assert again == a
    assert arch.to_yaml(again) == text
    schema = json.loads(arch.schema_json())
    jsonschema.validate(RAW[name], schema)
    jsonschema.validate(yaml.safe_load(text), schema)
    assert a.sources and a.description


def test_presets_share_pe_count_clock_and_memories():
    archs = [arch.load(p) for p in PRESETS]
    assert {a.pes for a in archs} == {17160}
    assert {a.clock_mhz for a in archs} == {500}
    assert all(a.memories == archs[0].memories for a in archs)
    lanes = [sum(u.lanes for u in a.chunks.units.values() if u.type == "vector") for a in archs]
    assert lanes == [260] * len(PRESETS)


def test_vitality_units_follow_the_paper():
    units = arch.load("vitality").chunks.units
    assert (units["sa_general"].rows, units["sa_general"].cols) == (65, 65)
    assert (units["sa_diag"].rows, units["sa_diag"].cols) == (65, 1)
    assert units["sa_general"].dataflow == "down_forward"
    assert {u.lanes for u in units.values() if u.type == "vector"} == {65}


def test_every_op_a_preset_runs_has_energy():
    for p in PRESETS:
        for unit in arch.load(p).chunks.units.values():
            for fn in getattr(unit, "fns", {}).values() if unit.type == "vector" else []:
                assert fn.energy_pj > 0


# -- overrides -------------------------------------------------------------------------------
def test_overrides():
    a = arch.load("vitality", ["clock_mhz=1000", "chunks.count=8",
                               "chunks.units.sa_general.rows=32",
                               "memories.dram.bandwidth_gbps=25.6",
                               "mapping.intra_layer_pipeline=false"])
    assert a.clock_mhz == 1000 and a.chunks.count == 8
    assert a.chunks.units["sa_general"].rows == 32
    assert a.memories["dram"].bandwidth_gbps == 25.6
    assert a.mapping.intra_layer_pipeline is False
    assert arch.load("vitality").clock_mhz == 500  # the preset itself is untouched


def test_override_creates_a_missing_section():
    a = arch.loads(TINY, "t.yaml", ["mapping.tile_rows=16", "precision.operand_bits=16"])
    assert a.mapping.tile_rows == 16 and a.precision.operand_bits == 16


@pytest.mark.parametrize("item, expected", [
    ("chunks.cnt=2", "unknown field 'chunks.cnt'"),
    ("memories.hbm.bandwidth_gbps=1", "unknown key 'memories.hbm'"),
    ("connections.9.src=dram", "is a list of 3"),
    ("clock_mhz.x=1", "clock_mhz is a integer"),
    ("clock_mhz", "want PATH=VALUE"),
    ("chunks.count=-2", "--set chunks.count=-2: chunks.count: must be > 0, got -2"),
    ("clock_mhz=fast", "clock_mhz: must be a finite number, got 'fast'"),
])
def test_bad_overrides(item, expected):
    assert expected in error_of(TINY, [item])


# -- error messages: file, field path, YAML line -----------------------------------------------
@pytest.mark.parametrize("old, new, expected", [
    ("      rows: 8\n", "      rows: -8\n", "t.yaml:23: chunks.units.pe.rows: must be > 0, got -8"),
    ("      cols: 8\n", "      cols: eight\n",
     "t.yaml:24: chunks.units.pe.cols: must be an integer, got 'eight'"),
    ("    lanes: 8\n", "    lanes: 8\n      lane: 8\n", "t.yaml:31: chunks.units.vec.lane: unknown key"),
    ("      mac_energy_pj: 0.4\n", "",
     "t.yaml:21: chunks.units.pe.mac_energy_pj: missing energy entry"),
    ("{energy_pj: 0.1}", "{cycles_per_element: 1}",
     "t.yaml:32: chunks.units.vec.fns.add.energy_pj: missing energy entry"),
    ("dataflow: os", "dataflow: diagonal", "t.yaml:25: chunks.units.pe.dataflow: must be"),
    ("dst: chunk.vec}", "dst: chunk.vex}",
     "t.yaml:37: connections.2.dst: unknown component 'chunk.vex'"),
    ("  - {src: dram, dst: buf}\n", "",
     "t.yaml:11: memories.buf: not reachable from the DRAM 'dram'"),
    ("    type: sram\n", "    type: cache\n", "t.yaml:11: memories.buf: unknown type 'cache'"),
    ("  count: 2\n", "  count: 2\n  count: 3\n", "t.yaml:20: chunks.count: duplicate key"),
    ("  - {src: dram, dst: buf}\n", "  - {src: dram, dst: buf\n", "t.yaml:36: YAML syntax error"),
    ("    leakage_mw: 6.4\n", "    leakage_mw: .inf\n",
     "t.yaml:17: memories.buf.leakage_mw: must be a finite number"),
    ("clock_mhz: 500\n", "clock_mhz: 500\nvoltage: 0.9\n", "t.yaml:3: voltage: unknown key"),
])
def test_error_names_file_field_and_line(old, new, expected):
    assert old in TINY
    assert error_of(TINY.replace(old, new, 1)).startswith(expected)


def test_structural_errors():
    two_drams = TINY.replace("  buf:\n", "  dram2:\n    type: dram\n    bandwidth_gbps: 1\n"
                             "    latency_ns: 0\n    read_energy_pj_per_bit: 1\n"
                             "    write_energy_pj_per_bit: 1\n    leakage_mw: 0\n  buf:\n")
    assert "t.yaml:11: memories.dram2: the DRAM 'dram2' connects to nothing" in error_of(
        two_drams)
    raw = yaml.safe_load(TINY)
    del raw["memories"]["dram"]
    assert error_of(yaml.safe_dump(raw, sort_keys=False)).startswith("t.yaml:3: memories: no DRAM")
    cycle = TINY + "  - {src: chunk.pe, dst: chunk.vec}\n  - {src: chunk.vec, dst: chunk.pe}\n"
    assert "form a cycle" in error_of(cycle)
    no_weight = TINY.replace("    capacity_kib: 64\n", "    capacity_kib: 64\n    holds: [input]\n")
    assert "chunks.units.pe: no SRAM holding weight, output" in error_of(no_weight)
    into_dram = TINY + "  - {src: buf, dst: dram}\n"
    assert "connections.3.dst: the DRAM 'dram' cannot be a destination" in error_of(into_dram)
    assert "connects 'buf' to itself" in error_of(TINY + "  - {src: buf, dst: buf}\n")
    assert "hint" not in error_of(TINY.replace("chunk.pe}", "chunk0.pe}"))


def test_missing_energy_entry_names_the_field():
    raw = copy.deepcopy(RAW["vitality"])
    del raw["memories"]["noc"]["energy_pj_per_byte_hop"]
    message = error_of(yaml.safe_dump(raw, sort_keys=False), source="v.yaml")
    assert re.match(r"v\.yaml:\d+: memories\.noc\.energy_pj_per_byte_hop: missing energy entry",
                    message)


def test_files_and_presets(tmp_path):
    with pytest.raises(arch.ConfigError, match=r"nope\.yaml: no such file"):
        arch.load(tmp_path / "nope.yaml")
    with pytest.raises(arch.ConfigError, match=r"unknown architecture 'vitalty'.*sanger, sanger_iso, systolic, systolic_iso, vitality"):
        arch.load("vitalty")
    (tmp_path / "a.txt").write_text(TINY)
    with pytest.raises(arch.ConfigError, match="unsupported file type"):
        arch.load(tmp_path / "a.txt")
    (tmp_path / "t.json").write_text(json.dumps(yaml.safe_load(TINY), indent=1))
    assert arch.load(tmp_path / "t.json").name == "tiny"
    (tmp_path / "bad.json").write_text('{"name": "x",\n "clock_mhz": }')
    with pytest.raises(arch.ConfigError, match=r"bad\.json:2: invalid JSON"):
        arch.load(tmp_path / "bad.json")
    for name in ("a" * 5000, "x\x00y.yaml", f"scalesim:{tmp_path}", "scalesim:"):
        with pytest.raises(arch.ConfigError):
            arch.load(name)
    (tmp_path / "e.yaml").write_text("")
    with pytest.raises(arch.ConfigError, match="empty file"):
        arch.load(tmp_path / "e.yaml")


# -- malformed configs never raise anything but a one-line ConfigError -------------------------
def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


JUNK = st.sampled_from([-1, 0, -0.5, 1e309, "x", "", None, True, [], {}, [1, "a"], {"k": 1},
                        "chunk.nowhere", "dram", 10**30, 2.5])
MUTATION = st.tuples(st.sampled_from(PRESETS),
                     st.sampled_from(["drop", "junk", "extra", "dangle"]),
                     st.integers(0, 10**6), JUNK)


def _mutate(data, how, pick, junk):
    junk = copy.deepcopy(junk)
    paths = [p for p in _paths(data) if p]
    path = paths[pick % len(paths)]
    parent = data
    for seg in path[:-1]:
        parent = parent[seg]
    if how == "drop":
        del parent[path[-1]]
    elif how == "junk":
        parent[path[-1]] = junk
    elif how == "extra":
        target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else parent
        if isinstance(target, dict):
            target["unexpected_key"] = junk
    else:
        conns = data.get("connections")
        conns = [c for c in conns if isinstance(c, dict)] if isinstance(conns, list) else []
        if conns:
            conns[pick % len(conns)]["src" if pick % 2 else "dst"] = str(junk)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_malformed_configs_give_one_line_config_errors(mutations):
    data = copy.deepcopy(RAW[mutations[0][0]])
    for _, how, pick, junk in mutations:
        _mutate(data, how, pick, junk)
    text = yaml.safe_dump(data, sort_keys=False)
    try:
        arch.loads(text, "m.yaml")
    except arch.ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("m.yaml")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(max_size=20))
def test_any_override_gives_a_config_error_or_a_valid_arch(path, value):
    try:
        arch.load("vitality", [f"{path}={value}"])
    except arch.ConfigError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_config_error(text):
    with pytest.raises(arch.ConfigError):
        arch.loads(text, "r.yaml")


# -- graph and runnability -------------------------------------------------------------------
def test_graph_nodes_and_paths():
    a = arch.load("vitality")
    g = build_graph(a)
    assert "chunk3.sa_diag" in g and g.nodes["chunk3.sa_diag"]["kind"] == "systolic"
    assert g.number_of_nodes() == 4 + 4 * 7
    assert path_from_dram(g, "chunk2.sa_general") == [
        "dram", "sram_act", "noc", "chunk2.rf", "chunk2.sa_general"]
    assert path_from_dram(g, "chunk2.sa_general", role="weight")[1] == "sram_weight"
    assert sram_for(a, "sa_general", "weight") == "sram_weight"
    assert sram_for(g, "chunk1.divider", "output") == "sram_act"
    scale = arch.loads(TINY, "t.yaml")
    assert path_from_dram(build_graph(scale), "chunk1.vec") == ["dram", "buf", "chunk1.vec"]


def test_required_units_and_fallbacks():
    v, s, sg = (arch.load(p) for p in ("vitality", "systolic", "sanger"))
    assert required_units(v, {"matvec", "matmul", "div"}) == {
        "div": ["divider", "post"], "matmul": ["sa_general"], "matvec": ["sa_diag"]}
    assert required_units(s, {"matvec", "lowbit_matmul"}) == {
        "lowbit_matmul": ["sa"], "matvec": ["sa"]}
    assert required_units(sg, {"lowbit_matmul", "sparse_matmul"}) == {
        "lowbit_matmul": ["sa_predict"], "sparse_matmul": ["sa_sparse"]}
    check_runnable(v, {"matmul", "matvec", "sum", "mean", "sub", "add", "mul", "div",
                       "layernorm", "gelu"})
    check_runnable(s, {"matmul", "softmax", "layernorm", "gelu", "add", "mul", "div"})
    check_runnable(sg, {"matmul", "quantize", "lowbit_matmul", "softmax", "threshold", "where",
                        "sparse_matmul", "max", "layernorm", "gelu", "add", "div"})
    # softmax on vitality runs on the general post unit, by its normalisation class default
    check_runnable(v, {"matmul", "softmax", "groupnorm", "batch_norm", "erf", "hardswish"})
    assert arch.units_for(v, "softmax") == ["post"] and not arch.units_for(v, "softmax",
                                                                             by_name=True)
    # a sparse matmul falls back to a dense matmul array (computed densely there), but only an
    # array listing it by name makes the design's native attention Sanger's
    assert required_units(v, {"sparse_matmul"}) == {"sparse_matmul": ["sa_general"]}
    assert not arch.units_for(s, "sparse_matmul", by_name=True)
    assert arch.native_attention(s) == "softmax" and arch.native_attention(sg) == "sanger"
    no_matmul = arch.load("systolic", ["chunks.units.sa.fns=[matvec]"])
    with pytest.raises(arch.ConfigError, match="no unit that runs op fn 'sparse_matmul'"):
        check_runnable(no_matmul, {"sparse_matmul"})


# -- SCALE-Sim configs -----------------------------------------------------------------------
SCALE_CFG = """\
[general]
run_name = scale_example_run_32x16_ws

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     16
IfmapSramSzkB:   64
FilterSramSzkB:  128
OfmapSramSzkB:   32
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : ws
MemoryBanks:   2
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


def test_scalesim_cfg(tmp_path):
    cfg = tmp_path / "s.cfg"
    cfg.write_text(SCALE_CFG)
    a = arch.load(f"scalesim:{cfg}")
    assert a.name == "scale_example_run_32x16_ws" and a.chunks.count == 1
    (unit,) = a.chunks.units.values()
    assert (unit.rows, unit.cols, unit.dataflow, a.pes) == (32, 16, "ws", 512)
    mems = a.memories
    assert [mems[s].capacity_kib for s in ("sram_ifmap", "sram_filter", "sram_ofmap")] == [64, 128, 32]
    assert [mems[s].holds for s in ("sram_ifmap", "sram_filter", "sram_ofmap")] == [
        ["input"], ["weight"], ["output"]]
    # one DRAM interface per SRAM, each of the set bandwidth, each operand through its own
    for op in ("ifmap", "filter", "ofmap"):
        assert mems[f"dram_{op}"].bandwidth_gbps == pytest.approx(
            10 * 1 * a.clock_mhz * 1e6 / 1e9)
    assert unit.mac_energy_pj == arch.load("systolic").chunks.units["sa"].mac_energy_pj
    assert sram_for(a, "array", "weight") == "sram_filter"
    g = build_graph(a, 1)
    assert [path_from_dram(g, "array", role)[:2] for role in ("input", "weight", "output")] == [
        ["dram_ifmap", "sram_ifmap"], ["dram_filter", "sram_filter"],
        ["dram_ofmap", "sram_ofmap"]]
    arch.loads(arch.to_yaml(a), "again.yaml")
    calc = tmp_path / "c.cfg"
    calc.write_text(SCALE_CFG.replace("USER", "CALC"))
    words = 32 + 16 + 32
    assert arch.load(f"scalesim:{calc}").memories["dram_ifmap"].bandwidth_gbps == pytest.approx(
        words * a.clock_mhz / 1000)
    assert arch.load(f"scalesim:{cfg}", ["chunks.units.array.rows=8"]).pes == 128


@pytest.mark.parametrize("old, new, expected", [
    ("ArrayHeight:    32", "ArrayHeight:    -32", "s.cfg:5: architecture_presets.ArrayHeight: must be a positive integer"),
    ("Dataflow : ws", "Dataflow : rs", "s.cfg:14: architecture_presets.Dataflow: must be one of os, ws, is"),
    ("FilterSramSzkB:  128\n", "", "architecture_presets.FilterSramSzkB: missing"),
    ("Bandwidth : 10", "Bandwidth : lots", "s.cfg:13: architecture_presets.Bandwidth: must be positive"),
    ("InterfaceBandwidth: USER", "InterfaceBandwidth: MAX", "run_presets.InterfaceBandwidth: must be USER or CALC"),
    ("[general]", "general", "s.cfg:1: not a SCALE-Sim cfg"),
])
def test_bad_scalesim_cfg(tmp_path, old, new, expected):
    cfg = tmp_path / "s.cfg"
    cfg.write_text(SCALE_CFG.replace(old, new))
    with pytest.raises(arch.ConfigError) as info:
        arch.load(f"scalesim:{cfg}")
    assert expected in str(info.value) and str(cfg) in str(info.value)
    with pytest.raises(arch.ConfigError, match="no such file"):
        arch.load(f"scalesim:{tmp_path / 'none.cfg'}")


# -- CLI -------------------------------------------------------------------------------------
def test_cli_list_show_validate_schema(capsys, tmp_path):
    assert main(["arch", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(PRESETS)
    assert main(["arch", "show", "sanger", "--set", "chunks.count=2"]) == 0
    shown = tmp_path / "shown.yaml"
    shown.write_text(capsys.readouterr().out)
    assert main(["arch", "validate", str(shown)]) == 0
    assert capsys.readouterr().out.strip() == "ok: sanger (8580 PEs, 2 chunks)"
    assert main(["arch", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "description" in schema["$defs"]["Dram"]["properties"]["bandwidth_gbps"]


def test_cli_errors_exit_2_with_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("rows: 8", "rows: 0"))
    assert main(["arch", "validate", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (f"accelsim: error: {bad}:23: chunks.units.pe.rows: "
                                    "must be > 0, got 0")
    assert main(["arch", "show", "nope"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert main(["arch", "validate", "vitality", "--set", "chunks.bogus=1"]) == 2
    assert "unknown field 'chunks.bogus'" in capsys.readouterr().err


# -- docs and packaging ----------------------------------------------------------------------
def test_docs_example_validates():
    text = (ROOT / "docs" / "arch.md").read_text()
    block = re.search(r"```yaml\n(# tiny\.yaml.*?)```", text, re.S)
    assert block, "docs/arch.md lost its tiny.yaml example"
    a = arch.loads(block.group(1), "docs/arch.md")
    assert a.name == "tiny"


def test_arch_imports_without_torch():
    code = "import sys, arch; arch.load('vitality'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize(("preset", "expected"), [
    ("vitality", "taylor"), ("systolic", "softmax"), ("sanger", "sanger")])
def test_native_attention_follows_the_units(preset, expected):
    assert arch.native_attention(arch.load(preset)) == expected
    # a renamed copy keeps its attention: it depends on the units, not the name
    assert arch.native_attention(arch.load(preset, ["name=mine"])) == expected


@pytest.mark.parametrize("name", [*arch.presets(), "examples/arch/two_level.yaml",
                                  "examples/arch/hetero.yaml", "examples/arch/local_l1.yaml"])
def test_component_graph_paths_equal_networkx_shortest_paths(name):
    """The plain-dict graph the engine uses gives the paths networkx gives on ``build_graph``
    (its bidirectional search breaks ties the same way), for every unit and role, and every
    memory -> unit search (through memories only, else through anything)."""
    import networkx as nx

    from arch.graph import COMPUTE_KINDS, _search, component_graph

    def reference(a: str, b: str) -> list[str] | None:
        sub = g.subgraph([n for n, k in g.nodes(data="kind") if k not in COMPUTE_KINDS
                          or n == b])
        for graph in (sub, g):
            try:
                return nx.shortest_path(graph, a, b)
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                continue
        return None

    a = arch.load(name if name in arch.presets() else str(ROOT / name))
    plain, g = component_graph(a), build_graph(a)
    assert list(plain.nodes) == list(g.nodes)
    assert [(s, d) for s in plain.succ for d in plain.succ[s]] == list(g.edges)
    units = [n for n, k in g.nodes(data="kind") if k in COMPUTE_KINDS]
    for node in units:
        for role in (None, "input", "weight", "output"):
            assert path_from_dram(plain, node, role) == path_from_dram(g, node, role)
        for src in [*a.memories, *units]:
            assert _search(plain, src, node, node) == reference(src, node), (src, node)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 9).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=25),
    st.integers(0, n - 1), st.integers(0, n - 1))))
def test_bidirectional_search_breaks_ties_as_networkx(case):
    """On random digraphs with many equal-length paths, the same path as nx.shortest_path."""
    import networkx as nx

    from arch.graph import ComponentGraph, _bidirectional

    n, edges, a, b = case
    plain, g = ComponentGraph(), nx.DiGraph()
    for i in range(n):
        plain.add_node(f"n{i}")
        g.add_node(f"n{i}")
    for s, d in edges:
        if s != d:
            plain.add_edge(f"n{s}", f"n{d}")
            g.add_edge(f"n{s}", f"n{d}")
    try:
        want = nx.shortest_path(g, f"n{a}", f"n{b}")
    except nx.NetworkXNoPath:
        want = None
    assert _bidirectional(plain, f"n{a}", f"n{b}", lambda _: True) == want


def test_a_field_without_effect_is_one_warning_line(tmp_path, capsys):
    """An old file's SRAM ``banks`` is accepted and ignored, said in one ``accelsim: warning:``
    line on stderr (not Python's two lines pointing into pydantic)."""
    from accelsim.cli import main

    path = tmp_path / "old.yaml"
    path.write_text(TINY.replace("    type: sram\n", "    type: sram\n    banks: 4\n", 1))
    assert "banks: 4" in path.read_text()
    assert main(["arch", "validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "accelsim: warning: sram 'banks' has no effect (bandwidth_bytes_per_cycle covers all "
        "banks) and is ignored; remove it"]


def test_build_graph_keeps_the_connection_order_of_predecessors():
    """``build_graph``'s networkx graph adds edges in connection order, so its predecessor
    order (which breaks ties in the reverse half of the path search) and its paths are
    ``component_graph``'s, also when connections are not grouped by source (grouping them
    once made ``chunk0.sa`` route through the other SRAM)."""
    import json

    from arch.graph import component_graph

    raw = arch.load("systolic").model_dump(mode="json")
    conns = raw["connections"]
    i, j = (k for k, c in enumerate(conns) if c["dst"] == "noc")
    conns[i], conns[j] = conns[j], conns[i]
    a = arch.loads(json.dumps(raw), "swapped.json", json_=True)
    plain, g = component_graph(a), build_graph(a)
    assert {n: list(g.pred[n]) for n in g} == {n: list(plain.pred[n]) for n in plain}
    for role in (None, "input", "weight", "output"):
        assert path_from_dram(g, "chunk0.sa", role) == path_from_dram(plain, "chunk0.sa", role)
