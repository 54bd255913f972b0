"""Logs (pearbench.logs): progress lines through the ``pearbench`` logger, ``-v`` / ``-q``, no carriage-return
frames when stderr is a file, bars that never share a line with a log line, pretraining progress without PEAR
diagnostics, and "resumed from step K" whenever a training loop resumes, with or without progress."""

from __future__ import annotations

import io
import logging
import math
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pearbench import cli
from pearbench.harness.context import say
from pearbench.logs import (
    LogProgress,
    NullProgress,
    TqdmHandler,
    ensure_logging,
    logger,
    progress,
    setup_logging,
)
from pearbench.models.families import build_char_tokenizer, build_tiny_model
from pearbench.train.methods import get_method
from pearbench.train.sft import SFTConfig, train_sft


@pytest.fixture
def pearbench_logging():
    """The CLI's default logging for one test; the logger is left as it was found afterwards."""
    handlers, level = list(logger.handlers), logger.level
    setup_logging(0)
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- the CLI flags ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["methods", "list"], logging.INFO),
        (["-q", "methods", "list"], logging.WARNING),
        (["methods", "list", "-q"], logging.WARNING),
        (["--quiet", "methods", "list"], logging.WARNING),
        (["-v", "methods", "list"], logging.DEBUG),
        (["methods", "-v", "list"], logging.DEBUG),
        (["methods", "list", "--verbose"], logging.DEBUG),
    ],
)
def test_v_and_q_set_the_level_before_or_after_the_command(pearbench_logging, capsys, argv, level) -> None:
    assert cli.main(argv) == 0
    assert logger.level == level
    assert sum(isinstance(h, TqdmHandler) for h in logger.handlers) == 1  # replaced, never stacked
    capsys.readouterr()
    say("  a progress line")
    err = capsys.readouterr().err
    assert ("  a progress line\n" in err) == (level <= logging.INFO)


def test_quiet_hides_info_lines_and_progress_but_not_warnings(pearbench_logging, capsys) -> None:
    assert cli.main(["-q", "methods", "list"]) == 0
    capsys.readouterr()
    say("  tasks: train 300")
    bar = progress(total=10, desc="pretrain base", unit="step")
    assert isinstance(bar, NullProgress)
    bar.update(10)
    logging.getLogger("pearbench.harness").warning("  warning: something to see")
    err = capsys.readouterr().err
    assert "tasks" not in err and "pretrain base" not in err
    assert err == "  warning: something to see\n"


def test_flags_after_a_double_dash_are_left_alone() -> None:
    assert cli.split_verbosity(["run", "--method", "sft", "-q"]) == (["run", "--method", "sft"], -1)
    assert cli.split_verbosity(["-v", "run", "-vv"]) == (["-v", "run"], 2)
    assert cli.split_verbosity(["run", "--", "-q"]) == (["run", "--", "-q"], 0)
    assert cli.split_verbosity(["--version"]) == (["--version"], 0)


def test_ensure_logging_leaves_an_applications_console_logging_and_a_set_level_alone(capsys) -> None:
    handlers, level = list(logger.handlers), logger.level
    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # what logging.basicConfig() installs
    try:
        logger.handlers[:] = []
        logger.setLevel(logging.NOTSET)
        root.addHandler(console)
        ensure_logging()
        assert logger.handlers == []  # the application's handler shows pearbench's lines: never twice
        root.removeHandler(console)
        logger.setLevel(logging.WARNING)  # e.g. a data-parallel worker that is not rank 0
        ensure_logging()
        assert len(logger.handlers) == 1 and logger.level == logging.WARNING
        logger.handlers[:] = []
        logger.setLevel(logging.NOTSET)
        ensure_logging()
        assert logger.level == logging.INFO
        say("  a line")
        assert capsys.readouterr().err == "  a line\n"
    finally:
        root.removeHandler(console)
        logger.handlers[:] = handlers
        logger.setLevel(level)


