"""Leaderboards: statistics against slow references, paired comparisons, Kendall's tau-b, formats, byte stability,
plots and the `pearbench leaderboard` command."""

from __future__ import annotations

import copy
import csv
import io
import itertools
import math
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest_records import (
    HOSTILE_COMPLETION,
    fake_recipe_hashes,
    lost_problem_records,
    make_body,
    make_record,
    render_all_to,
    sweep_records,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.metrics import (
    BOOTSTRAP_SEED,
    N_BOOTSTRAP,
    competition_ranks,
    kendall_tau_b,
    seed_averaged_pass_at_k,
)
from pearbench.results.aggregate import build_leaderboard, build_leaderboards
from pearbench.results.leaderboard import render
from pearbench.results.model import Estimate
from pearbench.results.plots import plot_images, write_plots
from pearbench.results.records import finalize_record, write_record
from pearbench.results.render_html import render_html
from pearbench.results.render_text import render_csv, render_latex, render_markdown
from pearbench.results.tables import fmt_ci

TESTS_DIR = Path(__file__).resolve().parent
CI_PATTERN = re.compile(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$")


# ----------------------------------------------------------------------------------------------------------------
# Slow, obviously-correct references


def slow_pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def slow_percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default quantile method)."""
    position = q * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def slow_bootstrap_means(values: list[float]) -> list[float]:
    """The resampled means, drawn with the same RNG stream as pearbench.metrics, averaged in plain Python."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    index = rng.integers(0, len(values), size=(N_BOOTSTRAP, len(values)))
    return sorted(sum(values[j] for j in row) / len(values) for row in index.tolist())


def slow_ci(values: list[float]) -> tuple[float, float, float]:
    means = slow_bootstrap_means(values)
    return sum(values) / len(values), slow_percentile(means, 0.025), slow_percentile(means, 0.975)


def slow_seed_average(records: list[dict], stage: str, k: int) -> dict[tuple[str, str], float]:
    """Per problem present in every record: the mean over records (seeds) of pass@k."""
    per_seed = [
        {(o["env"], o["id"]): slow_pass_at_k(o["n"], o["c"], k) for o in r["outcomes"][stage]}
        for r in records
    ]
    shared = set(per_seed[0]).intersection(*per_seed[1:])
    return {key: sum(seed[key] for seed in per_seed) / len(per_seed) for key in shared}


def slow_seed_average_exact(records: list[dict], stage: str, k: int) -> dict[tuple[str, str], Fraction]:
    """As :func:`slow_seed_average`, in exact rational arithmetic."""

    def exact_pass(n: int, c: int) -> Fraction:
        return Fraction(1) if n - c < k else 1 - Fraction(math.comb(n - c, k), math.comb(n, k))

    per_seed = [
        {(o["env"], o["id"]): exact_pass(o["n"], o["c"]) for o in r["outcomes"][stage]} for r in records
    ]
    shared = set(per_seed[0]).intersection(*per_seed[1:])
    return {key: sum((seed[key] for seed in per_seed), Fraction(0)) / len(per_seed) for key in shared}


def brute_tau_b(x: list[float], y: list[float]) -> float | None:
    concordant = discordant = tie_x_only = tie_y_only = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tie_x_only += 1
        elif dy == 0:
            tie_y_only += 1
        elif (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = math.sqrt((concordant + discordant + tie_x_only) * (concordant + discordant + tie_y_only))
    return None if denominator == 0 else (concordant - discordant) / denominator


# ----------------------------------------------------------------------------------------------------------------
# Pure statistics


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=0, max_size=9))
def test_kendall_tau_b_matches_a_brute_force_pair_count(pairs):
    x = [float(a) for a, _ in pairs]
    y = [float(b) for _, b in pairs]
    expected = brute_tau_b(x, y)
    got = kendall_tau_b(x, y)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_kendall_tau_b_known_values():
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau_b([1, 2, 3], [5, 5, 5]) is None
    # one tie in x: C=2, D=0, ties_x=1 -> 2 / sqrt(2 * 3)
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


def test_competition_ranks():
    assert competition_ranks([0.5, 0.7, 0.5, 0.1]) == [2, 1, 2, 4]


