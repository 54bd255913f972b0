"""Leaderboard plots: legends outside every axes, one distinct style per method, dodged error bars, and the
difference-to-sft plot drawing the paired differences stored in the leaderboard (no statistics of its own)."""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import matplotlib.colors as mcolors
import numpy as np
import pytest
from conftest_records import make_record, sweep_records

import pearbench.metrics
from pearbench.errors import PearbenchError
from pearbench.metrics import outcome_table, paired_bootstrap, seed_averaged_pass_at_k
from pearbench.results.aggregate import build_leaderboard
from pearbench.results.model import BASELINE_LABEL, HEADLINE_KS
from pearbench.results.plot_diff import (
    DIFF_DODGE_WIDTH,
    STAGE_NAMES,
    difference_figure,
    difference_items,
    plot_difference_to_sft,
)
from pearbench.results.plot_style import DODGE_WIDTH, centered_offsets, series_styles
from pearbench.results.plots import PLOTS, plot_figures, plot_images

#: a wider sweep than conftest_records.SWEEP: 12 labels, several nearly equal (as the SFT/PEAR rows are)
WIDE = (
    ("sft", "sft", 0.35, 0.42, 1.0),
    ("sft", "sft@3x", 0.45, 0.40, 3.0),
    ("sft", "sft@0.33x", 0.25, 0.33, 0.33),
    ("pear-token", "pear-token", 0.35, 0.42, 1.0),
    ("pear-seq", "pear-seq", 0.35, 0.42, 1.0),
    ("pear-block", "pear-block", 0.36, 0.41, 1.0),
    ("dft", "dft", 0.30, 0.38, 1.0),
    ("none", "none", 0.15, 0.25, 1.0),
    ("pear-token", "pear-token-a", 0.34, 0.43, 1.0),
    ("pear-token", "pear-token-b", 0.33, 0.44, 1.0),
    ("pear-seq", "pear-seq-a", 0.36, 0.40, 1.0),
    ("pear-seq", "pear-seq-b", 0.37, 0.39, 1.0),
)


@pytest.fixture(scope="module")
def board():
    return build_leaderboard(sweep_records(seeds=(0, 1)))


@pytest.fixture(scope="module")
def wide_board():
    records = [
        make_record(
            method=method,
            method_label=label,
            seed=seed,
            sft_skill=sft,
            rl_skill=rl,
            sft_steps_factor=factor,
            n=16,
            n_problems=40,
        )
        for method, label, sft, rl, factor in WIDE
        for seed in (0, 1)
    ]
    return build_leaderboard(records)


@pytest.fixture(scope="module")
def no_baseline_board():
    return build_leaderboard([make_record(method="dft", seed=0), make_record(method="none", seed=0)])


def _row(board, label):
    (row,) = [r for r in board.rows if r.method_label == label]
    return row


def _overlap_area(a, b) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def _drawn(figure):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "constrained layout not applied" would be a failure
        figure.canvas.draw()
    return figure.canvas.get_renderer()


def _data_containers(ax):
    """The error-bar containers of the methods (the reference line y = 0 / y = x is a plain Line2D)."""
    return [c for c in ax.containers if c.lines[0] is not None]


# ----------------------------------------------------------------------------------------------------------------
# Legends


@pytest.mark.parametrize("which", ["board", "wide_board", "no_baseline_board"])
def test_no_legend_overlaps_any_axes(which, request):
    board = request.getfixturevalue(which)
    figures = plot_figures(board)
    assert [suffix for suffix, _ in figures] == [suffix for suffix, _, _ in PLOTS]
    assert [suffix for suffix, _ in figures] == ["passk", "sft_vs_rl", "diff_vs_sft"]
    for suffix, figure in figures:
        renderer = _drawn(figure)
        legends = list(figure.legends) + [
            ax.get_legend() for ax in figure.axes if ax.get_legend() is not None
        ]
        visible_axes = [ax for ax in figure.axes if ax.axison]
        if visible_axes:
            assert legends, f"{suffix}: no legend"
        page = figure.bbox
        for legend in legends:
            box = legend.get_window_extent(renderer)
            # entirely on the figure (not clipped off the PNG) ...
            assert box.x0 >= page.x0 - 0.5 and box.x1 <= page.x1 + 0.5, suffix
            assert box.y0 >= page.y0 - 0.5 and box.y1 <= page.y1 + 0.5, suffix
            for ax in figure.axes:
                # ... and off every axes: neither the plotting area nor its tick labels
                assert _overlap_area(box, ax.get_window_extent(renderer)) == 0.0, suffix
                assert _overlap_area(box, ax.get_tightbbox(renderer)) == 0.0, suffix