# -- progress displays --------------------------------------------------------------------------------------------
def test_log_progress_logs_a_line_every_tenth_with_rate_and_eta(pearbench_logging, capsys) -> None:
    bar = progress(total=20, desc="sft demo", unit="step")
    assert isinstance(bar, LogProgress)  # capsys's stderr is not a terminal
    for _ in range(20):
        bar.set_postfix({"nll": "1.234", "lr": "1.00e-03"})
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert [line.split(":")[1].split()[0] for line in lines] == [f"{2 * i}/20" for i in range(1, 11)]
    assert lines[0].startswith("  sft demo: 2/20 steps (10%), ")
    assert "steps/s" in lines[0] and "ETA " in lines[0] and lines[0].endswith("nll=1.234, lr=1.00e-03")
    assert "took " in lines[-1]


def test_log_progress_of_a_resumed_loop_starts_at_its_step(pearbench_logging, capsys) -> None:
    with progress(total=20, desc="rl demo", unit="step", initial=7) as bar:
        for _ in range(13):
            bar.update(1)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[2] for line in lines] == [
        "8/20",
        "10/20",
        "12/20",
        "14/20",
        "16/20",
        "18/20",
        "20/20",
    ]


def test_short_totals_log_each_step_once(pearbench_logging, capsys) -> None:
    with progress(total=3, desc="tiny", unit="step") as bar:
        bar.update(1)
        bar.update(2)
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_on_a_terminal_a_log_line_never_shares_the_bars_line(pearbench_logging, monkeypatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = progress(total=10, desc="pretrain base", unit="step")
    assert not isinstance(bar, NullProgress)  # a tqdm bar
    bar.update(3)
    say("  base: pretrained tiny-ci for 40 steps")
    bar.update(2)
    bar.close()
    text = terminal.getvalue()
    assert "\r" in text and "pretrain base" in text  # the bar was drawn
    (line,) = [line for line in text.split("\n") if "base: pretrained" in line]
    # whatever the bar wrote on that line was wiped by a carriage return before the message
    assert line.rsplit("\r", 1)[-1] == "  base: pretrained tiny-ci for 40 steps"


def test_disabled_progress_shows_nothing(pearbench_logging, capsys) -> None:
    with progress(total=10, desc="x", enabled=False) as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""


# -- training loops -----------------------------------------------------------------------------------------------
TOKENIZER = build_char_tokenizer()


def examples(count: int = 32) -> list[dict]:
    """Random prompts and responses with behavior log-probs near a plausible range."""
    rng = random.Random(0)
    vocab = len(TOKENIZER)
    out = []
    for _ in range(count):
        prompt = [TOKENIZER.bos_token_id] + [rng.randrange(4, vocab) for _ in range(rng.randint(2, 6))]
        response = [rng.randrange(4, vocab) for _ in range(rng.randint(1, 8))] + [TOKENIZER.eos_token_id]
        behavior = [-math.log(vocab) + rng.uniform(-0.3, 0.3) for _ in response]
        out.append({"prompt_ids": prompt, "response_ids": response, "behavior_logprobs": behavior})
    return out


def tiny_sft(checkpoint_dir, *, desc, progress, objective=None, steps=6, metrics=None):
    """pear-token SFT of a tiny model (checkpoint every 3 steps); also run by the subprocess test's script."""
    method = get_method("pear-token")
    return train_sft(
        build_tiny_model("tiny-ci", TOKENIZER, seed=0),
        examples(),
        objective=objective or method.loss,
        options=method.make_options({}),
        config=SFTConfig(steps=steps, batch_size=8, micro_batch_size=8, warmup_steps=2, checkpoint_every=3),
        seed=5,
        pad_id=TOKENIZER.pad_token_id,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        desc=desc,
        metrics=metrics,
    )


def test_pretraining_progress_shows_nll_and_lr_not_pear_diagnostics(
    pearbench_logging, tmp_path, capsys
) -> None:
    tiny_sft(tmp_path / "pre", desc="pretrain base", progress=True, steps=10)
    pretrain = capsys.readouterr().err.splitlines()
    assert len(pretrain) == 10
    assert all("nll=" in line and "lr=" in line and "mean_weight" not in line for line in pretrain)
    tiny_sft(tmp_path / "sft", desc="sft pear-token", progress=True, steps=10)
    sft = capsys.readouterr().err.splitlines()
    assert all("mean_weight=" in line and "lr=" in line for line in sft)


def test_resumed_from_step_is_logged_without_progress(pearbench_logging, tmp_path, capsys) -> None:
    loss, calls = get_method("pear-token").loss, {"n": 0}

    def crashes_in_step_5(logprobs, behavior, mask, options):
        calls["n"] += 1
        if calls["n"] == 5:  # one micro-batch per step
            raise KeyboardInterrupt("simulated crash")
        return loss(logprobs, behavior, mask, options)

    with pytest.raises(KeyboardInterrupt):
        tiny_sft(tmp_path, desc="sft demo", progress=False, objective=crashes_in_step_5)
    assert capsys.readouterr().err == ""  # no progress, nothing resumed
    log = tiny_sft(tmp_path, desc="sft demo", progress=False)
    assert [e["step"] for e in log] == [1, 2, 3, 4, 5, 6]
    assert capsys.readouterr().err == "  sft demo: resumed from step 3 of 6\n"


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])
    from test_logging import tiny_sft

    from pearbench.harness.context import say
    from pearbench.train.metrics_log import MetricsLog

    folder = Path(sys.argv[1])
    say("run: start")
    tiny_sft(
        folder / "ckpt",
        desc="sft demo",
        progress=sys.argv[2] == "progress",
        steps=10,
        metrics=MetricsLog(folder / "metrics.jsonl"),
    )
    say("  sft: trained 10 steps (summary line)")
    """
)


def test_stderr_to_a_file_has_no_carriage_returns_and_a_killed_run_says_it_resumed(tmp_path) -> None:
    """A real file as stderr and a real SIGKILL (PEARBENCH_FAULT) after step 5; the rerun has --no-progress."""
    from pearbench.train.metrics_log import read_metrics

    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PEARBENCH_THREADS": "1"}

    def train(mode: str, log_name: str, **extra: str) -> tuple[int, str]:
        with (tmp_path / log_name).open("wb") as err:
            done = subprocess.run(
                [sys.executable, str(script), str(tmp_path), mode, str(Path(__file__).parent)],
                stderr=err,
                stdout=subprocess.DEVNULL,
                env={**env, **extra},
                cwd=root,
                timeout=300,
                check=False,
            )
        return done.returncode, (tmp_path / log_name).read_text()

    code, killed = train("progress", "killed.err", PEARBENCH_FAULT="sft:5")
    assert code == -9, killed  # SIGKILL after step 5 (checkpoint at step 3)
    assert "\r" not in killed
    assert killed.splitlines()[0] == "run: start"
    assert "  sft demo: 1/10 steps (10%), " in killed and "  sft demo: 5/10 steps (50%), " in killed
    assert "resumed" not in killed

    code, resumed = train("no-progress", "resumed.err")
    assert code == 0, resumed
    assert "\r" not in resumed
    assert resumed.splitlines() == [
        "run: start",
        "  sft demo: resumed from step 3 of 10",
        "  sft: trained 10 steps (summary line)",
    ]
    assert [e["step"] for e in read_metrics(tmp_path / "metrics.jsonl")] == list(range(1, 11))

    (tmp_path / "metrics.jsonl").unlink()
    shutil.rmtree(tmp_path / "ckpt")
    code, fresh = train("progress", "fresh.err")
    assert code == 0 and "\r" not in fresh
    lines = fresh.splitlines()
    assert lines[-1] == "  sft: trained 10 steps (summary line)"  # at the beginning of its own line
    assert sum(line.startswith("  sft demo: ") and "steps/s" in line for line in lines) == 10
