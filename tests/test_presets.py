"""The engine on real workloads: traced DeiTs on the shipped presets, and the `run` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import arch
from accelsim.api import simulate
from accelsim.cli import main
from workloads import resolve

from test_engine import check_accounting

SUMMARY_FIELDS = {"format", "arch", "workload", "clock_mhz", "cycles", "latency_ms", "macs",
                  "dram_bytes", "energy_pj", "energy_breakdown_pj", "components", "ops", "sim",
                  "attention_cycles", "attention_energy_pj"}
OP_FIELDS = {"name", "kind", "unit", "start_cycle", "end_cycle", "compute_cycles", "macs"}


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    cache = tmp_path_factory.mktemp("graphs")
    return {att: resolve("deit_tiny", attention=att, cache_dir=cache)
            for att in ("taylor", "softmax", "sanger")}


NATIVE = [("vitality", "taylor"), ("systolic", "softmax"), ("sanger", "sanger")]


@pytest.mark.parametrize(("preset", "attention"), NATIVE)
def test_deit_tiny_on_each_preset(preset, attention, graphs):
    graph = graphs[attention]
    s = simulate(arch.load(preset), graph).summary
    assert set(s) >= SUMMARY_FIELDS
    assert all(set(o) >= OP_FIELDS for o in s["ops"])
    assert s["macs"] == graph.total_macs()
    assert s["latency_ms"] == pytest.approx(s["cycles"] / s["clock_mhz"] / 1e3)
    assert 0 < s["attention_cycles"] < s["cycles"]
    check_accounting(s)
    # every op that does work took time on some unit, within the makespan
    for o in s["ops"]:
        assert 0 <= o["start_cycle"] <= o["end_cycle"] <= s["cycles"]
    # matmul compute cycles never beat the PEs' peak: macs / (PEs of the unit x chunks used)
    units = arch.load(preset).chunks.units
    for o in s["ops"]:
        unit = units[o["unit"]]
        if o["macs"] and unit.type == "systolic":
            assert o["compute_cycles"] * unit.rows * unit.cols >= o["macs"] * 0.999


@pytest.mark.parametrize(("preset", "attention"), NATIVE)
def test_pipeline_on_is_faster_than_off(preset, attention, graphs):
    on = simulate(arch.load(preset), graphs[attention], keep_intervals=False).summary
    off = simulate(arch.load(preset, ["mapping.intra_layer_pipeline=false"]), graphs[attention],
                   keep_intervals=False).summary
    assert on["cycles"] < off["cycles"]
    assert on["macs"] == off["macs"]


@pytest.mark.parametrize(("preset", "attention"), NATIVE)
def test_more_chunks_are_never_slower(preset, attention, graphs):
    cycles = [simulate(arch.load(preset, [f"chunks.count={c}"]), graphs[attention],
                       keep_intervals=False).summary["cycles"] for c in (1, 2, 3, 4, 6, 8)]
    assert cycles == sorted(cycles, reverse=True), cycles


def test_summary_is_deterministic(graphs):
    a = simulate(arch.load("vitality"), graphs["taylor"]).summary
    b = simulate(arch.load("vitality"), graphs["taylor"]).summary
    a["sim"].pop("wall_s"), b["sim"].pop("wall_s")
    assert json.dumps(a) == json.dumps(b)


def test_run_cli_json_and_set(graphs, tmp_path, capsys):
    path = tmp_path / "g.json"
    graphs["taylor"].save(path)
    assert main(["run", "--arch", "vitality", "--workload", str(path), "--json",
                 "--set", "chunks.count=2"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["format"] == "accelsim.summary/1"
    assert sum(1 for c in s["components"] if c.endswith(".sa_general")) == 2


@pytest.mark.parametrize(("argv", "needle"), [
    (["--arch", "nope", "--workload", "gemm:8,8,8"], "nope"),
    (["--arch", "vitality", "--workload", "gemm:8,x,8"], "GEMM"),
    (["--arch", "vitality", "--workload", "gemm:8,8,8", "--set", "chunks.count=0"],
     "chunks.count"),
    (["--arch", "vitality", "--workload", "missing.json"], "missing.json"),
    (["--arch", "vitality", "--workload", "gemm:8,8,8", "--out", __file__], "not a directory"),
    (["--arch", "systolic", "--workload", "deit_tiny", "--set", "chunks.units.sa.fns=[matvec]"],
     "'matmul'"),
])
def test_run_cli_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_softmax_runs_on_vitality_general_unit(graphs):
    """vitality has no softmax unit: softmax runs on its general post unit, by the class
    default of its normalisation class (slowly), and the summary says so."""
    s = simulate(arch.load("vitality"), graphs["softmax"], keep_intervals=False).summary
    softmax = [o for o in s["ops"] if o["fn"] == "softmax"]
    assert softmax and {o["unit"] for o in softmax} == {"post"}
    assert s["class_default_ops"]["post"]["softmax"] == len(softmax)
    assert sum(s["ops_per_unit"].values()) == len(s["ops"])


def test_terminal_names_units_that_got_no_op(graphs):
    """A declared unit left idle is said on the terminal, not only as a 0 in ops per unit:
    systolic's softmax unit on a Taylor workload, and none on vitality's own."""
    from accelsim.report.terminal import format_summary

    for preset, attention, want in (("systolic", "taylor", ["softmax"]), ("vitality", "taylor", [])):
        s = simulate(arch.load(preset), graphs[attention], keep_intervals=False).summary
        notes = [ln.split("went to ", 1)[1].split(" (")[0] for ln in format_summary(s).splitlines()
                 if "no op of this workload went to" in ln]
        assert notes == [", ".join(want)] if want else notes == []


def test_run_on_saved_graph_never_imports_torch(graphs, tmp_path):
    path = tmp_path / "g.json"
    graphs["softmax"].save(path)
    code = ("import sys; sys.modules['torch'] = None\n"
            "from accelsim.cli import main\n"
            f"rc = main(['run', '--arch', 'systolic', '--workload', {str(path)!r}, '--json'])\n"
            "assert rc == 0, rc\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["arch"] == "systolic"


def test_vitality_adds_go_where_the_units_say(graphs):
    """vitality's bindings: attention adds on the adder array, residual adds on post."""
    s = simulate(arch.load("vitality"), graphs["taylor"], keep_intervals=False).summary
    adds = [o for o in s["ops"] if o["fn"] == "add"]
    assert {o["unit"] for o in adds if o["group"] == "attention"} == {"adder"}
    assert {o["unit"] for o in adds if o["group"] != "attention"} == {"post"}