def test_seed_averaged_pass_at_k_is_undefined_when_k_exceeds_n():
    tables = [{("g", "a"): (4, 1)}, {("g", "a"): (8, 1)}]
    assert seed_averaged_pass_at_k(tables, [("g", "a")], 8) is None
    assert seed_averaged_pass_at_k(tables, [("g", "a")], 2) == pytest.approx(
        (slow_pass_at_k(4, 1, 2) + slow_pass_at_k(8, 1, 2)) / 2
    )


# ----------------------------------------------------------------------------------------------------------------
# Leaderboard statistics against the slow reference


@pytest.fixture(scope="module")
def stats_records():
    """sft and pear-token over 3 seeds; pear-token's seed 2 lost problem #5 (so it must drop from its rows)."""
    return lost_problem_records()


@pytest.fixture(scope="module")
def stats_board(stats_records):
    return build_leaderboard(stats_records, recipes_checked=True)


def _row(board, label):
    (row,) = [r for r in board.rows if r.method_label == label]
    return row


@pytest.mark.parametrize("label", ["sft", "pear-token"])
@pytest.mark.parametrize("stage", ["sft", "rl"])
@pytest.mark.parametrize("k", [1, 4, 8])
def test_scores_are_seed_averaged_per_problem_then_bootstrapped(stats_records, stats_board, label, stage, k):
    group = [r for r in stats_records if r["method_label"] == label]
    other_stage = "rl" if stage == "sft" else "sft"
    shared = set(slow_seed_average(group, stage, k)) & set(slow_seed_average(group, other_stage, k))
    per_problem = slow_seed_average(group, stage, k)
    values = [per_problem[key] for key in sorted(shared)]
    value, low, high = slow_ci(values)
    estimate = getattr(_row(stats_board, label), stage)[k]
    assert (estimate.value, estimate.low, estimate.high) == pytest.approx((value, low, high), abs=1e-12)
    assert _row(stats_board, label).n_problems == (29 if label == "pear-token" else 30)


@pytest.mark.parametrize("k", [1, 8])
def test_difference_to_sft_is_a_paired_bootstrap_over_shared_problems(stats_records, stats_board, k):
    sft = slow_seed_average([r for r in stats_records if r["method"] == "sft"], "rl", k)
    pear = slow_seed_average([r for r in stats_records if r["method"] == "pear-token"], "rl", k)
    shared = sorted(set(sft) & set(pear))
    assert len(shared) == 29
    diffs = [pear[key] - sft[key] for key in shared]
    means = slow_bootstrap_means(diffs)
    comparison = _row(stats_board, "pear-token").vs_sft[k]
    assert comparison.n_problems == 29
    assert comparison.diff == pytest.approx(sum(diffs) / len(diffs), abs=1e-12)
    assert comparison.low == pytest.approx(slow_percentile(means, 0.025), abs=1e-12)
    assert comparison.high == pytest.approx(slow_percentile(means, 0.975), abs=1e-12)
    # The p-value in exact rational arithmetic: a resampled mean difference of exactly 0 counts on both sides.
    exact = slow_seed_average_exact([r for r in stats_records if r["method"] == "pear-token"], "rl", k)
    exact_sft = slow_seed_average_exact([r for r in stats_records if r["method"] == "sft"], "rl", k)
    exact_diffs = [exact[key] - exact_sft[key] for key in shared]
    index = (
        np.random.default_rng(BOOTSTRAP_SEED)
        .integers(0, len(shared), size=(N_BOOTSTRAP, len(shared)))
        .tolist()
    )
    exact_means = [sum((exact_diffs[j] for j in row), Fraction(0)) for row in index]
    below = sum(m <= 0 for m in exact_means)
    above = sum(m >= 0 for m in exact_means)
    exact_zero = sum(m == 0 for m in exact_means)
    p_exact = min(1.0, 2 * min(below, above) / N_BOOTSTRAP)
    # pearbench.metrics.paired_bootstrap compares float means with 0, so a mean that is exactly 0 in exact
    # arithmetic may land on either side by rounding: the p-value agrees up to those ties.
    assert abs(comparison.p_value - p_exact) <= 2 * exact_zero / N_BOOTSTRAP + 1e-12
    assert _row(stats_board, "sft").vs_sft == {}
    assert any("29 problems" in note for note in stats_board.notes)


