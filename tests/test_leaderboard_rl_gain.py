"""The RL gain of every leaderboard method (pass@1 after RL minus after SFT, same method): the statistics against
slow references, per-seed gains from hand-computed outcomes, the plain reading, and the section in every format."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace
from fractions import Fraction
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest_records import (
    lost_problem_records,
    make_body,
    metrics_of,
    problem_keys,
    sweep_records,
)

from pearbench.metrics import BOOTSTRAP_SEED, N_BOOTSTRAP, paired_bootstrap
from pearbench.results.aggregate import build_leaderboard
from pearbench.results.leaderboard import render
from pearbench.results.model import Comparison
from pearbench.results.records import finalize_record
from pearbench.results.tables import (
    RL_GAIN_COLUMNS,
    RL_GAIN_NO_IMPROVEMENT,
    RL_GAIN_TITLE,
    rl_gain_reading,
)

# ----------------------------------------------------------------------------------------------------------------
# Slow, obviously-correct references


def slow_pass_at_1(n: int, c: int) -> Fraction:
    return Fraction(c, n)


def slow_percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default quantile method)."""
    position = q * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def slow_gain(records: list[dict]) -> tuple[list[tuple[str, str]], dict[tuple[str, str], Fraction]]:
    """Problems present in every seed at both stages (sorted), and per problem the exact seed-averaged
    pass@1 after RL minus after SFT."""
    per_stage_seed = {
        stage: [
            {(o["env"], o["id"]): slow_pass_at_1(o["n"], o["c"]) for o in r["outcomes"][stage]}
            for r in records
        ]
        for stage in ("sft", "rl")
    }
    tables = per_stage_seed["sft"] + per_stage_seed["rl"]
    shared = sorted(set(tables[0]).intersection(*tables[1:]))
    seeds = len(records)
    diffs = {}
    for key in shared:
        rl = sum((table[key] for table in per_stage_seed["rl"]), Fraction(0)) / seeds
        sft = sum((table[key] for table in per_stage_seed["sft"]), Fraction(0)) / seeds
        diffs[key] = rl - sft
    return shared, diffs


def slow_paired_bootstrap(diffs: list[Fraction]) -> tuple[Fraction, float, float, float, int]:
    """Observed mean, percentile CI and two-sided p-value over resampled means drawn with the same RNG stream as
    pearbench.metrics, each mean summed in exact arithmetic; also how many resampled means are exactly 0."""
    size = len(diffs)
    index = np.random.default_rng(BOOTSTRAP_SEED).integers(0, size, size=(N_BOOTSTRAP, size)).tolist()
    means = [sum((diffs[j] for j in row), Fraction(0)) / size for row in index]
    floats = sorted(float(m) for m in means)
    below = sum(m <= 0 for m in means)
    above = sum(m >= 0 for m in means)
    p_value = min(1.0, 2 * min(below, above) / N_BOOTSTRAP)
    zeros = sum(m == 0 for m in means)
    observed = sum(diffs, Fraction(0)) / size
    return observed, slow_percentile(floats, 0.025), slow_percentile(floats, 0.975), p_value, zeros


def with_outcomes(body: dict, sft_c: list[int], rl_c: list[int], n: int) -> dict:
    """``body`` (from make_body) with hand-written correct counts per problem, in problem_keys order."""
    problems = problem_keys(len(sft_c))
    stages = {"sft": sft_c, "rl": rl_c}
    body["outcomes"] = {
        stage: [
            {"id": pid, "env": env, "difficulty": level, "n": n, "c": c, "errors": 0}
            for (env, pid, level), c in zip(problems, counts)
        ]
        for stage, counts in stages.items()
    }
    ks = [k for k in body["eval"]["ks"] if k <= n]
    body["eval"] = {**body["eval"], "n": n, "ks": ks}
    body["metrics"] = {stage: metrics_of(body["outcomes"][stage], ks) for stage in stages}
    return body


def hand_record(method: str, seed: int, sft_c: list[int], rl_c: list[int], n: int = 4) -> dict:
    return finalize_record(with_outcomes(make_body(method=method, seed=seed, n=n), sft_c, rl_c, n))


def _row(board, label):
    (row,) = [r for r in board.rows if r.method_label == label]
    return row


# ----------------------------------------------------------------------------------------------------------------
# Statistics


