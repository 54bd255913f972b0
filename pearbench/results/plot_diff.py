"""The difference-to-``sft`` plot: each method's paired difference to the ``sft`` row, after SFT and after RL.

It draws the paired-bootstrap differences stored in the leaderboard data model (``MethodRow.vs_sft_after_sft`` and
``MethodRow.vs_sft``, :class:`~pearbench.results.model.Comparison`, computed by
:mod:`pearbench.results.aggregate`); it computes no statistic itself.

Every difference is a :class:`DiffItem` (suite, method row, stage, k, comparison). Where a point goes on the x axis
and which series (style, legend entry) it belongs to are two functions of the item, so other views reuse the same
drawing: by default x is the stage ("after SFT", "after RL") and there is one series per method; a mismatch map
passes ``x=lambda item: item.row.mismatch`` (or any measured value per point), ``stages=("rl",)`` and a series per
method. x values are either all labels (categorical axis, in order of first appearance) or all numbers. Points of
different series at the same x are dodged horizontally (at most a quarter of the gap to the next x either way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

from matplotlib.figure import Figure

from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_bytes
from pearbench.results.model import BASELINE_LABEL, HEADLINE_KS, Comparison, Leaderboard, MethodRow
from pearbench.results.plot_style import (
    Style,
    centered_offsets,
    legend_outside,
    new_figure,
    png_bytes,
    series_styles,
)

#: stage -> how the plots name it
STAGE_NAMES = {"sft": "after SFT", "rl": "after RL"}
#: total width of the points dodged at one x, as a share of the gap between neighbouring x values
DIFF_DODGE_WIDTH = 0.5


@dataclass(frozen=True)
class DiffItem:
    """One stored difference to ``sft``: a method row (of ``suite``; None for bare rows) at one stage and k."""

    suite: str | None
    row: MethodRow
    stage: str  # "sft" (after the SFT stage) or "rl" (after RL)
    k: int
    comparison: Comparison


XValue = float | str
Source = Leaderboard | Sequence[Leaderboard] | Sequence[MethodRow]


def stage_x(item: DiffItem) -> str:
    """The default x: the stage, as a category."""
    return STAGE_NAMES[item.stage]


def method_series(item: DiffItem) -> str:
    """The default series: the method label."""
    return item.row.method_label


def stored_comparisons(row: MethodRow, stage: str) -> Mapping[int, Comparison]:
    """The row's paired differences to sft at ``stage`` (k -> Comparison), as the aggregation stored them."""
    if stage == "sft":
        return row.vs_sft_after_sft
    if stage == "rl":
        return row.vs_sft
    raise PearbenchError(f"unknown stage {stage!r} (expected one of: {', '.join(STAGE_NAMES)})")


def _groups(source: Source) -> list[tuple[str | None, tuple[MethodRow, ...]]]:
    if isinstance(source, Leaderboard):
        return [(source.suite, source.rows)]
    items = list(source)
    if all(isinstance(s, Leaderboard) for s in items):
        return [(board.suite, board.rows) for board in items]  # type: ignore[union-attr]
    if all(isinstance(s, MethodRow) for s in items):
        return [(None, tuple(items))]  # type: ignore[arg-type]
    raise PearbenchError(
        "plot_difference_to_sft needs a leaderboard, a list of leaderboards or a list of rows"
    )


def difference_items(
    source: Source, *, stages: Sequence[str] = ("sft", "rl"), ks: Sequence[int] = HEADLINE_KS
) -> list[DiffItem]:
    """Every stored difference to sft in ``source``: per board, per row (in board order), per k, per stage."""
    items = []
    for suite, rows in _groups(source):
        for row in rows:
            for k in ks:
                for stage in stages:
                    comparison = stored_comparisons(row, stage).get(k)
                    if comparison is not None:
                        items.append(DiffItem(suite, row, stage, k, comparison))
    return items


def _positions(values: Sequence[XValue], log: bool = False) -> tuple[list[float], list[str] | None, float]:
    """Numeric positions of the x values (log10 of them with ``log``), the category names (None for a numeric axis)
    and the gap to dodge in."""
    if all(isinstance(v, str) for v in values):
        categories = list(dict.fromkeys(values))  # type: ignore[arg-type]
        return [float(categories.index(v)) for v in values], categories, 1.0  # type: ignore[arg-type]
    if not all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise PearbenchError("the x values of a difference plot must be all labels or all finite numbers")
    if log and not all(v > 0 for v in values):  # type: ignore[operator]
        raise PearbenchError("a difference plot with a log x axis needs x values above 0")
    positions = [math.log10(v) if log else float(v) for v in values]  # type: ignore[arg-type]
    distinct = sorted(set(positions))
    gaps = [b - a for a, b in zip(distinct, distinct[1:])]
    gap = min(gaps) if gaps else 0.2 * max(abs(distinct[0]) if distinct else 0.0, 1e-3)
    return positions, None, gap


