"""Result records as pandas DataFrames, for notebooks and ad-hoc analysis (docs/results.md, "DataFrames").

:func:`records_frame` reads the valid records of a results folder (:func:`pearbench.results.records.load_records`:
checksummed and validated; bad ones are reported and left out) and flattens them:

- ``level="run"``: one row per run. Its settings (``run_id``, ``suite``, ``profile``, ``method``,
  ``method_label``, ``seed``, ``sft_steps_factor``, ``method_recipe_hash``, ``rl_recipe_hash``, ``git_commit``,
  ``config_hash_<stage>``, ``option_<name>`` from ``method_options``, ``eval_n``, ``eval_temperature``,
  ``eval_max_new_tokens``, ``eval_ks``) and its metrics: ``<stage>_<metric>`` with ``_low`` and ``_high`` for
  the 95% CI (``sft_pass_at_1``, ``rl_pass_at_8_low``, ``rl_avg_at_n``; ``@`` is spelled ``_at_``, as in the
  SQLite index), ``mismatch_<key>``, ``sft_diagnostics_<key>_<first|last|mean>`` and ``rl_summary_<key>[_<sub>]``.
  A column a record lacks is NaN there.
- ``level="problem"``: one row per (run, stage, problem) of the record's ``outcomes``: the run's ``run_id``,
  ``suite``, ``profile``, ``method``, ``method_label``, ``seed``, ``sft_steps_factor``, then ``stage`` (``sft``
  or ``rl``), ``env``, ``problem_id``, ``difficulty``, ``n`` (samples), ``c`` (correct) and ``errors``.

Rows are in run-id order (problems by stage, then ``(env, id)``), columns in a fixed order: the same records give
the same frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pearbench.errors import PearbenchError
from pearbench.results.records import RECORDS_DIR, STAGES, OnBad, load_records

LEVELS = ("run", "problem")
#: The settings every run row starts with (also the run columns of the problem level, up to ``sft_steps_factor``).
RUN_COLUMNS = (
    "run_id",
    "suite",
    "profile",
    "method",
    "method_label",
    "seed",
    "sft_steps_factor",
    "method_recipe_hash",
    "rl_recipe_hash",
    "git_commit",
)
PROBLEM_COLUMNS = (
    *RUN_COLUMNS[:7],
    "stage",
    "env",
    "problem_id",
    "difficulty",
    "n",
    "c",
    "errors",
)
#: (record field, column prefix) of the nested objects flattened into run columns, in column order.
_FLATTENED = (
    ("config_hashes", "config_hash"),
    ("method_options", "option"),
    ("eval", "eval"),
)
_TRAILING = (
    ("mismatch", "mismatch"),
    ("sft_diagnostics", "sft_diagnostics"),
    ("rl_summary", "rl_summary"),
)

Record = Mapping[str, Any]


def records_frame(
    source: str | Path | Iterable[Record], level: str = "run", *, on_bad: OnBad | None = None
) -> pd.DataFrame:
    """The records of a results folder (or an iterable of record dicts) as a DataFrame; see the module docstring.

    ``source``: a results folder (the one holding ``records/``, like ``pearbench leaderboard --results``), its
    ``records/`` folder itself, or records already loaded. ``on_bad(path, reason)`` hears of every record left out
    (default: a :class:`~pearbench.results.records.BadRecordWarning` each). A folder that does not exist, or an
    unknown ``level``, raises PearbenchError.
    """
    if level not in LEVELS:
        raise PearbenchError(f"unknown level {level!r}; choose one of: {', '.join(LEVELS)}")
    records = _records(source, on_bad)
    if level == "run":
        return _run_frame(records)
    return _problem_frame(records)


def _records(source: str | Path | Iterable[Record], on_bad: OnBad | None) -> list[Record]:
    if not isinstance(source, (str, Path)):
        return sorted(source, key=lambda record: record["run_id"])
    folder = Path(source)
    if not folder.is_dir():
        raise PearbenchError(f"results folder not found: {folder}")
    if not (folder / RECORDS_DIR).is_dir() and folder.name == RECORDS_DIR:
        folder = folder.parent
    return load_records(folder, on_bad=on_bad, progress=False)


def _column_value(value: Any) -> Any:
    """Lists (option pairs, ``eval.ks``) become tuples, so the column can be grouped by."""
    return tuple(_column_value(v) for v in value) if isinstance(value, list) else value


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """``{"a": {"b": 1}}`` under ``prefix`` -> ``{"prefix_a_b": 1}``; None and empty objects add nothing."""
    if isinstance(value, Mapping):
        for key in sorted(value):
            _flatten(f"{prefix}_{key}", value[key], out)
    elif value is not None:
        out[prefix] = _column_value(value)


def _metric_sort_key(name: str) -> tuple[int, int, str]:
    if name.startswith("pass@") and name[5:].isdigit():
        return (0, int(name[5:]), name)
    return (1, 0, name)


def _run_row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {column: record.get(column) for column in RUN_COLUMNS}
    for field, prefix in _FLATTENED:
        _flatten(prefix, record.get(field), row)
    metrics = record.get("metrics") or {}
    for stage in STAGES:
        by_name = metrics.get(stage) or {}
        for name in sorted(by_name, key=_metric_sort_key):
            column = f"{stage}_{name.replace('@', '_at_')}"
            estimate = by_name[name]
            row[column] = estimate.get("value")
            row[f"{column}_low"] = estimate.get("low")
            row[f"{column}_high"] = estimate.get("high")
    for field, prefix in _TRAILING:
        _flatten(prefix, record.get(field), row)
    return row


def _ordered_columns(rows: list[dict[str, Any]], lead: tuple[str, ...]) -> list[str]:
    """``lead``, then the other columns by group (:data:`_GROUP_ORDER`), sorted within a group."""
    columns = list(lead)
    seen = set(columns)
    groups: dict[str, list[str]] = {}
    for row in rows:
        for column in row:
            if column not in seen:
                seen.add(column)
                groups.setdefault(_group_of(column), []).append(column)
    for group in _GROUP_ORDER:
        columns += sorted(groups.get(group, []), key=_column_sort_key)
    return columns


_GROUP_ORDER = (
    "config_hash",
    "option",
    "eval",
    *STAGES,
    "mismatch",
    "sft_diagnostics",
    "rl_summary",
    "other",
)


def _group_of(column: str) -> str:
    for group in ("config_hash", "option", "eval", "mismatch", "sft_diagnostics", "rl_summary"):
        if column.startswith(f"{group}_"):
            return group
    for stage in STAGES:
        if column.startswith(f"{stage}_"):
            return stage
    return "other"


def _column_sort_key(column: str) -> tuple[Any, ...]:
    """Metric columns by metric (pass@k by k), value before its CI; other columns by name."""
    group = _group_of(column)
    if group not in STAGES:
        return (column,)
    rest = column[len(group) + 1 :]
    suffix = 0
    for i, end in enumerate(("_low", "_high"), start=1):
        if rest.endswith(end):
            rest, suffix = rest[: -len(end)], i
    metric = rest.replace("_at_", "@", 1)
    return (*_metric_sort_key(metric), suffix)


def _run_frame(records: list[Record]) -> pd.DataFrame:
    rows = [_run_row(record) for record in records]
    frame = pd.DataFrame(rows, columns=_ordered_columns(rows, RUN_COLUMNS))
    if rows:
        frame["seed"] = frame["seed"].astype("int64")
        frame["sft_steps_factor"] = frame["sft_steps_factor"].astype("float64")
    return frame


def _problem_frame(records: list[Record]) -> pd.DataFrame:
    rows = []
    for record in records:
        run = [record[column] for column in PROBLEM_COLUMNS[:7]]
        for stage in STAGES:
            outcomes = sorted(record["outcomes"][stage], key=lambda o: (o["env"], o["id"]))
            for o in outcomes:
                rows.append(
                    (*run, stage, o["env"], o["id"], o.get("difficulty"), o["n"], o["c"], o.get("errors", 0))
                )
    frame = pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))
    if rows:
        for column in ("seed", "n", "c", "errors"):
            frame[column] = frame[column].astype("int64")
        frame["sft_steps_factor"] = frame["sft_steps_factor"].astype("float64")
    return frame