@pytest.fixture(scope="module")
def stats_records():
    """sft and pear-token over 3 seeds; pear-token's seed 2 lost problem #5 (its gain uses 29 problems)."""
    return lost_problem_records()


@pytest.fixture(scope="module")
def stats_board(stats_records):
    return build_leaderboard(stats_records)


@pytest.mark.parametrize("label", ["sft", "pear-token"])
def test_gain_and_ci_match_a_slow_paired_bootstrap(stats_records, stats_board, label):
    group = [r for r in stats_records if r["method_label"] == label]
    shared, diffs = slow_gain(group)
    assert len(shared) == (29 if label == "pear-token" else 30)
    observed, low, high, p_value, zeros = slow_paired_bootstrap([diffs[key] for key in shared])
    gain = _row(stats_board, label).rl_gain
    assert gain is not None and gain.n_problems == len(shared)
    assert gain.diff == pytest.approx(float(observed), abs=1e-12)
    assert gain.low == pytest.approx(low, abs=1e-12)
    assert gain.high == pytest.approx(high, abs=1e-12)
    # a resampled mean of exactly 0 may land on either side of 0 in floating point
    assert abs(gain.p_value - p_value) <= 2 * zeros / N_BOOTSTRAP + 1e-12
    assert gain.low < gain.diff < gain.high


def test_gain_equals_paired_bootstrap_on_hand_built_arrays(stats_records, stats_board):
    """The same numbers from paired_bootstrap called on seed-averaged c/n arrays built here by hand."""
    group = [r for r in stats_records if r["method_label"] == "pear-token"]
    shared, _ = slow_gain(group)
    by_stage = {
        stage: [
            [o["c"] / o["n"] for o in r["outcomes"][stage] if (o["env"], o["id"]) in shared] for r in group
        ]
        for stage in ("sft", "rl")
    }
    after_rl = [sum(seed[i] for seed in by_stage["rl"]) / 3 for i in range(len(shared))]
    after_sft = [sum(seed[i] for seed in by_stage["sft"]) / 3 for i in range(len(shared))]
    stats = paired_bootstrap(after_rl, after_sft)
    gain = _row(stats_board, "pear-token").rl_gain
    assert (gain.diff, gain.low, gain.high, gain.p_value) == pytest.approx(
        (stats["diff"], stats["low"], stats["high"], stats["p_value"]), abs=1e-12
    )


def test_per_seed_gains_average_to_the_gain(stats_records, stats_board):
    group = [r for r in stats_records if r["method_label"] == "pear-token"]
    shared, _ = slow_gain(group)
    row = _row(stats_board, "pear-token")
    expected = []
    for record in group:  # each seed over the row's 29 problems, not its own 29 or 30
        by_stage = {
            stage: {(o["env"], o["id"]): Fraction(o["c"], o["n"]) for o in record["outcomes"][stage]}
            for stage in ("sft", "rl")
        }
        expected.append(
            sum((by_stage["rl"][k] - by_stage["sft"][k] for k in shared), Fraction(0)) / len(shared)
        )
    assert row.rl_gain_per_seed == pytest.approx([float(e) for e in expected], abs=1e-12)
    assert sum(row.rl_gain_per_seed) / 3 == pytest.approx(row.rl_gain.diff, abs=1e-12)


