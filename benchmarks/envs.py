"""Environment throughput on one core: instances generated per second and solver-trace verifications per second.

For every registered game, at its easiest level (the first in ``levels``) by default, this generates instances for
about ``--seconds`` and then verifies the solver traces of those instances for about ``--seconds``, all in this one
process (pinned to one CPU where the OS allows). It prints one table and flags every game below the targets
(>= 100 generated/s, >= 1,000 verifications/s). Usage::

    python benchmarks/envs.py [--seconds 1.0] [--difficulty LEVEL] [--games countdown zebra ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tqdm.auto import tqdm

import pearbench  # noqa: F401 - registers the bundled games
from pearbench.registry import list_games, make_game

GENERATE_TARGET = 100.0
VERIFY_TARGET = 1_000.0


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "not pinned (no sched_setaffinity)"


def measure(name: str, difficulty: str | None, seconds: float) -> dict[str, float | int | str]:
    game = make_game(name, difficulty=difficulty)
    instances = []
    start = time.perf_counter()
    seed = 0
    while time.perf_counter() - start < seconds or len(instances) < 5:
        instances.append(game.generate(seed))
        seed += 1
    generate_rate = len(instances) / (time.perf_counter() - start)
    style = game.trace_styles[0]
    traces = [game.solve(instance, style) for instance in instances]
    verified = correct = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or verified < 5:
        index = verified % len(instances)
        correct += game.verify(instances[index], traces[index]).correct
        verified += 1
    verify_rate = verified / (time.perf_counter() - start)
    return {
        "game": name,
        "difficulty": game.difficulty,
        "generated_per_s": generate_rate,
        "verified_per_s": verify_rate,
        "trace_accuracy": correct / verified,
        "instances": len(instances),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1.0)")
    parser.add_argument("--difficulty", default=None, help="level to measure (default: each game's easiest)")
    parser.add_argument("--games", nargs="*", default=None, help="games to measure (default: all registered)")
    args = parser.parse_args(argv)

    pinned = pin_to_one_core()
    names = args.games or [game_cls.name for game_cls in list_games()]
    rows = []
    for name in tqdm(names, desc="games", unit="game"):
        difficulty = args.difficulty or next(iter(make_game(name).levels))
        rows.append(measure(name, difficulty, args.seconds))

    print(f"\nEnvironment throughput, one process ({pinned}), ~{args.seconds:g} s per measurement")
    header = f"{'game':<18} {'level':<8} {'generated/s':>12} {'verified/s':>12} {'trace ok':>9}  flags"
    print(header)
    print("-" * len(header))
    slow = 0
    for row in rows:
        flags = []
        if row["generated_per_s"] < GENERATE_TARGET:
            flags.append(f"generation < {GENERATE_TARGET:g}/s")
        if row["verified_per_s"] < VERIFY_TARGET:
            flags.append(f"verification < {VERIFY_TARGET:g}/s")
        if row["trace_accuracy"] < 1.0:
            flags.append("solver trace rejected")
        slow += bool(flags)
        print(
            f"{row['game']:<18} {row['difficulty']:<8} {row['generated_per_s']:>12,.0f} "
            f"{row['verified_per_s']:>12,.0f} {row['trace_accuracy']:>9.0%}  {'; '.join(flags) or 'ok'}"
        )
    print(f"\n{slow} of {len(rows)} games flagged (targets: >= {GENERATE_TARGET:g} generated/s, "
          f">= {VERIFY_TARGET:g} verified/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
