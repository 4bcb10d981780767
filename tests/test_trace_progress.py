"""Tracing progress: stages on stderr when it is a terminal, nothing otherwise."""

from __future__ import annotations

import io
import json
import sys

import pytest

from accelsim.cli import main as cli_main
from accelsim.progress import Stages
from workloads._progress import reporting, stage


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stages_draw_each_stage_and_end_with_their_times():
    out = FakeTTY()
    with Stages("workload m", stream=out) as st, reporting(st):
        stage("build model")
        stage("export")
    lines = out.getvalue().split("\r")
    assert lines[1].startswith("workload m: build model ...")
    assert lines[2].startswith("workload m: export ...  (build model ")
    assert lines[-1].startswith("workload m: build model ") and ", export " in lines[-1]
    assert out.getvalue().endswith("\n")
    stage("ignored")  # no hook outside ``reporting``: nothing happens


def test_stages_are_silent_when_not_a_terminal():
    out = io.StringIO()
    with Stages("workload m", stream=out) as st, reporting(st):
        stage("export")
    assert out.getvalue() == ""
    tty = FakeTTY()
    with Stages("unused", stream=tty):
        pass
    assert tty.getvalue() == ""  # nothing started (a cache hit): nothing drawn


def test_trace_prints_no_progress_when_stderr_is_not_a_tty(capsys):
    assert cli_main(["trace", "vit_digits", "--no-cache", "--json"]) == 0
    cap = capsys.readouterr()
    assert cap.err == ""
    assert json.loads(cap.out)["macs"] > 0


def test_trace_shows_its_stages_on_a_terminal(capsys, monkeypatch):
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli_main(["trace", "vit_digits", "--no-cache", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["macs"] > 0  # stdout untouched
    final = tty.getvalue().split("\r")[-1]
    for name in ("import torch", "build model", "export", "convert"):
        assert f"{name} " in final, name
    assert final.endswith(" s\x1b[K\n")


def test_onnx_stages(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnx", reason="onnx is not installed: pip install -e '.[onnx]'")
    from test_onnx import attention_block, save

    path = save(attention_block(), tmp_path / "b.onnx")
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert cli_main(["trace", str(path), "--json"]) == 0
    final = tty.getvalue().split("\r")[-1]
    assert "read and check" in final and "shape inference" in final and "convert" in final
