"""Reports: they read a finished ``SimResult`` (summary + recorded intervals), never components.

``write_outputs`` writes every file of ``--out DIR`` atomically: all files are produced in a
temporary directory beside DIR, then moved into place, so a failed run leaves DIR untouched.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..result import SimResult


def summary_json(result: SimResult) -> str:
    """The summary as stable, sorted-by-construction JSON text."""
    return json.dumps(result.summary, indent=1) + "\n"


def write_outputs(result: SimResult, out_dir: str | Path) -> list[Path]:
    """Write summary.json (and the other report files) into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / "summary.json").write_text(summary_json(result))
        for name, writer in _extra_writers():
            writer(result, staging / name)
        out.mkdir(exist_ok=True)
        written = []
        for f in sorted(staging.iterdir()):
            target = out / f.name
            f.replace(target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extra_writers():
    """Writers of trace.json, timeline.png and report.html (see accelsim.report.*), in order:
    report.html embeds the timeline.png written before it."""
    from .html import write_html
    from .perfetto import write_trace
    from .timeline import write_timeline

    return [("trace.json", write_trace), ("timeline.png", write_timeline),
            ("report.html", write_html)]