def difference_figure(
    source: Source,
    *,
    x: Callable[[DiffItem], XValue] | None = None,
    series: Callable[[DiffItem], str] | None = None,
    stages: Sequence[str] = ("sft", "rl"),
    ks: Sequence[int] = HEADLINE_KS,
    styles: Mapping[str, Style] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    xscale: str = "linear",
) -> Figure:
    """The figure of :func:`plot_difference_to_sft` (one panel per k with any difference), not yet rendered.

    ``xscale="log"`` puts numeric x values on a log axis (points at one x dodge by equal factors)."""
    if xscale not in ("linear", "log"):
        raise PearbenchError(f"xscale must be 'linear' or 'log', got {xscale!r}")
    x_of = x or stage_x
    series_of = series or method_series
    items = difference_items(source, stages=stages, ks=ks)
    suites = [suite for suite, _ in _groups(source) if suite is not None]
    name = title if title is not None else (", ".join(suites) or "methods")
    panels = [k for k in ks if any(item.k == k for item in items)]
    figure = new_figure(4.2 * max(len(panels), 1) + 2.4, 4.8)
    if not panels:
        ax = figure.subplots()
        ax.set_axis_off()
        ax.text(
            0.5, 0.5, f"{name}: no differences to {BASELINE_LABEL!r} (no {BASELINE_LABEL!r} row)", ha="center"
        )
        return figure

    positions, categories, gap = _positions([x_of(item) for item in items], log=xscale == "log")
    log_axis = xscale == "log" and categories is None
    keys = [series_of(item) for item in items]
    order = list(dict.fromkeys(keys))
    if styles is None:
        labels = (
            [row.method_label for _, rows in _groups(source) for row in rows] if series is None else order
        )
        styles = series_styles(labels)
    missing = [key for key in order if key not in styles]
    if missing:
        raise PearbenchError(f"no plot style for series: {', '.join(missing)}")
    handles: dict[str, object] = {}
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, k in zip(axes, panels):
        chosen = [i for i, item in enumerate(items) if item.k == k]
        # dodge: the series present at one x share DODGE_WIDTH of the gap, in series order
        at: dict[float, list[str]] = {}
        for i in chosen:
            present = at.setdefault(positions[i], [])
            if keys[i] not in present:
                present.append(keys[i])
        for present in at.values():
            present.sort(key=order.index)
        for key in order:
            mine = sorted((i for i in chosen if keys[i] == key), key=lambda i: positions[i])
            if not mine:
                continue
            xs = []
            for i in mine:
                group = at[positions[i]]
                xs.append(
                    positions[i] + centered_offsets(len(group), DIFF_DODGE_WIDTH * gap)[group.index(key)]
                )
            comps = [items[i].comparison for i in mine]
            container = ax.errorbar(
                [10.0**x for x in xs] if log_axis else xs,
                [c.diff for c in comps],
                yerr=[[c.diff - c.low for c in comps], [c.high - c.diff for c in comps]],
                capsize=3,
                markersize=6,
                linewidth=1,
                **styles[key].line(),
            )
            handles.setdefault(key, container)
        reference = ax.axhline(0.0, color="grey", linestyle="--", linewidth=1, zorder=0)
        handles.setdefault(f"{BASELINE_LABEL} (reference: Δ = 0)", reference)
        if categories is not None:
            ax.set_xticks(range(len(categories)), categories)
            ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_xlabel(xlabel if xlabel is not None else ("stage" if x is None else ""))
        if log_axis:
            ax.set_xscale("log")
        ax.set_ylabel(f"Δ pass@{k} vs {BASELINE_LABEL} (paired 95% CI)")
        ax.set_title(f"pass@{k} difference to {BASELINE_LABEL}")
        ax.grid(True, alpha=0.3)
    figure.suptitle(name)
    legend_outside(figure, list(handles.values()), list(handles))
    return figure


def difference_to_sft_png(board: Leaderboard) -> bytes:
    """The default difference plot of one leaderboard as PNG bytes (x: stage; one series per method)."""
    return png_bytes(difference_figure(board))


def plot_difference_to_sft(
    source: Source,
    out_path: str | Path,
    *,
    x: Callable[[DiffItem], XValue] | None = None,
    series: Callable[[DiffItem], str] | None = None,
    stages: Sequence[str] = ("sft", "rl"),
    ks: Sequence[int] = HEADLINE_KS,
    styles: Mapping[str, Style] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    xscale: str = "linear",
) -> Path:
    """Plot each method's paired difference to ``sft`` (point and 95% CI, as stored in the rows) and write the PNG
    atomically to ``out_path``.

    ``source``: a leaderboard, a list of leaderboards or a list of method rows. ``x(item)`` gives each point's x (a
    label or a number; default: its stage), ``series(item)`` its series (default: its method label); one panel per
    k in ``ks`` that has a difference; ``stages`` picks "sft" and/or "rl"; ``xscale``: "linear" or "log" (numeric x).
    Returns the path written.
    """
    figure = difference_figure(
        source,
        x=x,
        series=series,
        stages=stages,
        ks=ks,
        styles=styles,
        title=title,
        xlabel=xlabel,
        xscale=xscale,
    )
    path = Path(out_path)
    atomic_write_bytes(path, png_bytes(figure))
    return path