def test_per_seed_gains_from_hand_computed_outcomes():
    """n=4, three problems. Seed 7: pass@1 after SFT 0, 1/2, 1 and after RL 1/4, 1/2, 1: gain (1/4)/3 = +1/12.
    Seed 3: after SFT 1, 1, 0 and after RL 1/2, 1, 0: gain (-1/2)/3 = -1/6. Seed order is 3, 7."""
    records = [
        hand_record("pear-seq", 7, sft_c=[0, 2, 4], rl_c=[1, 2, 4]),
        hand_record("pear-seq", 3, sft_c=[4, 4, 0], rl_c=[2, 4, 0]),
        hand_record("sft", 0, sft_c=[1, 1, 1], rl_c=[1, 1, 1]),
    ]
    board = build_leaderboard(records)
    row = _row(board, "pear-seq")
    assert row.seeds == (3, 7)
    assert row.rl_gain_per_seed == pytest.approx((-1 / 6, 1 / 12), abs=1e-15)
    assert row.seeds_gained == 1
    # seed-averaged per problem: (-1/8, 0, 0) -> gain -1/24
    assert row.rl_gain.diff == pytest.approx(-1 / 24, abs=1e-15)
    markdown = render([board], "md")
    section = markdown.split(RL_GAIN_TITLE, 1)[1]
    (line,) = [line for line in section.splitlines() if line.startswith("| pear-seq |")]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[:2] == ["pear-seq", "2"]
    assert cells[2].startswith("-0.042 [")
    assert cells[4:6] == ["s3 -0.167, s7 +0.083", "1/2"]
    # sft: identical outcomes at both stages -> gain exactly 0, CI [0, 0], p = 1, no seed gained
    sft = _row(board, "sft")
    assert (sft.rl_gain.diff, sft.rl_gain.low, sft.rl_gain.high, sft.rl_gain.p_value) == (0.0, 0.0, 0.0, 1.0)
    (sft_line,) = [line for line in section.splitlines() if line.startswith("| sft |")]
    assert [c.strip() for c in sft_line.strip("|").split("|")][2:] == [
        "+0.000 [+0.000, +0.000]",
        "1.000",
        "s0 +0.000",
        "0/1",
        RL_GAIN_NO_IMPROVEMENT,
    ]


def test_a_gain_whose_ci_includes_zero_is_read_as_noise():
    """Seed-averaged differences +1/4, -1/4 over alternating problems: a CI that straddles 0, not exactly 0."""
    sft_c = [2] * 12
    rl_c = [3, 1] * 5 + [3, 2]
    records = [hand_record("dft", s, sft_c, rl_c) for s in (0, 1)] + [
        hand_record("sft", s, sft_c, [4] * 12) for s in (0, 1)
    ]
    board = build_leaderboard(records)
    dft, sft = _row(board, "dft"), _row(board, "sft")
    assert dft.rl_gain.low < 0 < dft.rl_gain.diff < dft.rl_gain.high
    assert dft.rl_gain.p_value > 0.05
    assert dft.seeds_gained == 2  # both seeds gained a little, yet the gain is not beyond noise
    assert sft.rl_gain.low > 0
    for fmt_name in ("md", "html", "tex"):
        text = render([board], fmt_name)
        assert text.count(RL_GAIN_NO_IMPROVEMENT) == 1, fmt_name
        assert text.count("RL improved pass@1 (CI above 0)") == 1, fmt_name
    markdown = render([board], "md")
    (line,) = [line for line in markdown.splitlines() if line.startswith("| dft | 2 |")]
    assert line.rstrip(" |").endswith(RL_GAIN_NO_IMPROVEMENT)


@pytest.mark.parametrize(
    ("low", "high", "reading"),
    [
        (0.01, 0.2, "RL improved pass@1 (CI above 0)"),
        (-0.2, -0.01, "RL lowered pass@1 (CI below 0)"),
        (-0.01, 0.2, RL_GAIN_NO_IMPROVEMENT),
        (0.0, 0.2, RL_GAIN_NO_IMPROVEMENT),
        (-0.2, 0.0, RL_GAIN_NO_IMPROVEMENT),
    ],
)
def test_reading_of_a_gain(low, high, reading):
    assert rl_gain_reading(Comparison((low + high) / 2, low, high, 0.5, 10)) == reading
    assert rl_gain_reading(None) == "—"


def test_none_has_a_gain_from_the_base_model():
    board = build_leaderboard(sweep_records(seeds=(0, 1)))
    none = _row(board, "none")
    assert none.rl_gain is not None and len(none.rl_gain_per_seed) == 2
    assert none.rl_gain.diff == pytest.approx(none.rl[1].value - none.sft[1].value, abs=1e-12)
    assert all(row.rl_gain is not None for row in board.rows)


# ----------------------------------------------------------------------------------------------------------------
# The section in each format


HOSTILE_LABEL = "<b>x|y</b>&"


@pytest.fixture(scope="module")
def hostile_board():
    """A sweep board whose first row has a label no record could hold (records allow file-name-safe labels only)."""
    board = build_leaderboard(sweep_records(seeds=(0, 1)))
    return replace(board, rows=(replace(board.rows[0], method_label=HOSTILE_LABEL), *board.rows[1:]))


