"""Generation throughput of the ``hf`` backend on the default student, with and without the KV cache, side by side.

The default student (tiny-2x128, char tokenizer) samples ``--batch`` countdown prompts at temperature 1 for
``--max-new-tokens`` tokens; rounds alternate KV-cached and uncached generation (the order flips each round), and
the medians of generated tokens per second are printed with the ratio cached / uncached. If vLLM is importable,
the same job through :class:`pearbench.models.vllm.VLLMBackend` is timed too. A random model rarely emits EOS, so
nearly every sample runs to the token limit: the numbers measure decoding, not early stopping.

    python benchmarks/generation.py [--rounds 5] [--batch 64] [--max-new-tokens 64] [--threads N]

The machine's load average is printed with the numbers; above 2 the benchmark uses one thread (unless --threads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
from tqdm import tqdm

from pearbench.harness.corpus import prompt_text
from pearbench.models.families import build_char_tokenizer, build_tiny_model, encode_prompt, save_model
from pearbench.models.generation import GenerationConfig, HFBackend
from pearbench.registry import get_game_class


def countdown_prompts(tokenizer, count: int) -> list[list[int]]:
    game = get_game_class("countdown")()
    return [
        encode_prompt(tokenizer, prompt_text(game, game.generate(seed), "compact")) for seed in range(count)
    ]


def timed(backend, prompts, config: GenerationConfig, seed: int) -> tuple[float, int]:
    start = time.perf_counter()
    samples = backend.generate(prompts, n=1, config=config, seed=seed)
    return time.perf_counter() - start, sum(len(s.response_ids) for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--model", default="tiny-2x128")
    args = parser.parse_args()

    load = os.getloadavg()
    threads = args.threads or (1 if load[0] > 2 else max(1, min(2, os.cpu_count() or 1)))
    torch.set_num_threads(threads)
    tokenizer = build_char_tokenizer()
    model = build_tiny_model(args.model, tokenizer, seed=0)
    prompts = countdown_prompts(tokenizer, args.batch)
    backend = HFBackend(model, tokenizer)
    configs = {
        "kv-cache": GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch),
        "no-cache": GenerationConfig(
            max_new_tokens=args.max_new_tokens, batch_size=args.batch, use_cache=False
        ),
    }
    timed(backend, prompts[:8], configs["kv-cache"], seed=0)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in configs}
    ratios = []
    for round_ in tqdm(range(args.rounds), desc="rounds", unit="round"):
        order = list(configs) if round_ % 2 == 0 else list(reversed(configs))
        this_round = {}
        for name in order:
            seconds, tokens = timed(backend, prompts, configs[name], seed=round_)
            this_round[name] = tokens / seconds
            rates[name].append(this_round[name])
        ratios.append(this_round["kv-cache"] / this_round["no-cache"])

    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; torch threads {threads}; {os.cpu_count()} CPUs"
    )
    print(
        f"hf backend, {args.model}, batch {args.batch}, {args.max_new_tokens} new tokens, "
        f"{len(prompts[0])}-{max(map(len, prompts))}-token prompts, {args.rounds} rounds (medians):"
    )
    for name, values in rates.items():
        print(
            f"  {name:9s} {statistics.median(values):9.0f} tokens/s  (min {min(values):.0f}, max {max(values):.0f})"
        )
    print(
        f"  ratio kv-cache / no-cache: {statistics.median(ratios):.2f}x (per-round ratios: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )

    try:
        import vllm  # noqa: F401
    except ImportError:
        print("vllm: not importable here, skipped (see docs/models.md to run it in its own venv)")
        return
    from pearbench.models.vllm import VLLMBackend

    with tempfile.TemporaryDirectory() as folder:
        save_model(model, tokenizer, folder)
        engine = VLLMBackend(
            folder, seed=0, max_model_len=512, enforce_eager=True, gpu_memory_utilization=0.1
        )
        config = configs["kv-cache"]
        timed(engine, prompts[:8], config, seed=0)
        vllm_rates, hf_rates = [], []
        for round_ in tqdm(range(args.rounds), desc="vllm rounds", unit="round"):
            seconds, tokens = timed(engine, prompts, config, seed=round_)
            vllm_rates.append(tokens / seconds)
            seconds, tokens = timed(backend, prompts, config, seed=round_)
            hf_rates.append(tokens / seconds)
    print(
        f"  vllm      {statistics.median(vllm_rates):9.0f} tokens/s; hf kv-cache in the same rounds "
        f"{statistics.median(hf_rates):.0f}; ratio vllm / hf {statistics.median(vllm_rates) / statistics.median(hf_rates):.2f}x"
    )


if __name__ == "__main__":
    main()