def test_unbound_ops_use_every_capable_array():
    """Two matmul arrays without bindings. Equal ones share the independent matmuls (heads,
    Q/K/V); a slow 16x16 one gets none of a chain it would delay, so the run equals the run
    with every matmul bound to the big array (the policy once put ops on the critical path
    there: 292,971 against 180,487 cycles); a binding by group sends the attention matmuls to
    the small one."""
    raw = yaml.safe_load(arch.to_yaml(arch.load("systolic")))
    units = raw["chunks"]["units"]
    raw["connections"].append({"src": "chunk.rf", "dst": "chunk.small"})
    g = resolve("deit_tiny", attention="softmax")

    def run(small: dict, bindings: list, graph=g) -> dict:
        units["small"] = {**units["sa"], **small}
        raw["mapping"]["bindings"] = bindings
        return simulate(arch.loads(yaml.safe_dump(raw), "two.yaml"), graph,
                        keep_intervals=False).summary

    from workloads.ir import OpGraph, Precision
    from workloads.simple import matmul_op

    independent = OpGraph({"model": "four gemms"})  # DeiT's matmuls form one chain
    for i in range(4):
        independent.add_op(matmul_op(f"g{i}", 256, 192, 192, Precision()))
    s = run({}, [], independent)  # small is a copy of sa: they share the four
    assert s["ops_per_unit"]["sa"] == s["ops_per_unit"]["small"] == 2
    s = run({"rows": 16, "cols": 16, "leakage_mw": 5.0}, [])
    bound = run({"rows": 16, "cols": 16, "leakage_mw": 5.0}, [{"kind": "matmul", "unit": "sa"}])
    assert s["ops_per_unit"]["small"] == 0 and s["cycles"] == bound["cycles"]
    s = run({"rows": 16, "cols": 16, "leakage_mw": 5.0},
            [{"group": "attention", "kind": "matmul", "unit": "small"},
             {"kind": "matmul", "unit": "sa"}])
    mm = [o for o in s["ops"] if o["kind"] == "matmul"]
    assert {o["unit"] for o in mm if o["group"] == "attention"} == {"small"}
    assert {o["unit"] for o in mm if o["group"] != "attention"} == {"sa"}


def test_all_missing_functions_in_one_message():
    raw = yaml.safe_load(arch.to_yaml(arch.load("systolic")))
    del raw["chunks"]["units"]["post"]
    raw["connections"] = [c for c in raw["connections"] if c["dst"] != "chunk.post"]
    with pytest.raises(arch.ConfigError) as info:
        simulate(arch.loads(yaml.safe_dump(raw), "bare.yaml"),
                 resolve("deit_tiny", attention="softmax"), keep_intervals=False)
    assert "'gelu'" in str(info.value) and "'layernorm'" in str(info.value)


@pytest.mark.parametrize("preset", ["vitality", "systolic"])
def test_sparse_attention_runs_densely_on_a_dense_array(graphs, preset):
    """Every traced model runs on every preset: Sanger's sparse matmuls fall back to a dense
    array, which computes the whole product. The run equals that of the same graph with those
    ops turned into dense matmuls (cycles, MACs and energy), an independent statement."""
    import json

    from workloads.ir import OpGraph

    a = arch.load(preset)
    data = graphs["sanger"].to_dict()
    sparse = 0
    for node in data["nodes"]:
        if node["kind"] == "sparse_matmul":
            sparse += 1
            node.update(kind="matmul", fn="matmul", density=1.0)
            node["cost"]["macs"] = node["batch"] * node["m"] * node["n"] * node["k"]
    dense = OpGraph.from_dict(json.loads(json.dumps(data)))
    got = simulate(a, graphs["sanger"], keep_intervals=False).summary
    want = simulate(a, dense, keep_intervals=False).summary
    assert sparse and arch.native_attention(a) != "sanger"
    for key in ("cycles", "macs", "energy_pj"):
        assert got[key] == want[key], key
    assert [o["compute_cycles"] for o in got["ops"]] == [o["compute_cycles"] for o in want["ops"]]
