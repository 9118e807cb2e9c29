"""The `rayground` command line (also `python -m rayground`).

    rayground start --head [options]   start a cluster on this machine that outlives this command
    rayground stop                     stop the clusters `rayground start` started on this machine
    rayground status                   nodes, resources used/total, tasks by state, object store
    rayground memory                   objects in the store and what holds each (like `ray memory`)
    rayground list tasks|actors|objects|nodes|workers|jobs [--filter key=value ...]
    rayground timeline [-o FILE]       Chrome-trace JSON of recent tasks (as `ray timeline`)
    rayground demo                     a two-minute headless tour of the runtime
    rayground course [DIR]             copy the course into DIR and open JupyterLab there
    rayground serve run|status|shutdown  Serve applications (see rayground/serve/cli.py)

One module per command, each registering its own parser: start.py, stop.py, state.py (the
commands that read state: status, memory, list, timeline), demo.py, course.py; args.py has the
argument types and `UsageError`, output.py the printing helpers.

Commands that only read state connect as an *observer*: they create no job and change nothing.
A mistake (a wrong flag, an address with nothing there) is reported in one line, never a
traceback; set RAYGROUND_DEBUG=1 to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import course, demo, start, state, stop
from .args import UsageError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, naming the command and where to read more, instead of usage + error.
        print(f"{self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rayground",
        description="Start, stop and inspect rayground clusters.",
        epilog="`rayground COMMAND --help` explains each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = sub.choices  # type: ignore[attr-defined]
    # Each command's module registers its own parser (and its function as `func`); this order
    # is the order of `rayground --help`.
    start.add_parser(sub)
    stop.add_parser(sub)
    state.add_parsers(sub)
    demo.add_parser(sub)
    course.add_parser(sub)

    from ..serve.cli import add_parser as add_serve_parser

    add_serve_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the command whose flags were wrong, not just "rayground"
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    from rayground import exceptions

    try:
        code = args.func(args)
    except UsageError as exc:
        print(f"rayground {args.command}: {exc}", file=sys.stderr)
        code = 2
    except (ConnectionError, TimeoutError, exceptions.RayError, RuntimeError, OSError) as exc:
        if os.environ.get("RAYGROUND_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"rayground {args.command}: {first}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
