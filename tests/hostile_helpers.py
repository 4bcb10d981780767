"""Helpers of test_hostile*.py that spawned worker processes import by module name."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class FakeTask:
    id: str


def crashing_point(task: FakeTask) -> dict:
    """A point function whose process dies (SIGKILL) on tasks named ``die*``."""
    if task.id.startswith("die"):
        os.kill(os.getpid(), signal.SIGKILL)
    return {"id": task.id, "status": "ok", "error": "", "metrics": {}}


def children_of(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
