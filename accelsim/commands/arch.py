"""`accelsim arch`: not implemented yet (see the issue tracker)."""

from __future__ import annotations

import argparse

from accelsim.errors import InputError


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def handle(args: argparse.Namespace) -> int:
    raise InputError("'accelsim arch' is not implemented yet")
