"""pearbench's GRPO loss equals TRL's (GRPOTrainer._compute_loss) on one fixed batch: value and gradients.

TRL lays a batch out as left-padded prompts plus right-padded completions; pearbench as right-padded
prompt+response sequences. The same tokens, old log-probs and advantages go into both. Needs the optional
dependency ``trl`` (``pip install "pearbench[trl]"``; checked with trl 1.16.0).
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("trl", reason="TRL is not installed (optional: pip install 'pearbench[trl]')")
pytest.importorskip("datasets", reason="TRL's trainer needs the datasets package")

from datasets import Dataset  # noqa: E402
from trl import GRPOConfig as TRLConfig  # noqa: E402
from trl import GRPOTrainer  # noqa: E402

from pearbench.models.families import build_char_tokenizer, build_tiny_model, save_model  # noqa: E402
from pearbench.models.generation import pad_sequences  # noqa: E402
from pearbench.train.grpo import aggregate, grpo_token_loss, logprobs_and_entropy  # noqa: E402

EPS_LOW, EPS_HIGH = 0.2, 0.28


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    tokenizer = build_char_tokenizer()
    folder = tmp_path_factory.mktemp("tiny")
    save_model(build_tiny_model("tiny-ci", tokenizer, seed=0), tokenizer, folder)
    return folder


def make_trainer(model_dir, tmp_path, loss_type: str, beta: float) -> GRPOTrainer:
    tokenizer = build_char_tokenizer()
    args = TRLConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=12,
        loss_type=loss_type,
        beta=beta,
        use_bias_correction_kl=False,  # pearbench's KL term is the plain k3 estimator
        epsilon=EPS_LOW,
        epsilon_high=EPS_HIGH,
        temperature=1.0,
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        report_to=[],
        max_steps=1,
    )
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=lambda completions, **kwargs: [0.0] * len(completions),
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["1+2="] * 4}),
        processing_class=tokenizer,
    )
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); one micro-batch here
    return trainer


def fixed_batch(vocab: int):
    gen = torch.Generator().manual_seed(0)
    prompts = [[1] + torch.randint(4, vocab, (n,), generator=gen).tolist() for n in (3, 7, 5, 2)]
    responses = [torch.randint(4, vocab, (n,), generator=gen).tolist() + [2] for n in (5, 1, 8, 3)]
    advantages = torch.tensor([1.0, -0.5, 0.7, -1.2])
    old_noise = (torch.rand(4, 9, generator=gen) - 0.5) * 0.8  # moves the ratio off 1 so both clips are hit
    ref_noise = (torch.rand(4, 9, generator=gen) - 0.5) * 0.6
    return prompts, responses, advantages, old_noise, ref_noise


def trl_layout(prompts, responses):
    rows, width_p, width_c = len(prompts), max(map(len, prompts)), max(map(len, responses))
    prompt_ids = torch.zeros(rows, width_p, dtype=torch.long)
    prompt_mask = torch.zeros(rows, width_p, dtype=torch.long)
    completion_ids = torch.zeros(rows, width_c, dtype=torch.long)
    completion_mask = torch.zeros(rows, width_c, dtype=torch.long)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        prompt_ids[row, width_p - len(prompt) :] = torch.tensor(prompt)
        prompt_mask[row, width_p - len(prompt) :] = 1
        completion_ids[row, : len(response)] = torch.tensor(response)
        completion_mask[row, : len(response)] = 1
    return prompt_ids, prompt_mask, completion_ids, completion_mask


@pytest.mark.parametrize(
    ("loss_type", "aggregation", "beta"),
    [
        ("bnpo", "token-mean", 0.0),
        ("dapo", "token-mean", 0.0),
        ("grpo", "seq-mean", 0.0),
        ("bnpo", "token-mean", 0.04),
    ],
)
def test_pearbench_grpo_loss_equals_trl(model_dir, tmp_path, loss_type, aggregation, beta):
    trainer = make_trainer(model_dir, tmp_path, loss_type, beta)
    model = trainer.model
    model.train()
    prompts, responses, advantages, old_noise, ref_noise = fixed_batch(model.config.vocab_size)

    # pearbench layout; old and reference log-probs = current ones + noise at the response tokens
    input_ids, attention, mask = pad_sequences(prompts, responses, pad_id=0)
    with torch.no_grad():
        current, _ = logprobs_and_entropy(model, input_ids, attention)
    old, ref = current.clone(), current.clone()
    prompt_ids, prompt_mask, completion_ids, completion_mask = trl_layout(prompts, responses)
    old_trl = torch.zeros(completion_ids.shape)
    ref_trl = torch.zeros(completion_ids.shape)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        span = slice(len(prompt) - 1, len(prompt) - 1 + len(response))
        old[row, span] += old_noise[row, : len(response)]
        ref[row, span] += ref_noise[row, : len(response)]
        old_trl[row, : len(response)] = old[row, span]
        ref_trl[row, : len(response)] = ref[row, span]

    inputs = {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": advantages,
        "old_per_token_logps": old_trl,
        "num_items_in_batch": completion_mask.sum(),
    }
    if beta:
        inputs["ref_per_token_logps"] = ref_trl
    model.zero_grad(set_to_none=True)
    trl_loss = trainer._compute_loss(model, inputs)
    trl_loss.backward()
    trl_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    model.zero_grad(set_to_none=True)
    logprobs, _ = logprobs_and_entropy(model, input_ids, attention)
    token_loss, clipped, _ = grpo_token_loss(
        logprobs,
        old,
        advantages,
        epsilon_low=EPS_LOW,
        epsilon_high=EPS_HIGH,
        ref_logprobs=ref if beta else None,
        kl_coef=beta,
    )
    numerator, denominator = aggregate(token_loss, mask, aggregation)
    ours = numerator / denominator
    ours.backward()

    clip_share = float(clipped[mask.bool()].mean())
    assert 0 < clip_share < 1, "the batch should exercise clipping"
    assert float(ours.detach()) == pytest.approx(float(trl_loss.detach()), abs=1e-6)
    assert trl_grads.keys() == {n for n, p in model.named_parameters() if p.grad is not None}
    for name, parameter in model.named_parameters():
        assert torch.allclose(parameter.grad, trl_grads[name], atol=1e-6, rtol=1e-4), name
    assert max(g.abs().max() for g in trl_grads.values()) > 1e-3
