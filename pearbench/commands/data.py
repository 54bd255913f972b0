"""`pearbench data` (not built yet)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("data", help="(not built yet)")