def test_markdown_section_follows_the_main_table_with_one_row_per_method(hostile_board):
    markdown = render([hostile_board], "md")
    before, section = markdown.split(f"\n{RL_GAIN_TITLE}:\n", 1)
    assert "| RL rank | SFT rank | method |" in before and "| RL rank |" not in section
    assert section.index("| method | seeds | gain [95% CI] |") < section.index("Reference models")
    header = "| " + " | ".join(RL_GAIN_COLUMNS) + " |"
    lines = section.splitlines()
    start = lines.index(header)
    rows = lines[start + 2 : start + 2 + len(hostile_board.rows)]
    assert [r.split(" | ")[0][2:] for r in rows] == [
        r.method_label.replace("|", "\\|") for r in hostile_board.rows
    ]
    assert rows[0].startswith("| <b>x\\|y</b>& | 2 | ")
    assert all(len(r.replace("\\|", "").strip("|").split("|")) == len(RL_GAIN_COLUMNS) for r in rows)
    assert lines[start + 2 + len(hostile_board.rows)] == ""


class _Tables(HTMLParser):
    """Cell texts of the rows of every table, by table class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None
        self.in_body = False
        self.headings: list[str] = []
        self.in_h3 = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = dict(attrs).get("class", "")
            self.tables.setdefault(self.current, [])
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and self.current is not None:
            self.tables[self.current].append([])
        elif tag == "td" and self.in_body:
            self.cell = []
        elif tag == "h3":
            self.in_h3 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None and self.current is not None:
            self.tables[self.current][-1].append("".join(self.cell))
            self.cell = None
        elif tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.current = None
        elif tag == "h3":
            self.in_h3 = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        if self.in_h3:
            self.headings[-1] += data


def test_html_section_is_escaped_with_one_row_per_method(hostile_board):
    page = render([hostile_board], "html")
    assert "<b>x" not in page and "&lt;b&gt;x|y&lt;/b&gt;&amp;" in page
    parsed = _Tables()
    parsed.feed(page)
    assert RL_GAIN_TITLE in parsed.headings
    assert len(parsed.tables["leaderboard"]) == len(hostile_board.rows)
    assert all(len(cells) == 14 for cells in parsed.tables["leaderboard"])  # the main table is unchanged
    gain_rows = parsed.tables["rl-gain"]
    assert [cells[0] for cells in gain_rows] == [r.method_label for r in hostile_board.rows]
    assert all(len(cells) == len(RL_GAIN_COLUMNS) for cells in gain_rows)
    assert page.index('<table class="leaderboard">') < page.index('<table class="rl-gain">')
    assert page.index('<table class="rl-gain">') < page.index('<table class="reference">')


def test_csv_has_the_gain_of_every_method_line():
    board = build_leaderboard(sweep_records(seeds=(0, 1)))
    rows = list(csv.DictReader(io.StringIO(render([board], "csv"))))
    assert all(None not in row and None not in row.values() for row in rows)
    methods = [r for r in rows if r["kind"] == "method"]
    for line, row in zip(methods, board.rows):
        gain = row.rl_gain
        assert [line[f"{c}"] for c in ("rl_gain_pass@1", "rl_gain_pass@1_low", "rl_gain_pass@1_high")] == [
            f"{gain.diff:.3f}".replace("-0.000", "0.000"),
            f"{gain.low:.3f}".replace("-0.000", "0.000"),
            f"{gain.high:.3f}".replace("-0.000", "0.000"),
        ]
        assert float(line["p_rl_gain_pass@1"]) == pytest.approx(gain.p_value, abs=5.01e-4)
        assert [float(g) for g in line["rl_gain_per_seed"].split()] == pytest.approx(
            row.rl_gain_per_seed, abs=5.01e-4
        )
        assert int(line["rl_gain_seeds_gained"]) == row.seeds_gained
    assert all(r["rl_gain_pass@1"] == "" for r in rows if r["kind"] != "method")


def test_latex_has_the_gain_table_between_the_main_and_reference_tables():
    board = build_leaderboard(sweep_records(seeds=(0,)))
    text = render([board], "tex")
    assert text.count(r"\begin{tabular}") == 3
    main, gain, reference = text.split(r"\begin{tabular}")[1:]
    assert "RL rank" in main and r"gain [95\% CI]" in gain and "evaluations" in reference
    assert all(f"{row.method_label} & 1 & " in gain for row in board.rows)
    assert "−" not in text and "β" not in text  # mapped to LaTeX math
