"""Environment throughput on one core: instances generated per second and solver-trace verifications per second.

For every registered game at every one of its levels (``--difficulty all``, the default; or one named level), this
generates instances for about ``--seconds`` and then verifies the solver traces of (up to 200 of) those instances
for about ``--seconds``, all in this one process (pinned to one CPU where the OS allows). It prints one table, a row
per game and level, flags every row below the targets (>= 100 generated/s, >= 1,000 verifications/s) and ends with
one line naming every game-level below them. At the default 0.3 s a full run takes about 0.7 s per game-level
(76 s for 114). Usage::

    python benchmarks/envs.py [--seconds 0.3] [--difficulty all|LEVEL] [--games countdown zebra ...]
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
#: verification cycles over the solver traces of at most this many of the generated instances (solving every one of
#: the thousands a fast game generates would take longer than the measurements themselves)
MAX_TRACED = 200


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
    traced = instances[:MAX_TRACED]
    traces = [game.solve(instance, style) for instance in traced]
    verified = correct = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or verified < 5:
        index = verified % len(traced)
        correct += game.verify(traced[index], traces[index]).correct
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


def game_levels(names: list[str], difficulty: str) -> list[tuple[str, str]]:
    """(game, level) pairs to measure: every level of each game for ``all``, else the named level where it exists."""
    pairs = []
    for name in names:
        levels = list(make_game(name).levels)
        if difficulty == "all":
            pairs += [(name, level) for level in levels]
        elif difficulty in levels:
            pairs.append((name, difficulty))
        else:
            print(f"skipping {name}: no level {difficulty!r} (levels: {', '.join(levels)})", file=sys.stderr)
    return pairs


def flags(row: dict[str, float | int | str]) -> list[str]:
    """What a measurement misses: the throughput targets, or a solver trace its own verifier rejects."""
    out = []
    if row["generated_per_s"] < GENERATE_TARGET:
        out.append(f"generation < {GENERATE_TARGET:g}/s")
    if row["verified_per_s"] < VERIFY_TARGET:
        out.append(f"verification < {VERIFY_TARGET:g}/s")
    if row["trace_accuracy"] < 1.0:
        out.append("solver trace rejected")
    return out


def report(rows: list[dict[str, float | int | str]]) -> str:
    """The table (a row per game and level) and the closing line naming every game-level below the targets."""
    width = max([len("game"), *(len(str(row["game"])) for row in rows)])
    header = f"{'game':<{width}} {'level':<8} {'generated/s':>12} {'verified/s':>12} {'trace ok':>9}  flags"
    lines = [header, "-" * len(header)]
    below = []
    for row in rows:
        missed = flags(row)
        if missed:
            below.append(f"{row['game']}/{row['difficulty']} ({', '.join(missed)})")
        lines.append(
            f"{row['game']:<{width}} {row['difficulty']:<8} {row['generated_per_s']:>12,.0f} "
            f"{row['verified_per_s']:>12,.0f} {row['trace_accuracy']:>9.0%}  {'; '.join(missed) or 'ok'}"
        )
    targets = f"targets (>= {GENERATE_TARGET:g} generated/s, >= {VERIFY_TARGET:,.0f} verified/s)"
    lines.append("")
    if below:
        lines.append(f"{len(below)} of {len(rows)} game-levels below the {targets}: {', '.join(below)}")
    else:
        lines.append(f"all {len(rows)} game-levels meet the {targets}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time per measurement (default 0.3)")
    parser.add_argument(
        "--difficulty", default="all", help="'all' (default: every level of every game) or one level name"
    )
    parser.add_argument("--games", nargs="*", default=None, help="games to measure (default: all registered)")
    args = parser.parse_args(argv)

    pinned = pin_to_one_core()
    names = args.games or [game_cls.name for game_cls in list_games()]
    pairs = game_levels(names, args.difficulty)
    rows = [
        measure(name, level, args.seconds)
        for name, level in tqdm(pairs, desc="game-levels", unit="level", disable=not sys.stderr.isatty())
    ]

    print(f"\nEnvironment throughput, one process ({pinned}), ~{args.seconds:g} s per measurement")
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
