"""Command line: a thin shell over the Python API.

Each sub-command lives in ``pearbench/commands/<name>.py`` and exposes ``add_parser(subparsers)``, which registers
its parser with ``set_defaults(func=...)``. User errors (:class:`pearbench.errors.PearbenchError`) print one line to
stderr and exit with code 2, no traceback. ``-v`` / ``-q`` (before or after the sub-command) set the level of the
``pearbench`` logger that carries the progress lines: DEBUG / WARNING instead of INFO (:mod:`pearbench.logs`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pearbench import __version__
from pearbench.errors import PearbenchError
from pearbench.logs import setup_logging

COMMANDS = ("methods", "envs", "suites", "data", "run", "sweep", "eval", "leaderboard")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pearbench", description="Which SFT objective leaves a model best prepared for RL?")
    parser.add_argument("--version", action="version", version=f"pearbench {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log lines (DEBUG); also after the command"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="only warnings and errors on stderr (no progress lines); also after the command",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"pearbench.commands.{name}")
        module.add_parser(subparsers)
    return parser


#: -v / -q given after the sub-command: verbosity step of each
_VERBOSITY = {"-v": 1, "--verbose": 1, "-vv": 2, "-q": -1, "--quiet": -1}


def split_verbosity(argv: Sequence[str]) -> tuple[list[str], int]:
    """``argv`` without the -v/-q flags that follow the sub-command (up to a ``--``), and their verbosity sum."""
    argv = list(argv)
    command = next((i for i, token in enumerate(argv) if token in COMMANDS), None)
    if command is None:
        return argv, 0
    kept, level = argv[: command + 1], 0
    for index in range(command + 1, len(argv)):
        token = argv[index]
        if token == "--":
            kept.extend(argv[index:])
            break
        if token in _VERBOSITY:
            level += _VERBOSITY[token]
        else:
            kept.append(token)
    return kept, level


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv, after = split_verbosity(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    setup_logging(args.verbose - args.quiet + after)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except PearbenchError as exc:
        print(f"pearbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pearbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pearbench envs list | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
