"""Held-out math sets (``record["heldout"]``) in the leaderboard: seed-averaged pass@k with CIs, in every format."""

from __future__ import annotations

import csv
import io
import random
from math import comb

import pytest
from conftest_records import sweep_records

from pearbench.results.aggregate import build_leaderboard
from pearbench.results.leaderboard import render
from pearbench.results.model import HEADLINE_KS
from pearbench.results.records import finalize_record

N = 8
IDS = [f"aime2025-{i:02d}" for i in range(12)]


def _outcomes(tag: str, skill: float) -> list[dict]:
    rng = random.Random(tag)
    return [{"id": i, "n": N, "c": sum(rng.random() < skill for _ in range(N)), "errors": 0} for i in IDS]


def _with_heldout(record: dict, skill_sft: float, skill_rl: float) -> dict:
    body = {k: v for k, v in record.items() if k != "checksum"}
    tag = f"{record['method_label']}|{record['seed']}"
    body["heldout"] = {
        "aime2025": {
            which: {"n": N, "problems": len(IDS), "outcomes": _outcomes(f"{tag}|{which}", skill)}
            for which, skill in (("base", 0.05), ("sft", skill_sft), ("rl", skill_rl))
        }
    }
    body["heldout"]["aime2025"]["base"]["outcomes"] = _outcomes("base", 0.05)  # seed 0, shared by every run
    return finalize_record(body)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    out = []
    for record in sweep_records(seeds=(0, 1)):
        if record["method_label"] in ("sft", "pear-token"):
            skill = 0.2 if record["method_label"] == "sft" else 0.3
            out.append(_with_heldout(record, skill, skill + 0.1))
        else:
            out.append(record)  # records without held-out results sit beside them
    return out


def _slow_seed_averaged_pass_at_k(records: list[dict], stage: str, k: int) -> float:
    per_problem = []
    for problem in IDS:
        values = []
        for record in records:
            (o,) = [o for o in record["heldout"]["aime2025"][stage]["outcomes"] if o["id"] == problem]
            values.append(1 - comb(o["n"] - o["c"], k) / comb(o["n"], k))
        per_problem.append(sum(values) / len(values))
    return sum(per_problem) / len(per_problem)


def test_heldout_pass_at_k_is_seed_averaged_per_problem(records: list[dict]) -> None:
    board = build_leaderboard(records)
    assert board.heldout_sets == ("aime2025",)
    rows = {row.method_label: row for row in board.rows}
    assert set(rows["sft"].heldout) == {"aime2025"} and not rows["dft"].heldout
    for label in ("sft", "pear-token"):
        mine = [r for r in records if r["method_label"] == label]
        for stage in ("sft", "rl"):
            for k in HEADLINE_KS:
                estimate = rows[label].heldout["aime2025"][stage][k]
                assert estimate.value == pytest.approx(_slow_seed_averaged_pass_at_k(mine, stage, k))
                assert estimate.low <= estimate.value <= estimate.high
        assert rows[label].heldout_problems["aime2025"] == len(IDS)
    base = board.heldout_base["aime2025"][1].value
    assert base == pytest.approx(sum(o["c"] / N for o in _outcomes("base", 0.05)) / len(IDS))


def test_heldout_tables_in_markdown_csv_and_html(records: list[dict]) -> None:
    board = build_leaderboard(records)
    markdown = render([board], "md")
    assert "Held-out set aime2025" in markdown
    section = markdown.split("Held-out set aime2025", 1)[1]
    assert "| base (π₀) |" in section and "| sft |" in section and "| pear-token |" in section
    assert "| dft |" not in section
    rows = list(csv.DictReader(io.StringIO(render([board], "csv"))))
    held = [r for r in rows if r["kind"] == "heldout:aime2025"]
    assert sorted(r["method_label"] for r in held) == ["pear-token", "sft"]
    sft = next(r for r in held if r["method_label"] == "sft")
    expected = _slow_seed_averaged_pass_at_k([r for r in records if r["method_label"] == "sft"], "rl", 1)
    assert float(sft["rl_pass@1"]) == pytest.approx(expected, abs=5e-4)
    assert "<h3>Held-out set aime2025</h3>" in render([board], "html")


def test_records_without_heldout_give_no_heldout_section() -> None:
    board = build_leaderboard(sweep_records(seeds=(0,)))
    assert board.heldout_sets == () and "Held-out" not in render([board], "md")
    assert not [
        r for r in csv.DictReader(io.StringIO(render([board], "csv"))) if r["kind"].startswith("heldout")
    ]


def test_a_method_missing_heldout_in_one_seed_shows_none_for_that_set(records: list[dict]) -> None:
    partial = [r for r in records if not (r["method_label"] == "pear-token" and r["seed"] == 1)]
    partial.append(
        finalize_record(
            {
                k: v
                for k, v in next(
                    r for r in records if r["method_label"] == "pear-token" and r["seed"] == 1
                ).items()
                if k not in ("checksum", "heldout")
            }
        )
    )
    board = build_leaderboard(partial)
    rows = {row.method_label: row for row in board.rows}
    assert not rows["pear-token"].heldout and "aime2025" in rows["sft"].heldout


def test_a_set_whose_records_disagree_on_generation_settings_is_left_out_with_a_note(
    records: list[dict],
) -> None:
    changed = []
    for record in records:
        body = {k: v for k, v in record.items() if k != "checksum"}
        if "heldout" in body:
            body["heldout"] = {
                name: {
                    which: {**entry, "generation": {"n": N, "max_new_tokens": 16 if record["seed"] else 32}}
                    for which, entry in by_model.items()
                }
                for name, by_model in body["heldout"].items()
            }
        changed.append(finalize_record(body))
    board = build_leaderboard(changed)
    assert board.heldout_sets == () and not board.heldout_base
    assert any(
        "held-out set aime2025" in note and "2 different generation settings" in note for note in board.notes
    )
