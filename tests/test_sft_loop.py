"""The SFT loop (pearbench.train.sft.train_sft): resuming from a checkpoint, exact gradient accumulation for every
normalisation, the learning-rate schedule and batch order, and clear errors."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
import torch

from pearbench.errors import PearbenchError
from pearbench.models.families import build_char_tokenizer, build_tiny_model
from pearbench.models.generation import pad_sequences, token_logprobs
from pearbench.train import sft as sft_module
from pearbench.train.checkpoint import list_checkpoints
from pearbench.train.methods import get_method
from pearbench.train.objectives import ObjectiveOutput, accumulate
from pearbench.train.sft import SFTConfig, _aligned_behavior, batch_indices, lr_at, train_sft

TOKENIZER = build_char_tokenizer()
PAD = TOKENIZER.pad_token_id


def tiny(seed: int = 0) -> torch.nn.Module:
    return build_tiny_model("tiny-ci", TOKENIZER, seed=seed)


def make_examples(count: int = 48, seed: int = 0) -> list[dict]:
    """Random prompts and responses of varied lengths, behavior log-probs near a plausible range."""
    rng = random.Random(seed)
    vocab = len(TOKENIZER)
    examples = []
    for _ in range(count):
        prompt = [TOKENIZER.bos_token_id] + [rng.randrange(4, vocab) for _ in range(rng.randint(2, 9))]
        response = [rng.randrange(4, vocab) for _ in range(rng.randint(1, 12))] + [TOKENIZER.eos_token_id]
        behavior = [-math.log(vocab) + rng.uniform(-0.3, 0.3) for _ in response]
        examples.append({"prompt_ids": prompt, "response_ids": response, "behavior_logprobs": behavior})
    return examples


def options_for(method_name: str, normalisation: str):
    return get_method(method_name).make_options({"normalisation": normalisation})


def run(model, examples, tmp_dir, *, method="sft", normalisation="token-mean", objective=None, **config):
    settings = {"steps": 6, "batch_size": 16, "micro_batch_size": 16, "lr": 3e-3, "warmup_steps": 2}
    settings.update(config)
    return train_sft(
        model,
        examples,
        objective=objective or get_method(method).loss,
        options=options_for(method, normalisation),
        config=SFTConfig(**settings),
        seed=5,
        pad_id=PAD,
        checkpoint_dir=tmp_dir,
        progress=False,
    )


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


# --------------------------------------------------------------------------------------------- resume


@pytest.mark.parametrize("method", ["sft", "pear-token"])
def test_resume_after_a_crash_gives_the_weights_of_an_uninterrupted_run(tmp_path, method):
    examples = make_examples()
    straight = tiny()
    straight_log = run(straight, examples, tmp_path / "straight", method=method, checkpoint_every=3)

    calls = {"n": 0}
    loss = get_method(method).loss

    def crashes_in_step_4(logprobs, behavior, mask, options):
        calls["n"] += 1
        if calls["n"] == 4:  # one micro-batch per step: the 4th call is step 4
            raise KeyboardInterrupt("simulated crash")
        return loss(logprobs, behavior, mask, options)

    crashed = tiny()
    with pytest.raises(KeyboardInterrupt):
        run(
            crashed,
            examples,
            tmp_path / "resumed",
            method=method,
            objective=crashes_in_step_4,
            checkpoint_every=3,
        )
    assert [p.name for p in list_checkpoints(tmp_path / "resumed")] == ["step-3"]

    resumed = tiny(seed=99)  # a fresh model: everything must come from the checkpoint
    resumed_log = run(resumed, examples, tmp_path / "resumed", method=method, checkpoint_every=3)
    assert_same_weights(straight, resumed)
    assert [e["step"] for e in resumed_log] == [1, 2, 3, 4, 5, 6]
    assert resumed_log == straight_log


def test_a_finished_run_is_not_trained_again(tmp_path):
    examples = make_examples()
    model = tiny()
    run(model, examples, tmp_path, steps=3, checkpoint_every=3)
    again = tiny(seed=42)
    log = run(again, examples, tmp_path, steps=3, checkpoint_every=3)
    assert len(log) == 3
    assert_same_weights(model, again)


def test_two_runs_with_the_same_seed_are_identical(tmp_path):
    examples = make_examples()
    a, b = tiny(), tiny()
    run(a, examples, tmp_path / "a", steps=3)
    run(b, examples, tmp_path / "b", steps=3)
    assert_same_weights(a, b)
    assert not torch.equal(
        a.state_dict()["model.embed_tokens.weight"], tiny().state_dict()["model.embed_tokens.weight"]
    )


# --------------------------------------------------------------------------------------------- accumulation

CASES = [
    ("sft", "token-mean"),
    ("pear-token", "token-mean"),
    ("pear-token", "self-normalised"),
    ("pear-seq", "self-normalised"),
    ("pear-block", "seq-mean"),
    ("dft", "token-mean"),
]


def sgd_optimizer(model, lr, weight_decay, betas=(0.9, 0.95)):
    """Plain SGD, so the update is -lr * gradient exactly (AdamW's first step hides the gradient's scale)."""
    return torch.optim.SGD(model.parameters(), lr=lr)


def reference_gradient(model, examples, indices, method, normalisation) -> dict[str, torch.Tensor]:
    """The whole batch in one forward pass: gradient of Σ loss_sum / Σ normaliser."""
    chunk = [examples[i] for i in indices]
    prompts = [e["prompt_ids"] for e in chunk]
    responses = [e["response_ids"] for e in chunk]
    input_ids, attention, mask = pad_sequences(prompts, responses, PAD)
    behavior = _aligned_behavior(prompts, responses, [e["behavior_logprobs"] for e in chunk], mask.shape[1])
    model.train()
    model.zero_grad(set_to_none=True)
    logprobs = token_logprobs(model, input_ids, attention)
    out = get_method(method).loss(logprobs, behavior, mask, options_for(method, normalisation))
    accumulate([out]).backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(("method", "normalisation"), CASES)
def test_micro_batches_give_the_update_of_the_whole_batch(tmp_path, monkeypatch, method, normalisation):
    monkeypatch.setattr(sft_module, "make_optimizer", sgd_optimizer)
    examples = make_examples()
    lr = 0.5
    common = {"steps": 1, "batch_size": 32, "lr": lr, "warmup_steps": 0, "grad_clip": 1e9}
    start = tiny()
    expected = reference_gradient(
        tiny(), examples, batch_indices(0, len(examples), 32, 5), method, normalisation
    )
    updated = {}
    for micro in (32, 8, 5):
        model = tiny()
        run(
            model,
            examples,
            tmp_path / f"m{micro}",
            method=method,
            normalisation=normalisation,
            micro_batch_size=micro,
            **common,
        )
        updated[micro] = model
        for name, parameter in model.named_parameters():
            if name not in expected:
                continue
            step = (start.state_dict()[name] - parameter.detach()) / lr
            assert torch.allclose(step, expected[name], atol=1e-6, rtol=1e-4), (micro, name)
    assert any(v.abs().max() > 1e-4 for v in expected.values())


@pytest.mark.parametrize(
    ("method", "normalisation"), [("sft", "token-mean"), ("pear-token", "self-normalised")]
)
def test_micro_batch_size_8_and_32_agree_with_adamw(tmp_path, method, normalisation):
    examples = make_examples()
    models = {}
    logs = {}
    for micro in (32, 8):
        models[micro] = tiny()
        logs[micro] = run(
            models[micro],
            examples,
            tmp_path / f"m{micro}",
            method=method,
            normalisation=normalisation,
            steps=3,
            batch_size=32,
            micro_batch_size=micro,
        )
    for (name, a), b in zip(models[32].named_parameters(), models[8].parameters()):
        assert torch.allclose(a, b, atol=2e-5, rtol=1e-4), name
    for entry_32, entry_8 in zip(logs[32], logs[8]):
        for key in ("nll", "loss", "mean_weight", "ess_fraction", "tokens"):
            assert entry_32[key] == pytest.approx(entry_8[key], rel=1e-5, abs=1e-7), key


# --------------------------------------------------------------------------------------------- schedule and order


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    config = SFTConfig(steps=10, lr=1.0, warmup_steps=2, min_lr_ratio=0.1)
    values = [lr_at(step, config) for step in range(10)]
    assert values[:2] == [0.5, 1.0]
    assert all(a >= b for a, b in zip(values[1:], values[2:]))
    assert lr_at(10, config) == pytest.approx(0.1)


def test_batches_cover_every_example_once_per_epoch_and_do_not_depend_on_the_past():
    n, batch = 20, 8
    first_epoch = [i for step in range(5) for i in batch_indices(step, n, batch, seed=3)]
    assert sorted(first_epoch[:20]) == list(range(20))
    assert sorted(first_epoch[20:40]) == list(range(20))
    assert batch_indices(3, n, batch, seed=3) == first_epoch[24:32]
    assert batch_indices(0, n, batch, seed=4) != batch_indices(0, n, batch, seed=3)


# --------------------------------------------------------------------------------------------- errors


def test_nan_objective_is_a_clear_error(tmp_path):
    loss = get_method("sft").loss

    def nan_loss(logprobs, behavior, mask, options):
        out = loss(logprobs, behavior, mask, options)
        return dataclasses.replace(out, loss_sum=out.loss_sum * float("nan"))

    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PearbenchError, match="non-finite gradient at SFT step 0"):
        run(model, make_examples(), tmp_path, objective=nan_loss)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_nan_model_logprobs_are_a_clear_error(tmp_path):
    model = tiny()
    with torch.no_grad():
        model.model.norm.weight.fill_(float("nan"))
    with pytest.raises(PearbenchError, match="NaN"):
        run(model, make_examples(), tmp_path)


def test_no_examples_and_bad_config_are_user_errors(tmp_path):
    with pytest.raises(PearbenchError, match="no training examples"):
        run(tiny(), [], tmp_path)
    for bad in ({"steps": -1}, {"batch_size": 0}, {"lr": 0.0}, {"checkpoint_every": 0}):
        with pytest.raises(PearbenchError):
            SFTConfig(**bad)


def test_objective_output_contract_is_what_the_loop_relies_on():
    out = get_method("sft").loss(
        torch.full((1, 3), -1.0), None, torch.tensor([[0, 1, 1]]), options_for("sft", "token-mean")
    )
    assert isinstance(out, ObjectiveOutput)
    assert float(out.loss_sum) == pytest.approx(2.0)
    assert float(out.normaliser) == pytest.approx(2.0)
