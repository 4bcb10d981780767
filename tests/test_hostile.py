"""Hostile inputs, by class: each is exit code 2 with one line naming the thing, no traceback,
nothing half-written (issue 14). Sweep and output faults are in test_hostile_faults.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from accelsim.cli import main
from workloads.simple import gemm_graph

ROOT = Path(__file__).resolve().parents[1]
GOOD_ARCH = (ROOT / "arch" / "presets" / "systolic.yaml").read_text()


def bad(capsys, args: list[str], *needles: str) -> str:
    """Run the CLI; assert exit 2, one stderr line holding every needle, no traceback."""
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def graph_file(tmp_path: Path, mutate=None, text: str | None = None) -> Path:
    data = gemm_graph(32, 32, 32).to_dict()
    if mutate:
        mutate(data)
    p = tmp_path / "g.json"
    p.write_text(text if text is not None else json.dumps(data))
    return p


# -- files: every reader refuses what is not a regular UTF-8 file under the size cap --------
def _special(tmp_path: Path, kind: str, name: str) -> Path:
    p = tmp_path / name
    if kind == "dir":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "devzero":
        p.symlink_to("/dev/zero")
    elif kind == "latin1":
        p.write_bytes(b"name: caf\xe9\n")
    elif kind == "missing":
        pass
    return p


READERS = [  # (file name, argv with {} for the path)
    ("a.yaml", ["arch", "validate", "{}"]),
    ("a.json", ["arch", "validate", "{}"]),
    ("a.cfg", ["arch", "validate", "scalesim:{}"]),
    ("g.json", ["run", "--arch", "systolic", "--workload", "{}"]),
    ("t.csv", ["run", "--arch", "systolic", "--workload", "scalesim:{}"]),
    ("s.yaml", ["sweep", "{}", "--out", "OUT"]),
]
KINDS = {"dir": "a directory", "fifo": "a FIFO", "devzero": "a character device",
         "latin1": "not UTF-8", "missing": "no such file"}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("name", "argv"), READERS, ids=[r[0] for r in READERS])
def test_files_not_regular_utf8(capsys, tmp_path, kind, name, argv):
    p = _special(tmp_path, kind, name)
    args = [a.replace("{}", str(p)).replace("OUT", str(tmp_path / "out")) for a in argv]
    bad(capsys, args, str(p), KINDS[kind])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("name", "argv"), READERS, ids=[r[0] for r in READERS])
def test_files_over_the_size_cap(capsys, tmp_path, monkeypatch, name, argv):
    p = tmp_path / name
    p.write_text("x" * 20000)
    monkeypatch.setenv("ACCELSIM_LIMIT_INPUT_BYTES", "10000")
    args = [a.replace("{}", str(p)).replace("OUT", str(tmp_path / "out")) for a in argv]
    bad(capsys, args, "too large: 20,000 > 10,000", "ACCELSIM_LIMIT_INPUT_BYTES")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file anyway")
def test_files_unreadable(capsys, tmp_path):
    p = graph_file(tmp_path)
    p.chmod(0)
    bad(capsys, ["run", "--arch", "systolic", "--workload", p], "permission denied")


# -- YAML / JSON -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "needles"), [
    (GOOD_ARCH + "name: again\n", ("duplicate key", "name")),
    (GOOD_ARCH.replace("clock_mhz: 500", "clock_mhz: " + "9" * 5000),
     ("integer of 5000 digits: too large",)),
    (GOOD_ARCH.replace("clock_mhz: 500", "clock_mhz: 2:30"), ("clock_mhz", "'2:30'")),
    (GOOD_ARCH.replace("clock_mhz: 500", "clock_mhz: 1e308"), ("clock_mhz", "too large")),
    (GOOD_ARCH.replace("clock_mhz: 500", "clock_mhz: .inf"), ("clock_mhz", "finite")),
    ("[" * 100000, ("nested too deeply",)),
    ("a: " + "{a: " * 3000, ("nested too deeply",)),
    ("a: !!python/name:os.system x\n", ("could not determine a constructor",)),
    ("a: !!python/object/apply:os.system [echo]\n", ("a: unsupported YAML tag",)),
    ("!!set {a: 1}\n", ("top level: unsupported YAML tag",)),
])
def test_yaml_bad_values(capsys, tmp_path, text, needles):
    p = tmp_path / "a.yaml"
    p.write_text(text)
    args = ["run", "--arch", p, "--workload", "gemm:8,8,8"]
    bad(capsys, args, *needles)


@pytest.mark.parametrize(("text", "needle"), [
    ('{"name": "a", "name": "b"}', "duplicate key"),
    ('{"clock_mhz": NaN}', "NaN is not JSON"),
    ('{"clock_mhz": ' + "1" * 5000 + "}", "integer of 5000 digits"),
    ("[" * 100000, "invalid JSON"),
])
def test_json_arch_strict(capsys, tmp_path, text, needle):
    p = tmp_path / "a.json"
    p.write_text(text)
    bad(capsys, ["arch", "validate", p], str(p), needle)


@pytest.mark.parametrize(("value", "want"), [("1e3", 1000.0), ("010", 10), ("0.00001", 1e-05),
                                             ("1e-05", 1e-05), ("1e+16", 1e16)])
def test_yaml_12_numbers_in_files_and_overrides(tmp_path, value, want):
    import arch

    p = tmp_path / "a.yaml"
    p.write_text(GOOD_ARCH.replace("clock_mhz: 500", f"clock_mhz: {value}"))
    assert arch.load(p).clock_mhz == want
    assert arch.load("systolic", [f"clock_mhz={value}"]).clock_mhz == want


@pytest.mark.parametrize(("item", "needle"), [
    ("memories.dram.type=sram", "--set memories.dram.type=sram:"),
    ("chunks.count=1e20", "--set chunks.count=1e20:"),
    ("chunks.count=" + "9" * 5000, "integer of 5000 digits"),
    ("clock_mhz=2:30", "--set clock_mhz=2:30:"),
])
def test_set_errors_name_the_set(capsys, item, needle):
    err = bad(capsys, ["arch", "validate", "systolic", "--set", item], needle)
    assert "systolic.yaml:" not in err.split("(with")[0] or "(with --set" in err


# -- saved graph JSON ------------------------------------------------------------------------
def _set(path, value):
    def mutate(d):
        cur = d
        for p in path[:-1]:
            cur = cur[p]
        cur[path[-1]] = value
    return mutate


def _edge(value):
    def mutate(d):
        d["nodes"].append(dict(d["nodes"][0], name="g2"))
        d["edges"] = [dict({"src": "gemm", "dst": "g2", "input": 0}, **value)]
    return mutate


GRAPHS = [
    (_edge({"input": "0"}), "edges[0].input"),
    (_edge({"input": True}), "edges[0].input"),
    (_edge({"src": 5}), "edges[0].src"),
    (_edge({"rows_aligned": "yes"}), "edges[0].rows_aligned"),
    (_set(("meta",), "x"), "meta: want an object"),
    (_set(("meta",), {"precision": [8]}), "meta.precision"),
    (_set(("meta",), {"model": {"a": 1}}), "meta.model: want str"),
    (_set(("meta",), {"attention": ["x"]}), "meta.attention"),
    (_set(("meta",), {"tokens": "y"}), "meta.tokens"),
    (_set(("meta",), {"unknown_ops": 5}), "meta.unknown_ops"),
    (_set(("meta",), {"unknown_ops": {"x": "1"}}), "meta.unknown_ops"),
    (_set(("meta",), {"precision": {"operand_bits": 3}}), "operand_bits"),
    (_set(("nodes",), {"a": 1}), "nodes: want a list"),
    (_set(("edges",), None), "edges: want a list"),
    (_set(("nodes", 0, "output_shape"), [0, 32]), "output_shape"),
    (_set(("nodes", 0, "m"), 0), "m: want an integer >= 1"),
    (_set(("nodes", 0, "cost"), []), "cost"),
    (_set(("nodes", 0, "attrs"), 5), "attrs"),
    (_set(("nodes", 0, "scope"), 5), "scope"),
    (_set(("nodes", 0, "m"), 10 ** 200), "m:"),
]


@pytest.mark.parametrize(("mutate", "needle"), GRAPHS, ids=[g[1] for g in GRAPHS])
def test_graph_odd_fields(capsys, tmp_path, mutate, needle):
    p = graph_file(tmp_path, mutate)
    bad(capsys, ["run", "--arch", "systolic", "--workload", p], str(p), needle)


@pytest.mark.parametrize(("text", "needle"), [
    ('{"format": "accelsim.opgraph/1", "format": "x"}', "duplicate key"),
    ('{"format": "accelsim.opgraph/1", "nodes": [], "edges": [], "meta": {"x": Infinity}}',
     "Infinity is not JSON"),
    ("[]", "not an op graph"),
    ('{"format": ' + "1" * 5000 + "}", "integer of 5000 digits"),
])
def test_graph_json_strict(capsys, tmp_path, text, needle):
    bad(capsys, ["run", "--arch", "systolic", "--workload", graph_file(tmp_path, text=text)],
        needle)


def test_graph_claiming_huge_batches(capsys, tmp_path):
    def mutate(d):
        n = d["nodes"][0]
        n["batch"] = 10 ** 7
        n["cost"]["macs"] = 10 ** 7 * 32 ** 3
    bad(capsys, ["run", "--arch", "systolic", "--workload", graph_file(tmp_path, mutate)],
        "estimated tiles", "too large", "ACCELSIM_LIMIT_TILES")


# -- SCALE-Sim inputs ------------------------------------------------------------------------
CONV_HEAD = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
             "Num Filter, Strides,\n")


@pytest.mark.parametrize(("text", "needle"), [
    (CONV_HEAD + "c1, 8, 8, 3, 3, 4, 4, 0,\n", "Strides must be a positive integer"),
    (CONV_HEAD + "c1, 8, 8, 0, 3, 4, 4, 1,\n", "Filter Height must be a positive integer"),
    ("Layer, M, N, K,\nl1, 8, 8, -1,\n", "K must be a positive"),
    ("Layer, M, N, K,\nl1, 8, 8, " + "9" * 5000 + ",\n", "integers"),
    ('Layer, M, N, K,\n"' + "x" * 200000 + "\n", "not a topology CSV"),
])
def test_scalesim_topologies(capsys, tmp_path, text, needle):
    p = tmp_path / "t.csv"
    p.write_text(text)
    bad(capsys, ["run", "--arch", "systolic", "--workload", f"scalesim:{p}"], needle)


def test_scalesim_cfg_huge_number(capsys, tmp_path):
    p = tmp_path / "a.cfg"
    p.write_text("[architecture_presets]\nArrayHeight: " + "9" * 5000 + "\nArrayWidth: 8\n"
                 "IfmapSramSzkB: 64\nFilterSramSzkB: 64\nOfmapSramSzkB: 64\nDataflow: ws\n")
    bad(capsys, ["arch", "validate", f"scalesim:{p}"], "ArrayHeight")


# -- CLI values ------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "needles"), [
    (["--workload", "gemm:1000000000000,1000000000000,64"], ("too large", "ACCELSIM_LIMIT_")),
    (["--workload", "gemm:8,8," + "9" * 5000], ("GEMM",)),
    (["--workload", "gemm:8,8,8", "--set", "clock_mhz=1e308"], ("clock_mhz", "too large")),
    (["--workload", "gemm:8,8,8", "--set", "clock_mhz=1e-300"], ("is inf", "overflow")),
    (["--workload", "gemm:8,8,8", "--set", "mac_energy_pj=1e300"], ("mac_energy_pj",)),
    (["--workload", "gemm:8,8,8", "--set", "chunks.count=100000"],
     ("chunks.count x units", "ACCELSIM_LIMIT_INSTANCES")),
    (["--workload", "gemm:3000000,64,64", "--set", "mapping.tile_rows=1"],
     ("estimated tiles", "ACCELSIM_LIMIT_TILES")),
])
def test_cli_values_bounded(capsys, args, needles):
    bad(capsys, ["run", "--arch", "systolic", "--json", *args], *needles)


@pytest.mark.parametrize(("args", "needle"), [
    (["run", "--arch", "vitality", "--workload", "deit_tiny", "--img-size", "1000000000"],
     "ACCELSIM_LIMIT_IMG_SIZE"),
    (["sweep", str(ROOT / "examples" / "sweep_small.yaml"), "--out", "never", "--workers", "100000"],
     "ACCELSIM_LIMIT_WORKERS"),
])
def test_cli_counts_bounded(capsys, args, needle):
    bad(capsys, args, "too large", needle)
    assert not Path("never").exists()


def test_limit_env_is_validated(capsys, monkeypatch):
    monkeypatch.setenv("ACCELSIM_LIMIT_TILES", "lots")
    bad(capsys, ["run", "--arch", "systolic", "--workload", "gemm:8,8,8"],
        "ACCELSIM_LIMIT_TILES='lots'")


def test_json_out_is_strict(capsys):
    assert main(["run", "--arch", "systolic", "--workload", "gemm:8,8,8", "--json"]) == 0
    out = capsys.readouterr().out
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in --json"))


def test_plot_text_is_not_math(tmp_path):
    from accelsim.api import simulate
    from accelsim.report import write_outputs
    from workloads.simple import matmul_op

    g = gemm_graph(8, 8, 8)
    g.meta["model"] = "$\\frac{1}{0$ \\badcmd{"
    g.add_op(matmul_op("$x^$_{", 8, 8, 8, g.precision))
    write_outputs(simulate("systolic", g), tmp_path / "out")
    assert (tmp_path / "out" / "timeline.png").stat().st_size > 0


def test_an_op_with_an_empty_fn_is_bad_graph_input(tmp_path, capsys):
    """Found by tests/test_hostile_faults.py's fuzzing: the error names the file."""
    from accelsim.cli import main
    from workloads import resolve

    g = resolve("gemm:8,8,8").to_dict()
    g["nodes"][0]["fn"] = ""
    p = tmp_path / "g.json"
    p.write_text(json.dumps(g))
    assert main(["run", "--arch", "systolic", "--workload", str(p), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(p) in err and "fn: empty" in err, err
