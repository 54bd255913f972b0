"""Time of one GRPO step: pearbench's loop vs TRL's GRPOTrainer, same sizes and settings, side by side.

Sizes are the ``small`` profile's ``[rl]`` table (prompts per step x group size completions, max new tokens, one
optimizer step per generated batch) on the profile's student (tiny-2x128, char tokenizer) and countdown prompts with
the countdown verifier as reward. Both run in float32 without gradient checkpointing, with a token-mean loss over the
whole accumulated batch (pearbench ``loss_aggregation="token-mean"``, TRL ``loss_type="dapo"``), no KL term
(beta 0), the profile's clip range, temperature 1.
A step = sampling the group completions + rewards + advantages + forward/backward in micro-batches of the
profile's ``micro_batch_size`` (TRL: gradient accumulation over the generated batch) + one AdamW step. Rounds
alternate which framework goes first; each round starts both from the same fresh model. The pearbench time is the whole
``train_grpo(steps=1)`` call (optimizer set-up and the end-of-run checkpoint included); TRL's is measured from
``on_step_begin`` to ``on_step_end`` (trainer construction excluded). Medians and their ratio are printed.

    python benchmarks/harness.py [--rounds 3] [--threads N] [--profile small]

The machine's load average is printed with the numbers; above 2 the benchmark uses one thread (unless --threads).
If TRL is not installed, only pearbench's time is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace

import torch
from tqdm import tqdm

from pearbench.harness.config import load_profile
from pearbench.harness.corpus import prompt_text
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt
from pearbench.registry import get_game_class
from pearbench.train.grpo import train_grpo


def pearbench_step(model, tokenizer, prompts, reward, config, seed: int) -> tuple[float, float]:
    """Seconds of one ``train_grpo`` step and the mean completion length (tokens, EOS included)."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        log = train_grpo(
            model, tokenizer, prompts, reward, config=config, seed=seed, checkpoint_dir=folder, progress=False
        )
        return time.perf_counter() - start, log[-1]["response_length"]


def trl_step(model, tokenizer, texts, instances, game, config, seed: int) -> tuple[float, float]:
    """Seconds of one GRPOTrainer step and TRL's logged mean completion length."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.begin = 0.0
            self.seconds = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds = time.perf_counter() - self.begin

    def reward(prompts, completions, index, **kwargs):
        return [game.verify(instances[i], text).reward for i, text in zip(index, completions)]

    total = config.prompts_per_step * config.group_size
    micro = config.micro_batch_size if total % config.micro_batch_size == 0 else total
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as folder:
        args = GRPOConfig(
            output_dir=folder,
            # one optimizer step over the generated batch, in micro-batches of pearbench's micro_batch_size
            per_device_train_batch_size=micro,
            num_generations=config.group_size,
            max_completion_length=config.max_new_tokens,
            gradient_accumulation_steps=total // micro,
            steps_per_generation=total // micro,
            num_iterations=config.inner_iterations,
            loss_type="dapo",
            beta=0.0,
            epsilon=config.epsilon_low,
            epsilon_high=config.epsilon_high,
            learning_rate=config.lr,
            max_grad_norm=config.grad_clip,
            temperature=config.temperature,
            top_p=config.top_p,
            scale_rewards="group" if config.scale_rewards else "none",
            bf16=False,
            fp16=False,
            gradient_checkpointing=False,
            use_cpu=True,
            report_to=[],
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            max_steps=1,
            seed=seed,
            lr_scheduler_type="constant",
            warmup_steps=0,
        )
        dataset = Dataset.from_dict({"prompt": texts, "index": list(range(len(texts)))})
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[timer],
        )
        trainer.train()
        lengths = [
            e["completions/mean_length"] for e in trainer.state.log_history if "completions/mean_length" in e
        ]
    return timer.seconds, float(lengths[-1]) if lengths else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--profile", default="small")
    args = parser.parse_args()

    load = os.getloadavg()
    threads = args.threads or (1 if load[0] > 2 else max(1, min(2, os.cpu_count() or 1)))
    torch.set_num_threads(threads)
    profile = load_profile(args.profile)
    config = replace(profile.rl, steps=1)
    tokenizer = build_char_tokenizer()
    game = get_game_class("countdown")()
    instances = [game.generate(seed) for seed in range(256)]
    texts = [prompt_text(game, instance, "compact") for instance in instances]
    prompts = [encode_prompt(tokenizer, text) for text in texts]

    def reward(index: int, text: str):
        return game.verify(instances[index], text)

    try:
        import trl  # noqa: F401

        have_trl = True
    except ImportError:
        have_trl = False

    size = profile.models.student
    pearbench_times, trl_times = [], []
    lengths: dict[str, list[float]] = {"pearbench": [], "trl": []}
    pearbench_step(
        build_tiny_model(size, tokenizer, seed=0), tokenizer, prompts, reward, config, seed=0
    )  # warm-up
    for round_ in tqdm(range(args.rounds), desc="rounds", unit="round"):
        order = ["pearbench", "trl"] if round_ % 2 == 0 else ["trl", "pearbench"]
        for name in order:
            model = build_tiny_model(size, tokenizer, seed=round_)
            if name == "pearbench":
                seconds, length = pearbench_step(model, tokenizer, prompts, reward, config, seed=round_)
                pearbench_times.append(seconds)
                lengths["pearbench"].append(length)
            elif have_trl:
                # TRL tokenises prompt text itself: the BOS token is written out so its ids equal pearbench's
                bos_texts = [tokenizer.bos_token + text for text in texts]
                seconds, length = trl_step(model, tokenizer, bos_texts, instances, game, config, seed=round_)
                trl_times.append(seconds)
                lengths["trl"].append(length)

    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; torch threads {threads}; {os.cpu_count()} CPUs"
    )
    print(
        f"one GRPO step, profile {profile.name} [rl]: {config.prompts_per_step} prompts x {config.group_size} "
        f"completions, {config.max_new_tokens} new tokens, model {size}, float32, {args.rounds} rounds (medians):"
    )
    median_pb = statistics.median(pearbench_times)
    print(
        f"  pearbench {median_pb:7.2f} s  (" + ", ".join(f"{t:.2f}" for t in pearbench_times) + ")"
        f"  mean completion length {statistics.mean(lengths['pearbench']):.1f} tokens"
    )
    if not have_trl:
        print("  trl: not installed, skipped (pip install 'pearbench[trl]')")
        return
    median_trl = statistics.median(trl_times)
    print(
        f"  trl       {median_trl:7.2f} s  (" + ", ".join(f"{t:.2f}" for t in trl_times) + ")"
        f"  mean completion length {statistics.mean(lengths['trl']):.1f} tokens"
    )
    print(f"  ratio pearbench / trl: {median_pb / median_trl:.2f}x")


if __name__ == "__main__":
    main()
