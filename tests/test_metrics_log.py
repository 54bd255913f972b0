"""Live training curves (pearbench.train.metrics_log): one metrics.jsonl line per step for SFT, pretraining and RL,
resumed stages without duplicate steps, the [log] table and its backends (TensorBoard for real, wandb and trackio
through fake modules that record their calls), and stage keys that do not depend on [log]."""

from __future__ import annotations

import importlib.machinery
import json
import math
import os
import sys
import types
from pathlib import Path

import pytest
import torch
from test_grpo import PROMPTS, TOKENIZER, config, tiny, toy_reward
from test_logging import tiny_sft

from pearbench.errors import PearbenchError
from pearbench.harness.config import load_profile
from pearbench.train.grpo import train_grpo
from pearbench.train.methods import get_method
from pearbench.train.metrics_log import (
    PRETRAIN_FIELDS,
    LogConfig,
    MetricsLog,
    check_backends,
    read_metrics,
)
from pearbench.verify.verdict import Verdict

SFT_FIELDS = {"step", "time", "lr", "loss", "grad_norm", "nll", "mean_weight", "ess_fraction"}
PEAR_FIELDS = {"delta_clip_fraction", "log_weight_clip_fraction"}
RL_FIELDS = {"step", "time", "lr", "loss", "grad_norm", "reward_mean", "kl", "entropy", "clip_fraction"}
RL_FIELDS |= {"response_length"}


def raw_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_time(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k != "time"} for line in lines]


# -- SFT and pretraining ------------------------------------------------------------------------------------------
def test_sft_writes_one_line_per_step_with_the_weight_statistics(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    log = tiny_sft(tmp_path / "ckpt", desc="sft demo", progress=False, metrics=MetricsLog(path))
    lines = raw_lines(path)
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5, 6]
    for line, entry in zip(lines, log):
        assert SFT_FIELDS | PEAR_FIELDS <= set(line)
        assert list(line)[:2] == ["step", "time"]
        assert {k: v for k, v in line.items() if k != "time"} == entry  # exactly the step log
    assert lines[0]["lr"] < lines[1]["lr"]  # the warm-up is visible


def test_pretraining_lines_keep_only_loss_nll_lr_and_grad_norm(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tiny_sft(
        tmp_path / "ckpt",
        desc="pretrain base",
        progress=False,
        metrics=MetricsLog(path, fields=PRETRAIN_FIELDS),
    )
    lines = raw_lines(path)
    assert len(lines) == 6
    assert all(set(line) == set(PRETRAIN_FIELDS) for line in lines)


def test_a_resumed_sft_stage_continues_the_file_without_duplicates(tmp_path: Path) -> None:
    straight = tmp_path / "straight.jsonl"
    tiny_sft(tmp_path / "a", desc="sft demo", progress=False, metrics=MetricsLog(straight))

    loss, calls = get_method("pear-token").loss, {"n": 0}

    def crashes_in_step_6(logprobs, behavior, mask, options):
        calls["n"] += 1
        if calls["n"] == 6:  # one micro-batch per step: steps 1-5 are written, the checkpoint is at step 3
            raise KeyboardInterrupt("simulated crash")
        return loss(logprobs, behavior, mask, options)

    path = tmp_path / "metrics.jsonl"
    with pytest.raises(KeyboardInterrupt):
        tiny_sft(
            tmp_path / "b",
            desc="sft demo",
            progress=False,
            objective=crashes_in_step_6,
            metrics=MetricsLog(path),
        )
    assert [line["step"] for line in raw_lines(path)] == [1, 2, 3, 4, 5]
    tiny_sft(tmp_path / "b", desc="sft demo", progress=False, metrics=MetricsLog(path))
    lines = raw_lines(path)
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert without_time(lines) == without_time(raw_lines(straight))  # the numbers of an uninterrupted run


def test_start_drops_later_steps_and_a_line_cut_short_by_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.9}\n{"step": 3, "loss": 0.8}\n{"step": 4, "lo'
    )
    metrics = MetricsLog(path)
    metrics.start(2)
    assert path.read_text() == '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.9}\n'
    metrics.write({"step": 3, "loss": float("nan"), "lr": 0.1})
    assert raw_lines(path)[-1]["loss"] is None  # valid JSON: a non-finite number is null
    metrics.start(0)
    assert path.read_text() == ""
    assert read_metrics(tmp_path / "absent.jsonl") == []