def test_every_method_and_the_baseline_reference_are_in_the_legend(board):
    labels = {row.method_label for row in board.rows}
    for suffix, figure in plot_figures(board):
        (legend,) = figure.legends
        texts = [t.get_text() for t in legend.get_texts()]
        expected = labels - {BASELINE_LABEL} if suffix == "diff_vs_sft" else labels
        assert expected <= set(texts), suffix
        assert len(texts) == len(set(texts)), suffix
    (_, diff), *_ = [f for f in plot_figures(board) if f[0] == "diff_vs_sft"]
    assert any(t.get_text().startswith(f"{BASELINE_LABEL} (reference") for t in diff.legends[0].get_texts())


# ----------------------------------------------------------------------------------------------------------------
# Distinct styles and dodge


def test_series_styles_are_distinct_and_independent_of_order():
    labels = [f"m{i}" for i in range(12)] + [BASELINE_LABEL]
    styles = series_styles(labels)
    assert series_styles(reversed(labels)) == styles
    assert len({(s.marker, str(s.linestyle)) for s in styles.values()}) == len(labels)
    assert len({s.color for label, s in styles.items() if label != BASELINE_LABEL}) == 12
    # the baseline alone is solid, and keeps its style whatever the other methods are
    assert [label for label, s in styles.items() if s.linestyle == "-"] == [BASELINE_LABEL]
    assert series_styles([BASELINE_LABEL, "x"])[BASELINE_LABEL] == styles[BASELINE_LABEL]


@pytest.mark.parametrize("which", ["board", "wide_board"])
def test_methods_differ_in_colour_and_marker_in_every_plot(which, request):
    board = request.getfixturevalue(which)
    styles = series_styles(row.method_label for row in board.rows)
    for suffix, figure in plot_figures(board):
        legend_labels = [t.get_text() for t in figure.legends[0].get_texts()]
        for ax in figure.axes:
            lines = [c.lines[0] for c in _data_containers(ax)]
            assert len(lines) >= 2, suffix
            drawn = [(mcolors.to_hex(line.get_color()), line.get_marker()) for line in lines]
            assert len({colour for colour, _ in drawn}) == len(lines), suffix
            assert len({marker for _, marker in drawn}) == len(lines), suffix
            # each method is drawn in its style (whose line styles differ: test_series_styles_...), and
            # connected by a line except in the scatter
            for line, label in zip(lines, [label for label in legend_labels if label in styles]):
                assert drawn[lines.index(line)] == (mcolors.to_hex(styles[label].color), styles[label].marker)
                assert (line.get_linestyle() == "None") == (suffix == "sft_vs_rl"), suffix


def test_passk_points_at_one_k_are_dodged_within_half_an_octave(wide_board):
    (_, figure), *_ = plot_figures(wide_board)
    for ax, stage in zip(figure.axes, ("sft", "rl")):
        containers = _data_containers(ax)
        rows = [row for row in wide_board.rows if getattr(row, stage)]
        assert len(containers) == len(rows)
        xs = np.array([c.lines[0].get_xdata() for c in containers], dtype=float)  # method x k
        ks = sorted(rows[0].__getattribute__(stage))
        offsets = np.log2(xs) - np.log2(np.array(ks))[None, :]
        assert np.all(np.abs(offsets) <= DODGE_WIDTH / 2 + 1e-12)
        for column in offsets.T:  # every method at its own x, the same offset at every k
            assert len(set(np.round(column, 12))) == len(rows)
        assert np.allclose(offsets, offsets[:, :1])
        # the values themselves are not moved
        for container, row in zip(containers, rows):
            curve = getattr(row, stage)
            assert list(container.lines[0].get_ydata()) == [curve[k].value for k in ks]


