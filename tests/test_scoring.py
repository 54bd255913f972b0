"""pearbench.verify.scoring and `pearbench eval --completions`: statistics against brute force, malformed files, the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.metrics import bootstrap_ci, summarise
from pearbench.verify.datasets import Problem
from pearbench.verify.scoring import (
    CompletionRecord,
    majority,
    read_completions,
    score_completions,
)
from pearbench.verify.verdict import Verdict

PROBLEMS = [
    Problem("p1", "1/2 of 1?", "\\frac{1}{2}", "test"),
    Problem("p2", "2+3?", "5", "test"),
    Problem("p3", "sqrt 16?", "4", "test"),
    Problem("p4", "never answered", "7", "test"),
]
HANG = "\\boxed{9^{9^{9^{9}}}}"


def brute_pass_at_k(correct: list[bool], k: int) -> float:
    """Slow reference: the share of all k-subsets of the samples that contain a correct one."""
    subsets = list(itertools.combinations(range(len(correct)), k))
    return sum(any(correct[i] for i in subset) for subset in subsets) / len(subsets)


# -- pure pieces ------------------------------------------------------------------------------------------------------


def test_majority_counts_all_correct_answers_as_one() -> None:
    right = [Verdict(True, None, "0.5"), Verdict(True, None, "\\frac12")]
    wrong = [Verdict(False, None, "3"), Verdict(False, None, " 3 ")]
    assert majority(right + wrong) == (True, "0.5")  # 2 vs 2: the first seen wins
    assert majority(wrong + right) == (False, "3")
    assert majority([*wrong, Verdict(False, None, "4"), *right, Verdict(True, None, "1/2")]) == (True, "0.5")
    assert majority([Verdict(False, None, None), Verdict(False, "timeout after 5.0s", None)]) == (False, None)


def test_summary_matches_brute_force() -> None:
    samples = {
        "a": [True, False, False, True, False],
        "b": [False] * 5,
        "c": [True] * 5,
        "d": [False, False, True, False, False],
    }
    metrics = summarise(
        [5] * 4,
        [sum(v) for v in samples.values()],
        range(1, 6),
        [float(sum(v) >= 3) for v in samples.values()],
    )
    assert list(metrics) == ["pass@1", "pass@2", "pass@3", "pass@4", "pass@5", "avg@n", "maj@n"]
    for k in range(1, 6):
        per_problem = [brute_pass_at_k(v, k) for v in samples.values()]
        assert metrics[f"pass@{k}"]["value"] == pytest.approx(sum(per_problem) / 4, abs=1e-12)
        low, high = bootstrap_ci(per_problem)[1:]
        assert metrics[f"pass@{k}"]["low"] == pytest.approx(low) and metrics[f"pass@{k}"][
            "high"
        ] == pytest.approx(high)
    assert metrics["avg@n"]["value"] == pytest.approx((2 + 0 + 5 + 1) / 20)
    assert metrics["maj@n"]["value"] == 0.25


# -- scoring ------------------------------------------------------------------------------------------------------


def records(rows: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"id": problem_id, "completion": text} for problem_id, text in rows]


def test_score_completions_end_to_end() -> None:
    rows = [
        ("p1", "\\boxed{0.5}"),
        ("p2", "The final answer is **5**."),
        ("p1", "\\boxed{\\frac{2}{4}}"),
        ("p2", "\\boxed{6}"),
        ("p3", "\\boxed{3}"),
        ("p3", HANG),
        ("p1", "<think>\\boxed{1/2}"),
        ("p2", "\\boxed{6}"),
        ("p3", "\\boxed{3}"),
    ]
    report = score_completions(records(rows), PROBLEMS, dataset_name="toy", timeout=1.0)
    assert report.n == 3 and report.dataset == "toy" and report.dataset_size == 4
    by_id = {o.id: o for o in report.outcomes}
    assert (by_id["p1"].c, by_id["p1"].errors, by_id["p1"].maj_correct) == (2, 0, True)
    assert (by_id["p2"].c, by_id["p2"].maj_correct, by_id["p2"].majority_answer) == (1, False, "6")
    assert (by_id["p3"].c, by_id["p3"].errors, by_id["p3"].maj_correct) == (0, 1, False)
    assert report.timeouts == 1 and report.exceptions == 0 and report.verifier_errors == 1
    assert report.missing == ("p4",)
    assert [o.id for o in report.outcomes] == ["p1", "p2", "p3"]
    assert report.metrics["avg@n"]["value"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert report.metrics["pass@3"]["value"] == pytest.approx(2 / 3)
    assert report.metrics["maj@n"]["value"] == pytest.approx(1 / 3)
    table = report.table()
    assert "pass@1" in table and "maj@n" in table and "1 timeouts" in table and "p4" in table
    again = score_completions(records(rows), PROBLEMS, dataset_name="toy", timeout=1.0)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(report.to_dict(), sort_keys=True)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("p1", "a"), ("p9", "b")], r"record 2: unknown problem id 'p9'"),
        ([("p1", "a"), ("p1", "b"), ("p2", "c")], r"record 3: problem 'p2' has 1 completions but 'p1' has 2"),
        ([], r"no completions to score"),
    ],
)
def test_bad_records_are_user_errors(rows: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(PearbenchError, match=message):
        score_completions(records(rows), PROBLEMS)


def write(path: Path, lines: list[object]) -> Path:
    """One line per item: bytes as they are, strings as UTF-8, anything else as JSON."""
    encoded = [
        x if isinstance(x, bytes) else (x if isinstance(x, str) else json.dumps(x)).encode() for x in lines
    ]
    path.write_bytes(b"".join(line + b"\n" for line in encoded))
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"id": "p1", "completion": "x"}, "{oops"], r"c.jsonl, line 2: not valid JSON"),
        ([{"id": "p1"}], r"c.jsonl, line 1: missing field 'completion'"),
        ([{"completion": "x"}], r"c.jsonl, line 1: missing field 'id'"),
        ([{"id": "p1", "completion": 5}], r"c.jsonl, line 1: field 'completion' must be a string"),
        (["[1, 2]"], r"c.jsonl, line 1: expected a JSON object, got an array"),
        (["", "  "], r"holds no completions"),
    ],
)
def test_read_completions_names_the_line(tmp_path: Path, lines: list[object], message: str) -> None:
    with pytest.raises(PearbenchError, match=message):
        read_completions(write(tmp_path / "c.jsonl", lines))


def test_read_completions_keeps_line_numbers_for_later_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", [{"id": "p1", "completion": "a"}, "", {"id": 7, "completion": "b"}])
    parsed = read_completions(path)
    assert parsed == [
        CompletionRecord("p1", "a", f"{path}, line 1"),
        CompletionRecord("7", "b", f"{path}, line 3"),
    ]
    with pytest.raises(PearbenchError, match=r"c.jsonl, line 3: unknown problem id '7'"):
        score_completions(parsed, PROBLEMS)


# -- the command --------------------------------------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    return write(tmp_path / "set.jsonl", [p.to_dict() for p in PROBLEMS])


def test_cli_scores_and_writes_json(
    tmp_path: Path, data_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    completions = write(
        tmp_path / "c.jsonl",
        records([("p1", "\\boxed{0.5}"), ("p1", "\\boxed{1}"), ("p2", "\\boxed{5}"), ("p2", "\\boxed{5}")]),
    )
    out = tmp_path / "report" / "out.json"
    code = main(
        [
            "eval",
            "--completions",
            str(completions),
            "--dataset",
            "math500",
            "--data-file",
            str(data_file),
            "--timeout",
            "5",
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "pass@1" in printed and "pass@2" in printed and "avg@n" in printed and "maj@n" in printed
    assert "problems without completions (2): p3, p4" in printed
    report = json.loads(out.read_text())
    assert report["n"] == 2 and report["problems_scored"] == 2 and report["missing"] == ["p3", "p4"]
    assert report["metrics"]["pass@1"]["value"] == pytest.approx(0.75)
    assert report["metrics"]["pass@2"]["value"] == pytest.approx(1.0)
    assert report["outcomes"][0] == {
        "id": "p1",
        "n": 2,
        "c": 1,
        "errors": 0,
        "maj_correct": True,
        "majority_answer": "0.5",
    }


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([{"id": "p1", "completion": "x"}, "{bad"], "c.jsonl, line 2: not valid JSON"),
        (
            [{"id": "p1", "completion": "x"}, b'{"id": "p1", "completion": "\xfe"}'],
            "c.jsonl, line 2: not valid UTF-8",
        ),
        (
            [{"id": "p1", "completion": "x"}, {"id": "nope", "completion": "y"}],
            "c.jsonl, line 2: unknown problem id 'nope'",
        ),
        (
            [
                {"id": "p1", "completion": "x"},
                {"id": "p1", "completion": "x"},
                {"id": "p2", "completion": "y"},
            ],
            "c.jsonl, line 3: problem 'p2' has 1 completions but 'p1' has 2",
        ),
    ],
)
def test_cli_malformed_file_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, data_file: Path, capsys: pytest.CaptureFixture[str], lines: list[object], expected: str
) -> None:
    completions = write(tmp_path / "c.jsonl", lines)
    out = tmp_path / "out.json"
    code = main(
        [
            "eval",
            "--completions",
            str(completions),
            "--dataset",
            "math500",
            "--data-file",
            str(data_file),
            "--json",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("pearbench: error: ") and expected in err
    assert not out.exists()


def test_cli_needs_completions_and_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--dataset", "aime2025"]) == 2
    assert "needs --completions" in capsys.readouterr().err
    completions = write(tmp_path / "c.jsonl", [{"id": "p1", "completion": "x"}])
    assert main(["eval", "--completions", str(completions)]) == 2
    assert "needs --dataset NAME; choose one of: aime2025" in capsys.readouterr().err
    assert main(["eval", "--completions", str(completions), "--dataset", "gsm8k"]) == 2
    assert "unknown dataset 'gsm8k'" in capsys.readouterr().err
