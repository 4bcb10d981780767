"""The `accelsim` command line (contract: DESIGN.md section 6).

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error.
Each subcommand lives in ``accelsim.commands.<name>`` with ``add_parser`` and ``handle``; modules
are imported lazily so that ``accelsim run`` on a saved graph never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings

from .errors import input_error_types

#: Subcommand name -> (module under accelsim.commands, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "trace": ("trace", "trace a PyTorch model into an operator graph (JSON)"),
    "run": ("run", "simulate a workload on an architecture and write its report"),
    "arch": ("arch", "list, show, validate architectures; print the JSON Schema"),
    "compare": ("compare", "run one workload on several architectures side by side"),
    "sweep": ("sweep", "run a design-space sweep on a local pool or a Dask cluster"),
    "validate": ("validate", "cross-checks and the paper comparison into out/validation "
                             "(--update-docs: docs/validation.md)"),
}


class UsageError(Exception):
    """Raised by the parser instead of printing a multi-line usage block."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> Parser:
    parser = Parser(prog="accelsim", description="Vision-Transformer accelerator simulator.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        _command_module(module).add_parser(p)
    return parser


def _command_module(module: str):
    return importlib.import_module(f"accelsim.commands.{module}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings (an architecture field without effect, ...) as one ``accelsim:
    warning:`` line, not Python's two lines pointing into pydantic; others as Python shows
    them."""
    if category.__module__.split(".")[0] in ("arch", "accelsim", "workloads", "safeio"):
        print(f"accelsim: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    saved, warnings.showwarning = warnings.showwarning, _show_warning
    errors = input_error_types()
    try:
        args = build_parser().parse_args(argv)
        return int(_command_module(args._module).handle(args) or 0)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except errors as exc:
        print(f"accelsim: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130
    except Exception:  # an internal error: keep the traceback, it is a bug report
        traceback.print_exc()
        return 1
    finally:  # main() is also called in-process (tests, notebooks): leave warnings as found
        warnings.showwarning = saved


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
