"""`pearbench run` (not built yet)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("run", help="(not built yet)")
