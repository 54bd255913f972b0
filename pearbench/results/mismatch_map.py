"""Mismatch maps (docs/design.md §1, "Mismatch level"): how each PEAR method's difference to ``sft`` depends on the
gap between the base model π₀ and the behavior policy π_β.

A suite may declare that it is one level of a map (``map = "countdown"``, ``map_level = "low"|"mid"|"high"`` or a
number; :func:`pearbench.harness.suites.load_suite`), and its records then carry ``suite_map = {"map", "level"}``.
Every suite is its own leaderboard (:mod:`pearbench.results.aggregate`); a map gathers the leaderboards of the
suites that declare it, one per level, and reads per level:

- the measured mismatch: |``mismatch.mean_log_ratio``| (mean per-token log π₀ − log π_β on the SFT data, before
  clipping) averaged over the level's records;
- the ``pear-seq`` ESS: ``sft_diagnostics.ess_fraction.mean`` (effective sample size as a share of the tokens,
  averaged over the SFT steps) averaged over the level's ``pear-seq`` records;
- each PEAR method's paired difference to ``sft`` after SFT and after RL (pass@1 and pass@8), exactly as the level's
  leaderboard computed it (``MethodRow.vs_sft_after_sft`` / ``MethodRow.vs_sft``): this module computes no new
  statistic of outcomes.

:func:`render_map_markdown` writes the table (``map_<name>.md``), :func:`map_png` the plot (``map_<name>.png``):
the post-RL difference against the measured mismatch, one series per PEAR method, drawn by
:func:`pearbench.results.plot_diff.difference_figure`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

import numpy as np

from pearbench.errors import PearbenchError
from pearbench.results.model import BASELINE_LABEL, HEADLINE_KS, Comparison, Leaderboard, MethodRow
from pearbench.results.tables import fmt, fmt_diff, fmt_p

#: the named levels of a map, in order (a level may also be a number; numbers sort after the names)
MAP_LEVELS = ("low", "mid", "high", "very-high")
#: a map's name (it becomes the file name map_<name>.md)
MAP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: the method whose SFT-stage ESS each level reports
ESS_METHOD = "pear-seq"
#: a method is drawn on the map when its registered name starts with this
PEAR_PREFIX = "pear"

Record = Mapping[str, Any]
Level = str | float


@dataclass(frozen=True)
class MapLevel:
    """One level of a map: one suite, its leaderboard and the level's measured mismatch and ``pear-seq`` ESS."""

    level: Level
    suite: str
    n_records: int
    mismatch: float  # mean over the level's records of |mismatch.mean_log_ratio|
    ess: float | None  # mean over the level's pear-seq records of sft_diagnostics.ess_fraction.mean
    ess_first: float | None  # the same, of sft_diagnostics.ess_fraction.first (the first SFT step, at pi_0)
    board: Leaderboard

    def pear_rows(self) -> tuple[MethodRow, ...]:
        rows = (row for row in self.board.rows if row.method.startswith(PEAR_PREFIX))
        return tuple(sorted(rows, key=lambda row: row.method_label))


@dataclass(frozen=True)
class MismatchMap:
    name: str
    profile: str
    levels: tuple[MapLevel, ...]
    notes: tuple[str, ...] = ()


def level_text(level: Level) -> str:
    return level if isinstance(level, str) else f"{level:g}"


def _level_key(level: Level) -> tuple[int, float]:
    if isinstance(level, str):
        return (0, float(MAP_LEVELS.index(level)) if level in MAP_LEVELS else float(len(MAP_LEVELS)))
    return (1, float(level))


def _suite_map(record: Record) -> tuple[str, Level] | None:
    """A record's (map, level), validated; None when its suite declares no map."""
    entry = record.get("suite_map")
    if entry is None:
        return None
    name = entry.get("map") if isinstance(entry, Mapping) else None
    level = entry.get("level") if isinstance(entry, Mapping) else None
    numeric = isinstance(level, Real) and not isinstance(level, bool) and math.isfinite(level)
    if not isinstance(name, str) or not MAP_NAME.match(name) or not (level in MAP_LEVELS or numeric):
        raise PearbenchError(
            f"record {record.get('run_id', '?')}: suite_map must be {{map: name, level: "
            f"{' | '.join(MAP_LEVELS)} | number}}, got {entry!r}"
        )
    return name, (level if isinstance(level, str) else float(level))


