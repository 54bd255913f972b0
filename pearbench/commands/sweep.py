"""`pearbench sweep` (not built yet)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("sweep", help="(not built yet)")
