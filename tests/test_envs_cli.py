"""`pearbench envs list | show | sample`, through pearbench.cli.main and as a subprocess (exit code 2 on user errors)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pearbench.cli import main
from pearbench.commands.envs import describe_env, env_rows, level_configs, sample_env
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
    assert lines[0].split() == ["gym", "id", "family", "difficulty", "levels", "multiple", "solutions"]
    for game_cls in list_games():
        row = next(line for line in lines if line.startswith(game_cls.gym_id() + " "))
        assert game_cls.family in row
        assert "/".join(game_cls.levels) in row
        assert row.rstrip().endswith("yes" if game_cls.multiple_solutions else "no")
    assert len(env_rows()) == len(list_games())


@pytest.mark.parametrize("env_id", [*MY_GAMES, "pearbench/Countdown-v0"])
def test_show_describes_knobs_styles_and_prompt(capsys, env_id: str) -> None:
    code, out, _ = run_cli(capsys, "envs", "show", env_id)
    assert code == 0
    game_cls = next(g for g in list_games() if env_id in (g.name, g.gym_id()))
    assert game_cls.gym_id() in out and game_cls.description in out
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
    assert code == 0 and "list" in out and "sample" in out


def test_python_api_errors_are_pearbench_errors() -> None:
    with pytest.raises(PearbenchError):
        sample_env("zebra", n=0)
    with pytest.raises(PearbenchError):
        describe_env("nope")
