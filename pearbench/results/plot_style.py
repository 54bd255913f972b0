"""Shared pieces of the leaderboard plots: figures with the legend outside the axes, one style (colour, marker, line
style) per method, horizontal dodge offsets for points with error bars at the same x, and deterministic PNG bytes.

Figures use matplotlib's object API on the Agg canvas (no pyplot state) and the constrained layout, which reserves a
margin for a legend placed ``outside`` the axes, so a legend never covers data.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pearbench.results.model import BASELINE_LABEL

DPI = 100
PNG_METADATA = {"Software": None}  # drop matplotlib's version string: bytes must not depend on it

#: the baseline draws with the first marker and the solid line; the other methods cycle through the rest
#: (11 markers against 5 line styles: the first 55 methods differ in the pair, besides the colour)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*")
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 1, 1, 1)))
OTHER_MARKERS = MARKERS[1:]
OTHER_LINES = LINESTYLES[1:]
#: total width of a group of dodged points, as a share of the gap between neighbouring x positions
DODGE_WIDTH = 0.5


@dataclass(frozen=True)
class Style:
    """How one method (series) is drawn in every plot of a leaderboard."""

    color: tuple[float, float, float, float]
    marker: str
    linestyle: Any

    def line(self) -> dict[str, Any]:
        """Keyword arguments of ``Axes.plot`` / ``Axes.errorbar`` for this style."""
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


#: the baseline every difference is taken to: black, solid, circles, in every plot
BASELINE_STYLE = Style((0.0, 0.0, 0.0, 1.0), MARKERS[0], LINESTYLES[0])


def series_styles(labels: Iterable[str]) -> dict[str, Style]:
    """One distinct style per label: the baseline (``sft``) gets :data:`BASELINE_STYLE`, the others colour, marker
    and line style in sorted label order (so a method looks the same in every plot and in every leaderboard that has
    the same methods, whatever their ranking)."""
    from matplotlib import colormaps

    given = set(labels)
    ordered = sorted(given - {BASELINE_LABEL})
    cmap = colormaps["tab10" if len(ordered) <= 10 else "tab20"]
    styles = {
        label: Style(
            cmap(i % cmap.N), OTHER_MARKERS[i % len(OTHER_MARKERS)], OTHER_LINES[i % len(OTHER_LINES)]
        )
        for i, label in enumerate(ordered)
    }
    if BASELINE_LABEL in given:
        styles[BASELINE_LABEL] = BASELINE_STYLE
    return styles


def centered_offsets(n: int, width: float = DODGE_WIDTH) -> list[float]:
    """``n`` offsets centred on 0, ``width / n`` apart (all within ±width/2): the dodge of ``n`` points at one x."""
    if n <= 0:
        return []
    step = width / n
    return [(i - (n - 1) / 2) * step for i in range(n)]


def new_figure(width: float, height: float) -> Figure:
    """A figure on an Agg canvas with the constrained layout (which makes room for an outside legend)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def legend_outside(
    figure: Figure, handles: Sequence[Any], labels: Sequence[str], *, title: str | None = None
) -> None:
    """One legend for the whole figure, to the right of every axes (the layout reserves its margin)."""
    if handles:
        figure.legend(handles, labels, loc="outside right upper", fontsize="small", title=title)


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes: fixed size and dpi, no "Software" metadata, so the same figure gives the same bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    return buffer.getvalue()
