"""Faults (issue 14): sweeps killed, racing, losing workers; unwritable and full outputs;
broken trace-cache entries; and hypothesis fuzzing that simulates the configs it accepts."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.sweep.results import OutLock, read

from hostile_helpers import FakeTask, alive, children_of, crashing_point
from test_hostile import bad

ROOT = Path(__file__).resolve().parents[1]
SPEC = ("base: systolic\naxes:\n  clock_mhz: [400, 500, 600]\n  chunks.units.sa.mac_energy_pj: [0.00001, 0.4]\n"
        "workloads: ['scalesim:topo.csv']\n")


def sweep_dir(tmp_path: Path, layers: int = 2) -> Path:
    (tmp_path / "topo.csv").write_text(
        "Layer, M, N, K,\n" + "".join(f"l{i}, 128, 128, 128,\n" for i in range(layers)))
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path / "spec.yaml"


def sweep_proc(spec: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "accelsim", "sweep", str(spec), "--out",
                             str(out), "--workers", "2", *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


# -- sweeps ----------------------------------------------------------------------------------
def test_sweep_small_floats_and_complete_rows(tmp_path, capsys):
    spec = sweep_dir(tmp_path)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 0
    rows = read(tmp_path / "out" / "results.csv")[1]
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows.values()), rows
    assert {r["chunks.units.sa.mac_energy_pj"] for r in rows.values()} == {"1e-05", "0.4"}


@pytest.mark.parametrize(("text", "needles"), [
    ("base: systolic\nrandom:\n  samples: 1000000000\n  axes:\n    clock_mhz: {min: 1, max: 2}\n"
     "workloads: ['gemm:8,8,8']\n", ("random.samples", "too large", "ACCELSIM_LIMIT_POINTS")),
    ("base: systolic\nworkloads: ['os:getcwd']\n", ("workloads[0]", "--allow-code")),
    ("base: systolic\nworkloads: ['gemm:8,8,8']\nset: {clock_mhz: 1}\nset: {}\n",
     ("duplicate key",)),
])
def test_sweep_spec_refused(capsys, tmp_path, text, needles):
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    bad(capsys, ["sweep", spec, "--out", tmp_path / "out", "--limit", "1"], *needles)
    assert not (tmp_path / "out").exists()


def test_results_file_that_is_not_a_file(capsys, tmp_path):
    spec, out = sweep_dir(tmp_path), tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "results.csv")
    bad(capsys, ["sweep", spec, "--out", out], "results.csv", "a FIFO")


def test_second_writer_exits_2(capsys, tmp_path):
    spec, out = sweep_dir(tmp_path), tmp_path / "out"
    out.mkdir()
    with OutLock(out):
        bad(capsys, ["sweep", spec, "--out", out], "another sweep is writing")
    assert not (out / "results.csv").exists()


def test_two_concurrent_sweeps_keep_every_row(tmp_path):
    spec, out = sweep_dir(tmp_path, layers=30), tmp_path / "out"
    procs = [sweep_proc(spec, out) for _ in range(2)]
    codes = [p.wait(120) for p in procs]
    errs = [p.stderr.read().decode() for p in procs if p.stderr]
    assert sorted(codes) in ([0, 0], [0, 2]), errs
    assert all("Traceback" not in e for e in errs)
    if 2 in codes:
        assert any("another sweep is writing" in e for e in errs)
    rows = read(out / "results.csv")[1]
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows.values())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_sweep_leaves_no_workers_and_resumes_identically(tmp_path, sig):
    spec = sweep_dir(tmp_path, layers=300)
    ref = tmp_path / "ref"
    assert main(["sweep", str(spec), "--out", str(ref)]) == 0
    out = tmp_path / "out"
    at = random.Random(f"{sig}-{os.getpid()}").randint(0, 4)  # rows written before the kill
    proc = sweep_proc(spec, out)
    kids: set[int] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        kids |= {k for c in children_of(proc.pid) for k in (c, *children_of(c))}
        if len(read(out / "results.csv")[1]) >= at and len(kids) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None and len(read(out / "results.csv")[1]) < 6, f"done before {at}"
    os.kill(proc.pid, sig)  # the sweep only: its workers must follow it
    proc.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(k) for k in kids):
        time.sleep(0.1)
    left = [k for k in kids if alive(k)]
    for k in left:
        with contextlib.suppress(OSError):
            os.kill(k, signal.SIGKILL)
    assert kids and not left, f"orphans after {sig.name}: {left}"
    assert main(["sweep", str(spec), "--out", str(out)]) == 0
    assert (out / "results.csv").read_bytes() == (ref / "results.csv").read_bytes()


def test_a_point_that_kills_its_worker_is_recorded_not_fatal():
    from accelsim.sweep.local import run_local

    tasks = [FakeTask(i) for i in ("a", "die1", "b", "c")]
    rows: list[dict] = []
    run_local(tasks, 2, rows.append, crashing_point)
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == ["a", "b", "c", "die1"] and len(rows) == 4
    assert by_id["die1"]["status"] == "error"
    assert "worker died: killed by SIGKILL" in by_id["die1"]["error"]
    assert all(by_id[i]["status"] == "ok" for i in "abc")


# -- outputs ---------------------------------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path):
    """A 200 KiB tmpfs (skipped where mounting is not permitted)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not permitted here (needs root / CAP_SYS_ADMIN)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_out_dir_is_exit_2_and_nothing_half_written(capsys, tmpfs):
    (tmpfs / "filler").write_bytes(b"x" * 150_000)
    out = tmpfs / "run"
    bad(capsys, ["run", "--arch", "systolic", "--workload", "gemm:256,256,256", "--out", out],
        f"--out {out}", "No space left")
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler"]


