"""`pearbench envs list | show | sample | docs`, through pearbench.cli.main and as a subprocess (exit code 2 on user
errors)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pearbench.cli import main
from pearbench.commands.envs import describe_env
from pearbench.envs.base import CATEGORIES
from pearbench.envs.catalog import env_rows, game_category, level_configs, sample_env
from pearbench.errors import PearbenchError
from pearbench.registry import list_games

MY_GAMES = ("zebra", "futoshiki", "nqueens", "hanoi", "nonogram")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_every_environment(capsys) -> None:
    code, out, err = run_cli(capsys, "envs", "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    header = next(line for line in lines if line.strip().startswith("gym id"))
    assert header.split() == ["gym", "id", "family", "difficulty", "levels", "multiple", "solutions"]
    for game_cls in list_games():
        row = next(line for line in lines if line.strip().startswith(game_cls.gym_id() + " "))
        assert game_cls.family in row
        assert "/".join(game_cls.levels) in row
        assert row.rstrip().endswith("yes" if game_cls.multiple_solutions else "no")
    assert len(env_rows()) == len(list_games())


def _listing_blocks(out: str) -> tuple[list[str], dict[str, list[str]]]:
    """Category headings in order, and the gym ids listed under each."""
    headings: list[str] = []
    blocks: dict[str, list[str]] = {}
    for line in out.splitlines():
        first = line.split(" ", 1)[0]
        if first in CATEGORIES and not line.startswith(" "):
            headings.append(first)
            blocks[first] = []
            count = len([g for g in list_games() if game_category(g) == first])
            assert line == f"{first} ({count} {'game' if count == 1 else 'games'})"
        elif headings and line.strip().startswith("pearbench/"):
            blocks[headings[-1]].append(line.split()[0])
    return headings, blocks


def test_list_is_grouped_by_category_and_lists_every_game_once(capsys) -> None:
    _, out, _ = run_cli(capsys, "envs", "list")
    headings, blocks = _listing_blocks(out)
    assert headings == list(CATEGORIES)  # every category, in the fixed order
    listed = [gym_id for ids in blocks.values() for gym_id in ids]
    assert sorted(listed) == sorted(g.gym_id() for g in list_games())  # each game exactly once
    for game_cls in list_games():
        assert game_cls.gym_id() in blocks[game_category(game_cls)]
        if game_cls.name.startswith("math_"):
            assert game_category(game_cls) == "arithmetic"
    assert out.splitlines()[0] == f"{len(list_games())} environments in 7 categories"
    assert {row["category"] for row in env_rows()} <= set(CATEGORIES)


@pytest.mark.parametrize("env_id", [*MY_GAMES, "pearbench/Countdown-v0"])
def test_show_describes_knobs_styles_and_prompt(capsys, env_id: str) -> None:
    code, out, _ = run_cli(capsys, "envs", "show", env_id)
    assert code == 0
    game_cls = next(g for g in list_games() if env_id in (g.name, g.gym_id()))
    assert game_cls.gym_id() in out and game_cls.description in out
    assert f"category: {game_category(game_cls)}," in out.splitlines()[0]
    for level, config in level_configs(env_id).items():
        assert level in out
        for knob, value in config.items():
            assert knob in out and repr(value) in out
    assert f"Trace styles: {', '.join(game_cls.trace_styles)}" in out
    assert "Example prompt" in out and "<answer>" in out
    assert out.strip() == describe_env(env_id).strip()


def test_show_level_values_per_level(capsys) -> None:
    _, out, _ = run_cli(capsys, "envs", "show", "hanoi")
    row = next(line for line in out.splitlines() if line.startswith("n_disks"))
    assert row.split() == ["n_disks", "4", "4", "5", "7"]  # default, easy, medium, hard


@pytest.mark.parametrize("name", MY_GAMES)
def test_sample_prints_prompt_trace_gold_and_verdict(capsys, name: str) -> None:
    code, out, _ = run_cli(capsys, "envs", "sample", name, "--n", "2", "--difficulty", "hard", "--seed", "7")
    assert code == 0
    assert out.count("--- prompt ---") == 2 and out.count("--- solver trace ---") == 2
    assert out.count("--- gold answer ---") == 2
    assert out.count("--- verdict on the trace: correct (reward 1.0) ---") == 2
    assert f"{name}/hard/" in out and "(seed 7, hard)" in out and "(seed 8, hard)" in out


def test_sample_style_and_compact(capsys) -> None:
    _, compact, _ = run_cli(
        capsys, "envs", "sample", "pearbench/Hanoi-v0", "--n", "1", "--style", "words", "--compact"
    )
    _, natural, _ = run_cli(capsys, "envs", "sample", "pearbench/Hanoi-v0", "--n", "1", "--style", "steps")
    assert "Move disk" in compact and "Tower of Hanoi" not in compact
    assert "Tower of Hanoi" in natural and "Move disk" not in natural
    samples = sample_env("hanoi", n=3, difficulty="medium", seed=100, style="words", compact=True)
    assert [s["seed"] for s in samples] == [100, 101, 102]
    assert all(s["verdict"].correct for s in samples)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["envs", "show", "pearbench/Nope-v0"], "unknown environment 'pearbench/Nope-v0'; choose one of: "),
        (["envs", "sample", "nope"], "unknown environment 'nope'; choose one of: "),
        (
            ["envs", "sample", "zebra", "--difficulty", "extreme"],
            "unknown difficulty for zebra 'extreme'; choose",
        ),
        (
            ["envs", "sample", "zebra", "--style", "poem"],
            "unknown trace style for zebra 'poem'; choose one of: ",
        ),
        (["envs", "sample", "zebra", "--n", "0"], "--n must be at least 1"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, argv: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("pearbench: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    if "environment" in message:
        assert "pearbench/Zebra-v0" in err and "pearbench/Countdown-v0" in err
    if "difficulty" in message:
        assert "easy, hard, medium" in err


def test_unknown_id_exit_code_2_as_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pearbench.cli", "envs", "show", "pearbench/Nope-v0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("pearbench: error: unknown environment 'pearbench/Nope-v0'")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run(
        [sys.executable, "-m", "pearbench.cli", "envs", "sample", "nqueens", "--difficulty", "giant"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "unknown difficulty for nqueens 'giant'" in result.stderr


def test_list_subprocess_succeeds() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pearbench.cli", "envs", "list"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "pearbench/Futoshiki-v0" in result.stdout


def test_envs_without_action_prints_help(capsys) -> None:
    code, out, _ = run_cli(capsys, "envs")
    assert code == 0 and "list" in out and "sample" in out and "docs" in out


def test_docs_prints_or_writes_the_games_reference(capsys, tmp_path, monkeypatch) -> None:
    import pearbench.envs.catalog

    monkeypatch.setattr(pearbench.envs.catalog, "games_markdown", lambda: "# Games\n\nstub\n")
    code, out, err = run_cli(capsys, "envs", "docs")
    assert (code, out, err) == (0, "# Games\n\nstub\n", "")
    target = tmp_path / "games.md"
    code, out, _ = run_cli(capsys, "envs", "docs", "--out", str(target))
    assert code == 0 and target.read_text(encoding="utf-8") == "# Games\n\nstub\n" and str(target) in out


def test_docs_refuses_a_directory(capsys, tmp_path) -> None:
    code, out, err = run_cli(capsys, "envs", "docs", "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert (
        err.startswith(f"pearbench: error: --out {tmp_path} is a directory")
        and len(err.strip().splitlines()) == 1
    )


def test_python_api_errors_are_pearbench_errors() -> None:
    with pytest.raises(PearbenchError):
        sample_env("zebra", n=0)
    with pytest.raises(PearbenchError):
        describe_env("nope")