def test_ranks_tau_and_row_order(stats_board):
    rows = stats_board.rows
    rl = [r.rl[1].value for r in rows]
    assert rl == sorted(rl, reverse=True)
    assert [r.rank_rl for r in rows] == competition_ranks(rl)
    assert [r.rank_sft for r in rows] == competition_ranks([r.sft[1].value for r in rows])
    assert stats_board.kendall_tau == pytest.approx(kendall_tau_b([r.sft[1].value for r in rows], rl))


def _clone(record: dict, **changes) -> dict:
    body = copy.deepcopy(record)
    body.update(changes)
    body["run_id"] = f"{body['suite']}__{body['method_label']}__s{body['seed']}__{body['profile']}"
    return finalize_record(body)


def test_identical_methods_have_zero_difference_and_p_one():
    records = [make_record(method="sft", seed=s) for s in range(2)]
    records += [_clone(r, method="pear-seq", method_label="pear-seq") for r in records]
    board = build_leaderboard(records)
    for k in (1, 8):
        comparison = _row(board, "pear-seq").vs_sft[k]
        assert comparison.diff == 0.0
        assert comparison.p_value == 1.0
        assert (comparison.low, comparison.high) == (0.0, 0.0)
    # equal scores share ranks and the sort falls back to the method name
    assert [r.method_label for r in board.rows] == ["pear-seq", "sft"]
    assert [r.rank_rl for r in board.rows] == [1, 1]


def test_a_dominating_method_has_a_small_p_value():
    records = [make_record(method="sft", seed=s, rl_skill=0.3) for s in range(2)]
    records += [make_record(method="pear-token", seed=s, rl_skill=0.8) for s in range(2)]
    comparison = _row(build_leaderboard(records), "pear-token").vs_sft[1]
    assert comparison.diff > 0.2
    assert comparison.low > 0
    assert comparison.p_value < 0.01


def test_pass_at_8_is_undefined_with_four_samples_and_said_so():
    records = [make_record(method=m, n=4) for m in ("sft", "dft")]
    board = build_leaderboard(records)
    assert all(8 not in row.rl and 1 in row.rl for row in board.rows)
    assert any(note.startswith("pass@8 is undefined") for note in board.notes)
    table = render_markdown([board])
    assert "—" in table


def test_without_an_sft_row_no_difference_is_computed():
    board = build_leaderboard([make_record(method="dft"), make_record(method="pear-seq")])
    assert all(row.vs_sft == {} for row in board.rows)
    assert any("no 'sft' row" in note for note in board.notes)


def test_reference_rows_come_from_the_records():
    board = build_leaderboard(sweep_records(seeds=(0, 1)))
    assert [ref.name for ref in board.references] == ["base", "teacher"]
    assert board.references[0].metrics[1].value < board.references[1].metrics[1].value
    assert board.references[0].evaluations == 1


def test_records_that_cannot_share_a_leaderboard_are_refused():
    with pytest.raises(PearbenchError, match="--profile"):
        build_leaderboards([make_record(), make_record(profile="small")])
    assert len(build_leaderboards([make_record(), make_record(profile="small")], profile="small")) == 1
    hot = _clone(make_record(seed=1), eval={**make_record()["eval"], "temperature": 0.6})
    with pytest.raises(PearbenchError, match=r"eval\.temperature"):
        build_leaderboard([make_record(), hot])
    with pytest.raises(PearbenchError, match="unknown suite 'other'; choose one of: countdown-mix"):
        build_leaderboards([make_record()], suite="other")


def test_several_suites_give_several_leaderboards_in_name_order():
    boards = build_leaderboards([make_record(suite="zeta"), make_record(suite="alpha")])
    assert [b.suite for b in boards] == ["alpha", "zeta"]


# ----------------------------------------------------------------------------------------------------------------
# Formats


@pytest.fixture(scope="module")
def sweep_board():
    records = sweep_records(seeds=(0, 1))
    records[1] = _clone(
        records[1],
        examples=[
            {"id": "x", "stage": "rl", "prompt": "p", "completion": HOSTILE_COMPLETION, "correct": False}
        ],
    )
    return build_leaderboard(records)


def test_ci_format():
    assert fmt_ci(Estimate(0.41234, 0.3611, 0.46649)) == "0.412 [0.361, 0.466]"
    assert fmt_ci(None) == "—"


