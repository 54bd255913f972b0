"""Fault injection for the crash tests: ``PEARBENCH_FAULT=<point>:<count>`` SIGKILLs the process at that point.

Points: ``sft`` (after optimizer step <count> of any SFT/pretraining loop whose description starts with "sft"),
``rl`` (after RL step <count>), ``eval`` (after <count> generation batches of an evaluation). Unset in normal use;
reading one environment variable per step costs nothing measurable.
"""

from __future__ import annotations

import os
import signal


def maybe_die(point: str, count: int) -> None:
    spec = os.environ.get("PEARBENCH_FAULT")
    if not spec:
        return
    target, _, number = spec.partition(":")
    if target == point and number.isdigit() and int(number) == count:
        os.kill(os.getpid(), signal.SIGKILL)