def test_centered_offsets():
    assert centered_offsets(0) == []
    assert centered_offsets(1) == [0.0]
    offsets = centered_offsets(4, 0.8)
    assert offsets == pytest.approx([-0.3, -0.1, 0.1, 0.3])
    assert sum(offsets) == pytest.approx(0.0)


# ----------------------------------------------------------------------------------------------------------------
# The difference-to-sft plot


def test_sft_stage_differences_are_paired_bootstraps_of_the_sft_stage():
    """The aggregation stores the SFT-stage difference (what the plot draws) as it stores the post-RL one."""
    records = sweep_records(seeds=(0, 1))
    board = build_leaderboard(records)
    tables = {
        label: [outcome_table(r["outcomes"]["sft"]) for r in sorted(group, key=lambda r: r["seed"])]
        for label, group in itertools.groupby(
            sorted(records, key=lambda r: r["method_label"]), key=lambda r: r["method_label"]
        )
    }
    assert _row(board, BASELINE_LABEL).vs_sft_after_sft == {}
    for row in board.rows:
        if row.method_label == BASELINE_LABEL:
            continue
        assert set(row.vs_sft_after_sft) == set(HEADLINE_KS)
        problems = sorted({(o["env"], o["id"]) for o in records[0]["outcomes"]["sft"]})
        for k in HEADLINE_KS:
            mine = seed_averaged_pass_at_k(tables[row.method_label], problems, k)
            theirs = seed_averaged_pass_at_k(tables[BASELINE_LABEL], problems, k)
            expected = paired_bootstrap(mine, theirs)
            comparison = row.vs_sft_after_sft[k]
            assert (comparison.diff, comparison.low, comparison.high, comparison.p_value) == (
                expected["diff"],
                expected["low"],
                expected["high"],
                expected["p_value"],
            )
            assert comparison.n_problems == len(problems)
            assert comparison != row.vs_sft[k]  # the two stages are different numbers


def test_difference_plot_draws_the_stored_comparisons(board, monkeypatch):
    def no_statistics(*args, **kwargs):
        raise AssertionError("the plot must not compute statistics")

    for name in ("paired_bootstrap", "bootstrap_ci", "seed_averaged_pass_at_k"):
        monkeypatch.setattr(pearbench.metrics, name, no_statistics)
    figure = difference_figure(board)
    _drawn(figure)
    assert len(figure.axes) == len(HEADLINE_KS)
    others = [row for row in board.rows if row.method_label != BASELINE_LABEL]
    for ax, k in zip(figure.axes, HEADLINE_KS):
        assert f"pass@{k}" in ax.get_title()
        assert [t.get_text() for t in ax.get_xticklabels()] == [STAGE_NAMES["sft"], STAGE_NAMES["rl"]]
        containers = _data_containers(ax)
        assert len(containers) == len(others)
        offsets = centered_offsets(len(others), DIFF_DODGE_WIDTH)
        for i, (container, row) in enumerate(zip(containers, others)):
            line = container.lines[0]
            stored = [row.vs_sft_after_sft[k], row.vs_sft[k]]
            assert list(line.get_ydata()) == [c.diff for c in stored]
            assert list(line.get_xdata()) == pytest.approx([0 + offsets[i], 1 + offsets[i]])
            (bars,) = container.lines[2]
            for segment, comparison in zip(bars.get_segments(), stored):
                assert sorted(segment[:, 1]) == pytest.approx([comparison.low, comparison.high])
        # the baseline: a dashed reference line at 0
        assert any(list(line.get_ydata()) == [0.0, 0.0] for line in ax.get_lines())


