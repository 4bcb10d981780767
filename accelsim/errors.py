"""Errors the `accelsim` CLI reports as bad input (exit 2, one line, no traceback).

Each pipeline package owns its own input-error class (``arch.ConfigError``,
``workloads.WorkloadError``, ``accelsim.errors.InputError``) so imports stay one-way; the CLI
collects them in ``input_error_types``.
"""

from __future__ import annotations


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
