"""GPU benchmark: SFT step throughput and MFU of every objective, the hf sampler, one GRPO step (docs/scale.md).

A randomly initialised Qwen2.5-0.5B-shaped model (transformers ``Qwen2Config``: hidden 896, 24 layers, 14 heads,
2 KV heads, intermediate 4864, vocabulary 151,936, tied embeddings) trained as pearbench trains: float32 master
weights and AdamW state, forward passes under bf16 autocast (``[models] dtype = "bfloat16"``), pearbench's own
``token_logprobs`` (chunked selective log-probs for this vocabulary), objectives (the recipes in ``baselines/``),
sampler (``HFBackend``) and GRPO functions. Random token batches, random behavior log-probs. Prints one table;
the targets at the end are reported, not pass/fail.

    python benchmarks/gpu.py                    # a CUDA GPU (H100/H200): about a minute
    python benchmarks/gpu.py --compile          # the training forward through torch.compile
    python benchmarks/gpu.py --cpu --tiny       # the same code on a tiny Qwen2 on CPU, in seconds (CI)
    python benchmarks/gpu.py --json out.json    # the numbers as JSON too

MFU = model FLOPs / step time / peak, with model FLOPs per step = 6 * N * T + 12 * layers * hidden * s^2 * B
(B sequences of s tokens, T = B * s; N = the parameters of the transformer blocks and final norm plus the output
projection vocab x hidden, which Qwen2.5-0.5B ties to the input embedding but computes in every step; the input
embedding lookup is not counted; the attention term is PaLM's, causal masking not discounted). Peak: 989 TFLOP/s,
the dense bf16 peak of an H100/H200 SXM (``--peak-tflops`` to change; none on CPU).

Needs only torch, transformers, numpy, safetensors and tqdm (transformers' own dependencies) and this source tree:
pearbench's submodules are loaded without running ``pearbench/__init__.py``, which would import gymnasium to
register the games; nothing here needs gymnasium, math-verify, vLLM or TRL.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEAK_TFLOPS = 989.0  # H100 / H200 SXM, dense bf16
METHODS = ("sft", "dft", "pear-token", "pear-block", "pear-seq")
PEAR_LEVELS = ("pear-token", "pear-block", "pear-seq")
TARGET_MFU = 0.40
TARGET_RATIO = 1.02


def load_pearbench() -> dict[str, Any]:
    """pearbench's training pieces, imported without ``pearbench/__init__.py`` (no gymnasium needed)."""
    if "pearbench" not in sys.modules:
        sys.path.insert(0, str(REPO))
        spec = importlib.util.find_spec("pearbench")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"pearbench's source tree not found under {REPO}")
        package = types.ModuleType("pearbench")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        sys.modules["pearbench"] = package
    try:
        from pearbench.models.generation import GenerationConfig, HFBackend, pad_sequences, token_logprobs
        from pearbench.models.precision import enable_gradient_checkpointing, model_autocast
        from pearbench.train import grpo
        from pearbench.train.loop import adamw
        from pearbench.train.methods import load_recipe
    except ImportError as exc:
        raise SystemExit(
            f"benchmarks/gpu.py needs torch, transformers, numpy, safetensors and tqdm; missing: {exc.name} ({exc})"
        ) from None
    return {
        "GenerationConfig": GenerationConfig,
        "HFBackend": HFBackend,
        "pad_sequences": pad_sequences,
        "token_logprobs": token_logprobs,
        "enable_gradient_checkpointing": enable_gradient_checkpointing,
        "model_autocast": model_autocast,
        "grpo": grpo,
        "adamw": adamw,
        "load_recipe": load_recipe,
    }


class Tokenizer:
    """What HFBackend needs of a tokenizer: pad/EOS ids, a length, decode (the text of random tokens: their ids)."""

    def __init__(self, vocab: int) -> None:
        self.vocab = vocab
        self.pad_token_id = 0
        self.eos_token_id = vocab - 1

    def __len__(self) -> int:
        return self.vocab

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return " ".join(str(i) for i in ids)


