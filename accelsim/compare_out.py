"""``accelsim compare --out DIR``: the comparison as files (no torch, no network).

* ``compare.csv``: one row per architecture, the JSON row keys (``ROW_KEYS``) then the ratios
  to the first row (``RATIO_COLUMNS``): end to end (cycles, energy) and attention, exposed
  first (the critical-path time attention adds after the QKV projection), then the span;
* ``compare.md``: the same table in Markdown;
* ``compare.png``: bar charts of latency and energy per architecture, the attention share
  darker (of the latency: the exposed attention cycles); deterministic: fixed size, no
  timestamp or software metadata;
* ``compare.html``: one self-contained page (the table, the PNG inlined as base64).

DIR is replaced as a whole, like ``run --out``: the files are written into a staging directory
beside it, fsynced, and swapped in by directory renames; DIR may hold only these files.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import Any

from .errors import InputError

COMPARE_FILES = ("compare.csv", "compare.md", "compare.png", "compare.html")
#: The JSON row of one architecture: DESIGN section 6's keys plus ``attention_exposed_cycles``
#: (the headline attention measure), placed before the contract's span ``attention_cycles``.
ROW_KEYS = ("arch", "workload", "attention", "cycles", "latency_ms", "energy_pj",
            "attention_exposed_cycles", "attention_cycles", "attention_energy_pj")
#: ``{column: row key}``: each a ratio of a row's value to the first row's.
RATIO_COLUMNS = {"cycles_vs_first": "cycles", "energy_vs_first": "energy_pj",
                 "attention_exposed_vs_first": "attention_exposed_cycles",
                 "attention_cycles_vs_first": "attention_cycles"}
CSV_COLUMNS = (*ROW_KEYS, *RATIO_COLUMNS)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.4f}" if b else ""


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """The CSV cells of each row (``CSV_COLUMNS``), as text."""
    base = rows[0] if rows else {}
    out = []
    for r in rows:
        cells = ["" if r[k] is None else str(r[k]) for k in ROW_KEYS]
        cells += [_ratio(r[k], base.get(k, 0)) for k in RATIO_COLUMNS.values()]
        out.append(cells)
    return out


def render_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(table_rows(rows))
    return buf.getvalue()


def render_md(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(CSV_COLUMNS) + " |"
    sep = "|" + "|".join("---" if i < 3 else "---:" for i in range(len(CSV_COLUMNS))) + "|"
    body = ["| " + " | ".join(c.replace("|", "\\|") or "-" for c in cells) + " |"
            for cells in table_rows(rows)]
    title = f"# accelsim compare: {rows[0]['workload']}\n\n" if rows else ""
    return title + "\n".join([head, sep, *body]) + "\n"


def render_png(rows: list[dict[str, Any]]) -> bytes:
    """Latency (ms) and energy (uJ) per architecture; the attention part of each bar darker."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [str(r["arch"]) for r in rows]
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=(9, 3.6), dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2)
        y = list(range(len(rows)))[::-1]
        for ax, key, att_key, scale, unit in (
                (axes[0], "latency_ms", "attention_exposed_cycles", 1.0, "latency (ms)"),
                (axes[1], "energy_pj", "attention_energy_pj", 1e6, "energy (µJ)")):
            total = [r[key] / scale for r in rows]
            if key == "latency_ms":  # exposed attention's share of the latency, by cycles
                att = [t * (r[att_key] / r["cycles"] if r["cycles"] else 0.0)
                       for t, r in zip(total, rows, strict=True)]
            else:
                att = [r[att_key] / scale for r in rows]
            ax.barh(y, total, color="#9db8d9", height=0.6, label="total")
            ax.barh(y, att, color="#3f6ea8", height=0.6,
                    label="attention (latency: exposed)")
            vmax = max(total, default=1.0) or 1.0
            for yi, t in zip(y, total, strict=True):
                ax.text(t + vmax * 0.01, yi, f"{t:.4g}", va="center", fontsize=8)
            ax.set_yticks(y, names, fontsize=8)
            ax.set_xlim(0, vmax * 1.25)
            ax.set_xlabel(unit)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncol=2,
                   fontsize=7, frameon=False)
        workload = rows[0]["workload"] if rows else ""
        fig.suptitle(f"{workload}: latency and energy per architecture", fontsize=11)
        fig.subplots_adjust(left=0.15, right=0.97, wspace=0.55, bottom=0.16, top=0.84)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def render_html(rows: list[dict[str, Any]], png: bytes) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in CSV_COLUMNS)
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < 3 else "r"}">{esc(c) or "-"}</td>'
                                    for i, c in enumerate(cells)) + "</tr>\n"
                   for cells in table_rows(rows))
    workload = esc(str(rows[0]["workload"])) if rows else ""
    img = base64.b64encode(png).decode()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>accelsim compare: {workload}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse}}th,td{{padding:3px 8px;border-bottom:1px solid #ddd}}
th{{text-align:left;background:#f3f3f3}}td.r{{text-align:right;font-variant-numeric:tabular-nums}}
img{{max-width:100%}}</style></head><body>
<h1>accelsim compare: {workload}</h1>
<p>One row per architecture; <code>*_vs_first</code> are ratios to the first row.
<code>attention_exposed_cycles</code>: the time attention adds after the QKV projection (the
headline); <code>attention_cycles</code>: the span from the first attention op to the last.
The attention part of each bar is darker (of the latency: the exposed cycles).</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}</tbody></table>
<p><img alt="latency and energy per architecture" src="data:image/png;base64,{img}"></p>
</body></html>
"""


def check_compare_out(out: Path) -> None:
    """``out`` is creatable, or a directory holding only what ``accelsim compare`` writes."""
    from .report import check_out

    check_out(out, COMPARE_FILES, "accelsim compare")


def write_compare(rows: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``COMPARE_FILES`` as the new ``out_dir`` (see the module docstring)."""
    out = Path(out_dir)
    try:
        return _write(rows, out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None


def _write(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    from .report import replace_dir

    def fill(staging: Path) -> None:
        png = render_png(rows)
        files = {"compare.csv": render_csv(rows).encode(), "compare.md": render_md(rows).encode(),
                 "compare.png": png, "compare.html": render_html(rows, png).encode()}
        for name, data in files.items():
            (staging / name).write_bytes(data)

    return replace_dir(out, check_compare_out, fill, umask_mode=True)