def test_markdown_table(sweep_board):
    text = render_markdown([sweep_board])
    table = [line for line in text.splitlines() if line.startswith("| ") and "[" in line]
    # main table, RL gain table (its header says "[95% CI]") and reference models
    assert len(table) == 2 * len(sweep_board.rows) + 1 + len(sweep_board.references)
    first = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert first[2] == sweep_board.rows[0].method_label
    assert all(CI_PATTERN.match(cell) for cell in first[5:9])
    assert (
        "Kendall's τ-b" in text
        and "2,000 resamples" in text
        and "averaged over seeds per problem first" in text
    )


def test_csv_parses_and_holds_every_row(sweep_board):
    rows = list(csv.DictReader(io.StringIO(render_csv([sweep_board]))))
    assert all(
        None not in row and None not in row.values() for row in rows
    )  # every line as wide as the header
    assert [r["method_label"] for r in rows if r["kind"] == "method"] == [
        r.method_label for r in sweep_board.rows
    ]
    assert [r["method_label"] for r in rows if r["kind"] == "reference"] == ["base", "teacher"]
    top = rows[0]
    assert float(top["rl_pass@1"]) == pytest.approx(sweep_board.rows[0].rl[1].value, abs=5e-4)
    assert float(top["rl_pass@1_low"]) <= float(top["rl_pass@1"]) <= float(top["rl_pass@1_high"])


def test_latex_escapes_labels():
    board = build_leaderboard(
        [make_record(method="sft"), make_record(method="my_method", method_label="my_method")]
    )
    text = render_latex([board])
    assert r"my\_method" in text and "my_method &" not in text
    # the main table and the RL gain table (no reference models in these records)
    assert text.count(r"\begin{tabular}") == 2 and r"\toprule" in text and r"\caption{" in text


def test_html_escapes_model_text(sweep_board):
    page = render_html([sweep_board])
    assert "<script" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;document.title=&#x27;PWNED-SCRIPT&#x27;&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_unknown_format_is_a_user_error(sweep_board):
    with pytest.raises(PearbenchError, match="unknown leaderboard format 'xls'"):
        render([sweep_board], "xls")


def test_plots_are_png_and_byte_stable(sweep_board, tmp_path):
    first = plot_images(sweep_board)
    assert [suffix for suffix, _, _ in first] == ["passk", "sft_vs_rl", "diff_vs_sft"]
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for _, _, png in first)
    assert b"Software" not in first[0][2]
    paths = write_plots(sweep_board, tmp_path)  # renders again: same bytes
    assert [p.name for p in paths] == [
        "countdown-mix_passk.png",
        "countdown-mix_sft_vs_rl.png",
        "countdown-mix_diff_vs_sft.png",
    ]
    assert [p.read_bytes() for p in paths] == [png for _, _, png in first]


def test_all_formats_are_byte_stable_in_process():
    records = sweep_records(seeds=(0, 1))
    outputs = []
    for _ in range(2):
        boards = build_leaderboards([copy.deepcopy(r) for r in reversed(records)])
        outputs.append(
            [
                render(boards, name, images={"countdown-mix": [("plot", b"\x89PNG fake")]}).encode()
                for name in ("md", "csv", "tex", "html")
            ]
        )
    assert outputs[0] == outputs[1]


def test_output_is_byte_stable_across_processes(tmp_path):
    """This process and a fresh one with another str-hash seed write identical bytes for every format and plot."""
    results = tmp_path / "results"
    for record in sweep_records(seeds=(0, 1)) + [make_record(suite="other-suite", method="sft")]:
        write_record(results, record)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    script = f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); from conftest_records import render_all_to; render_all_to(*sys.argv[1:])"
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(results), str(there)],
        env=dict(os.environ, PYTHONHASHSEED=hash_seed),
    )
    render_all_to(str(results), str(here))
    assert process.wait(timeout=300) == 0
    outputs = [{p.name: p.read_bytes() for p in sorted(folder.iterdir())} for folder in (here, there)]
    assert sorted(outputs[0]) == sorted(
        ["board.md", "board.csv", "board.tex", "board.html"]
        + [
            f"{s}_{p}.png"
            for s in ("countdown-mix", "other-suite")
            for p in ("passk", "sft_vs_rl", "diff_vs_sft")
        ]
    )
    assert outputs[0] == outputs[1]


# ----------------------------------------------------------------------------------------------------------------
# The command