def qwen_config(tiny: bool):
    from transformers import Qwen2Config

    if tiny:
        # vocabulary above the chunking threshold, so CI runs the chunked log-prob path too
        shape = {"vocab_size": 33_000, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
        shape.update(num_attention_heads=4, num_key_value_heads=2)
    else:
        shape = {
            "vocab_size": 151_936,
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
        }
        shape.update(num_attention_heads=14, num_key_value_heads=2)
    return Qwen2Config(
        **shape,
        max_position_embeddings=32_768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        attention_dropout=0.0,
    )


def flop_params(model, config) -> int:
    """N of the MFU formula: every parameter but the input embedding, plus the output projection (vocab x hidden)."""
    total = sum(p.numel() for p in model.parameters())  # a tied output projection is counted once
    output_projection = config.vocab_size * config.hidden_size
    non_embedding = total - output_projection * (1 if config.tie_word_embeddings else 2)
    return non_embedding + output_projection


def train_flops(n_params: int, config, batch: int, seq: int) -> float:
    """6 * N * T + 12 * layers * hidden * seq^2 * batch."""
    attention = 12 * config.num_hidden_layers * config.hidden_size * seq * seq * batch
    return 6.0 * n_params * batch * seq + attention


class Clock:
    def __init__(self, device) -> None:
        import torch

        self.torch = torch
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        return self.torch.cuda.max_memory_allocated() / 2**30 if self.cuda else None


def sft_batch(torch, batch: int, seq: int, vocab: int, generator):
    """Random ids (no padding: every sequence has ``seq`` tokens), the first quarter a prompt, the rest the response;
    behavior log-probs uniform in [-12, 0]."""
    input_ids = torch.randint(1, vocab - 1, (batch, seq), generator=generator)
    attention = torch.ones_like(input_ids)
    mask = torch.zeros(batch, seq - 1)
    mask[:, seq // 4 :] = 1.0
    behavior = -torch.rand(batch, seq - 1, generator=generator) * 12.0
    return input_ids, attention, mask, behavior


def bench_sft(pb, torch, model, forward_model, device, clock, args, budget_end: float) -> dict[str, dict]:
    """Median step time of every objective over interleaved rounds (the order rotates each round)."""
    generator = torch.Generator().manual_seed(0)
    ids, attention, mask, behavior = (
        t.to(device) for t in sft_batch(torch, args.batch, args.seq, model.config.vocab_size, generator)
    )
    recipes = {name: pb["load_recipe"](REPO / "baselines" / f"{name}.toml") for name in METHODS}
    optimizer = pb["adamw"](model, lr=1e-5, weight_decay=0.0, betas=(0.9, 0.95))

    def step(name: str, fwd) -> tuple[float, float | None]:
        method, options = recipes[name]
        clock.sync()
        clock.reset_peak()
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with pb["model_autocast"](model, "bfloat16"):
            logprobs = pb["token_logprobs"](fwd, ids, attention)
        out = method.loss(logprobs, behavior if method.needs_behavior_logprobs else None, mask, options)
        (out.loss_sum / out.normaliser).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        clock.sync()
        return time.perf_counter() - start, clock.peak_gib()

    times: dict[str, list[float]] = {name: [] for name in METHODS}
    peaks: dict[str, float | None] = {}
    for round_index in range(args.warmup + args.rounds):
        shift = round_index % len(METHODS)
        for name in METHODS[shift:] + METHODS[:shift]:
            elapsed, peak = step(name, forward_model)
            if round_index >= args.warmup:
                times[name].append(elapsed)
                peaks[name] = peak
        if round_index >= args.warmup + 1 and time.perf_counter() > budget_end:
            break  # out of time: at least two measured rounds
    rows = {name: {"seconds": statistics.median(times[name]), "peak_gib": peaks[name]} for name in METHODS}
    # the same sft step with gradient checkpointing (memory against time), eager model
    stop = pb["enable_gradient_checkpointing"](model, True)
    measured = [step("sft", model) for _ in range(args.warmup + max(2, args.rounds // 2))][args.warmup :]
    stop()
    rows["sft+checkpointing"] = {
        "seconds": statistics.median(m[0] for m in measured),
        "peak_gib": measured[-1][1],
    }
    return rows


def bench_sampler(pb, torch, model, device, clock, args) -> dict[str, Any]:
    """Tokens/s of HFBackend (bf16 autocast, KV cache, logits of the last position only)."""
    tok = Tokenizer(model.config.vocab_size)
    generator = torch.Generator().manual_seed(1)
    prompts = torch.randint(
        1, tok.vocab - 1, (args.sampler_prompts, args.sampler_prompt_len), generator=generator
    )
    backend = pb["HFBackend"](model, tok, dtype="bfloat16")
    config = pb["GenerationConfig"](max_new_tokens=args.sampler_new_tokens, batch_size=args.sampler_prompts)
    backend.generate(
        prompts[:2].tolist(), n=1, config=pb["GenerationConfig"](max_new_tokens=4), seed=0
    )  # warm-up
    clock.sync()
    clock.reset_peak()
    start = time.perf_counter()
    samples = backend.generate(prompts.tolist(), n=1, config=config, seed=0)
    clock.sync()
    seconds = time.perf_counter() - start
    tokens = sum(len(s.response_ids) for s in samples)
    return {"seconds": seconds, "tokens": tokens, "peak_gib": clock.peak_gib()}


def bench_grpo(pb, torch, model, device, clock, args) -> dict[str, dict]:
    """One GRPO step from pearbench.train.grpo's functions: rollouts (HFBackend), a trivial reward (parity of the
    token ids' sum), group advantages, the clipped surrogate (token-mean), backward and AdamW."""
    grpo = pb["grpo"]
    tok = Tokenizer(model.config.vocab_size)
    generator = torch.Generator().manual_seed(2)
    prompts = torch.randint(
        1, tok.vocab - 1, (args.grpo_prompts, args.sampler_prompt_len), generator=generator
    )
    prompts = prompts.tolist()
    backend = pb["HFBackend"](model, tok, dtype="bfloat16")
    config = pb["GenerationConfig"](
        max_new_tokens=args.grpo_new_tokens, batch_size=args.grpo_prompts * args.grpo_group
    )
    optimizer = pb["adamw"](model, lr=1e-6, weight_decay=0.0, betas=(0.9, 0.99))
    clock.sync()
    clock.reset_peak()
    start = time.perf_counter()
    samples = backend.generate(prompts, n=args.grpo_group, config=config, seed=3)
    clock.sync()
    rollout = time.perf_counter() - start
    rewards = torch.tensor([float(sum(s.response_ids) % 2) for s in samples]).view(args.grpo_prompts, -1)
    advantages = grpo.group_advantages(rewards).flatten().to(device)
    ids, attention, mask = pb["pad_sequences"](
        [prompts[s.prompt_index] for s in samples], [s.response_ids for s in samples], tok.pad_token_id
    )
    ids, attention, mask = ids.to(device), attention.to(device), mask.to(device)
    rows, micro = ids.shape[0], args.grpo_micro
    start = time.perf_counter()
    model.train()
    optimizer.zero_grad(set_to_none=True)
    denominator = float(mask.sum())
    for begin in range(0, rows, micro):
        part = slice(begin, begin + micro)
        with pb["model_autocast"](model, "bfloat16"):
            logprobs, _ = grpo.logprobs_and_entropy(model, ids[part], attention[part])
        loss, _, _ = grpo.grpo_token_loss(
            logprobs, logprobs.detach(), advantages[part], epsilon_low=0.2, epsilon_high=0.28
        )
        numerator, _ = grpo.aggregate(loss, mask[part], "token-mean")
        (numerator / denominator).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    clock.sync()
    train = time.perf_counter() - start
    generated = sum(len(s.response_ids) for s in samples)
    return {
        "rollout": {"seconds": rollout, "tokens": generated, "peak_gib": clock.peak_gib()},
        "train": {"seconds": train, "tokens": rows * ids.shape[1], "batch": rows, "seq": ids.shape[1]},
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on CPU (no MFU unless --peak-tflops)")
    parser.add_argument("--tiny", action="store_true", help="a tiny Qwen2 config and small batches (seconds)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    parser.add_argument("--batch", type=int, help="SFT sequences per step (default 16; tiny 2)")
    parser.add_argument("--seq", type=int, help="SFT tokens per sequence (default 1024; tiny 64)")
    parser.add_argument("--rounds", type=int, help="measured rounds per objective (default 8; tiny 2)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="unmeasured rounds first (default 2; tiny 1)"
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help=f"peak for MFU (GPU default {PEAK_TFLOPS})"
    )
    parser.add_argument("--budget-s", type=float, default=150.0, help="stop the SFT rounds after this many s")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    tiny = args.tiny
    defaults = {
        "batch": 2 if tiny else 16,
        "seq": 64 if tiny else 1024,
        "rounds": 2 if tiny else 8,
        "warmup": 1 if tiny else 2,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.sampler_prompts = 4 if tiny else 64
    args.sampler_prompt_len = 16 if tiny else 128
    args.sampler_new_tokens = 8 if tiny else 256
    args.grpo_prompts = 2 if tiny else 16
    args.grpo_group = 2 if tiny else 8
    args.grpo_new_tokens = 8 if tiny else 256
    args.grpo_micro = 2 if tiny else 16
    if args.peak_tflops is None and not args.cpu:
        args.peak_tflops = PEAK_TFLOPS
    return args


def main(argv=None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.perf_counter()
    import torch
    from transformers import Qwen2ForCausalLM

    pb = load_pearbench()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run with --cpu (and --tiny for a quick check)")
    device = torch.device("cpu" if args.cpu else "cuda")
    torch.manual_seed(0)
    config = qwen_config(args.tiny)
    with device:
        model = Qwen2ForCausalLM(config)  # float32 master weights
    model.train()
    forward_model = torch.compile(model) if args.compile else model
    clock = Clock(device)
    n_params = flop_params(model, config)
    budget_end = started + args.budget_s

    sft_rows = bench_sft(pb, torch, model, forward_model, device, clock, args, budget_end)
    sampler = bench_sampler(pb, torch, model, device, clock, args)
    grpo_rows = bench_grpo(pb, torch, model, device, clock, args)

    peak = args.peak_tflops
    tokens = args.batch * args.seq
    flops = train_flops(n_params, config, args.batch, args.seq)
    table: list[dict[str, Any]] = []

    def add(section, name, seconds, n_tokens, step_flops=None, ratio=None, peak_gib=None):
        tflops = step_flops / seconds / 1e12 if step_flops else None
        table.append(
            {
                "section": section,
                "name": name,
                "tokens": n_tokens,
                "ms": seconds * 1e3,
                "tokens_per_s": n_tokens / seconds,
                "tflops": tflops,
                "mfu": tflops / peak if tflops is not None and peak else None,
                "vs_sft": ratio,
                "peak_gib": peak_gib,
            }
        )

    base = sft_rows["sft"]["seconds"]
    for name, row in sft_rows.items():
        # checkpointing recomputes the forward: its model FLOPs are the same, its hardware FLOPs ~4/3 of them
        add("sft", name, row["seconds"], tokens, flops, row["seconds"] / base, row["peak_gib"])
    add("sampler", "hf", sampler["seconds"], sampler["tokens"], peak_gib=sampler["peak_gib"])
    rollout, train = grpo_rows["rollout"], grpo_rows["train"]
    add("grpo", "rollout", rollout["seconds"], rollout["tokens"], peak_gib=rollout["peak_gib"])
    grpo_flops = train_flops(n_params, config, train["batch"], train["seq"])
    add("grpo", "train", train["seconds"], train["tokens"], grpo_flops)
    add("grpo", "step (rollout + train)", rollout["seconds"] + train["seconds"], rollout["tokens"])

    name = "Qwen2.5-0.5B-shaped" if not args.tiny else "tiny Qwen2"
    print(
        f"pearbench GPU benchmark: {name} (random init; hidden {config.hidden_size}, {config.num_hidden_layers} "
        f"layers, {config.num_attention_heads} heads / {config.num_key_value_heads} KV, vocab {config.vocab_size}), "
        f"device {device.type}{' ' + torch.cuda.get_device_name() if device.type == 'cuda' else ''}, "
        f"torch {torch.__version__}, compile {args.compile}"
    )
    print(
        "precision: bf16 autocast forward passes, float32 master weights and AdamW state; "
        f"SFT batch {args.batch} x {args.seq} tokens, medians of up to {args.rounds} interleaved rounds"
    )
    print(
        f"MFU formula: FLOPs/step = 6 * N * T + 12 * layers * hidden * seq^2 * B, N = {n_params:,} "
        "(all parameters but the input embedding, with the vocab x hidden output projection)"
    )
    print(
        f"peak: {peak:g} TFLOP/s dense bf16 (H100/H200 SXM)"
        if peak
        else "peak: none given (CPU): no MFU; --peak-tflops to set one"
    )
    print("| section | name | tokens | ms | tokens/s | TFLOP/s | MFU | vs sft | peak GiB |")
    print("|---|---|---|---|---|---|---|---|---|")

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    for row in table:
        print(
            f"| {row['section']} | {row['name']} | {row['tokens']} | {row['ms']:.1f} | {row['tokens_per_s']:.1f} "
            f"| {fmt(row['tflops'], '.2f')} | {fmt(row['mfu'], '.1%')} | {fmt(row['vs_sft'], '.3f')} "
            f"| {fmt(row['peak_gib'], '.1f')} |"
        )
    sft_mfu = table[0]["mfu"]
    worst = max(sft_rows[name]["seconds"] / base for name in PEAR_LEVELS)
    mfu_text = (
        "n/a" if sft_mfu is None else f"{sft_mfu:.1%} ({'met' if sft_mfu >= TARGET_MFU else 'not met'})"
    )
    print(
        f"targets (reported, not pass/fail): sft MFU >= {TARGET_MFU:.0%}: {mfu_text}; every PEAR level <= "
        f"{TARGET_RATIO}x sft: worst {worst:.3f}x ({'met' if worst <= TARGET_RATIO else 'not met'})"
    )
    elapsed = time.perf_counter() - started
    print(f"wall time {elapsed:.1f} s")
    result = {
        "model": name,
        "device": device.type,
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "compile": args.compile,
        "batch": args.batch,
        "seq": args.seq,
        "flop_params": n_params,
        "peak_tflops": peak,
        "rows": table,
        "worst_pear_ratio": worst,
        "wall_s": elapsed,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
