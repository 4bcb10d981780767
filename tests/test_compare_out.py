"""`accelsim compare --out DIR`: table, bar charts, HTML; deterministic, atomic, refused over
foreign files."""

from __future__ import annotations

import csv
import json

from accelsim.cli import main as cli_main
from accelsim.compare_out import COMPARE_FILES, CSV_COLUMNS, ROW_KEYS

ARGS = ["compare", "--workload", "gemm:197,192,64", "--arch", "vitality", "--arch", "systolic"]


def test_compare_out_writes_table_charts_and_page(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert cli_main([*ARGS, "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == sorted(COMPARE_FILES)
    with open(out / "compare.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert tuple(table[0]) == CSV_COLUMNS
    for r, t in zip(rows, table, strict=True):
        assert [t[k] for k in ("arch", "workload")] == [r["arch"], r["workload"]]
        assert int(t["cycles"]) == r["cycles"] and float(t["energy_pj"]) == r["energy_pj"]
        assert float(t["cycles_vs_first"]) == round(r["cycles"] / rows[0]["cycles"], 4)
        assert float(t["energy_vs_first"]) == round(r["energy_pj"] / rows[0]["energy_pj"], 4)
    md = (out / "compare.md").read_text().splitlines()
    assert md[2] == "| " + " | ".join(CSV_COLUMNS) + " |"
    assert len([line for line in md if line.startswith("| vitality") or
                line.startswith("| systolic")]) == 2
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "compare.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page.replace(
        "<!DOCTYPE html>", "")  # self-contained: no link out
    assert all(f"<td class=\"l\">{r['arch']}</td>" in page for r in rows)


def test_compare_out_is_byte_deterministic(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli_main([*ARGS, "--out", str(a)]) == 0
    assert cli_main([*ARGS, "--out", str(b)]) == 0
    for name in COMPARE_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    text = capsys.readouterr().out
    assert "arch" in text and "vitality" in text and not text.lstrip().startswith("[")


def test_compare_out_refuses_a_directory_with_other_files(tmp_path, capsys):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli_main([*ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt" in err
    assert (out / "notes.txt").read_text() == "mine"


def test_compare_out_replaces_its_own_directory(tmp_path):
    out = tmp_path / "cmp"
    assert cli_main([*ARGS, "--out", str(out)]) == 0
    assert cli_main([*ARGS[:-2], "--out", str(out)]) == 0  # one arch now
    with open(out / "compare.csv", newline="") as fh:
        assert [r["arch"] for r in csv.DictReader(fh)] == ["vitality"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert CSV_COLUMNS[: len(ROW_KEYS)] == ROW_KEYS
