"""Command line: a thin shell over the Python API.

Each sub-command lives in ``pearbench/commands/<name>.py`` and exposes ``add_parser(subparsers)``, which registers
its parser with ``set_defaults(func=...)``. User errors (:class:`pearbench.errors.PearbenchError`) print one line to
stderr and exit with code 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pearbench import __version__
from pearbench.errors import PearbenchError

COMMANDS = ("methods", "envs", "suites", "data", "run", "sweep", "eval", "leaderboard")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pearbench", description="Which SFT objective leaves a model best prepared for RL?")
    parser.add_argument("--version", action="version", version=f"pearbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"pearbench.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
