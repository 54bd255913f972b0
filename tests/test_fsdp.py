"""Sharded data-parallel training (pearbench.train.sharding, FSDP2 over gloo): two CPU processes spawned from the test
hold identical full weights after SFT and GRPO steps, equal to a one-process run on the same global batch and to the
replicated (DDP-style) two-process path; their checkpoints have the one-process files and keys; a killed FSDP run
resumes to the uninterrupted run's weights; FSDP where it cannot run is refused with one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_distributed import (
    GRPO_CASES,
    GRPO_CONFIG,
    SFT_CONFIG,
    _identical_everywhere,
    assert_same_log,
    assert_same_update,
    grpo_run,
    sft_run,
    tiny,
)

from pearbench.cli import main
from pearbench.errors import PearbenchError
from pearbench.train import distributed
from pearbench.train.checkpoint import latest_checkpoint, list_checkpoints, load_optimizer_state
from pearbench.train.distributed import Parallel, launch
from pearbench.train.sharding import most_passes, transformer_blocks

FSDP_ENV = {"ACCELERATE_USE_FSDP": "true"}  # what `accelerate launch` sets for `distributed_type: FSDP`

#: (method, normalisation, config): shares of 4 and 5 examples in micro-batches of 4, so the ranks make 1 and 2
#: passes (the first rank adds an idle one); the second clips every step (a global norm far above 0.05)
SFT_CASES = [
    ("sft", "token-mean", dataclasses.replace(SFT_CONFIG, batch_size=9, micro_batch_size=4)),
    ("pear-seq", "self-normalised", dataclasses.replace(SFT_CONFIG, grad_clip=0.05)),
]
RESUME_CONFIG = dataclasses.replace(SFT_CONFIG, steps=5)


RESUME_GRPO = dataclasses.replace(GRPO_CONFIG, steps=4, kl_coef=0.0, monitor_every=0)


def _resume_runs(folder: str, parallel: Parallel) -> dict:
    """An SFT run of 5 steps and a GRPO run of 4, checkpoints every 2 steps (the killed and resumed runs)."""
    sft_state, sft_log = sft_run(
        "pear-seq", "self-normalised", f"{folder}/sft", parallel, RESUME_CONFIG, "sft r"
    )
    grpo_state, grpo_log = grpo_run("token-mean", f"{folder}/rl", parallel, config=RESUME_GRPO)
    same = _identical_everywhere(parallel, sft_state) and _identical_everywhere(parallel, grpo_state)
    return {"sft": (sft_state, sft_log), "rl": (grpo_state, grpo_log), "identical": same}


def _two_rank_worker(folder: str) -> dict:
    """Every FSDP and replicated two-process run the tests compare, in one launch (starting processes is slow)."""
    fsdp = distributed.setup("cpu")
    assert fsdp.world_size == 2 and fsdp.fsdp and fsdp.sharding == "fsdp"
    replicate = dataclasses.replace(fsdp, fsdp=False)
    out: dict = {"sft": [], "grpo": []}
    for method, normalisation, config in SFT_CASES:
        runs = {}
        for group in (fsdp, replicate):
            where = f"{folder}/sft-{method}-{group.sharding}"
            state, log = sft_run(method, normalisation, where, group, config)
            runs[group.sharding] = (state, log, _identical_everywhere(group, state))
        out["sft"].append(runs)
    for aggregation, inner in GRPO_CASES:
        runs = {}
        for group in (fsdp, replicate):
            where = f"{folder}/grpo-{aggregation}-{group.sharding}"
            state, log = grpo_run(aggregation, where, group, inner=inner)
            runs[group.sharding] = (state, log, _identical_everywhere(group, state))
        out["grpo"].append(runs)
    return out


def _resume_worker(folder: str) -> dict:
    return _resume_runs(folder, distributed.setup("cpu"))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("fsdp-ranks")
    return {"folder": folder, **launch(_two_rank_worker, (str(folder),), processes=2, env=FSDP_ENV)}


# -- pure pieces ---------------------------------------------------------------------------------------------------
def test_the_blocks_to_shard_are_the_decoder_layers_or_the_largest_list_of_one_class():
    model = tiny()
    assert transformer_blocks(model) == list(model.model.layers)
    plain = torch.nn.Sequential(
        torch.nn.ModuleList([torch.nn.Linear(2, 2)]),
        torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)]),
        torch.nn.ModuleList([torch.nn.Linear(9, 9), torch.nn.ReLU()]),  # two classes: not a list of blocks
    )
    assert transformer_blocks(plain) == list(plain[1])
    assert transformer_blocks(torch.nn.Linear(3, 3)) == []


def test_every_rank_makes_the_passes_of_the_rank_with_the_most_micro_batches():
    two = Parallel(rank=1, world_size=2, fsdp=True)
    assert most_passes(two, 9, 4) == 2  # shares of 4 and 5
    assert most_passes(two, 8, 4) == 1
    assert most_passes(two, 3, 3, rows_per_item=4) == 3  # 4 and 8 rows
    assert Parallel(world_size=2).sharding == "replicate" and two.sharding == "fsdp"
    with pytest.raises(PearbenchError, match="needs more than one"):
        Parallel(fsdp=True)


# -- refusals ------------------------------------------------------------------------------------------------------
def test_fsdp_in_one_process_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    from pearbench.harness.runner import RunRequest, run

    with pytest.raises(PearbenchError, match=r"^--fsdp shards the model .* --processes N > 1, not 1$"):
        run(RunRequest(profile="smoke", out=str(tmp_path), fsdp=True))
    for command in ("run", "sweep"):
        assert main([command, "--profile", "smoke", "--out", str(tmp_path), "--fsdp"]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "--fsdp shards the model" in error, command
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # accelerate's FSDP config, one process
    with pytest.raises(PearbenchError, match="^FSDP .* this run has one: use --processes N > 1"):
        distributed.setup("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("FSDP_OFFLOAD_PARAMS", "true")  # refused before any group is joined
    with pytest.raises(PearbenchError, match=r"^the accelerate FSDP config asks for CPU offloading"):
        distributed.setup("cpu")


# -- two FSDP processes against one, and against replicated training ---------------------------------------------
def test_fsdp_sft_makes_the_one_process_and_the_replicated_update(two_ranks, tmp_path):
    for (method, normalisation, config), runs in zip(SFT_CASES, two_ranks["sft"]):
        state, log, identical = runs["fsdp"]
        assert identical, method  # both ranks hold the same full weights
        one_state, one_log = sft_run(method, normalisation, tmp_path / f"one-{method}", config=config)
        assert_same_update(state, one_state)
        assert_same_update(state, runs["replicate"][0])
        assert_same_log(log, one_log, exact=("step", "lr", "tokens", "sequences"))
    assert all(e["grad_norm"] > 0.05 for e in two_ranks["sft"][1]["fsdp"][1])  # the clip acted at every step


def test_fsdp_grpo_makes_the_one_process_and_the_replicated_update(two_ranks, tmp_path):
    for (aggregation, inner), runs in zip(GRPO_CASES, two_ranks["grpo"]):
        state, log, identical = runs["fsdp"]
        assert identical, aggregation
        one_state, one_log = grpo_run(aggregation, tmp_path / f"one-{aggregation}", inner=inner)
        assert_same_update(state, one_state)
        assert_same_update(state, runs["replicate"][0])
        exact = ("step", "reward_mean", "pass_rate", "verifier_errors", "response_length")
        assert_same_log(log, one_log, exact=exact)  # the same samples, monitored on rank 0 from the replica
        assert [e["step"] for e in log if "monitor_reward" in e] == [0, 2, 3]


def test_an_fsdp_checkpoint_has_the_files_and_keys_of_a_one_process_checkpoint(two_ranks, tmp_path):
    sharded = latest_checkpoint(two_ranks["folder"] / "sft-sft-fsdp")
    sft_run("sft", "token-mean", tmp_path / "one", config=SFT_CASES[0][2])
    single = latest_checkpoint(tmp_path / "one")
    assert sharded.name == single.name == "step-4"
    assert sorted(p.name for p in sharded.iterdir()) == sorted(p.name for p in single.iterdir())
    weights, one_weights = (
        load_file(str(sharded / "model.safetensors")),
        load_file(str(single / "model.safetensors")),
    )
    assert_same_update(weights, one_weights)  # the same keys (tied lm_head left out), the full tensors
    optimizer, one_optimizer = load_optimizer_state(sharded), load_optimizer_state(single)
    assert optimizer["param_groups"] == one_optimizer["param_groups"]
    assert optimizer["state"].keys() == one_optimizer["state"].keys()
    for index, moments in one_optimizer["state"].items():
        assert moments.keys() == optimizer["state"][index].keys()
        assert torch.equal(moments["step"], optimizer["state"][index]["step"])
        for key in ("exp_avg", "exp_avg_sq"):
            assert optimizer["state"][index][key].shape == moments[key].shape
            assert torch.allclose(optimizer["state"][index][key], moments[key], rtol=1e-4, atol=1e-9), index


@pytest.mark.slow
def test_a_killed_fsdp_run_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    straight = launch(_resume_worker, (str(tmp_path / "straight"),), processes=2, env=FSDP_ENV)
    folder = str(tmp_path / "resumed")
    monkeypatch.setenv("PEARBENCH_FAULT", "sft:3")  # both ranks are SIGKILLed after SFT step 3
    with pytest.raises(RuntimeError, match="died|failed"):
        launch(_resume_worker, (folder,), processes=2, env=FSDP_ENV)
    assert [p.name for p in list_checkpoints(Path(folder) / "sft")] == ["step-2"]
    monkeypatch.setenv("PEARBENCH_FAULT", "rl:3")  # SFT resumes and ends; RL dies after step 3
    with pytest.raises(RuntimeError, match="died|failed"):
        launch(_resume_worker, (folder,), processes=2, env=FSDP_ENV)
    assert [p.name for p in list_checkpoints(Path(folder) / "rl")] == ["step-2"]
    monkeypatch.delenv("PEARBENCH_FAULT")
    resumed = launch(_resume_worker, (folder,), processes=2, env=FSDP_ENV)
    assert resumed["identical"]
    for stage in ("sft", "rl"):
        state, log = resumed[stage]
        for name in straight[stage][0]:
            assert torch.equal(state[name], straight[stage][0][name]), (stage, name)
        assert [e["step"] for e in log] == [e["step"] for e in straight[stage][1]]
        for a, b in zip(log, straight[stage][1]):
            assert a == pytest.approx(b, nan_ok=True), stage


@pytest.mark.slow
def test_a_two_process_fsdp_smoke_run_records_its_sharding(smoke_dir):
    """End to end (shared stages from the smoke fixture's cache): SFT and RL sharded on 2 processes."""
    from pearbench.harness.runner import RunRequest, run

    # a label no other test runs in the smoke folder: its SFT and RL stages are trained here, not found cached
    request = RunRequest(
        method="sft@0.5x", profile="smoke", out=str(smoke_dir), progress=False, processes=2, fsdp=True
    )
    record = run(request)
    assert record["engine"]["world_size"] == 2 and record["engine"]["sharding"] == "fsdp"
    assert record["metrics"]["rl"]["pass@1"]["value"] >= 0.0
