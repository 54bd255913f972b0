"""pearbench.results.records_frame: result records as pandas DataFrames (one row per run, or per run, stage and
problem), checked against the records and the leaderboard built from them."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pandas as pd
import pytest
from conftest_records import make_record, sweep_records

from pearbench.errors import PearbenchError
from pearbench.results import build_leaderboards, records_frame
from pearbench.results.frame import PROBLEM_COLUMNS, RUN_COLUMNS
from pearbench.results.records import RECORDS_DIR, write_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def records() -> list[dict]:
    extra = [
        make_record(
            method="pear-token",
            method_label="pear-token+gamma=0.99",
            seed=seed,
            sft_skill=0.32,
            rl_skill=0.47,
        )
        for seed in (0, 1)
    ]
    return sweep_records(seeds=(0, 1)) + extra


@pytest.fixture
def results_dir(tmp_path: Path, records: list[dict]) -> Path:
    folder = tmp_path / "runs"
    for record in records:
        write_record(folder, record)
    return folder


def test_run_level_has_one_row_per_run_with_settings_and_metrics(
    results_dir: Path, records: list[dict]
) -> None:
    frame = records_frame(results_dir)
    assert len(frame) == len(records)
    assert list(frame.columns[: len(RUN_COLUMNS)]) == list(RUN_COLUMNS)
    assert list(frame["run_id"]) == sorted(r["run_id"] for r in records)
    assert frame["seed"].dtype == "int64" and frame["sft_steps_factor"].dtype == "float64"
    by_id = frame.set_index("run_id")
    for record in records:
        row = by_id.loc[record["run_id"]]
        for column in ("suite", "profile", "method", "method_label", "seed", "method_recipe_hash"):
            assert row[column] == record[column]
        assert row["sft_steps_factor"] == record["sft_steps_factor"]
        for stage in ("sft", "rl"):
            for name, estimate in record["metrics"][stage].items():
                column = f"{stage}_{name.replace('@', '_at_')}"
                assert (row[column], row[f"{column}_low"], row[f"{column}_high"]) == (
                    estimate["value"],
                    estimate["low"],
                    estimate["high"],
                )
        assert row["mismatch_mean_log_ratio"] == record["mismatch"]["mean_log_ratio"]
        assert row["config_hash_sft"] == record["config_hashes"]["sft"]
        assert row["eval_n"] == record["eval"]["n"] and row["eval_ks"] == tuple(record["eval"]["ks"])
        if record["sft_diagnostics"] is None:
            assert math.isnan(row["sft_diagnostics_nll"])
        else:
            assert row["sft_diagnostics_nll"] == record["sft_diagnostics"]["nll"]
    # metric columns: pass@k by k, value before its CI, sft before rl
    metric_columns = [c for c in frame.columns if c.startswith(("sft_pass", "rl_pass"))]
    assert metric_columns[:6] == [
        "sft_pass_at_1",
        "sft_pass_at_1_low",
        "sft_pass_at_1_high",
        "sft_pass_at_2",
        "sft_pass_at_2_low",
        "sft_pass_at_2_high",
    ]
    assert metric_columns.index("sft_pass_at_8") < metric_columns.index("rl_pass_at_1")


def test_groupby_by_label_matches_the_leaderboard(results_dir: Path, records: list[dict]) -> None:
    frame = records_frame(results_dir)
    means = frame.groupby("method_label")["rl_pass_at_1"].mean()
    counts = frame.groupby("method_label").size()
    (board,) = build_leaderboards(records, recipes_checked=False, progress=False)
    assert set(means.index) == {row.method_label for row in board.rows}
    assert "pear-token+gamma=0.99" in means.index and counts["pear-token+gamma=0.99"] == 2
    for row in board.rows:
        # every seed has the same problems here, so the mean of the runs' pass@1 is the leaderboard's score
        assert means[row.method_label] == pytest.approx(row.rl[1].value, abs=1e-12)
        assert counts[row.method_label] == len(row.seeds)


def test_problem_level_has_one_row_per_run_stage_and_problem(results_dir: Path, records: list[dict]) -> None:
    frame = records_frame(results_dir, level="problem")
    assert list(frame.columns) == list(PROBLEM_COLUMNS)
    assert len(frame) == sum(len(r["outcomes"][stage]) for r in records for stage in ("sft", "rl"))
    assert all(frame[column].dtype == "int64" for column in ("seed", "n", "c", "errors"))
    for record in records:
        for stage in ("sft", "rl"):
            part = frame[(frame.run_id == record["run_id"]) & (frame.stage == stage)]
            expected = sorted(
                (o["env"], o["id"], o["n"], o["c"], o["errors"]) for o in record["outcomes"][stage]
            )
            assert list(zip(part.env, part.problem_id, part.n, part.c, part.errors)) == expected
            assert set(part.method_label) == {record["method_label"]}
    rates = frame.assign(rate=frame.c / frame.n).groupby(["run_id", "stage"])["rate"].mean()
    by_id = {r["run_id"]: r for r in records}
    for (run_id, stage), rate in rates.items():
        assert rate == pytest.approx(by_id[run_id]["metrics"][stage]["avg@n"]["value"], abs=1e-12)


def test_sources_give_the_same_frame_in_any_order(results_dir: Path, records: list[dict]) -> None:
    for level in ("run", "problem"):
        expected = records_frame(results_dir, level=level)
        pd.testing.assert_frame_equal(records_frame(str(results_dir / RECORDS_DIR), level=level), expected)
        shuffled = list(records)
        random.Random(0).shuffle(shuffled)
        pd.testing.assert_frame_equal(records_frame(shuffled, level=level), expected)


def test_bad_records_are_reported_and_left_out(results_dir: Path, records: list[dict]) -> None:
    (results_dir / RECORDS_DIR / "broken.json").write_text("{not json")
    reports: list[tuple[str, str]] = []
    frame = records_frame(results_dir, on_bad=lambda path, reason: reports.append((path.name, reason)))
    assert len(frame) == len(records)
    assert reports and reports[0][0] == "broken.json" and reports[0][1].startswith("skipped")


def test_empty_folder_missing_folder_and_unknown_level(tmp_path: Path, results_dir: Path) -> None:
    empty = records_frame(tmp_path)
    assert empty.empty and list(empty.columns) == list(RUN_COLUMNS)
    assert records_frame(tmp_path, level="problem").empty
    with pytest.raises(PearbenchError, match="results folder not found"):
        records_frame(tmp_path / "nowhere")
    with pytest.raises(PearbenchError, match="unknown level 'seed'; choose one of: run, problem"):
        records_frame(results_dir, level="seed")


def test_committed_records_as_a_frame() -> None:
    files = sorted((ROOT / "leaderboards" / "records").glob("*.json"))
    frame = records_frame(ROOT / "leaderboards")
    assert len(frame) == len(files)
    # the default suite's `sft` at seeds 0-4 (the RL-gain check of leaderboards/README.md)
    sft = frame[(frame.suite == "countdown") & (frame.method_label == "sft")]
    assert {0, 1, 2, 3, 4} <= set(sft.seed)
    # every (suite, method) of the committed sweeps has at least seeds 0-2, each seed once
    per_method = frame.groupby(["suite", "method_label"])["seed"]
    assert per_method.apply(lambda s: {0, 1, 2} <= set(s) and s.is_unique).all()
    if (frame.method == "pear-block").any():  # method options become columns (PEAR's defaults here)
        assert frame.loc[frame.method == "pear-block", "option_block_size"].eq(4).all()
    if (frame.method == "pear-token").any():
        assert set(frame.loc[frame.method == "pear-token", "option_delta_clip"]) == {(-0.08, 0.3)}
    problems = records_frame(ROOT / "leaderboards", level="problem")
    outcomes = [json.loads(f.read_text())["outcomes"] for f in files]
    assert len(problems) == sum(len(o["sft"]) + len(o["rl"]) for o in outcomes)
