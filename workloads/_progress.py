"""Stage reports of long workload steps (tracing, reading ONNX), for a progress line.

The workloads code calls ``stage("export")`` as each stage starts; nothing happens unless a
caller installed a hook with ``reporting(hook)`` (the CLI passes ``accelsim.progress.Stages``,
which draws only on a terminal). A context variable, so no signature changes and no import of
``accelsim`` here (imports run one way along the pipeline).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_HOOK: ContextVar[Callable[[str], None] | None] = ContextVar("workloads_stage_hook",
                                                             default=None)


def stage(name: str) -> None:
    """Report that stage ``name`` starts (a no-op without a hook)."""
    hook = _HOOK.get()
    if hook is not None:
        hook(name)


@contextlib.contextmanager
def reporting(hook: Callable[[str], None] | None) -> Iterator[None]:
    """Send the stages of everything run inside to ``hook``."""
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)
