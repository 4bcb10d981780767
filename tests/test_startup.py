"""What makes every call fast (issue #17) must not change what it answers: lazy imports, the
libyaml reader of architectures, the streamed trace.json (its bytes: tests/test_golden.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arch
from accelsim.report.perfetto import build_trace, trace_json, write_trace
from arch import loader
from safeio import FastYaml12Loader, Yaml12Loader

from test_arch import TINY, error_of
from test_reports import small_result

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("networkx", "pydantic", "torch", "yaml", "numpy", "simpy", "matplotlib")


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["run", "--help"]])
def test_version_and_help_import_nothing_heavy(argv):
    code = ("import sys\nfrom accelsim.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.splitlines()[-1] == "[]"


def test_a_run_imports_neither_networkx_nor_torch(tmp_path):
    """Loading, mapping and simulating use plain-dict graphs (``OpGraph``,
    ``arch.graph.ComponentGraph``): networkx is only for ``OpGraph.g`` / ``build_graph``."""
    from workloads import resolve

    saved = tmp_path / "g.json"
    resolve("gemm:64,32,16").save(saved)
    for workload in ("gemm:197,192,64", str(saved)):
        code = ("import sys\nfrom accelsim.cli import main\n"
                f"assert main(['run', '--arch', 'vitality', '--workload', {workload!r}, "
                "'--json']) == 0\n"
                "print(sorted(m for m in ('networkx', 'torch') if m in sys.modules))\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        assert out.stdout.splitlines()[-1] == "[]", workload


def test_packages_load_their_names_on_first_use():
    import vitality_model
    import workloads

    assert arch.load is loader.load and callable(arch.schema) and "$schema" in arch.schema()
    assert workloads.resolve.__module__ == "workloads.resolver"
    assert vitality_model.ZOO["deit_tiny"].img_size == 224
    with pytest.raises(AttributeError):
        _ = arch.no_such_name


needs_libyaml = pytest.mark.skipif(FastYaml12Loader is None, reason="PyYAML without libyaml")


@needs_libyaml
@pytest.mark.parametrize("name", arch.presets())
def test_libyaml_reader_gives_the_same_data_and_lines(name):
    text = loader.preset_path(name).read_text()
    fast = loader._parse_yaml_with(FastYaml12Loader, text, name)
    assert fast == loader._parse_yaml_with(Yaml12Loader, text, name)
    assert len(fast[1]) > 100


@needs_libyaml
def test_libyaml_reader_locates_a_bad_field(monkeypatch):
    assert loader.fast_loader_for(TINY) is FastYaml12Loader
    with monkeypatch.context() as m:  # no pure-Python reader to fall back on
        m.setattr(loader, "Yaml12Loader", None)
        bad = TINY.replace("      rows: 8\n", "      rows: -8\n", 1)
        assert error_of(bad).startswith("t.yaml:23: chunks.units.pe.rows: must be > 0, got -8")
    # a syntax error is worded by the pure-Python reader, as before
    broken = TINY.replace("  - {src: dram, dst: buf}\n", "  - {src: dram, dst: buf\n", 1)
    assert error_of(broken).startswith("t.yaml:36: YAML syntax error")


def _read(text: str) -> tuple:
    try:
        return loader._parse_yaml(text, "f.yaml")
    except arch.ConfigError as exc:
        return ("error", str(exc))


def _read_python(text: str) -> tuple:
    try:
        return loader._parse_yaml_with(Yaml12Loader, text, "f.yaml")
    except arch.ConfigError as exc:
        return ("error", str(exc))


@needs_libyaml
@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab1.:-[]{},#&*!|>'\"\t \n\r%?@`~<+µ"),
               max_size=60))
def test_reading_answers_as_the_python_reader_does(text):
    assert _read(text) == _read_python(text)


@needs_libyaml
@pytest.mark.parametrize("name", arch.presets())
def test_presets_are_read_by_libyaml(name):
    assert loader.fast_loader_for(loader.preset_path(name).read_text()) is FastYaml12Loader


# -- trace.json, streamed --------------------------------------------------------------------
def _unstreamed(trace: dict) -> str:
    """trace.json as it was written before streaming: whole dict, one json.dumps per event."""
    events = ",\n".join(json.dumps(e, separators=(",", ":")) for e in trace["traceEvents"])
    head = {k: v for k, v in trace.items() if k != "traceEvents"}
    return json.dumps(head, indent=1)[:-2] + ',\n "traceEvents": [\n' + events + "\n]}\n"


@pytest.mark.parametrize("max_slices", [200_000, 300, 200, 5])  # exact, then coarser
def test_streamed_trace_is_the_unstreamed_text(tmp_path, max_slices):
    result = small_result()
    text = trace_json(result, max_slices=max_slices)
    assert text == _unstreamed(build_trace(result, max_slices=max_slices))
    assert json.loads(text) == json.loads(_unstreamed(build_trace(result,
                                                                  max_slices=max_slices)))
    if max_slices == 200_000:
        write_trace(result, tmp_path / "trace.json")
        assert (tmp_path / "trace.json").read_text() == text
