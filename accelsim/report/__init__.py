"""Reports: they read a finished ``SimResult`` (summary + recorded intervals), never components.

``write_outputs`` replaces ``--out DIR`` as a whole: every file is produced in a staging
directory beside DIR (``.DIR.stage-PID``), then DIR is swapped for it by renames of whole
directories (the old DIR is first renamed aside, ``.DIR.old-PID``, then removed). A reader sees
the old set of files or the new one, never a mix; a failed run leaves DIR untouched. Staging
and set-aside directories of killed runs are cleaned up (an old DIR set aside by a run killed
between its two renames is put back) by the next run into the same DIR. DIR may hold only
report files: ``--out`` never deletes anything else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from safeio import dumps_strict

from ..errors import InputError
from ..result import SimResult

#: The files of ``--out DIR`` (a DIR holding anything else is refused).
REPORT_FILES = ("summary.json", "trace.json", "timeline.png", "report.html", "ops.csv",
                "layers.csv", "memory.csv")


def summary_json(result: SimResult) -> str:
    """The summary as stable, sorted-by-construction, strict JSON text (no NaN/Infinity)."""
    return dumps_strict(result.summary, indent=1) + "\n"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path) -> None:
    """Remove the staging dirs of dead runs into ``out``; restore an old ``out`` a run set
    aside and did not replace (killed between its two renames)."""
    if not out.parent.is_dir():
        return
    for p in sorted(out.parent.glob(f".{out.name}.*-*")):
        kind, _, rest = p.name.removeprefix(f".{out.name}.").partition("-")
        pid = rest.split("-")[0]
        if kind not in ("stage", "old") or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        if kind == "old" and not out.exists():
            p.rename(out)
        else:
            shutil.rmtree(p, ignore_errors=True)


def check_out(out: Path, files: Iterable[str] = REPORT_FILES,
              writer: str = "accelsim run") -> None:
    """``out`` is creatable, or a directory holding only ``files`` (what ``writer`` writes)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    if out.is_dir():
        known = set(files)
        other = sorted(p.name for p in out.iterdir() if p.name not in known)
        if other:
            raise InputError(f"--out {out}: holds other files ({', '.join(other[:3])}"
                             f"{', ...' if len(other) > 3 else ''}); give a new or empty "
                             f"directory, or one written by {writer}")


def write_outputs(result: SimResult, out_dir: str | Path) -> list[Path]:
    """Write summary.json (and the other report files) as the new ``out_dir``; returns their
    paths. An unwritable or full disk is an ``InputError`` (one line), DIR left as it was."""
    out = Path(out_dir)
    try:
        return _write(result, out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None


def _write(result: SimResult, out: Path) -> list[Path]:
    def fill(staging: Path) -> None:
        (staging / "summary.json").write_text(summary_json(result))
        for name, writer in _extra_writers():
            writer(result, staging / name)

    return replace_dir(out, check_out, fill)


def replace_dir(out: Path, check: Callable[[Path], None], fill: Callable[[Path], None],
                umask_mode: bool = False) -> list[Path]:
    """Make ``out`` a new directory of the files ``fill(staging)`` writes, all at once:
    ``check(out)`` first, the files written and synced in a staging directory beside it, the
    old ``out`` moved aside and the staging directory renamed into place, so a failure at
    any point leaves ``out`` as it was. ``umask_mode``: give the directory the umask's mode
    (the staging directory is private). Returns the new files, sorted."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    check(out)
    pid = os.getpid()
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.stage-{pid}-", dir=out.parent))
    aside = out.parent / f".{out.name}.old-{pid}"
    try:
        fill(staging)
        for f in staging.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if umask_mode:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(staging, 0o777 & ~mask)
        if out.exists():
            out.rename(aside)
        staging.rename(out)
        shutil.rmtree(aside, ignore_errors=True)
        with contextlib.suppress(OSError):  # make the renames durable
            fd = os.open(out.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return sorted(out.iterdir())
    finally:
        if aside.exists() and not out.exists():
            aside.rename(out)
        shutil.rmtree(staging, ignore_errors=True)


def _extra_writers():
    """Writers of trace.json, timeline.png, report.html and the CSV tables (see
    accelsim.report.*), in order: report.html embeds the timeline.png written before it."""
    from .html import write_html
    from .perfetto import write_trace
    from .tables import write_layers_csv, write_memory_csv, write_ops_csv
    from .timeline import write_timeline

    return [("trace.json", write_trace), ("timeline.png", write_timeline),
            ("report.html", write_html), ("ops.csv", write_ops_csv),
            ("layers.csv", write_layers_csv), ("memory.csv", write_memory_csv)]
