"""Behavior-policy data as a library (docs/design.md §1.3): the stages up to behavior data for (suite, profile, seed), and
the rescoring of an existing JSONL dataset under a behavior model. ``pearbench data`` is a thin shell over these."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.io import check_output_file, iter_jsonl, jsonl_where

#: Optional JSONL fields copied into the behavior data (the rest are ignored).
OPTIONAL_FIELDS = ("reward", "env", "id", "instance_id")


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
    from pearbench.harness.runner import Harness, RunRequest

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
    behavior = harness.shared_stages(reference=False)["behavior"]
    return {
        "path": behavior["stage"].path / "data.parquet",
        "rows": len(behavior["rows"]),
        "stats": behavior["stats"],
    }


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
    from pearbench.models.loading import load_trained_model

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
    from pearbench.harness.behavior import write_parquet
    from pearbench.hashing import file_sha256
    from pearbench.logs import progress as progress_display
    from pearbench.models.families import encode_prompt, encode_response
    from pearbench.models.generation import score_responses

    if batch_size < 1:
        raise PearbenchError(f"batch size must be >= 1, got {batch_size}")
    check_output_file(out, "--out")
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
    bar = progress_display(total=len(records), desc="rescoring", unit="seq", enabled=progress)
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
