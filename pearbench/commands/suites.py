"""`pearbench suites list`, `show NAME` and `probe NAME`: the bundled suites, one suite resolved, one suite's weights.

The library side is :mod:`pearbench.harness.suites` (``bundled_suites``, ``load_suite``, ``describe_suite``); this
module prints. ``probe`` (:mod:`pearbench.harness.probe`) trains a suite up to one PEAR method's SFT and prints
the mismatch and the PEAR weights a mismatch-map level is meant to set. ``show`` prints the suite as TOML with every
default filled in, plus each environment's Gymnasium id and its knob values at the suite's level (as comments), so the
output is itself a valid suite file.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from pearbench.harness.suites import DEFAULT_SUITE, bundled_suites, describe_suite


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def suite_rows() -> list[tuple[str, str, str]]:
    """(name, description, games) of every bundled suite; games as ``name:level`` pairs."""
    rows = []
    for name in bundled_suites():
        info = describe_suite(name)
        games = ", ".join(f"{env['name']}:{env['difficulty']}" for env in info["envs"])
        rows.append((name, info["description"], games))
    return rows


def list_command(args: argparse.Namespace) -> int:
    blocks = []
    for name, description, games in suite_rows():
        default = "  (default)" if name == DEFAULT_SUITE else ""
        count = games.count(",") + 1
        wrapped = textwrap.fill(
            f"games ({count}): {games}",
            110,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        blocks.append(f"{name}{default}\n  {description}\n{wrapped}")
    print("\n\n".join(blocks))
    print("\npearbench suites show NAME: a suite resolved (levels and knobs, styles, mismatch knobs)")
    return 0


def suite_toml(info: dict[str, Any]) -> str:
    """A resolved suite (:func:`pearbench.harness.suites.describe_suite`) as TOML with explanatory comments."""
    lines = [
        f"# suite {info['name']}, from {info['source']}",
        "# resolved: defaults filled in; each environment's knob values at its level are listed as comments",
    ]
    for key in ("name", "description", "prompt_style", "base_seed", "teacher_seed"):
        lines.append(f"{key} = {_toml_value(info[key])}")
    for key in ("map", "map_level", "max_new_tokens"):  # only set where a suite declares them
        if info.get(key) is not None:
            lines.append(f"{key} = {_toml_value(info[key])}")
    for env in info["envs"]:
        lines += ["", "[[envs]]", f"name = {_toml_value(env['name'])}  # {env['gym_id']}"]
        lines += [f"difficulty = {_toml_value(env['difficulty'])}", f"weight = {_toml_value(env['weight'])}"]
        lines += [
            f"{k} = {_toml_value(v)}  # this game's own base-corpus knob" for k, v in env["overrides"].items()
        ]
        knobs = ", ".join(f"{knob} = {_toml_value(value)}" for knob, value in env["knobs"].items())
        lines.append(f"# knobs at {env['difficulty']}: {knobs or '(none)'}")
    for table in ("styles", "mismatch"):
        lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in info[table].items()]
    return "\n".join(lines)


def show_command(args: argparse.Namespace) -> int:
    info = describe_suite(args.name)
    print(json.dumps(info, indent=2) if args.json else suite_toml(info))
    return 0


def probe_command(args: argparse.Namespace) -> int:
    from pearbench.harness.probe import probe_suite, probe_text

    result = probe_suite(
        args.name,
        profile=args.profile,
        config_file=args.config_file,
        method=args.method,
        seed=args.seed,
        out=args.out,
        progress=not args.no_progress,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else probe_text(result))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("suites", help="list the bundled suites and show one resolved")
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="suites_command", metavar="ACTION", parser_class=type(parser))
    list_parser = actions.add_parser(
        "list", help="every bundled suite: name, description, games (name:level)"
    )
    list_parser.set_defaults(func=list_command)
    show_parser = actions.add_parser(
        "show", help="a suite's TOML resolved: environments with levels and knobs, styles, mismatch knobs"
    )
    show_parser.add_argument("name", help=f"suite name (e.g. {DEFAULT_SUITE}) or path to a suite TOML file")
    show_parser.add_argument("--json", action="store_true", help="print the resolved suite as JSON")
    show_parser.set_defaults(func=show_command)
    probe_parser = actions.add_parser(
        "probe",
        help="train a suite up to one PEAR method's SFT; print its mismatch, SFT-stage ESS and per-game weights",
        description="Run tasks -> base -> teacher -> behavior data -> SFT of one PEAR method (cached under --out "
        "as `pearbench run` caches them: a later run or sweep with the same --out reuses them) and print the "
        "mismatch and ESS a mismatch map reports, and the sequence log-weights of the behavior traces per game "
        "under pi_0 and after SFT. Use it to check that a map level puts the weights where it should before "
        "sweeping it.",
    )
    probe_parser.add_argument("name", help="suite name or path to a suite TOML file")
    probe_parser.add_argument(
        "--method", default="pear-seq", help="a pear-* method label (default: pear-seq)"
    )
    probe_parser.add_argument("--seed", type=int, default=0, help="run seed (default: 0)")
    probe_parser.add_argument("--profile", default="small", help="profile name or TOML path (default: small)")
    probe_parser.add_argument(
        "--config", dest="config_file", default=None, help="TOML file overriding profile keys"
    )
    probe_parser.add_argument("--out", default="runs", help="output folder: the stage cache (default runs/)")
    probe_parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    probe_parser.add_argument("--json", action="store_true", help="print the probe as JSON")
    probe_parser.set_defaults(func=probe_command)
