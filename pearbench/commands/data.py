"""`pearbench data`: make behavior-policy data (docs/design.md §1.3) — the SFT data with π_β's per-token log-probs.

    pearbench data generate --suite S --profile P --seed N --out DIR
    pearbench data score --data FILE.jsonl --model DIR --out FILE.parquet

``generate`` runs the harness stages up to behavior data (tasks, base, teacher, behavior; each cached under
``--out`` and shared with ``pearbench run``) and prints where the parquet file is, the teacher's verified yield and
the mismatch level. ``score`` rescores an existing JSONL dataset of ``{"prompt", "response"}`` records under a
behavior model: the token ids are the model's tokenizer's (prompt: BOS + text; response: text + EOS), and the
log-probs are the model's own (temperature 1), from one full-sequence forward pass. The logic lives in
:func:`pearbench.harness.datagen.generate_behavior_data` and :func:`pearbench.harness.datagen.score_jsonl`, which a
notebook can call the same way.
"""

from __future__ import annotations

import argparse
from typing import Any

from pearbench.harness.datagen import generate_behavior_data, score_jsonl


def generate_summary(result: dict[str, Any]) -> list[str]:
    stats = result["stats"]
    return [
        f"behavior data: {result['path']}",
        f"traces: {result['rows']} verified-correct teacher samples "
        f"(yield {stats['yield']:.3f} of {int(stats['sampled'])} sampled)",
        f"mismatch level: mean log pi_0 - log pi_beta = {stats['mean_log_ratio']:.4f} per token "
        f"(std {stats['std_log_ratio']:.4f}; {stats['fraction_below_delta_clip']:.2f} of tokens below and "
        f"{stats['fraction_above_delta_clip']:.2f} above the default delta clip; "
        f"mean per-sequence sum {stats['mean_seq_log_ratio']:.3f} over {stats['mean_response_tokens']:.1f} tokens)",
    ]


def _generate(args: argparse.Namespace) -> int:
    result = generate_behavior_data(
        suite=args.suite,
        profile=args.profile,
        seed=args.seed,
        out=args.out,
        config_file=args.config_file,
        progress=not args.no_progress,
    )
    print("\n".join(generate_summary(result)))
    return 0


def _score(args: argparse.Namespace) -> int:
    result = score_jsonl(
        args.data, args.model, args.out, batch_size=args.batch_size, progress=not args.no_progress
    )
    print(f"behavior data: {result['path']}")
    print(
        f"rescored {result['rows']} responses ({result['tokens']} tokens) under {args.model}; "
        f"mean behavior log-prob {result['mean_logprob']:.4f} per token"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="make behavior-policy data: sample a teacher, or rescore a JSONL dataset",
        description="Behavior-policy data: the SFT traces with the behavior policy's per-token log-probs.",
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(parser))
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    generate = actions.add_parser(
        "generate",
        help="run tasks -> base -> teacher -> behavior data for a suite, profile and seed",
        description="Sample the suite's teacher on training instances and keep verified-correct traces with their "
        "log-probs. Stages are cached under --out (shared with 'pearbench run').",
    )
    generate.add_argument("--suite", default=None, help="suite name or TOML path (default: countdown)")
    generate.add_argument("--profile", default="small", help="profile name or TOML path (default small)")
    generate.add_argument(
        "--seed", type=int, default=0, help="run seed: drives the SFT data sample (default 0)"
    )
    generate.add_argument(
        "--config", dest="config_file", default=None, help="TOML file overriding profile keys"
    )
    generate.add_argument("--out", default="runs", help="output folder with the stage cache (default runs/)")
    generate.add_argument("--no-progress", action="store_true", help="hide progress bars")
    generate.set_defaults(func=_generate)

    score = actions.add_parser(
        "score",
        help="rescore a JSONL of {prompt, response} under a behavior model into behavior data",
        description="Rescore an existing dataset under a behavior model: token ids from the model's tokenizer "
        "(prompt: BOS + text; response: text + EOS), log-probs of the model itself (temperature 1).",
    )
    score.add_argument(
        "--data", required=True, metavar="FILE.jsonl", help="one {'prompt', 'response'} object a line"
    )
    score.add_argument(
        "--model",
        required=True,
        metavar="DIR",
        help="behavior model: a local model folder, hf:<hub id or folder>, or smollm2-135m",
    )
    score.add_argument(
        "--out", required=True, metavar="FILE.parquet", help="where to write the behavior data"
    )
    score.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass (default 64)")
    score.add_argument("--no-progress", action="store_true", help="hide progress bars")
    score.set_defaults(func=_score)