def suite_maps(records: Sequence[Record]) -> dict[str, dict[str, Level]]:
    """map name -> {suite: level} over the records that carry ``suite_map``; the records of one suite must agree."""
    found: dict[str, tuple[str, Level]] = {}
    for record in records:
        declared = _suite_map(record)
        if declared is None:
            continue
        seen = found.setdefault(record["suite"], declared)
        if seen != declared:
            raise PearbenchError(
                f"records of suite {record['suite']!r} disagree on their mismatch map "
                f"({seen[0]} {level_text(seen[1])} vs {declared[0]} {level_text(declared[1])})"
            )
    maps: dict[str, dict[str, Level]] = {}
    for suite, (name, level) in sorted(found.items()):
        maps.setdefault(name, {})[suite] = level
    return maps


def _mean_of(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _number(value: Any) -> float | None:
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _ess(record: Record, which: str = "mean") -> float | None:
    diagnostics = record.get("sft_diagnostics") or {}
    entry = diagnostics.get("ess_fraction") if isinstance(diagnostics, Mapping) else None
    return _number(entry.get(which)) if isinstance(entry, Mapping) else None


def build_mismatch_maps(records: Sequence[Record], boards: Sequence[Leaderboard]) -> list[MismatchMap]:
    """The maps (sorted by name) of the suites among ``boards`` that declare one; ``records``: those the boards
    were built from (the records of other suites or profiles are ignored)."""
    by_suite = {board.suite: board for board in boards}
    chosen = [r for r in records if r["suite"] in by_suite and r["profile"] == by_suite[r["suite"]].profile]
    maps = []
    for name, suites in suite_maps(chosen).items():
        profiles = sorted({by_suite[suite].profile for suite in suites})
        if len(profiles) > 1:
            raise PearbenchError(
                f"mismatch map {name!r} has levels from several profiles ({', '.join(profiles)}); "
                "pick one with --profile"
            )
        notes: list[str] = []
        levels = []
        for suite, level in sorted(suites.items(), key=lambda item: (_level_key(item[1]), item[0])):
            mine = [r for r in chosen if r["suite"] == suite]
            measured = [_number((r.get("mismatch") or {}).get("mean_log_ratio")) for r in mine]
            mismatch = _mean_of([abs(v) for v in measured if v is not None])
            if mismatch is None:
                notes.append(f"{suite}: no record has a mismatch level; level left out")
                continue
            seq = [r for r in mine if r["method_label"] == ESS_METHOD]
            ess = _mean_of([_ess(r) for r in seq])
            if seq and ess is None:
                notes.append(f"{suite}: the {ESS_METHOD} records have no ESS diagnostics")
            board = by_suite[suite]
            if not any(row.method_label == BASELINE_LABEL for row in board.rows):
                notes.append(f"{suite}: no {BASELINE_LABEL!r} row, so no difference to {BASELINE_LABEL}")
            first = _mean_of([_ess(r, "first") for r in seq])
            levels.append(MapLevel(level, suite, len(mine), mismatch, ess, first, board))
        counts: dict[Level, int] = {}
        for entry in levels:
            counts[entry.level] = counts.get(entry.level, 0) + 1
        for level, count in counts.items():
            if count > 1:
                notes.append(f"level {level_text(level)} has {count} suites; each is its own row")
        maps.append(MismatchMap(name, profiles[0], tuple(levels), tuple(notes)))
    return maps


# --------------------------------------------------------------------------------------------------------------
# Markdown

LEVEL_COLUMNS = (
    "level",
    "suite",
    "records",
    "mismatch |mean log π₀ − log π_β|",
    f"{ESS_METHOD} ESS",
    f"{ESS_METHOD} ESS at SFT step 1",
)
DIFF_COLUMNS = (
    "level",
    "mismatch",
    "method",
    *(
        column
        for k in HEADLINE_KS
        for stage in ("SFT", "RL")
        for column in (f"Δ pass@{k} after {stage}", f"p ({stage} pass@{k})")
    ),
)


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: Sequence[int]) -> list[str]:
    align = ["---" if i in text_columns else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]


def _diff_cells(row: MethodRow) -> list[str]:
    cells = []
    for k in HEADLINE_KS:
        for comparisons in (row.vs_sft_after_sft, row.vs_sft):
            comparison: Comparison | None = comparisons.get(k)
            cells += [fmt_diff(comparison), fmt_p(comparison)]
    return cells