# -- RL -----------------------------------------------------------------------------------------------------------
def test_rl_writes_reward_kl_entropy_clip_ratio_response_length_and_lr(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    log = train_grpo(
        tiny(),
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=config(steps=3, kl_log_every=2),
        seed=0,
        checkpoint_dir=tmp_path / "ckpt",
        reference=tiny(),
        progress=False,
        metrics=MetricsLog(path),
    )
    lines = raw_lines(path)
    assert [line["step"] for line in lines] == [1, 2, 3]
    for line, entry in zip(lines, log):
        assert RL_FIELDS <= set(line)
        assert line["lr"] == pytest.approx(1e-3)  # the optimizer's (the RL log entry has none)
        assert line["reward_mean"] == entry["reward_mean"] and line["entropy"] == entry["entropy"]
    assert lines[0]["kl"] == 0 and lines[1]["kl"] is None  # KL measured every 2nd step: NaN -> null
    assert "lr" not in log[0]  # the step log itself is unchanged


def test_a_resumed_rl_stage_continues_the_file_without_duplicates(tmp_path: Path) -> None:
    cfg = config(steps=5, checkpoint_every=2)
    per_step = cfg.prompts_per_step * cfg.group_size

    def run(folder: str, reward, path: Path):
        return train_grpo(
            tiny(),
            TOKENIZER,
            PROMPTS,
            reward,
            config=cfg,
            seed=3,
            checkpoint_dir=tmp_path / folder,
            progress=False,
            metrics=MetricsLog(path),
        )

    run("straight", toy_reward, tmp_path / "straight.jsonl")
    calls = {"n": 0}

    def crashes_in_step_4(index: int, text: str) -> Verdict:
        calls["n"] += 1
        if calls["n"] > 3 * per_step:
            raise KeyboardInterrupt("simulated crash")
        return toy_reward(index, text)

    path = tmp_path / "metrics.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run("resumed", crashes_in_step_4, path)
    assert [line["step"] for line in raw_lines(path)] == [1, 2, 3]  # checkpoint at step 2
    run("resumed", toy_reward, path)
    lines = raw_lines(path)
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5]
    expected = without_time(raw_lines(tmp_path / "straight.jsonl"))
    for got, want in zip(without_time(lines), expected):
        assert got == pytest.approx(want, nan_ok=True)


# -- backends -----------------------------------------------------------------------------------------------------
def test_tensorboard_writes_event_files_offline_and_a_resume_leaves_no_duplicate(tmp_path: Path) -> None:
    try:
        import tensorboard  # noqa: F401
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        pytest.skip("tensorboard is not installed (pip install 'pearbench[tensorboard]'); CI installs it")
    path = tmp_path / "metrics.jsonl"
    loss, calls = get_method("pear-token").loss, {"n": 0}

    def crashes_in_step_6(logprobs, behavior, mask, options):
        calls["n"] += 1
        if calls["n"] == 6:  # steps 1-5 are logged, the checkpoint is at step 3
            raise KeyboardInterrupt("simulated crash")
        return loss(logprobs, behavior, mask, options)

    with pytest.raises(KeyboardInterrupt):
        tiny_sft(
            tmp_path / "ckpt",
            desc="sft demo",
            progress=False,
            objective=crashes_in_step_6,
            metrics=MetricsLog(path, backends=["tensorboard"]),
        )
    tiny_sft(
        tmp_path / "ckpt", desc="sft demo", progress=False, metrics=MetricsLog(path, backends=["tensorboard"])
    )
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 2, events  # one per process start
    accumulator = EventAccumulator(str(tmp_path / "tensorboard"))
    accumulator.Reload()
    assert {"loss", "lr", "grad_norm", "mean_weight"} <= set(accumulator.Tags()["scalars"])
    losses = accumulator.Scalars("loss")
    assert [s.step for s in losses] == [1, 2, 3, 4, 5, 6]  # steps 4 and 5 of the killed run purged
    expected = [line["loss"] for line in raw_lines(path)]
    assert [s.value for s in losses] == pytest.approx(expected, rel=1e-6)


class Recorder:
    """Records every call made on it (and on the objects its calls return) as (name, args, kwargs)."""

    def __init__(self, calls: list, prefix: str = "") -> None:
        self._calls, self._prefix = calls, prefix

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self._calls.append((self._prefix + name, args, kwargs))
            return Recorder(self._calls, prefix="run.")

        return call


