"""accelsim sweep: spec validation, area proxy, local and Dask backends agree, kill and resume,
failing points recorded, the shipped examples."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import arch
from accelsim.cli import main
from accelsim.errors import InputError
from accelsim.sweep import SpecError, area_breakdown_mm2, area_mm2_proxy, load_spec, loads_spec
from accelsim.sweep import run_sweep as _run_sweep
from accelsim.sweep.plot import pareto_front
from accelsim.sweep.results import read
from accelsim.sweep.runner import prepare

ROOT = Path(__file__).resolve().parents[1]
#: 6 points, 2 of which fail (chunks.count = 0 is not a valid architecture).
SPEC = """\
base: vitality
axes:
  chunks.count: [1, 2, 0]
  clock_mhz: [500, 1000]
workloads: ["gemm:96,64,64"]
"""


def run_sweep(*args, **kwargs):
    return _run_sweep(*args, progress=False, **kwargs)


def rows_of(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    """The SPEC sweep on the local pool (2 workers), shared by several tests."""
    tmp = tmp_path_factory.mktemp("local")
    (tmp / "spec.yaml").write_text(SPEC)
    run_sweep(tmp / "spec.yaml", tmp / "out", workers=2)
    return tmp / "out"


# -- spec ----------------------------------------------------------------------------------
BAD_SPECS = [
    ("base: vitality\nworkloads: [deit_tiny]\nfoo: 1\n",
     r"^s\.yaml:3: foo: unknown key; allowed: base, set"),
    ("base: vitality\n", r"^s\.yaml:1: workloads: missing required field$"),
    ("base: vitality\nworkloads: [x]\naxes:\n  chunks.count: []\n",
     r"^s\.yaml:4: axes\[chunks\.count\]: must not be empty$"),
    ("base: vitality\nworkloads: [x]\naxes:\n  chunks.count: 3\n",
     r"^s\.yaml:4: axes\[chunks\.count\]: must be a list"),
    ("base: vitality\nworkloads: [x]\nrandom:\n  samples: 2\n  axes:\n    a: {min: 3, max: 1}\n",
     r"^s\.yaml:6: random\.axes\.a: min 3 is greater than max 1$"),
    ("base: vitality\nworkloads: [x]\nrandom:\n  samples: 0\n  axes: {a: [1]}\n",
     r"^s\.yaml:4: random\.samples: must be > 0, got 0$"),
    ("base: vitality\nworkloads:\n  - x\n  - {spec: y, img_size: -3}\n",
     r"^s\.yaml:4: workloads\[1\]\.img_size: must be > 0"),
    ("base: vitality\nworkloads: [{spec: y, attention: nope}]\n", r"unknown attention 'nope'"),
    ("base: vitality\nworkloads: [x]\nmetrics: [cycles, speed]\n",
     r"^s\.yaml:3: metrics: unknown metric 'speed'"),
    ("base: vitality\nworkloads: [x]\naxes: {a: [1]}\nset:\n  a: 2\n",
     r"^s\.yaml:5: set\.a: already given"),
    ("base: vitality\nworkloads: [x\n", r"^s\.yaml:\d+: YAML syntax error"),
]


@pytest.mark.parametrize(("text", "pattern"), BAD_SPECS)
def test_spec_errors_are_one_line_with_file_line_and_field(text, pattern):
    with pytest.raises(SpecError, match=pattern) as info:
        loads_spec(text, "s.yaml")
    assert "\n" not in str(info.value)


def test_bad_axis_path_and_base_are_spec_errors(tmp_path):
    text = "base: vitality\nworkloads: ['gemm:8,8,8']\naxes:\n  chunks.cont: [1]\n"
    with pytest.raises(SpecError, match=r"s\.yaml:4: axes\[chunks\.cont\]: unknown field"):
        prepare(loads_spec(text, "s.yaml"), tmp_path)
    with pytest.raises(SpecError, match=r"s\.yaml:1: base: .*unknown architecture 'nope'"):
        prepare(loads_spec("base: nope\nworkloads: ['gemm:8,8,8']\n", "s.yaml"), tmp_path)
    with pytest.raises(SpecError, match=r"s\.yaml:2: workloads\[0\]: .*gemm"):
        prepare(loads_spec("base: vitality\nworkloads: ['gemm:8,8']\n", "s.yaml"), tmp_path)


def test_point_ids_are_stable_and_random_samples_are_seeded(tmp_path):
    a = loads_spec(SPEC, "a.yaml")
    b = loads_spec("workloads: ['gemm:96,64,64']\naxes:\n  clock_mhz: [500, 1000]\n"
                   "  chunks.count: [1, 2, 0]\nbase: vitality\n", "b.yaml")
    assert {t.id for t in prepare(a, tmp_path).tasks} == {t.id for t in prepare(b, tmp_path).tasks}
    assert len({t.id for t in prepare(a, tmp_path).tasks}) == 6
    rand = "base: vitality\nworkloads: [x]\nrandom:\n  samples: 5\n  seed: {}\n  axes:\n" \
           "    clock_mhz: {{min: 100, max: 900, log: true}}\n    chunks.count: [1, 2, 4]\n"
    s1, s2 = loads_spec(rand.format(1)), loads_spec(rand.format(2))
    assert s1.params() == loads_spec(rand.format(1)).params() != s2.params()
    assert all(100 <= p["clock_mhz"] <= 900 and p["chunks.count"] in (1, 2, 4) for p in s1.params())


def test_large_example_expands_to_a_few_hundred_points():
    spec = load_spec(ROOT / "examples" / "sweep_large.yaml")
    params = spec.params()
    assert len(params) * len(spec.workloads) == 320
    assert len({json.dumps(p, sort_keys=True) for p in params}) == len(params)
    for p in params:
        assert isinstance(p["memories.sram_act.capacity_kib"], int)
        assert 128 <= p["memories.sram_act.capacity_kib"] <= 1024


# -- area proxy and Pareto front ------------------------------------------------------------
def test_area_proxy_counts_components():
    vit = arch.load("vitality")
    parts = area_breakdown_mm2(vit)
    assert parts["sram"] == pytest.approx((512 + 768) * 6000 / 1e6)
    assert parts["pe"] == pytest.approx(4 * (65 * 65 + 65) * (282 + 137) / 1e6)
    assert area_mm2_proxy(vit) == pytest.approx(sum(parts.values()), abs=1e-6)
    assert area_mm2_proxy(arch.load("vitality", ["chunks.count=8"])) > area_mm2_proxy(vit)
    four_bit = arch.load("vitality", ["precision.operand_bits=4"])
    assert area_breakdown_mm2(four_bit)["pe"] < parts["pe"]


def test_pareto_front():
    pts = [(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (2.0, 3.0), (5.0, 1.0)]
    assert pareto_front(pts) == [0, 1, 4, 3]


# -- running ---------------------------------------------------------------------------------
def test_local_sweep_records_failures_and_goes_on(local_run):
    rows = rows_of(local_run)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert len(rows) == 6
    failed = [r for r in rows if r["status"] == "error"]
    assert len(failed) == 2 and all(r["chunks.count"] == "0" for r in failed)
    assert all("ConfigError" in r["error"] and "must be > 0" in r["error"] for r in failed)
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(int(r["cycles"]) > 0 and float(r["energy_pj"]) > 0 for r in ok)
    assert {r["pes"] for r in ok} == {"4290", "8580"}
    assert list(rows[0])[:6] == ["id", "workload", "attention", "img_size", "chunks.count",
                                 "clock_mhz"]
    assert (local_run / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert (local_run / "spec.yaml").read_text() == SPEC
    assert len(list((local_run / "graphs").glob("*.json"))) == 1


def test_rerun_resumes_skips_done_points_and_retries_failed(local_run):
    before = (local_run / "results.csv").read_bytes()
    report = run_sweep(local_run / "spec.yaml", local_run)
    assert (report.skipped, report.ran, report.failed) == (4, 2, 2)
    assert (local_run / "results.csv").read_bytes() == before


def test_dask_backend_agrees_with_local(local_run, tmp_path):
    pytest.importorskip("distributed")
    report = run_sweep(local_run / "spec.yaml", tmp_path / "dask", backend="dask", workers=2)
    assert (report.ran, report.ok) == (6, 4)
    assert (tmp_path / "dask" / "results.csv").read_bytes() == \
        (local_run / "results.csv").read_bytes()
    assert (tmp_path / "dask" / "pareto.png").read_bytes() == \
        (local_run / "pareto.png").read_bytes()


def test_dask_missing_is_a_clear_input_error(spec_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(InputError, match=r"pip install 'accelsim\[dask\]'"):
        run_sweep(spec_file, tmp_path / "out", backend="dask")


def test_interrupted_sweep_resumes_without_repeating(spec_file, tmp_path):
    out, seen = tmp_path / "out", []

    def stop_after_two(row):
        seen.append(row["id"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec_file, out, workers=1, on_row=stop_after_two)
    assert [r for r in read(out / "results.csv")[1]] == seen  # durable before the callback
    with (out / "results.csv").open("a") as f:  # a kill in the middle of a write
        f.write('ffffffffffff,"gemm:96,64,64",,,1,5')
    ok_first = {i for i, r in read(out / "results.csv")[1].items() if r["status"] == "ok"}
    again: list[str] = []
    report = run_sweep(spec_file, out, on_row=lambda row: again.append(row["id"]))
    assert not ok_first & set(again) and len(ok_first) + len(again) == 6
    rows = rows_of(out)
    assert len(rows) == len({r["id"] for r in rows}) == 6 == report.points
    assert "ffffffffffff" not in {r["id"] for r in rows}


def test_killed_process_loses_nothing_and_repeats_nothing(tmp_path):
    topo = tmp_path / "topo.csv"
    topo.write_text("Layer, M, N, K,\n" + "".join(f"l{i}, 256, 256, 256,\n" for i in range(600)))
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: vitality\naxes:\n  chunks.count: [1, 2]\n"
                    "  clock_mhz: [400, 500, 600, 700]\nworkloads: ['scalesim:topo.csv']\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(out),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(read(out / "results.csv")[1]) >= 2:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool: a session of our own
        proc.wait()
    first = read(out / "results.csv")[1]
    assert 2 <= len(first) < 8 and all(r["status"] == "ok" for r in first.values())
    again: list[str] = []
    report = run_sweep(spec, out, on_row=lambda row: again.append(row["id"]))
    assert not set(first) & set(again) and report.skipped == len(first)
    rows = rows_of(out)
    assert len(rows) == len({r["id"] for r in rows}) == 8
    assert all(r["status"] == "ok" for r in rows)


def test_cli_json_limit_and_input_errors(spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(spec_file), "--out", str(out), "--limit", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["points"], report["ran"], report["pending"]) == (6, 1, 5)
    for argv, pattern in [
        (["sweep", str(tmp_path / "missing.yaml"), "--out", str(out)], "no such file"),
        (["sweep", str(spec_file), "--out", str(out), "--scheduler", "tcp://x:1"],
         "--scheduler needs --backend dask"),
        (["sweep", str(spec_file), "--out", str(out), "--workers", "0"], "--workers must be >= 1"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert pattern in err and err.count("\n") == 1


def test_small_example_runs_deit_tiny(tmp_path):
    report = run_sweep(ROOT / "examples" / "sweep_small.yaml", tmp_path / "small")
    assert (report.points, report.ok) == (6, 6)
    rows = rows_of(tmp_path / "small")
    assert {r["workload"] for r in rows} == {"deit_tiny"}
    assert {r["attention"] for r in rows} == {"taylor"}  # vitality's native attention
    at500 = sorted((int(r["chunks.count"]), int(r["cycles"])) for r in rows
                   if r["clock_mhz"] == "500")
    assert [c for _, c in at500] == sorted((c for _, c in at500), reverse=True)


def test_sweep_axis_of_bindings(tmp_path):
    """A binding is a `--set` path like any other: an axis of `mapping.bindings` moves the
    GEMM between the two arrays of examples/arch/two_arrays.yaml; a bad one is a failed row
    naming the field."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"base: {ROOT / 'examples' / 'arch' / 'two_arrays.yaml'}\n"
                    "axes:\n  mapping.bindings:\n"
                    "    - [{kind: matmul, unit: sa}]\n"
                    "    - [{kind: matmul, unit: attn_sa}]\n"
                    "    - [{kind: matmul, unit: nope}]\n"
                    'workloads: ["gemm:256,256,256"]\n')
    report = run_sweep(spec, tmp_path / "out", workers=1)
    assert (report.points, report.ok) == (3, 2)
    rows = {r["mapping.bindings"]: r for r in rows_of(tmp_path / "out")}
    big, small = (int(rows[f'[{{"kind":"matmul","unit":"{u}"}}]']["cycles"])
                  for u in ("sa", "attn_sa"))
    assert small > big  # the 32x32 array takes longer than the 64x64 one
    bad = rows['[{"kind":"matmul","unit":"nope"}]']
    assert bad["status"] == "error" and "mapping.bindings.0.unit" in bad["error"]


def test_a_pool_that_cannot_start_raises_its_own_error(monkeypatch):
    """A submit that fails (e.g. spawn refused) surfaces as that error, with nothing left
    running, never as an error of the cleanup code."""
    from concurrent.futures import ProcessPoolExecutor

    from accelsim.sweep import local

    def refuse(self, fn, *args, **kwargs):
        raise RuntimeError("spawn refused")

    monkeypatch.setattr(ProcessPoolExecutor, "submit", refuse)
    with pytest.raises(RuntimeError, match="spawn refused"):
        local.run_local(["a", "b"], 2, lambda r: None, lambda t: {"id": t})
