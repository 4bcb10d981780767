"""Errors the `accelsim` CLI reports as bad input (exit 2, one line, no traceback).

Each pipeline package owns its own input-error class (``arch.ConfigError``,
``workloads.WorkloadError``, ``accelsim.errors.InputError``) so imports stay one-way; the CLI
collects them in ``input_error_types``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plan import Plan


class InputError(ValueError):
    """Bad user input detected by the engine or the CLI (unknown name, malformed option...)."""


class DeadlockError(InputError):
    """The simulation cannot make progress; the message names the blocked components."""


def input_error_types() -> tuple[type[BaseException], ...]:
    """All exception classes that mean "bad input" anywhere in the pipeline."""
    from arch.errors import ConfigError
    from safeio import InputFileError, LimitError
    from workloads.errors import WorkloadError

    return (InputError, ConfigError, WorkloadError, InputFileError, LimitError)


def deadlock_message(plan: Plan, done: list[int], pending: list[int], block_in: list[bool],
                     out_granted: list[bool]) -> str:
    """``simulation deadlocked; blocked: chunk0.pe (op 'gemm', waiting for producer tiles);
    ...``: each unit instance's first unfinished tile and what it waits for (``block_in``:
    whether each weight block has arrived, or started to, as the loader waits for it)."""
    blocked = []
    for inst, queue in plan.queues.items():
        waiting = [ti for ti in queue if done[ti] < 0]
        if not waiting:
            continue
        ti = waiting[0]
        t = plan.tiles[ti]
        why = ("producer tiles" if pending[ti] else
               "weights" if t.weight_block >= 0 and not block_in[t.weight_block]
               else "buffer room" if not out_granted[t.op] else "operands")
        blocked.append(f"{inst} (op {plan.ops[t.op].name!r}, waiting for {why})")
    return "simulation deadlocked; blocked: " + "; ".join(blocked)
