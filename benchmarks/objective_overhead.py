"""Cost of each SFT objective relative to plain SFT, measured side by side in one run.

A full SFT step on a small Llama-style model (forward, token log-probs via log_softmax + gather, the objective,
backward, AdamW step) is timed for every objective, interleaved round by round (the order rotates each round), and
the median of each is printed with its ratio to ``sft``. Also prints the objective alone (given fixed log-probs), to
show where any difference comes from. Target: every PEAR level <= 1.03x of ``sft`` on CPU.

    python benchmarks/objective_overhead.py [--rounds 15] [--threads 2] [--batch 32] [--length 128]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from tqdm import tqdm
from transformers import LlamaConfig, LlamaForCausalLM

from pearbench.train.methods import get_method

METHODS = ("sft", "dft", "pear-seq", "pear-token", "pear-block")


def make_batch(batch: int, length: int, vocab: int, seed: int = 0):
    """Random token ids; a prompt of 16..48 tokens, then a response, right padding to ``length``."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, vocab, (batch, length), generator=generator)
    attention = torch.zeros(batch, length, dtype=torch.long)
    response = torch.zeros(batch, length - 1, dtype=torch.bool)  # aligned with the targets input_ids[:, 1:]
    for row in range(batch):
        prompt = int(torch.randint(16, 49, (1,), generator=generator))
        total = int(torch.randint(prompt + 8, length + 1, (1,), generator=generator))
        attention[row, :total] = 1
        response[row, prompt - 1 : total - 1] = True
    return input_ids, attention, response


def token_logprobs(model: LlamaForCausalLM, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=100)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=args.length,
    )
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    input_ids, attention, response = make_batch(args.batch, args.length, args.vocab)
    with torch.no_grad():  # a behavior policy a little away from the student
        behavior = (token_logprobs(model, input_ids, attention) + 0.1 * torch.randn(response.shape)).clamp(
            max=0.0
        )

    methods = {name: get_method(name) for name in METHODS}
    options = {name: method.default_options() for name, method in methods.items()}

    def step(name: str) -> float:
        method = methods[name]
        start = time.perf_counter()
        logprobs = token_logprobs(model, input_ids, attention)
        behavior_arg = behavior if method.needs_behavior_logprobs else None
        output = method.loss(logprobs, behavior_arg, response, options[name])
        output.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        output.diagnostics.summary()  # what a trainer logs every step
        return time.perf_counter() - start

    with torch.no_grad():
        fixed_logprobs = token_logprobs(model, input_ids, attention)

    def objective_only(name: str, repeats: int = 10) -> float:
        method = methods[name]
        behavior_arg = behavior if method.needs_behavior_logprobs else None
        logprobs = fixed_logprobs.clone().requires_grad_(True)
        start = time.perf_counter()
        for _ in range(repeats):
            output = method.loss(logprobs, behavior_arg, response, options[name])
            output.loss.backward()
            output.diagnostics.summary()
        return (time.perf_counter() - start) / repeats

    step_times: dict[str, list[float]] = {name: [] for name in METHODS}
    objective_times: dict[str, list[float]] = {name: [] for name in METHODS}
    for round_index in tqdm(range(args.warmup + args.rounds), desc="rounds", unit="round"):
        order = METHODS[round_index % len(METHODS) :] + METHODS[: round_index % len(METHODS)]
        for name in order:
            elapsed = step(name)
            objective_elapsed = objective_only(name)
            if round_index >= args.warmup:
                step_times[name].append(elapsed)
                objective_times[name].append(objective_elapsed)

    baseline = statistics.median(step_times["sft"])
    objective_baseline = statistics.median(objective_times["sft"])
    print(
        f"\nLlama {config.num_hidden_layers}x{config.hidden_size}, vocab {args.vocab}, batch {args.batch}x{args.length}, "
        f"{int(response.sum())} response tokens, {args.threads} threads, {args.rounds} interleaved rounds (medians)"
    )
    print(
        "ratio: median full step / median sft step; objective-based: 1 + (objective - sft objective) / sft step"
    )
    print(
        f"{'method':<12}{'step ms':>10}{'ratio':>8}{'objective ms':>15}{'+ms vs sft':>12}{'objective-based':>17}"
    )
    for name in METHODS:
        median = statistics.median(step_times[name])
        objective_median = statistics.median(objective_times[name])
        extra = objective_median - objective_baseline
        print(
            f"{name:<12}{median * 1e3:>10.2f}{median / baseline:>7.3f}x{objective_median * 1e3:>15.3f}"
            f"{extra * 1e3:>12.3f}{1 + extra / baseline:>16.4f}x"
        )


if __name__ == "__main__":
    main()
