"""`pearbench envs`: list the registered environments by category, show one, sample instances with solver traces, or
write the games reference (docs/games.md).

A thin shell over :mod:`pearbench.envs.catalog` (``env_rows``, ``rows_by_category``, ``level_configs``,
``sample_env``, ``games_markdown``), which a notebook can call directly; this module only formats.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from pearbench.envs.base import CATEGORIES
from pearbench.envs.catalog import game_category, level_configs, rows_by_category, sample_env
from pearbench.errors import PearbenchError
from pearbench.registry import get_game_class


def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
        for line in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def env_table() -> str:
    """Every environment, one block per category (fixed order, the game count in each heading), with its gym id,
    family (the game's subtitle), difficulty levels and whether several answers are accepted."""
    groups = rows_by_category()
    header = ["gym id", "family", "difficulty levels", "multiple solutions"]
    cells = {
        row["gym_id"]: [
            row["gym_id"],
            row["family"],
            "/".join(row["levels"]),
            "yes" if row["multiple_solutions"] else "no",
        ]
        for rows in groups.values()
        for row in rows
    }
    # one set of column widths for the whole listing, so the blocks line up under the header
    table = format_table(list(cells.values()), header).splitlines() if cells else [" ".join(header)]
    lines_of = dict(zip(cells, table[2:]))
    total = sum(len(rows) for rows in groups.values())
    lines = [
        f"{total} environments in {len(CATEGORIES)} categories",
        "",
        *("  " + line for line in table[:2]),
    ]
    for category, rows in groups.items():
        lines += ["", f"{category} ({len(rows)} {'game' if len(rows) == 1 else 'games'})"]
        lines += [f"  {lines_of[row['gym_id']]}" for row in rows] or ["  (none)"]
    return "\n".join(lines)


def describe_env(env_id: str) -> str:
    """Description, knobs and their defaults per level, trace styles, and an example prompt (seed 0)."""
    game_cls = get_game_class(env_id)
    defaults = {f.name: f.default for f in dataclasses.fields(game_cls.Config)}
    configs = level_configs(env_id)
    levels = list(game_cls.levels)
    rows = [
        [knob, repr(default), *(repr(configs[level][knob]) for level in levels)]
        for knob, default in defaults.items()
    ]
    game = game_cls()
    instance = game.generate(0)
    parts = [
        f"{game_cls.gym_id()}  (name: {game_cls.name}, category: {game_category(game_cls)}, "
        f"family: {game_cls.family})",
        game_cls.description,
        f"multiple solutions: {'yes' if game_cls.multiple_solutions else 'no'}; "
        f"default difficulty: {game_cls.default_difficulty}",
        "",
        "Knobs (gymnasium.make keyword arguments) and their value per level:",
        format_table(rows, ["knob", "default", *levels]),
        "",
        f"Trace styles: {', '.join(game_cls.trace_styles)}",
        "",
        f"Example prompt ({game.difficulty}, seed 0):",
        game.prompt(instance),
        "",
        "Compact prompt:",
        game.compact_prompt(instance).rstrip("\n"),
    ]
    return "\n".join(parts)


def format_samples(samples: list[dict[str, Any]]) -> str:
    blocks = []
    for sample in samples:
        verdict = sample["verdict"]
        status = "correct" if verdict.correct else "WRONG"
        if verdict.error:
            status = f"error: {verdict.error}"
        blocks.append(
            "\n".join(
                [
                    f"=== {sample['id']} (seed {sample['seed']}, {sample['difficulty']}) ===",
                    "--- prompt ---",
                    sample["prompt"].rstrip("\n"),
                    "--- solver trace ---",
                    sample["trace"],
                    "--- gold answer ---",
                    sample["gold"],
                    f"--- verdict on the trace: {status} (reward {verdict.reward}) ---",
                ]
            )
        )
    return "\n\n".join(blocks)


def _list(args: argparse.Namespace) -> int:
    if args.reasoning_gym:
        from pearbench.envs.rg_adapter import register_reasoning_gym

        register_reasoning_gym()
    print(env_table())
    return 0


def _show(args: argparse.Namespace) -> int:
    print(describe_env(args.env_id))
    return 0


def write_docs(out: str | None = None) -> str:
    """The games reference as Markdown (:func:`pearbench.envs.catalog.games_markdown`); written to ``out`` when given.

    Refuses an ``out`` that is a directory (:class:`PearbenchError`)."""
    from pearbench.envs.catalog import games_markdown

    if out is not None and Path(out).is_dir():
        raise PearbenchError(f"--out {out} is a directory; give a file path such as {Path(out) / 'games.md'}")
    text = games_markdown()
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    return text


def _docs(args: argparse.Namespace) -> int:
    text = write_docs(args.out)
    if args.out is None:
        print(text, end="")
    else:
        print(f"wrote {args.out}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    samples = sample_env(args.env_id, args.n, args.difficulty, args.seed, args.style, args.compact)
    print(format_samples(samples))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("envs", help="list, show, sample or document the registered environments")
    actions = parser.add_subparsers(dest="envs_command", metavar="ACTION", parser_class=type(parser))
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    list_parser = actions.add_parser("list", help="every environment, grouped by category")
    list_parser.add_argument(
        "--reasoning-gym",
        action="store_true",
        help="also list reasoning-gym's tasks (needs reasoning-gym installed)",
    )
    list_parser.set_defaults(func=_list)

    show_parser = actions.add_parser(
        "show", help="description, knobs per level, trace styles, prompt example"
    )
    show_parser.add_argument(
        "env_id", metavar="ID", help="gym id (pearbench/Countdown-v0) or name (countdown)"
    )
    show_parser.set_defaults(func=_show)

    sample_parser = actions.add_parser("sample", help="instances with prompt, solver trace, gold and verdict")
    sample_parser.add_argument(
        "env_id", metavar="ID", help="gym id (pearbench/Countdown-v0) or name (countdown)"
    )
    sample_parser.add_argument("--n", type=int, default=3, help="number of instances (default 3)")
    sample_parser.add_argument(
        "--difficulty", default=None, help="difficulty level (default: the game's default)"
    )
    sample_parser.add_argument("--seed", type=int, default=0, help="first instance seed (default 0)")
    sample_parser.add_argument("--style", default=None, help="solver trace style (default: the game's first)")
    sample_parser.add_argument("--compact", action="store_true", help="show the compact prompt")
    sample_parser.set_defaults(func=_sample)

    docs_parser = actions.add_parser(
        "docs", help="Markdown reference of every bundled game (the source of docs/games.md)"
    )
    docs_parser.add_argument(
        "--out", default=None, metavar="FILE", help="write to FILE instead of printing (docs/games.md)"
    )
    docs_parser.set_defaults(func=_docs)
