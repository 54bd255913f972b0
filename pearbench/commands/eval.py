"""`pearbench eval`: pass@k, avg@n, maj@n with 95% CIs on a held-out math set, for a completions file or a model.

    pearbench eval --completions FILE.jsonl --dataset aime2025 [--data-file F] [--timeout 5] [--json OUT]
    pearbench eval --model MODEL --dataset aime2025 [--data-file F] [--n 8] [--max-new-tokens 1024]
                   [--limit N] [--chat] [--save-completions FILE] [--json OUT]

The logic lives in :mod:`pearbench.verify.scoring` and :mod:`pearbench.harness.heldout`; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse

from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_json, check_output_file
from pearbench.verify.datasets import DATASETS
from pearbench.verify.normalize import DEFAULT_TIMEOUT


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "eval",
        help="score completions on a held-out math set (pass@k, avg@n, maj@n with CIs)",
        description="Score a JSONL file of completions ({'id', 'completion'} per line, the same n per problem) "
        "against a held-out math set.",
    )
    parser.add_argument(
        "--completions", metavar="FILE", help="JSONL of {'id': problem id, 'completion': text}"
    )
    parser.add_argument("--dataset", metavar="NAME", help=f"held-out set: {', '.join(DATASETS)}")
    parser.add_argument("--data-file", metavar="F", help="local JSONL/parquet copy of the set (else the hub)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per verification (default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="verifier processes (default: CPU count, max 8)"
    )
    parser.add_argument(
        "--json", metavar="OUT", help="also write the full report (per-problem outcomes) as JSON"
    )
    sampling = parser.add_argument_group(
        "evaluating a model (--model instead of --completions): sample n completions per problem, then score them"
    )
    sampling.add_argument(
        "--model",
        metavar="MODEL",
        help="a model folder (e.g. a run's <out>/cache/rl-*/model), hf:<hub id or folder> or smollm2-135m",
    )
    sampling.add_argument("--n", type=int, default=8, help="samples per problem (default %(default)s)")
    sampling.add_argument(
        "--max-new-tokens", type=int, default=1024, help="tokens per sample (default %(default)s)"
    )
    sampling.add_argument("--temperature", type=float, default=1.0, help="default %(default)s")
    sampling.add_argument("--top-p", type=float, default=1.0, help="default %(default)s")
    sampling.add_argument(
        "--batch-size", type=int, default=32, help="sequences per batch (default %(default)s)"
    )
    sampling.add_argument("--seed", type=int, default=0, help="sampling seed (default %(default)s)")
    sampling.add_argument(
        "--chat", action="store_true", help="render each problem through the tokenizer's chat template"
    )
    sampling.add_argument("--limit", type=int, default=None, help="only the first N problems of the set")
    sampling.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="auto",
        help="default %(default)s (CUDA if present)",
    )
    sampling.add_argument(
        "--backend",
        choices=("hf", "vllm"),
        default="hf",
        help="sampler: pearbench's KV-cached HF sampler (default) or a vLLM engine (needs vllm installed)",
    )
    sampling.add_argument(
        "--vllm-dtype",
        default="float32",
        help="dtype of the vLLM engine (default %(default)s; bfloat16 on GPU)",
    )
    sampling.add_argument(
        "--vllm-memory",
        type=float,
        default=None,
        help="vLLM gpu_memory_utilization (on CPU: share of memory for the KV cache, e.g. 0.1; default vLLM's)",
    )
    sampling.add_argument(
        "--vllm-eager", action="store_true", help="vLLM enforce_eager (no graph compilation)"
    )
    sampling.add_argument(
        "--save-completions",
        metavar="FILE",
        help="also write the sampled completions as JSONL (rescorable with --completions)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    for flag in ("json", "save_completions"):
        if getattr(args, flag, None):
            check_output_file(getattr(args, flag), f"--{flag.replace('_', '-')}")
    if getattr(args, "model", None):
        return _run_model(args)
    if not getattr(args, "completions", None):
        raise PearbenchError(
            "pearbench eval needs --completions FILE.jsonl to score completions, or --model MODEL to sample a "
            "model (and --dataset NAME)"
        )
    if not args.dataset:
        raise PearbenchError(
            f"pearbench eval --completions needs --dataset NAME; choose one of: {', '.join(DATASETS)}"
        )
    from pearbench.verify.datasets import load_dataset
    from pearbench.verify.scoring import read_completions, score_completions

    problems = load_dataset(args.dataset, data_file=args.data_file)
    records = read_completions(args.completions)
    report = score_completions(
        records,
        problems,
        dataset_name=args.dataset,
        timeout=args.timeout,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(report.table())
    if args.json:
        payload = report.to_dict()
        payload["completions_file"] = str(args.completions)
        payload["data_file"] = str(args.data_file) if args.data_file else None
        atomic_write_json(args.json, payload)
        print(f"report written to {args.json}")
    return 0


def _run_model(args: argparse.Namespace) -> int:
    """Sample ``--n`` completions per problem from ``--model`` and score them; everything is checked first."""
    if args.completions:
        raise PearbenchError("give either --completions (score a file) or --model (sample a model), not both")
    if not args.dataset:
        raise PearbenchError(
            f"pearbench eval --model needs --dataset NAME; choose one of: {', '.join(DATASETS)}"
        )
    for name in ("n", "max_new_tokens", "batch_size"):
        if getattr(args, name) < 1:
            raise PearbenchError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:
        raise PearbenchError(f"--limit must be >= 1, got {args.limit}")
    if args.seed < 0:
        raise PearbenchError(f"--seed must be >= 0, got {args.seed}")

    import torch

    from pearbench.harness.heldout import evaluate_heldout, write_completions
    from pearbench.models.generation import GenerationConfig
    from pearbench.models.loading import check_trained_model_spec, load_trained_model
    from pearbench.verify.datasets import load_dataset

    check_trained_model_spec(args.model)
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        batch_size=args.batch_size,
    )
    from pearbench.harness.config import resolve_device

    device = resolve_device(args.device)
    if device == "cuda" and not torch.cuda.is_available():
        raise PearbenchError("--device cuda: no CUDA GPU is available here")
    if args.no_progress:
        from pearbench.harness.context import quiet_transformers

        quiet_transformers()
    from pearbench.harness.context import threads_from_env

    torch.set_num_threads(threads_from_env(torch.get_num_threads()))
    problems = load_dataset(args.dataset, data_file=args.data_file)
    if args.limit is not None:
        problems = problems[: args.limit]
    backend = None
    if args.backend == "vllm":
        from pearbench.models.vllm import backend_for_model

        backend = backend_for_model(
            args.model,
            dtype=args.vllm_dtype,
            memory=args.vllm_memory,
            eager=args.vllm_eager,
            seed=args.seed,
            memory_name="--vllm-memory",
        )
        model, tokenizer = None, backend.tokenizer
    else:
        model, tokenizer = load_trained_model(args.model, dtype=torch.float32)
        model = model.to(device).eval()
    result = evaluate_heldout(
        model,
        tokenizer,
        problems,
        dataset_name=args.dataset,
        n=args.n,
        config=config,
        seed=args.seed,
        chat=args.chat,
        timeout=args.timeout,
        workers=args.workers,
        progress=not args.no_progress,
        backend=backend,
    )
    report = result.report
    truncated = sum(1 for c in result.completions if c["finish_reason"] != "eos")
    print(report.table())
    print(
        f"model {args.model}: {len(result.completions)} samples, {truncated} cut at --max-new-tokens "
        f"{args.max_new_tokens}"
    )
    if args.save_completions:
        write_completions(args.save_completions, result.completions)
        print(f"completions written to {args.save_completions}")
    if args.json:
        payload = report.to_dict()
        payload["model"] = str(args.model)
        payload["data_file"] = str(args.data_file) if args.data_file else None
        payload["generation"] = {
            **config.to_dict(),
            "n": args.n,
            "seed": args.seed,
            "chat": args.chat,
            "backend": args.backend,
        }
        payload["truncated"] = truncated
        atomic_write_json(args.json, payload)
        print(f"report written to {args.json}")
    return 0