def map_rows(mm: MismatchMap) -> tuple[list[list[str]], list[list[str]]]:
    """The cells of the level table and of the difference table."""
    levels = [
        [
            level_text(entry.level),
            entry.suite,
            str(entry.n_records),
            fmt(entry.mismatch),
            "—" if entry.ess is None else fmt(entry.ess),
            "—" if entry.ess_first is None else fmt(entry.ess_first),
        ]
        for entry in mm.levels
    ]
    diffs = [
        [level_text(entry.level), fmt(entry.mismatch), row.method_label, *_diff_cells(row)]
        for entry in mm.levels
        for row in entry.pear_rows()
    ]
    return levels, diffs


def render_map_markdown(mm: MismatchMap) -> str:
    """The map as Markdown: the levels with their measured mismatch and ESS, then each PEAR method's differences."""
    levels, diffs = map_rows(mm)
    lines = [f"## Mismatch map {_md(mm.name)} (profile {_md(mm.profile)})", ""]
    lines += _table(LEVEL_COLUMNS, levels, text_columns=(0, 1))
    lines += [
        "",
        f"Difference to {BASELINE_LABEL} per PEAR method, after SFT and after the identical RL stage:",
        "",
    ]
    if diffs:
        lines += _table(DIFF_COLUMNS, diffs, text_columns=(0, 2))
    else:
        lines += ["(no PEAR method in the records of this map)"]
    lines += [
        "",
        "- mismatch: |mean per-token log π₀ − log π_β| on the SFT data before clipping (the record's "
        "mismatch.mean_log_ratio), averaged over the level's records.",
        f"- {ESS_METHOD} ESS: effective sample size (Σw)²/Σw² as a share of the tokens, averaged over the SFT "
        f"steps (sft_diagnostics.ess_fraction.mean), averaged over the level's {ESS_METHOD} records; — without any. "
        "At SFT step 1 (ess_fraction.first) the student is still π₀, so it shows the weights the mismatch itself "
        "gives; later steps weigh by the current student against π_β.",
        f"- Δ: the level's leaderboard difference to {BASELINE_LABEL} (seed-averaged per problem, paired over the "
        "problems both methods have in every seed); brackets: paired-bootstrap 95% CI; p: two-sided "
        "paired-bootstrap p-value.",
    ]
    if mm.notes:
        lines += ["", "Notes:", ""] + [f"- {_md(note)}" for note in mm.notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------
# The plot


def map_figure(mm: MismatchMap):
    """The post-RL difference to sft against the measured mismatch (a log axis: the levels span decades), one series
    per PEAR method, one panel per k; each level's name is written at the foot of its mismatch (neighbours at
    alternating heights)."""
    from matplotlib.transforms import blended_transform_factory

    from pearbench.results.plot_diff import difference_figure

    mismatch_of = {entry.suite: entry.mismatch for entry in mm.levels}
    boards = [replace(entry.board, rows=entry.pear_rows()) for entry in mm.levels]
    figure = difference_figure(
        boards,
        x=lambda item: mismatch_of[item.suite],
        series=lambda item: item.row.method_label,
        stages=("rl",),
        ks=HEADLINE_KS,
        title=f"mismatch map {mm.name} (after RL)",
        xlabel="measured mismatch |mean log π₀ − log π_β| per token",
        xscale="log" if all(entry.mismatch > 0 for entry in mm.levels) else "linear",
    )
    for ax in figure.axes:
        if not ax.axison:  # the "no differences" panel
            continue
        where = blended_transform_factory(ax.transData, ax.transAxes)
        # neighbouring levels' names alternate between two heights, so close levels' names do not overlap
        ordered = sorted(mm.levels, key=lambda entry: entry.mismatch)
        for index, entry in enumerate(ordered):
            ax.text(
                entry.mismatch,
                0.02 + 0.05 * (index % 2),
                level_text(entry.level),
                transform=where,
                ha="center",
                va="bottom",
                fontsize="small",
                color="dimgrey",
            )
    return figure


def map_png(mm: MismatchMap) -> bytes:
    from pearbench.results.plot_style import png_bytes

    return png_bytes(map_figure(mm))


def map_files(mm: MismatchMap, *, plots: bool = True) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the map: ``map_<name>.md`` and, with ``plots``, ``map_<name>.png``."""
    files = [(f"map_{mm.name}.md", render_map_markdown(mm).encode("utf-8"))]
    if plots:
        files.append((f"map_{mm.name}.png", map_png(mm)))
    return files
