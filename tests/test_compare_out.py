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


def test_compare_shows_exposed_attention_first_with_the_span_and_ratios(tmp_path, capsys):
    """The terminal table and compare.csv print the summary's ``attention_exposed_cycles``
    (the headline) before the span ``attention_cycles``, with each row's ratio to the first on
    both; on vitality the two differ, so a swapped column cannot pass."""
    import arch
    from accelsim.api import simulate
    from workloads import resolve

    archs = {"vitality": "taylor", "systolic_iso": "softmax"}
    ref = {a: simulate(arch.load(a), resolve("deit_tiny", attention=att),
                       keep_intervals=False).summary for a, att in archs.items()}
    assert ref["vitality"]["attention_exposed_cycles"] != ref["vitality"]["attention_cycles"]
    out = tmp_path / "cmp"
    argv = ["compare", "--workload", "deit_tiny", *(x for a in archs for x in ("--arch", a))]
    assert cli_main([*argv, "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = lines[1].split()
    exposed, span = head.index("exposed"), head.index("span")  # "attn exposed", "attn span"
    assert exposed < span
    first = ref["vitality"]
    for line in lines[2:2 + len(archs)]:
        cells = line.split()
        s = ref[cells[0]]
        # header words: arch attention cycles latency ms energy uJ attn exposed attn span ...
        assert cells[5] == f"{s['attention_exposed_cycles']:,}"
        assert cells[6] == f"{s['attention_cycles']:,}"
        assert cells[-2:] == [
            f"{s['attention_exposed_cycles'] / first['attention_exposed_cycles']:.2f}x",
            f"{s['attention_cycles'] / first['attention_cycles']:.2f}x"]
    with open(out / "compare.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    cols = list(table[0])
    assert cols.index("attention_exposed_cycles") < cols.index("attention_cycles")
    for t in table:
        s = ref[t["arch"]]
        assert int(t["attention_exposed_cycles"]) == s["attention_exposed_cycles"]
        assert int(t["attention_cycles"]) == s["attention_cycles"]
        assert float(t["attention_exposed_vs_first"]) == round(
            s["attention_exposed_cycles"] / first["attention_exposed_cycles"], 4)
        assert float(t["attention_cycles_vs_first"]) == round(
            s["attention_cycles"] / first["attention_cycles"], 4)
    assert f"<td class=\"r\">{first['attention_exposed_cycles']}</td>" in (
        out / "compare.html").read_text()