def fake_module(monkeypatch, name: str) -> list:
    calls: list = []
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)  # as an installed module has (others look)
    recorder = Recorder(calls)
    for function in ("init", "log", "finish"):
        setattr(module, function, getattr(recorder, function))
    monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_wandb_runs_offline_in_the_stage_folder(tmp_path: Path, monkeypatch) -> None:
    calls = fake_module(monkeypatch, "wandb")
    check_backends(["wandb"])
    metrics = MetricsLog(tmp_path / "metrics.jsonl", backends=["wandb"], run_name="sft-abc", config={"k": 1})
    tiny_sft(tmp_path / "ckpt", desc="sft demo", progress=False, metrics=metrics)
    names = [name for name, _, _ in calls]
    assert names == ["init"] + ["run.log"] * 6 + ["run.finish"]
    _, args, kwargs = calls[0]
    assert kwargs == {
        "project": "pearbench",
        "name": "sft-abc",
        "dir": str(tmp_path),
        "mode": "offline",
        "config": {"k": 1},
    }
    assert [kwargs["step"] for _, _, kwargs in calls[1:7]] == [1, 2, 3, 4, 5, 6]
    first = calls[1][1][0]
    assert {"loss", "lr", "grad_norm", "mean_weight"} <= set(first) and "step" not in first
    assert first["loss"] == raw_lines(tmp_path / "metrics.jsonl")[0]["loss"]


def trackio_module(monkeypatch, calls: list, generation: str) -> None:
    """A fake trackio of either API generation: ``init(project, ..., space_id, dataset_id)`` (a local database unless
    a Space is named) or ``init(dir, ...)`` (a project folder). Each call records its arguments and the Space
    environment variable as seen by the call; ``init`` prints as trackio does."""
    module = types.ModuleType("trackio")
    module.__spec__ = importlib.machinery.ModuleSpec("trackio", None)
    if generation == "project":

        def init(project, name=None, space_id=None, dataset_id=None, config=None, resume="never"):
            seen = {"project": project, "name": name, "space_id": space_id, "dataset_id": dataset_id}
            calls.append(("init", {**seen, "config": config, "env": os.environ.get("TRACKIO_SPACE_ID")}))
            print("* Created new run")

    else:

        def init(dir=".", name=None, group=None, config=None, resume="never"):
            calls.append(("init", {"dir": dir, "name": name, "config": config}))
            print("* Created new run")

    module.init = init
    module.log = lambda metrics, step=None: calls.append(("log", {"metrics": metrics, "step": step}))
    module.finish = lambda: calls.append(("finish", {}))
    monkeypatch.setitem(sys.modules, "trackio", module)


def test_trackio_with_a_project_name_stays_local(tmp_path: Path, monkeypatch, capsys) -> None:
    calls: list = []
    trackio_module(monkeypatch, calls, "project")
    monkeypatch.setenv("TRACKIO_SPACE_ID", "someone/space")  # would send the run to a Space
    metrics = MetricsLog(tmp_path / "metrics.jsonl", backends=["trackio"], run_name="rl-abc", project="mine")
    tiny_sft(tmp_path / "ckpt", desc="sft demo", progress=False, metrics=metrics, steps=3)
    assert [name for name, _ in calls] == ["init", "log", "log", "log", "finish"]
    assert calls[0][1] == {
        "project": "mine",
        "name": "rl-abc",
        "space_id": None,
        "dataset_id": None,
        "config": {},
        "env": None,  # hidden while the run started
    }
    assert os.environ["TRACKIO_SPACE_ID"] == "someone/space"  # and put back
    assert [kwargs["step"] for _, kwargs in calls[1:4]] == [1, 2, 3]
    assert set(calls[1][1]["metrics"]) >= {"loss", "lr", "grad_norm"}
    captured = capsys.readouterr()
    assert captured.out == "" and "* Created new run" in captured.err


def test_trackio_with_a_project_folder_writes_under_the_stage(tmp_path: Path, monkeypatch) -> None:
    calls: list = []
    trackio_module(monkeypatch, calls, "dir")
    metrics = MetricsLog(tmp_path / "metrics.jsonl", backends=["trackio"], run_name="sft-abc")
    tiny_sft(tmp_path / "ckpt", desc="sft demo", progress=False, metrics=metrics, steps=2)
    assert calls[0][1] == {"dir": str(tmp_path / "trackio"), "name": "sft-abc", "config": {}}
    assert [name for name, _ in calls] == ["init", "log", "log", "finish"]


def test_a_resumed_stage_names_its_backend_run_after_the_step(tmp_path: Path, monkeypatch) -> None:
    calls = fake_module(monkeypatch, "trackio")
    tiny_sft(tmp_path / "ckpt", desc="sft demo", progress=False, steps=3)  # checkpoint at step 3
    metrics = MetricsLog(tmp_path / "metrics.jsonl", backends=["trackio"], run_name="sft-abc")
    tiny_sft(tmp_path / "ckpt", desc="sft demo", progress=False, metrics=metrics, steps=5)
    assert calls[0][2]["name"] == "sft-abc-from-3"
    assert [kwargs["step"] for name, _, kwargs in calls if name == "log"] == [4, 5]


