"""``results.csv``: one row per design point, appended as points finish, safe to kill.

* Appends are one complete line per ``os.write`` on an ``O_APPEND`` descriptor, followed by
  ``fsync``: a killed sweep leaves at most one partial line, at the end of the file.
* Reading ignores a trailing partial line (no final newline) and keeps the last row of each ID,
  so a point rerun after an error replaces its error row.
* Every rewrite (a new header on resume, the sorted file at the end) re-reads the file from
  disk (never from rows held in memory) and goes through a temporary file in the same
  directory, ``fsync`` and a rename: the file is never half-written and no row is lost.
* ``OutLock``: one sweep at a time writes a directory; a second one exits 2 at once.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import os
from pathlib import Path
from typing import Any

from workloads.ir import write_atomic

Row = dict[str, str]


def cell(value: Any) -> str:
    """The CSV text of a value: numbers in their shortest exact form, lists/dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value) if not isinstance(value, float) else repr(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _line(columns: list[str], row: Row) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([row.get(c, "") for c in columns])
    return buf.getvalue()


def read(path: Path) -> tuple[list[str], dict[str, Row]]:
    """``(header, {id: row})`` of a results file (empty if it does not exist)."""
    from accelsim.errors import InputError
    from safeio import read_bytes

    if not os.path.lexists(path):
        return [], {}
    data = read_bytes(path, "sweep results", InputError)  # a regular file, under the cap
    data = data[: data.rfind(b"\n") + 1]  # drop a partial last line left by a kill
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    header = next(reader, [])
    rows: dict[str, Row] = {}
    for values in reader:
        if len(values) != len(header):
            continue  # not a row this code wrote (a hand edit): ignore it rather than guess
        row = dict(zip(header, values, strict=True))
        if row.get("id"):
            rows.pop(row["id"], None)  # re-insert: the last row of an ID wins, in file order
            rows[row["id"]] = row
    return header, rows


class ResultsFile:
    """The results of one sweep directory; ``columns`` are this sweep's columns."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns = Path(path), list(columns)
        header, self.rows = read(self.path)
        # Columns of an earlier spec's rows are kept, after this spec's own.
        self.columns += [c for c in header if c not in self.columns]
        self._fd: int | None = None
        if header != self.columns or self._has_partial_line():
            self.rewrite()

    def _has_partial_line(self) -> bool:
        try:
            with self.path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                return f.read(1) != b"\n"
        except OSError:  # missing or empty
            return False

    def done(self) -> set[str]:
        """IDs of the points recorded with status ok (skipped on resume)."""
        return {i for i, r in self.rows.items() if r.get("status") == "ok"}

    def rewrite(self) -> None:
        """Write every row of the file on disk sorted by ID under the full header
        (atomically)."""
        self.close()
        header, self.rows = read(self.path)
        self.columns += [c for c in header if c not in self.columns]
        text = _line(self.columns, dict(zip(self.columns, self.columns, strict=True)))
        text += "".join(_line(self.columns, self.rows[i]) for i in sorted(self.rows))
        write_atomic(self.path, text)

    def append(self, row: Row) -> None:
        """Append one row as one complete line, durable on return."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = _line(self.columns, row).encode()
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)
        self.rows.pop(row["id"], None)
        self.rows[row["id"]] = row

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class OutLock:
    """An exclusive ``flock`` on ``DIR/.sweep.lock`` for the life of a sweep (released by the
    kernel when the process dies, so a killed sweep never leaves a stale lock)."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / ".sweep.lock"
        self._fd: int | None = None

    def __enter__(self) -> OutLock:
        from accelsim.errors import InputError

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"--out {self.path.parent}: cannot write "
                             f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(f"--out {self.path.parent}: another sweep is writing this "
                                 "directory; wait for it to finish or use another --out") from None
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