@pytest.fixture()
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setattr("pearbench.commands.leaderboard.default_recipe_hashes", fake_recipe_hashes)
    folder = tmp_path / "runs"
    for record in sweep_records(seeds=(0, 1)):
        write_record(folder, record)
    return folder


def test_cli_prints_markdown_by_default(results_dir, capsys):
    assert main(["leaderboard", "--results", str(results_dir), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## countdown-mix (profile smoke)")
    assert "pear-token" in out and "sft@3x" in out


def test_cli_writes_files_and_reports_bad_records(results_dir, tmp_path, capsys):
    stale = make_record(method="dft", method_label="dft-old", seed=0, method_recipe_hash="recipe-dft-OLD")
    write_record(results_dir, stale)
    broken = results_dir / "records" / "countdown-mix__sft__s0__smoke.json"
    broken.write_text(broken.read_text().replace('"c": ', '"c": 1', 1))
    out = tmp_path / "tables"
    assert main(["leaderboard", "--results", str(results_dir), "--out", str(out), "--format", "html"]) == 0
    err = capsys.readouterr().err
    assert "countdown-mix__dft-old__s0__smoke.json: refused: recipe hash mismatch" in err
    assert "countdown-mix__sft__s0__smoke.json: skipped" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "countdown-mix.html",
        "countdown-mix_diff_vs_sft.png",
        "countdown-mix_passk.png",
        "countdown-mix_sft_vs_rl.png",
    ]
    page = (out / "countdown-mix.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "dft-old" not in page


def test_cli_rerun_is_byte_identical_and_errors_keep_earlier_files(results_dir, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert main(["leaderboard", "--results", str(results_dir), "--out", str(out)]) == 0
    files = sorted(p.name for p in first.iterdir())
    assert files == [
        "countdown-mix.md",
        "countdown-mix_diff_vs_sft.png",
        "countdown-mix_passk.png",
        "countdown-mix_sft_vs_rl.png",
    ]
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in files)
    before = {name: (first / name).read_bytes() for name in files}
    assert (
        main(["leaderboard", "--results", str(results_dir), "--out", str(first), "--suite", "missing"]) == 2
    )
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--results", "{tmp}/nowhere"], "does not exist"),
        ("empty", ["--results", "{tmp}/empty"], "no records folder"),
        ("emptyrecords", ["--results", "{tmp}/emptyrecords"], "no valid records"),
        ("allbad", ["--results", "{tmp}/allbad"], "no valid records in"),
        (
            "ok",
            ["--results", "{tmp}/ok", "--suite", "nope"],
            "unknown suite 'nope'; choose one of: countdown-mix",
        ),
        ("stale", ["--results", "{tmp}/stale"], "no valid records in"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch, setup, args, message):
    monkeypatch.setattr("pearbench.commands.leaderboard.default_recipe_hashes", fake_recipe_hashes)
    if setup is not None:
        folder = tmp_path / setup
        folder.mkdir()
        if setup != "empty":
            (folder / "records").mkdir()
        if setup == "allbad":
            (folder / "records" / "broken.json").write_text("{not json")
        if setup == "ok":
            write_record(folder, make_record())
        if setup == "stale":
            write_record(folder, make_record(rl_recipe_hash="rl-recipe-OLD"))
    code = main(["leaderboard", *[a.format(tmp=tmp_path) for a in args]])
    err = capsys.readouterr().err
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("pearbench: error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    if setup == "allbad":
        assert "broken.json: skipped" in err


def test_cli_bad_format_is_a_usage_error(results_dir):
    with pytest.raises(SystemExit) as info:
        main(["leaderboard", "--results", str(results_dir), "--format", "xls"])
    assert info.value.code == 2


def test_cli_no_recipe_check_flags_the_table(tmp_path, capsys):
    write_record(tmp_path, make_record(rl_recipe_hash="rl-recipe-OLD"))
    assert (
        main(
            ["leaderboard", "--results", str(tmp_path), "--no-recipe-check", "--format", "csv", "--no-plots"]
        )
        == 0
    )
    assert main(["leaderboard", "--results", str(tmp_path), "--no-recipe-check", "--no-plots"]) == 0
    assert "recipe hashes were NOT checked" in capsys.readouterr().out


def test_make_body_is_deterministic():
    assert make_body(seed=3) == make_body(seed=3)
