"""`pearbench methods list` and `pearbench methods show NAME`: the registered SFT objectives and their recipes.

``methods show`` also takes a method label with options (``pear-token:gamma=0.99``) and shows them applied."""

from __future__ import annotations

import argparse
import json

from pearbench.train import methods as registry


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _format_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def list_command(args: argparse.Namespace) -> int:
    rows = [("NAME", "RUNS SFT", "WEIGHTED", "BEHAVIOR LOGPROBS", "DESCRIPTION")]
    for method in registry.list_methods():
        rows.append(
            (
                method.name,
                _yes(method.runs_sft),
                _yes(method.weighted),
                _yes(method.needs_behavior_logprobs),
                method.description,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def _is_path(name: str) -> bool:
    return name.endswith(".toml") or "/" in name or "\\" in name


def show_command(args: argparse.Namespace) -> int:
    label = None
    if _is_path(args.name):
        method, options = registry.load_recipe(args.name)
        path, recipe_options = registry.recipe_path(args.name), options
    else:
        resolved = registry.resolve_method_label(args.name)
        method, options, label = resolved.method, resolved.options, resolved.label
        path, recipe_options = registry.recipe_path(resolved.name), registry.load_recipe(resolved.name)[1]
    resolved_values = registry.options_to_dict(options)
    recipe_values = registry.options_to_dict(recipe_options)
    print(f"{method.name}: {method.description}")
    if label is not None and label != method.name:
        print(f"method label: {label}")
    if method.paper:
        print(f"paper: {method.paper}")
    print(
        f"runs SFT: {_yes(method.runs_sft)}; weighted: {_yes(method.weighted)}; "
        f"needs behavior log-probs: {_yes(method.needs_behavior_logprobs)}"
    )
    print(f"recipe: {path if path is not None else '(none: default options)'}")
    print(f"recipe hash: {registry.options_hash(method.name, options)}")
    docs = registry.option_docs(method.options_class)
    if not docs:
        print("options: (none)")
        return 0
    print("options:")
    for doc in docs:
        value = resolved_values[doc["name"]]
        notes = []
        if value != recipe_values[doc["name"]]:
            notes.append(f"recipe {_format_value(recipe_values[doc['name']])}")
        if value != doc["default"]:
            notes.append(f"default {_format_value(doc['default'])}")
        note = f"  ({'; '.join(notes)})" if notes else ""
        print(f"  {doc['name']} = {_format_value(value)}{note}")
        print(f"      {doc['help']}")
        if doc["allowed"]:
            print(f"      allowed: {doc['allowed']}")
        if doc["paper"]:
            print(f"      from: {doc['paper']}")
    print(
        f"set options for a run: pearbench run --method {method.name}:KEY=VALUE[,KEY=VALUE...] "
        "(values as above; pairs as LOW..HIGH; docs/add_method.md)"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "methods", help="list the SFT objectives and show their options and recipes"
    )
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="methods_command", metavar="ACTION", parser_class=type(parser))
    list_parser = actions.add_parser(
        "list", help="every registered method: runs SFT?, weighted?, description"
    )
    list_parser.set_defaults(func=list_command)
    show_parser = actions.add_parser(
        "show", help="a method's options with defaults and docs, recipe path and hash"
    )
    show_parser.add_argument(
        "name",
        help="method name (e.g. pear-block), method label with options (pear-block:block_size=8) or path to a "
        "recipe TOML file",
    )
    show_parser.set_defaults(func=show_command)
