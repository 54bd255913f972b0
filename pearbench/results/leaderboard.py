"""Leaderboards from result records (docs/design.md §6): the public entry.

The pieces live in their own modules:

- :mod:`pearbench.metrics`: the statistics (seed-averaged pass@k, bootstrap CIs, ranks, Kendall's τ-b);
- :mod:`pearbench.results.model`: the data (:class:`Leaderboard`, its rows and estimates);
- :mod:`pearbench.results.aggregate`: records -> leaderboards (:func:`build_leaderboards`; the statistics used
  are described there);
- :mod:`pearbench.results.tables`: the table text shared by the renderers;
- :mod:`pearbench.results.render_text` (Markdown, CSV, LaTeX) and :mod:`pearbench.results.render_html` (HTML).

This module builds and renders: :func:`build_leaderboards` then :func:`render` in one of :data:`FORMATS`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from pearbench.errors import unknown
from pearbench.results.aggregate import build_leaderboard, build_leaderboards
from pearbench.results.model import Leaderboard
from pearbench.results.render_html import render_html
from pearbench.results.render_text import render_csv, render_latex, render_markdown

__all__ = [
    "FORMATS",
    "Leaderboard",
    "build_leaderboard",
    "build_leaderboards",
    "render",
    "render_csv",
    "render_html",
    "render_latex",
    "render_markdown",
]

FORMATS = {"md": "md", "csv": "csv", "tex": "tex", "html": "html"}

#: names this module defined before it was split, by the module that defines them now: still importable from here
#: (with a DeprecationWarning, like the old module paths of ``pearbench._lazy.MOVED``)
_MOVED_NAMES = {
    name: module
    for module, names in {
        "pearbench.metrics": (
            "ProblemKey",
            "OutcomeTable",
            "outcome_table",
            "common_problems",
            "seed_averaged_pass_at_k",
            "kendall_tau_b",
            "competition_ranks",
        ),
        "pearbench.results.model": (
            "BASELINE_LABEL",
            "HEADLINE_KS",
            "DIAGNOSTIC_COLUMNS",
            "Estimate",
            "Comparison",
            "MethodRow",
            "ReferenceRow",
            "Example",
        ),
        "pearbench.results.aggregate": ("MAX_EXAMPLES_PER_METHOD",),
        "pearbench.results.tables": (
            "COLUMNS",
            "REFERENCE_COLUMNS",
            "REFERENCE_NAMES",
            "HELDOUT_COLUMNS",
            "heldout_rows",
            "legend",
            "fmt",
            "fmt_signed",
            "fmt_ci",
            "fmt_diff",
            "fmt_p",
        ),
        "pearbench.results.render_text": ("tex_escape",),
        "pearbench.results.render_html": ("PAGE_TITLE", "MAX_EXAMPLE_CHARS"),
    }.items()
    for name in names
}


def __getattr__(name: str) -> Any:
    if name in _MOVED_NAMES:
        warnings.warn(
            f"{__name__}.{name} moved to {_MOVED_NAMES[name]}.{name}", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(_MOVED_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def render(
    boards: Sequence[Leaderboard],
    fmt_name: str,
    *,
    images: Mapping[str, Sequence[tuple[str, bytes]]] | None = None,
) -> str:
    """Render in ``md``, ``csv``, ``tex`` or ``html`` (``images`` only used by html)."""
    if fmt_name == "md":
        return render_markdown(boards)
    if fmt_name == "csv":
        return render_csv(boards)
    if fmt_name == "tex":
        return render_latex(boards)
    if fmt_name == "html":
        return render_html(boards, images)
    raise unknown("leaderboard format", fmt_name, FORMATS)
