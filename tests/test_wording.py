"""Wording and discoverability of user errors and help: close-name suggestions, `pearbench suites`, `run --help`,
gym ids without their namespace, JSON error wording, and the leaderboard's --results hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib

from pearbench.cli import main
from pearbench.errors import PearbenchError, close_match, unknown
from pearbench.harness.suites import bundled_suites, describe_suite, load_suite
from pearbench.registry import get_game_class

# -- the shared helper ---------------------------------------------------------------------------------------------


def test_unknown_suggests_the_closest_choice_case_insensitively() -> None:
    error = unknown("method", "PEAR-SEQ", ["sft", "pear-seq", "pear-token"], suggest=True)
    assert (
        str(error)
        == "unknown method 'PEAR-SEQ'; did you mean pear-seq? choose one of: pear-seq, pear-token, sft"
    )
    assert close_match("Pear-Tokn", ["sft", "pear-token"]) == "pear-token"
    assert close_match("zzz", ["sft", "pear-token"]) is None


def test_unknown_without_a_close_choice_or_without_suggest_is_the_plain_message() -> None:
    plain = "unknown method 'nope'; choose one of: pear-seq, sft"
    assert str(unknown("method", "nope", ["sft", "pear-seq"], suggest=True)) == plain
    assert "did you mean" not in str(unknown("method", "pear-sq", ["sft", "pear-seq"]))
    named = unknown("environment", "Sudok", ["pearbench/Sudoku-v0"], suggest="pearbench/Sudoku-v0")
    assert "did you mean pearbench/Sudoku-v0? choose one of" in str(named)


# -- each kind of name -------------------------------------------------------------------------------------------


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("pearbench: error: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_method_in_capitals_is_unknown_with_a_suggestion_not_malformed(tmp_path: Path, capsys) -> None:
    from pearbench.train.methods import get_method, parse_method_label

    for call in (lambda: parse_method_label("PEAR-SEQ"), lambda: parse_method_label("PEAR-SEQ@2x")):
        with pytest.raises(PearbenchError, match=r"^unknown method 'PEAR-SEQ'; did you mean pear-seq\? "):
            call()
    with pytest.raises(PearbenchError, match=r"unknown method 'pear-sq'; did you mean pear-seq\?"):
        get_method("pear-sq")
    err = _error(capsys, "run", "--method", "PEAR-SEQ", "--profile", "smoke", "--out", str(tmp_path / "out"))
    assert "unknown method 'PEAR-SEQ'; did you mean pear-seq?" in err and "malformed" not in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(PearbenchError, match="malformed"):  # a label no method name can have stays malformed
        parse_method_label("sft@@x")


def test_gym_ids_without_the_namespace_are_accepted(capsys) -> None:
    sudoku = get_game_class("sudoku")
    for spelling in ("Sudoku-v0", "sudoku-v0", "pearbench/Sudoku-v0", "Sudoku", "PEARBENCH/SUDOKU-V0"):
        assert get_game_class(spelling) is sudoku
    assert main(["envs", "show", "Sudoku-v0"]) == 0
    assert capsys.readouterr().out.startswith("pearbench/Sudoku-v0  (name: sudoku")


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Sudoko-v0", "pearbench/Sudoku-v0"),
        ("pearbench/Sudoku-v1", "pearbench/Sudoku-v0"),
        ("countdwn", "pearbench/Countdown-v0"),
        ("knights-knaves", "pearbench/KnightsKnaves-v0"),
    ],
)
def test_unknown_environment_suggests_a_close_gym_id(capsys, name: str, suggestion: str) -> None:
    err = _error(capsys, "envs", "show", name)
    assert f"unknown environment {name!r}; did you mean {suggestion}? choose one of: " in err


def test_far_environment_names_get_no_suggestion() -> None:
    for name in ("nope", "pearbench/Nope-v0"):
        with pytest.raises(PearbenchError) as error:
            get_game_class(name)
        assert f"unknown environment {name!r}; choose one of: " in str(error.value)


def test_unknown_suite_profile_and_dataset_suggest_close_names(tmp_path: Path, capsys) -> None:
    err = _error(capsys, "suites", "show", "countdwn")
    assert "unknown suite 'countdwn'; did you mean countdown? choose one of: countdown, " in err
    assert "logic-natural" in err
    err = _error(capsys, "run", "--profile", "smok", "--out", str(tmp_path / "out"))
    assert "unknown profile 'smok'; did you mean smoke? choose one of: " in err
    from pearbench.verify.datasets import load_dataset

    with pytest.raises(
        PearbenchError, match=r"unknown dataset 'Math500'; did you mean math500\? choose one of"
    ):
        load_dataset("Math500")


# -- pearbench suites -------------------------------------------------------------------------------------------


def test_suites_list_shows_name_description_and_games(capsys) -> None:
    assert main(["suites", "list"]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split("\n\n")
    names = bundled_suites()
    assert len(names) >= 2 and [block.split()[0] for block in blocks[: len(names)]] == names
    assert blocks[0].splitlines()[0] == "countdown  (default)"
    for name, block in zip(names, blocks):
        suite = load_suite(name)
        text = " ".join(block.split())
        assert " ".join(suite.description.split()) in text
        assert f"games ({len(suite.envs)}): " in text
        for env in suite.envs:
            assert f"{env.name}:{env.difficulty}" in text
    assert "pearbench suites show NAME" in blocks[-1]
    assert main(["suites"]) == 0 and capsys.readouterr().out == out


def test_suites_show_prints_the_resolved_suite_as_toml(tmp_path: Path, capsys) -> None:
    assert main(["suites", "show", "logic-natural"]) == 0
    out = capsys.readouterr().out
    data = tomllib.loads(out)
    suite = load_suite("logic-natural")
    assert [(e["name"], e["difficulty"], e["weight"]) for e in data["envs"]] == [
        (e.name, e.difficulty, e.weight) for e in suite.envs
    ]
    assert data["styles"] == {"base": suite.base_style, "teacher": suite.teacher_style}
    assert data["mismatch"] == {"teacher_style_share": 0.2, "base_noise": 0.5}
    assert data["prompt_style"] == "natural" and data["base_seed"] == suite.base_seed
    assert "# pearbench/Sudoku-v0" in out and "# knobs at medium: size = 6, clues = 20" in out
    # the printed TOML is itself the same suite
    (tmp_path / "copy.toml").write_text(out)
    assert load_suite(str(tmp_path / "copy.toml")) == suite


def test_suites_show_json_matches_describe_suite(capsys) -> None:
    assert main(["suites", "show", "countdown", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == describe_suite("countdown")
    assert (
        info["envs"][0]["gym_id"] == "pearbench/Countdown-v0" and info["envs"][0]["knobs"]["n_numbers"] == 3
    )
    assert info["source"].endswith("countdown.toml")


# -- help texts, JSON errors, --results ---------------------------------------------------------------------------


def test_run_help_states_the_method_default_and_explains_the_seed(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    text = " ".join(out[out.index("options:") :].split())
    method = text[text.index("--method METHOD") : text.index("--seed SEED")]
    assert "(default: pear-seq)" in method
    seed = text[text.index("--seed SEED") + len("--seed SEED") : text.index("--suite SUITE")]
    assert "(default: 0)" in seed and "sampling" in seed


def test_a_json_error_reads_starting_at_column_once(tmp_path: Path) -> None:
    from pearbench.io import iter_jsonl

    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "p1", "completion": "\\\\boxed{3}\n')
    with pytest.raises(PearbenchError) as error:
        list(iter_jsonl(path, "completions file"))
    message = str(error.value)
    assert "Unterminated string starting at column 28" in message
    assert "at at" not in message


def test_leaderboard_results_pointing_at_records_suggests_its_parent(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    (tmp_path / "leaderboards" / "records").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    err = _error(capsys, "leaderboard", "--results", "leaderboards/records")
    assert "did you mean leaderboards, the folder that holds records/?" in err
    err = _error(capsys, "leaderboard", "--results", "leaderboards/records/")
    assert "did you mean leaderboards," in err
    (tmp_path / "elsewhere").mkdir()
    err = _error(capsys, "leaderboard", "--results", "elsewhere")
    assert "no records folder" in err and "did you mean" not in err