@pytest.mark.parametrize("backend", ["tensorboard", "wandb", "trackio"])
def test_a_missing_extra_is_one_clear_error(tmp_path: Path, monkeypatch, backend: str) -> None:
    monkeypatch.setitem(sys.modules, backend, None)  # import fails as when the package is absent
    message = f"[log] backends: '{backend}' needs the optional extra '{backend}'"
    with pytest.raises(PearbenchError) as error:
        check_backends([backend])
    assert message in str(error.value) and f"pip install 'pearbench[{backend}]'" in str(error.value)
    with pytest.raises(PearbenchError, match=r"pip install 'pearbench\[" + backend):
        MetricsLog(tmp_path / "metrics.jsonl", backends=[backend]).start(0)


# -- the [log] table and stage keys -------------------------------------------------------------------------------
def _profile_with(tmp_path: Path, text: str):
    path = tmp_path / "log.toml"
    path.write_text(text)
    return str(path)


def test_the_log_table_defaults_to_no_backend_and_is_validated(tmp_path: Path) -> None:
    assert load_profile("smoke").log == LogConfig() and LogConfig().backends == ()
    good = load_profile("smoke", _profile_with(tmp_path, '[log]\nbackends = ["tensorboard", "wandb"]\n'))
    assert good.log.backends == ("tensorboard", "wandb")
    for text, message in (
        (
            '[log]\nbackends = ["mlflow"]\n',
            "[log] backends: unknown backend 'mlflow'; choose from: tensorboard, wandb, trackio",
        ),
        ('[log]\nbackends = ["wandb", "wandb"]\n', "[log] backends: lists a backend twice"),
        ('[log]\nbackends = "wandb"\n', "[log] backends: expected a list of strings, got 'wandb'"),
        ("[log]\nnope = 1\n", "[log] nope: unknown key"),
    ):
        with pytest.raises(PearbenchError) as error:
            load_profile("smoke", _profile_with(tmp_path, text))
        assert message in str(error.value)


def test_stage_keys_do_not_depend_on_the_log_table(tmp_path: Path, monkeypatch) -> None:
    """The base, teacher, SFT and RL stage keys of a profile with and without [log] backends are the same."""
    from pearbench.harness import stages
    from pearbench.harness.runner import RunRequest, build_context

    class Stop(Exception):
        pass

    def keys(config_file: str | None) -> dict:
        ctx = build_context(
            RunRequest(
                method="pear-token", profile="smoke", out=str(tmp_path / "out"), config_file=config_file
            )
        )
        seen: dict = {}

        def stage(name, key):
            seen[name] = key
            raise Stop

        monkeypatch.setattr(ctx, "stage", stage)
        stub = types.SimpleNamespace(hash="0" * 16)
        for call in (
            lambda: stages.pretrain(ctx, "base", {"train": []}, None),
            lambda: stages.pretrain(ctx, "teacher", {"train": []}, None),
            lambda: stages.sft(ctx, None, Path("base"), stub, {"stage": stub}),
            lambda: stages.rl(ctx, {"train": []}, None, Path("sft"), stub),
        ):
            with pytest.raises(Stop):
                call()
        return seen

    plain = keys(None)
    logged = keys(
        _profile_with(tmp_path, '[log]\nbackends = ["tensorboard", "wandb", "trackio"]\nproject = "x"\n')
    )
    assert set(plain) == {"base", "teacher", "sft", "rl"}
    assert plain == logged


def test_a_run_refuses_a_missing_backend_before_any_work(tmp_path: Path, monkeypatch) -> None:
    from pearbench.harness.runner import Harness, RunRequest

    monkeypatch.setitem(sys.modules, "trackio", None)
    config_file = _profile_with(tmp_path, '[log]\nbackends = ["trackio"]\n')
    threads = torch.get_num_threads()
    try:
        with pytest.raises(PearbenchError, match=r"pearbench\[trackio\]"):
            Harness(
                RunRequest(method="sft", profile="smoke", out=str(tmp_path / "out"), config_file=config_file)
            )
    finally:
        torch.set_num_threads(threads)
    assert not (tmp_path / "out" / "cache").exists()


def test_only_finite_numbers_reach_the_backends(tmp_path: Path, monkeypatch) -> None:
    calls = fake_module(monkeypatch, "trackio")
    metrics = MetricsLog(tmp_path / "m.jsonl", backends=["trackio"])
    metrics.start(0)
    metrics.write({"step": 1, "loss": torch.tensor(0.5).item(), "kl": math.nan, "flag": True, "note": "x"})
    metrics.close()
    (_, args, kwargs) = calls[1]
    assert args[0] == {"loss": 0.5} and kwargs == {"step": 1}
