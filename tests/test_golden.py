"""Simulated results stay byte-identical: summaries of the presets and examples against stored
ones (tests/golden/cases.py says what is compared and how to regenerate on purpose)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from cases import CASES, read, summary_text


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_summary_is_unchanged(case):
    name, arch_spec, overrides, workload, attention = case
    want = read(name)
    got = summary_text(arch_spec, overrides, workload, attention)
    if got != want:
        diff = "".join(list(difflib.unified_diff(
            want.splitlines(True), got.splitlines(True), "stored", "now", n=1))[:60])
        pytest.fail(f"{name}: summary changed (python tests/golden/update.py if meant):\n{diff}")


def test_out_files_are_unchanged(tmp_path, capsys):
    import json

    from cases import OUT_DIGESTS, out_digests

    got = out_digests(tmp_path / "out")
    capsys.readouterr()
    assert got == json.loads(OUT_DIGESTS.read_text())
