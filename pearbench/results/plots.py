"""Leaderboard plots (matplotlib, Agg canvas, no pyplot state): pass@k curves, SFT-stage vs post-RL pass@1, and
each method's paired difference to ``sft`` after SFT and after RL (:mod:`pearbench.results.plot_diff`).

Every method has one style (colour, marker, line style) in all plots; legends sit outside the axes; points with error
bars at the same x are dodged horizontally. Every figure is rendered to PNG bytes with fixed size, dpi and no
"Software" metadata, so the same leaderboard gives the same bytes in every run; files are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from pearbench.io import atomic_write_bytes
from pearbench.results.model import Estimate, Leaderboard
from pearbench.results.plot_diff import (
    DiffItem,
    difference_figure,
    difference_items,
    plot_difference_to_sft,
)
from pearbench.results.plot_style import (
    DODGE_WIDTH,
    DPI,
    PNG_METADATA,
    centered_offsets,
    legend_outside,
    new_figure,
    png_bytes,
    series_styles,
)

__all__ = [
    "DPI",
    "PLOTS",
    "PNG_METADATA",
    "DiffItem",
    "difference_figure",
    "difference_items",
    "passk_figure",
    "passk_png",
    "plot_difference_to_sft",
    "plot_figures",
    "plot_images",
    "sft_vs_rl_figure",
    "sft_vs_rl_png",
    "write_plots",
]


def passk_figure(board: Leaderboard) -> Figure:
    """pass@k against k (log₂ axis) per method with 95% CI bars: SFT stage (left) and post-RL (right).

    The points of the methods at one k are dodged over half an octave (k · 2^offset), in row order."""
    figure = new_figure(12.5, 4.8)
    axes = figure.subplots(1, 2, sharey=True)
    styles = series_styles(row.method_label for row in board.rows)
    handles: dict[str, object] = {}
    for ax, stage, title in ((axes[0], "sft", "after SFT"), (axes[1], "rl", "after RL")):
        rows = [row for row in board.rows if getattr(row, stage)]
        for row, offset in zip(rows, centered_offsets(len(rows), DODGE_WIDTH)):
            curve: dict[int, Estimate] = getattr(row, stage)
            ks = sorted(curve)
            container = ax.errorbar(
                [k * 2.0**offset for k in ks],
                [curve[k].value for k in ks],
                yerr=[
                    [curve[k].value - curve[k].low for k in ks],
                    [curve[k].high - curve[k].value for k in ks],
                ],
                markersize=4,
                linewidth=1.2,
                elinewidth=0.8,
                capsize=2,
                **styles[row.method_label].line(),
            )
            handles.setdefault(row.method_label, container)
        ax.set_xscale("log", base=2)
        all_ks = sorted({k for row in board.rows for k in getattr(row, stage)})
        ax.set_xticks(all_ks, [str(k) for k in all_ks])
        ax.minorticks_off()
        ax.set_xlabel("k")
        ax.set_title(f"{board.suite}: pass@k {title}")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("pass@k (95% bootstrap CI)")
    ordered = [row.method_label for row in board.rows if row.method_label in handles]
    legend_outside(figure, [handles[label] for label in ordered], ordered)
    return figure


def sft_vs_rl_figure(board: Leaderboard) -> Figure:
    """Post-RL pass@1 against SFT-stage pass@1 per method, 95% CI error bars, diagonal y = x for reference."""
    figure = new_figure(7.0, 5.5)
    ax = figure.subplots()
    styles = series_styles(row.method_label for row in board.rows)
    points = [row for row in board.rows if 1 in row.sft and 1 in row.rl]
    handles, labels = [], []
    for row in points:
        x, y = row.sft[1], row.rl[1]
        style = styles[row.method_label]
        handles.append(
            ax.errorbar(
                [x.value],
                [y.value],
                xerr=[[x.value - x.low], [x.high - x.value]],
                yerr=[[y.value - y.low], [y.high - y.value]],
                color=style.color,
                marker=style.marker,
                linestyle="none",
                markersize=7,
                elinewidth=1,
                capsize=3,
            )
        )
        labels.append(row.method_label)
    values = [e for row in points for e in (row.sft[1].low, row.sft[1].high, row.rl[1].low, row.rl[1].high)]
    low = max(0.0, min(values, default=0.0) - 0.05)
    high = min(1.0, max(values, default=1.0) + 0.05)
    (diagonal,) = ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel("pass@1 after SFT")
    ax.set_ylabel("pass@1 after RL")
    ax.set_title(f"{board.suite}: SFT-stage vs post-RL")
    ax.grid(True, alpha=0.3)
    legend_outside(figure, [*handles, diagonal], [*labels, "y = x"])
    return figure


def passk_png(board: Leaderboard) -> bytes:
    return png_bytes(passk_figure(board))


def sft_vs_rl_png(board: Leaderboard) -> bytes:
    return png_bytes(sft_vs_rl_figure(board))


#: (file-name suffix, caption, figure builder) of every plot of a leaderboard, in a fixed order.
PLOTS: tuple[tuple[str, str, Callable[[Leaderboard], Figure]], ...] = (
    (
        "passk",
        "pass@k per method after SFT and after RL (bars: 95% bootstrap CI over problems)",
        passk_figure,
    ),
    ("sft_vs_rl", "post-RL vs SFT-stage pass@1 per method (bars: 95% CI; dashed: y = x)", sft_vs_rl_figure),
    (
        "diff_vs_sft",
        "difference to sft after SFT and after RL per method (bars: paired-bootstrap 95% CI over problems)",
        difference_figure,
    ),
)


def plot_figures(board: Leaderboard) -> list[tuple[str, Figure]]:
    """(suffix, figure) of every plot, in a fixed order (for inspection; :func:`plot_images` renders them)."""
    return [(suffix, build(board)) for suffix, _caption, build in PLOTS]


def plot_images(board: Leaderboard) -> list[tuple[str, str, bytes]]:
    """(suffix, caption, PNG bytes) of every plot, in a fixed order."""
    return [(suffix, caption, png_bytes(build(board))) for suffix, caption, build in PLOTS]


def write_plots(board: Leaderboard, out_dir: str | Path) -> list[Path]:
    """Write ``<out_dir>/<suite>_<suffix>.png`` for every plot of :data:`PLOTS` atomically."""
    paths = []
    for suffix, _caption, png in plot_images(board):
        path = Path(out_dir) / f"{board.suite}_{suffix}.png"
        atomic_write_bytes(path, png)
        paths.append(path)
    return paths