def test_read_only_out_dir_is_exit_2(capsys, tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    bad(capsys, ["run", "--arch", "systolic", "--workload", "gemm:8,8,8", "--out",
                 tmpfs / "run"], "Read-only file system")
    spec = tmpfs.parent / "s.yaml"
    spec.write_text("base: systolic\nworkloads: ['gemm:8,8,8']\n")
    bad(capsys, ["sweep", spec, "--out", tmpfs / "sw"], "--out", "Read-only")


def test_out_replaced_as_a_whole_and_stale_staging_cleaned(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--arch", "systolic", "--workload", "gemm:64,64,64", "--out", str(out)]
    assert main(args) == 0
    first = {p.name: p.stat().st_ino for p in out.iterdir()}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f".run.stage-{dead}-abc").mkdir()  # left by a killed run
    assert main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert set(first) == {p.name for p in out.iterdir()}
    assert all(first[p.name] != p.stat().st_ino for p in out.iterdir())  # new files, all
    (out / "notes.txt").write_text("mine")
    bad(capsys, args, "holds other files", "notes.txt")
    assert (out / "notes.txt").read_text() == "mine"


# -- trace cache -----------------------------------------------------------------------------
def test_cache_entries_check_key_and_content(tmp_path):
    from workloads import resolve

    good = resolve("vit_digits", cache_dir=tmp_path).to_json()
    (entry,) = tmp_path.glob("*.json")
    other = resolve("vit_digits", attention="taylor", cache_dir=tmp_path)
    (taylor,) = set(tmp_path.glob("*.json")) - {entry}
    for damage in (lambda: entry.write_text(taylor.read_text()),  # another model's entry
                   lambda: entry.write_text(entry.read_text().replace("matmul", "matmuk", 1)),
                   lambda: entry.write_bytes(b"\xff\xfe"),
                   lambda: entry.write_text(other.to_json())):  # a bare graph
        damage()
        assert resolve("vit_digits", cache_dir=tmp_path).to_json() == good
    entry.unlink()
    entry.mkdir()  # an entry that cannot be read or replaced: traced, not simulated wrong
    assert resolve("vit_digits", cache_dir=tmp_path).to_json() == good


# -- fuzzing: accepted configs are simulated, through files ----------------------------------
_FIELDS = {"clock_mhz": st.one_of(st.integers(-5, 5000), st.floats(allow_nan=True)),
           "chunks.count": st.one_of(st.integers(-2, 3000), st.floats(0, 1e30)),
           "mapping.tile_rows": st.integers(-1, 100_000),
           "memories.dram.bandwidth_gbps": st.floats(-1, 1e20, allow_nan=False)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({}, optional=_FIELDS),
       dims=st.tuples(*[st.integers(-1, 300)] * 3), as_json=st.booleans())
def test_fuzzed_configs_are_refused_cleanly_or_simulated(tmp_path, values, dims, as_json):
    import arch
    from accelsim.api import simulate
    from safeio import dumps_strict

    data = arch.load("systolic").model_dump(mode="json")
    for path, value in values.items():
        cur = data
        *head, last = path.split(".")
        for seg in head:
            cur = cur[seg]
        cur[last] = value
    p = tmp_path / ("a.json" if as_json else "a.yaml")
    p.write_text(json.dumps(data) if as_json else yaml.safe_dump(data))
    try:
        a = arch.load(p)
        graph_path = tmp_path / "g.json"
        from workloads.simple import gemm_graph

        gemm_graph(*dims).save(graph_path)
        s = simulate(a, str(graph_path), keep_intervals=False).summary
    except (arch.ConfigError, ValueError) as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    dumps_strict(s)  # finite, strict JSON
    assert s["cycles"] > 0 and s["energy_pj"] > 0


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10 ** 30) | st.text(max_size=5)
                     | st.floats(allow_nan=False, allow_infinity=False),
                     lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=6)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_graph_files_run_or_exit_2(tmp_path, capsys, data):
    """Any mutation of a saved graph either simulates or is a one-line exit 2."""
    from workloads.simple import scalesim_topology_graph

    topo = tmp_path / "t.csv"
    topo.write_text("Layer, M, N, K,\na, 64, 32, 16,\nb, 8, 8, 8,\n")
    g = scalesim_topology_graph(topo).to_dict()
    g["edges"] = [{"src": "a", "dst": "b", "input": 0, "rows_aligned": False,
                   "groups_aligned": True}]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(g))[1:]))
        cur = g
        for seg in path[:-1]:
            cur = cur[seg]
        cur[path[-1]] = data.draw(_JSON)
    p = tmp_path / "g.json"
    p.write_text(json.dumps(g))
    rc = main(["run", "--arch", "systolic", "--workload", str(p), "--json"])
    err = capsys.readouterr().err
    assert rc in (0, 2) and "Traceback" not in err, err
    if rc == 2:
        assert err.count("\n") == 1 and (str(p) in err or "workload" in err), err


def test_atomic_writes_clean_temps_of_dead_writers(tmp_path):
    from workloads.ir import write_atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".g.json.tmp-{dead}-x1"
    stale.write_text("half")
    live = tmp_path / f".g.json.tmp-{os.getpid()}-x2"  # a writer still running: kept
    live.write_text("busy")
    write_atomic(tmp_path / "g.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "g.json"]
