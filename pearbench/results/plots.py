"""Leaderboard plots (matplotlib, Agg canvas, no pyplot state): pass@k curves and SFT-stage vs post-RL pass@1.

Every figure is rendered to PNG bytes with fixed size, dpi and no "Software" metadata, so the same leaderboard gives
the same bytes in every run; files are written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pearbench.io import atomic_write_bytes
from pearbench.results.model import Estimate, Leaderboard

DPI = 100
PNG_METADATA = {"Software": None}  # drop matplotlib's version string: bytes must not depend on it


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    return buffer.getvalue()


def _colors(n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def passk_png(board: Leaderboard) -> bytes:
    """pass@k against k (log₂ axis) per method with 95% CI bands: SFT stage (left) and post-RL (right)."""
    figure = Figure(figsize=(11, 4.5))
    axes = figure.subplots(1, 2, sharey=True)
    colors = _colors(len(board.rows))
    for ax, stage, title in ((axes[0], "sft", "after SFT"), (axes[1], "rl", "after RL")):
        for row, color in zip(board.rows, colors):
            curve: dict[int, Estimate] = getattr(row, stage)
            if not curve:
                continue
            ks = sorted(curve)
            ax.plot(
                ks,
                [curve[k].value for k in ks],
                marker="o",
                markersize=3,
                color=color,
                label=row.method_label,
            )
            ax.fill_between(
                ks,
                [curve[k].low for k in ks],
                [curve[k].high for k in ks],
                color=color,
                alpha=0.15,
                linewidth=0,
            )
        ax.set_xscale("log", base=2)
        all_ks = sorted({k for row in board.rows for k in getattr(row, stage)})
        ax.set_xticks(all_ks, [str(k) for k in all_ks])
        ax.minorticks_off()
        ax.set_xlabel("k")
        ax.set_title(f"{board.suite}: pass@k {title}")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("pass@k (95% bootstrap CI)")
    axes[1].legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    return _png(figure)


def sft_vs_rl_png(board: Leaderboard) -> bytes:
    """Post-RL pass@1 against SFT-stage pass@1 per method, 95% CI error bars, diagonal y = x for reference."""
    figure = Figure(figsize=(5.5, 5.5))
    ax = figure.subplots()
    points = [row for row in board.rows if 1 in row.sft and 1 in row.rl]
    for row, color in zip(board.rows, _colors(len(board.rows))):
        if 1 not in row.sft or 1 not in row.rl:
            continue
        x, y = row.sft[1], row.rl[1]
        ax.errorbar(
            [x.value],
            [y.value],
            xerr=[[x.value - x.low], [x.high - x.value]],
            yerr=[[y.value - y.low], [y.high - y.value]],
            fmt="o",
            color=color,
            capsize=3,
            label=row.method_label,
        )
    values = [e for row in points for e in (row.sft[1].low, row.sft[1].high, row.rl[1].low, row.rl[1].high)]
    low = max(0.0, min(values, default=0.0) - 0.05)
    high = min(1.0, max(values, default=1.0) + 0.05)
    ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1, label="y = x")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("pass@1 after SFT")
    ax.set_ylabel("pass@1 after RL")
    ax.set_title(f"{board.suite}: SFT-stage vs post-RL")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    return _png(figure)


#: (file-name suffix, caption, renderer) of every plot of a leaderboard.
PLOTS = (
    ("passk", "pass@k per method after SFT and after RL (bands: 95% bootstrap CI over problems)", passk_png),
    ("sft_vs_rl", "post-RL vs SFT-stage pass@1 per method (bars: 95% CI; dashed: y = x)", sft_vs_rl_png),
)


def plot_images(board: Leaderboard) -> list[tuple[str, str, bytes]]:
    """(suffix, caption, PNG bytes) of every plot, in a fixed order."""
    return [(suffix, caption, render(board)) for suffix, caption, render in PLOTS]


def write_plots(board: Leaderboard, out_dir: str | Path) -> list[Path]:
    """Write ``<out_dir>/<suite>_passk.png`` and ``<out_dir>/<suite>_sft_vs_rl.png`` atomically."""
    paths = []
    for suffix, _caption, png in plot_images(board):
        path = Path(out_dir) / f"{board.suite}_{suffix}.png"
        atomic_write_bytes(path, png)
        paths.append(path)
    return paths