def test_difference_plot_for_a_mismatch_map(board, wide_board, tmp_path):
    """The reuse a mismatch map needs: a numeric x per point, several leaderboards, one series per method."""
    shifted = {"countdown-mix": 0.0, "other": 0.25}
    boards = [board, dataclasses.replace(wide_board, suite="other")]

    def x(item):
        return item.row.mismatch + shifted[item.suite]

    figure = difference_figure(
        boards, x=x, series=lambda item: item.row.method_label, stages=("rl",), ks=(1,)
    )
    _drawn(figure)
    (ax,) = figure.axes
    items = difference_items(boards, stages=("rl",), ks=(1,))
    methods = list(dict.fromkeys(item.row.method_label for item in items))
    containers = _data_containers(ax)
    assert len(containers) == len(methods)
    true_x = sorted({x(item) for item in items})
    gap = min(b - a for a, b in zip(true_x, true_x[1:]))
    drawn = []
    for container, method in zip(containers, methods):
        mine = sorted((item for item in items if item.row.method_label == method), key=x)
        xs = list(container.lines[0].get_xdata())
        assert len(xs) == len(mine)
        for at, item in zip(xs, mine):
            assert abs(at - x(item)) <= gap / 4 + 1e-12  # dodged, never past the middle to the next x
            drawn.append((at, item.comparison.diff))
    assert len(set(drawn)) == len(drawn)  # no two points on top of each other
    # a categorical and a numeric x cannot be mixed
    with pytest.raises(PearbenchError, match="all labels or all finite numbers"):
        difference_figure(board, x=lambda item: item.row.mismatch if item.stage == "rl" else "after SFT")
    # a log axis: the same points, dodged by factors (equal steps in log10 x) around the true x
    logged = difference_figure(
        boards,
        x=lambda item: 10.0 ** x(item),
        series=lambda item: item.row.method_label,
        stages=("rl",),
        ks=(1,),
        xscale="log",
    )
    _drawn(logged)
    (log_ax,) = logged.axes
    assert log_ax.get_xscale() == "log"
    redrawn = [
        (np.log10(at), y)
        for container in _data_containers(log_ax)
        for at, y in zip(container.lines[0].get_xdata(), container.lines[0].get_ydata())
    ]
    assert np.allclose(np.array(sorted(redrawn)), np.array(sorted(drawn)), rtol=0, atol=1e-9)
    with pytest.raises(PearbenchError, match="log x axis needs x values above 0"):
        difference_figure(boards, x=lambda item: x(item) - 10.0, stages=("rl",), ks=(1,), xscale="log")
    with pytest.raises(PearbenchError, match="xscale must be"):
        difference_figure(boards, x=x, stages=("rl",), ks=(1,), xscale="symlog")


def test_difference_plot_accepts_rows_and_writes_a_stable_png(board, tmp_path):
    rows = list(board.rows)
    first = plot_difference_to_sft(rows, tmp_path / "a.png", title="rows")
    second = plot_difference_to_sft(rows, tmp_path / "b.png", title="rows")
    assert first.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert first.read_bytes() == second.read_bytes()
    assert b"Software" not in first.read_bytes()
    with pytest.raises(PearbenchError, match="unknown stage"):
        plot_difference_to_sft(board, tmp_path / "c.png", stages=("eval",))
    with pytest.raises(PearbenchError, match="leaderboard"):
        plot_difference_to_sft(["not a row"], tmp_path / "d.png")
    assert not (tmp_path / "c.png").exists() and not (tmp_path / "d.png").exists()


def test_without_a_baseline_the_difference_plot_says_so(no_baseline_board):
    figure = difference_figure(no_baseline_board)
    (ax,) = figure.axes
    assert not ax.axison
    assert "no differences" in ax.texts[0].get_text()


def test_plot_images_are_byte_stable(wide_board):
    assert plot_images(wide_board) == plot_images(wide_board)
