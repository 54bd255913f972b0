"""`pearbench data`: make behavior-policy data (DESIGN §1.3) — the SFT data with π_β's per-token log-probs.

    pearbench data generate --suite S --profile P --seed N --out DIR
    pearbench data score --data FILE.jsonl --model DIR --out FILE.parquet

``generate`` runs the harness stages up to behavior data (tasks, base, teacher, behavior; each cached under
``--out`` and shared with ``pearbench run``) and prints where the parquet file is, the teacher's verified yield and
the mismatch level. ``score`` rescores an existing JSONL dataset of ``{"prompt", "response"}`` records under a
behavior model: the token ids are the model's tokenizer's (prompt: BOS + text; response: text + EOS), and the
log-probs are the model's own (temperature 1), from one full-sequence forward pass. The logic lives in
:func:`generate_behavior_data` and :func:`score_jsonl`, which a notebook can call the same way.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.io import iter_jsonl, jsonl_where

#: Optional JSONL fields copied into the behavior data (the rest are ignored).
OPTIONAL_FIELDS = ("reward", "env", "id", "instance_id")


# --------------------------------------------------------------------------------------------------- generate


def generate_behavior_data(
    *,
    suite: str | None = None,
    profile: str = "small",
    seed: int = 0,
    out: str | Path = "runs",
    config_file: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the stages tasks → base → teacher → behavior for (suite, profile, seed); cached under ``out``.

    Returns ``{"path": parquet file, "rows": trace count, "stats": yield and mismatch statistics}``.
    """
    from pearbench import stages
    from pearbench.harness import Harness, RunRequest

    # The method does not enter these stages; "sft" only satisfies the harness's constructor.
    harness = Harness(
        RunRequest(
            method="sft",
            suite=suite,
            seed=seed,
            profile=profile,
            config_file=config_file,
            out=str(out),
            progress=progress,
        )
    )
    splits, _ = stages.tasks(harness)
    tokenizer = stages.tokenizer(harness)
    stages.pretrain(harness, "base", splits, tokenizer)
    teacher_dir, teacher_stage = stages.pretrain(harness, "teacher", splits, tokenizer)
    behavior = stages.behavior(harness, splits, tokenizer, teacher_dir, teacher_stage)
    return {
        "path": behavior["stage"].path / "data.parquet",
        "rows": len(behavior["rows"]),
        "stats": behavior["stats"],
    }


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


# --------------------------------------------------------------------------------------------------- score


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records ``{"prompt": str, "response": str, ...}``, one JSON object a line (blank lines skipped).

    A malformed line raises PearbenchError naming the file and the line number (:func:`pearbench.io.iter_jsonl`).
    """
    path = Path(path)
    records = []
    for number, record in iter_jsonl(path, "data file"):
        where = jsonl_where(path, number)
        for key in ("prompt", "response"):
            if not isinstance(record.get(key), str):
                found = "missing" if key not in record else f"a {type(record[key]).__name__}"
                raise PearbenchError(f"{where}: field {key!r} is {found}; expected a string")
        if "reward" in record and (
            isinstance(record["reward"], bool) or not isinstance(record["reward"], (int, float))
        ):
            raise PearbenchError(f"{where}: field 'reward' must be a number, got {record['reward']!r}")
        record["_line"] = number
        records.append(record)
    if not records:
        raise PearbenchError(f"data file {str(path)!r} holds no records")
    return records


def load_behavior_model(model: str | Path):
    """A behavior model: a local folder (any Hugging Face causal LM), ``hf:<id or folder>`` or ``smollm2-135m``."""
    from pearbench.models import load_trained_model

    return load_trained_model(model, what="behavior model")


@contextmanager
def _transformers_progress(enabled: bool):
    """transformers' own progress bars (weight loading) follow ``--no-progress`` too."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled and not enabled:
            hf_logging.enable_progress_bar()


def score_jsonl(
    data: str | Path,
    model: str | Path,
    out: str | Path,
    *,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Rescore ``data`` (JSONL of prompt/response) under the behavior ``model``; write the behavior parquet ``out``.

    Returns ``{"path", "rows", "tokens", "mean_logprob"}``.
    """
    from tqdm.auto import tqdm

    from pearbench.behavior import write_parquet
    from pearbench.generation import score_responses
    from pearbench.hashing import file_sha256
    from pearbench.models import encode_prompt, encode_response

    if batch_size < 1:
        raise PearbenchError(f"batch size must be >= 1, got {batch_size}")
    records = read_jsonl(data)
    with _transformers_progress(progress):
        behavior_model, tokenizer = load_behavior_model(model)
    limit = getattr(behavior_model.config, "max_position_embeddings", None)
    prompts, responses = [], []
    for record in records:
        prompt = encode_prompt(tokenizer, record["prompt"])
        response = encode_response(tokenizer, record["response"])
        where = jsonl_where(Path(data), record["_line"])
        if not prompt:
            raise PearbenchError(
                f"{where}: the prompt is empty and the tokenizer has no BOS token to start it"
            )
        if limit is not None and len(prompt) + len(response) > limit:
            raise PearbenchError(
                f"{where}: prompt + response are {len(prompt) + len(response)} tokens; the model "
                f"takes at most {limit}"
            )
        prompts.append(prompt)
        responses.append(response)
    logprobs: list[list[float]] = []
    bar = tqdm(total=len(records), desc="rescoring", unit="seq", disable=not progress, leave=False)
    for begin in range(0, len(records), batch_size):
        chunk = slice(begin, begin + batch_size)
        logprobs.extend(
            score_responses(
                behavior_model,
                prompts[chunk],
                responses[chunk],
                tokenizer.pad_token_id,
                batch_size=batch_size,
            )
        )
        bar.update(len(prompts[chunk]))
    bar.close()
    rows = []
    for record, prompt, response, values in zip(records, prompts, responses, logprobs):
        rows.append(
            {
                "prompt_ids": prompt,
                "response_ids": response,
                "behavior_logprobs": [
                    min(0.0, v) for v in values
                ],  # float rounding can leave +1e-8 on a sure token
                "reward": float(record.get("reward", 1.0)),
                "env": str(record.get("env", "")),
                "instance_id": str(record.get("instance_id", record.get("id", f"line-{record['_line']}"))),
                "source": "rescored",
            }
        )
    meta = {
        "behavior_model": str(model),
        "source_file": str(data),
        "source_sha256": file_sha256(data),
        "scoring": "model log-probs at temperature 1, one full-sequence forward pass",
        "vocab_size": len(tokenizer),
        "tokenization": "prompt: BOS + text; response: text + EOS",
    }
    write_parquet(out, rows, meta)
    tokens = sum(len(r) for r in responses)
    return {
        "path": Path(out),
        "rows": len(rows),
        "tokens": tokens,
        "mean_logprob": sum(sum(v) for v in logprobs) / max(1, tokens),
    }


# --------------------------------------------------------------------------------------------------- CLI


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
