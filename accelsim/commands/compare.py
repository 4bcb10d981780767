"""`accelsim compare`: one workload on several architectures, one row per architecture.

    accelsim compare --workload deit_tiny --arch vitality --arch systolic --arch sanger \
        [--json] [--out DIR]

Each row is ``{arch, workload, attention, cycles, latency_ms, energy_pj, attention_cycles,
attention_energy_pj}`` (DESIGN section 6) plus ``attention_exposed_cycles``, the headline
attention measure: per layer, the time attention adds after the QKV projection (the summary's
field of that name); the contract's span ``attention_cycles`` stays beside it. A preset runs its native attention (vitality: taylor,
systolic: softmax, sanger: sanger) unless ``--attention`` is given; the workload is traced once
per attention. ``--set`` overrides apply to every architecture. The terminal gets a table
(``--json``: the rows as JSON); ``--out DIR`` writes compare.csv, compare.md, compare.png and a
self-contained compare.html (``accelsim.compare_out``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from accelsim.compare_out import RATIO_COLUMNS, ROW_KEYS
from accelsim.errors import InputError
from safeio import dumps_strict

from ._options import ARCH_HELP, WORKLOAD_HELP, add_model_options, add_set_option, load_workload

__all__ = ["ROW_KEYS", "compare", "format_table"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workload", required=True, help=WORKLOAD_HELP)
    parser.add_argument("--arch", action="append", required=True, metavar="ARCH",
                        help=ARCH_HELP + " (repeat for each architecture)")
    add_model_options(parser, "attention variant for every arch (default: each one's native: "
                              "vitality taylor, systolic softmax, sanger sanger)")
    add_set_option(parser, "every architecture")
    parser.add_argument("--json", action="store_true",
                        help="print the rows as a JSON list (cycles, latency_ms, energy_pj, "
                             "attention_exposed_cycles, attention_cycles, "
                             "attention_energy_pj)")
    parser.add_argument("--out", metavar="DIR",
                        help="write compare.csv, compare.md, compare.png (bar charts) and a "
                             "self-contained compare.html here (DIR is replaced as a whole)")


def compare(workload: str, archs: list[str], *, attention: str | None = None,
            img_size: int | None = None, overrides: list[str] | tuple[str, ...] = (),
            attention_options: dict | None = None,
            extra_keys: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Simulate ``workload`` on every architecture of ``archs``; one row each (``ROW_KEYS``,
    then any ``extra_keys`` of the summary, e.g. ``dram_bytes``).

    Raises the loaders' input errors (``ConfigError``, ``WorkloadError``, ``InputError``)."""
    from accelsim.api import simulate
    from arch import load as load_arch
    from arch import native_attention

    graphs: dict[str, Any] = {}
    rows = []
    for spec in archs:
        arch = load_arch(spec, overrides=overrides)
        att = attention or native_attention(arch)
        if att not in graphs:
            graphs[att] = load_workload(workload, attention=attention, img_size=img_size,
                                        default_attention=att,
                                        attention_options=attention_options)
        graph = graphs[att]
        s = simulate(arch, graph, keep_intervals=False).summary
        rows.append({
            "arch": spec,
            "workload": s["workload"],
            "attention": graph.meta.get("attention"),
            "cycles": s["cycles"],
            "latency_ms": s["latency_ms"],
            "energy_pj": s["energy_pj"],
            "attention_exposed_cycles": s["attention_exposed_cycles"],
            "attention_cycles": s["attention_cycles"],
            "attention_energy_pj": s["attention_energy_pj"],
        } | {key: s[key] for key in extra_keys})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A terminal table: end to end, then attention (exposed first, the span beside it), then
    each row's ratio to the first on cycles, energy, exposed attention and the span."""
    head = ("arch", "attention", "cycles", "latency ms", "energy uJ", "attn exposed",
            "attn span", "attn energy uJ", "time vs 1st", "energy vs 1st", "exposed vs 1st",
            "span vs 1st")
    base = rows[0] if rows else {}

    def vs_first(r: dict[str, Any], key: str) -> str:
        return f"{r[key] / base[key]:.2f}x" if base.get(key) else "-"

    body = []
    for r in rows:
        body.append((
            r["arch"], str(r["attention"] or "-"), f"{r['cycles']:,}", f"{r['latency_ms']:.4f}",
            f"{r['energy_pj'] / 1e6:,.2f}", f"{r['attention_exposed_cycles']:,}",
            f"{r['attention_cycles']:,}", f"{r['attention_energy_pj'] / 1e6:,.2f}",
            *(vs_first(r, k) for k in RATIO_COLUMNS.values()),
        ))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = [f"workload: {rows[0]['workload']}" if rows else "no rows"]
    lines.append("  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                           for i, (h, w) in enumerate(zip(head, widths, strict=True))))
    for b in body:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(b, widths, strict=True))))
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from accelsim.compare_out import check_compare_out, write_compare

    if args.out is not None:
        if not args.out:
            raise InputError("--out: empty directory name")
        check_compare_out(Path(args.out))
    rows = compare(args.workload, args.arch, attention=args.attention, img_size=args.img_size,
                   overrides=args.set)
    if args.out:
        write_compare(rows, args.out)
    if args.json:
        sys.stdout.write(dumps_strict(rows) + "\n")
    else:
        print(format_table(rows))
        if args.out:
            print(f"  wrote {args.out}/ (compare.csv, compare.md, compare.png, compare.html)")
    return 0
