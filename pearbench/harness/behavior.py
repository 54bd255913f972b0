"""Behavior-policy data (docs/design.md §1.3, §5): the SFT data plus π_β's per-token log-probs on exactly the student's ids.

Stored as parquet (schema versioned in the file metadata) with one row per trace and the list columns
``prompt_ids``, ``response_ids`` and ``behavior_logprobs`` (the last two of equal length), plus ``reward``, ``env``,
``instance_id`` and ``source`` ("sampled" or "rescored"). Two ways to make it: sample a teacher on training instances
and keep verified-correct traces (log-probs recorded at sampling time; :func:`sample_verified`, which the
behavior stage calls), or rescore an existing dataset under a behavior model (``pearbench data score``,
:func:`pearbench.harness.datagen.score_jsonl`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.hashing import hash_seed
from pearbench.io import atomic_write_with

SCHEMA_VERSION = 1
COLUMNS = ("prompt_ids", "response_ids", "behavior_logprobs", "reward", "env", "instance_id", "source")


def validate_rows(
    rows: Sequence[dict[str, Any]], *, vocab_size: int | None = None, where: str = "behavior data"
) -> None:
    """Raise PearbenchError naming the first bad row: missing column, length mismatch, NaN or positive log-prob."""
    if not rows:
        raise PearbenchError(f"{where} has no rows")
    for index, row in enumerate(rows):
        for column in ("prompt_ids", "response_ids", "behavior_logprobs"):
            if column not in row or row[column] is None:
                raise PearbenchError(f"{where}: row {index} lacks column {column!r}")
        if len(row["response_ids"]) != len(row["behavior_logprobs"]):
            raise PearbenchError(
                f"{where}: row {index} has {len(row['response_ids'])} response ids but "
                f"{len(row['behavior_logprobs'])} behavior log-probs"
            )
        if not row["prompt_ids"] or not row["response_ids"]:
            raise PearbenchError(f"{where}: row {index} has an empty prompt or response")
        for value in row["behavior_logprobs"]:
            if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
                raise PearbenchError(f"{where}: row {index} has a non-finite behavior log-prob ({value})")
            if value > 1e-6:
                raise PearbenchError(
                    f"{where}: row {index} has a positive behavior log-prob ({value}); log-probs are <= 0"
                )
        if vocab_size is not None:
            ids = list(row["prompt_ids"]) + list(row["response_ids"])
            bad = next((i for i in ids if i < 0 or i >= vocab_size), None)
            if bad is not None:
                raise PearbenchError(
                    f"{where}: row {index} has token id {bad} outside the student tokenizer's vocabulary "
                    f"(size {vocab_size}): the data was tokenised with another tokenizer"
                )


def write_parquet(path: str | Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Write rows atomically with ``{"schema_version", **meta}`` in the parquet key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    validate_rows(rows)
    table = pa.table(
        {
            "prompt_ids": pa.array([list(r["prompt_ids"]) for r in rows], type=pa.list_(pa.int32())),
            "response_ids": pa.array([list(r["response_ids"]) for r in rows], type=pa.list_(pa.int32())),
            "behavior_logprobs": pa.array(
                [list(r["behavior_logprobs"]) for r in rows], type=pa.list_(pa.float32())
            ),
            "reward": pa.array([float(r.get("reward", 1.0)) for r in rows], type=pa.float32()),
            "env": pa.array([str(r.get("env", "")) for r in rows]),
            "instance_id": pa.array([str(r.get("instance_id", "")) for r in rows]),
            "source": pa.array([str(r.get("source", "sampled")) for r in rows]),
        }
    )
    metadata = {b"pearbench": json.dumps({"schema_version": SCHEMA_VERSION, **meta}, sort_keys=True).encode()}
    table = table.replace_schema_metadata(metadata)
    atomic_write_with(path, lambda tmp: pq.write_table(table, tmp))


def read_parquet(
    path: str | Path, *, vocab_size: int | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Read and validate behavior data; corrupted/truncated files and bad rows give one clear error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise PearbenchError(f"behavior data file not found: {path}") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise PearbenchError(f"behavior data file {path} is corrupted or truncated: {exc}") from None
    raw_meta = (table.schema.metadata or {}).get(b"pearbench")
    if raw_meta is None:
        raise PearbenchError(
            f"behavior data file {path} has no pearbench metadata (not written by pearbench?)"
        )
    try:
        meta = json.loads(raw_meta)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PearbenchError(
            f"behavior data file {path} has unreadable pearbench metadata (not valid JSON)"
        ) from None
    if not isinstance(meta, dict):
        raise PearbenchError(
            f"behavior data file {path} has unreadable pearbench metadata (not a JSON object)"
        )
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise PearbenchError(
            f"behavior data file {path} has schema version {meta.get('schema_version')}; this pearbench reads {SCHEMA_VERSION}"
        )
    missing = [c for c in ("prompt_ids", "response_ids", "behavior_logprobs") if c not in table.column_names]
    if missing:
        raise PearbenchError(f"behavior data file {path} lacks column(s) {', '.join(missing)}")
    rows = table.to_pylist()
    validate_rows(rows, vocab_size=vocab_size, where=f"behavior data file {path}")
    return rows, meta


def mismatch_stats(
    base_logprobs: Sequence[Sequence[float]], rows: Sequence[dict[str, Any]]
) -> dict[str, float]:
    """The mismatch level (docs/design.md §1): mean per-token log π₀ − log π_β over the SFT data, before clipping."""
    import numpy as np

    gaps = np.concatenate(
        [
            np.asarray(b, dtype=np.float64) - np.asarray(r["behavior_logprobs"], dtype=np.float64)
            for b, r in zip(base_logprobs, rows)
        ]
    )
    per_seq = [
        float(np.sum(np.asarray(b) - np.asarray(r["behavior_logprobs"]))) for b, r in zip(base_logprobs, rows)
    ]
    return {
        "mean_log_ratio": float(gaps.mean()),
        "std_log_ratio": float(gaps.std()),
        "fraction_below_delta_clip": float(np.mean(gaps < -0.08)),
        "fraction_above_delta_clip": float(np.mean(gaps > 0.3)),
        "mean_seq_log_ratio": float(np.mean(per_seq)),
        "mean_response_tokens": float(np.mean([len(r["response_ids"]) for r in rows])),
    }


def sample_verified(
    backend, train: list, order, cfg, gen, encode_prompt, verified, *, seed: int, on_trace=lambda: None
) -> tuple[list[dict[str, Any]], int, int]:
    """Sample the teacher (``backend``) on the training prompts in ``order``, pass after pass, keeping the traces that
    end with EOS and verify, until ``cfg.sft_examples`` are kept: three passes, then more (up to
    :func:`behavior_passes`) while the yield so far is at least ``cfg.min_yield``. Returns (rows, sampled, passes)."""
    rows: list[dict[str, Any]] = []
    sampled = 0
    passes = 0
    for attempt in range(behavior_passes(cfg.sft_examples, len(train), cfg.min_yield)):
        if len(rows) >= cfg.sft_examples:
            break
        if attempt >= 3 and len(rows) < cfg.min_yield * sampled:
            break  # after the first three passes, sample on only while the yield is at least min_yield
        passes += 1
        for begin in range(0, len(order), cfg.batch_size):
            if len(rows) >= cfg.sft_examples:
                break
            chunk = [train[int(i)] for i in order[begin : begin + cfg.batch_size]]
            prompts = [encode_prompt(i) for i in chunk]
            samples = backend.generate(prompts, n=1, config=gen, seed=hash_seed(seed, attempt, begin))
            sampled += len(samples)
            for sample in samples:
                instance = chunk[sample.prompt_index]
                if sample.finish_reason != "eos":
                    continue
                if verified(instance, sample.text) and len(rows) < cfg.sft_examples:
                    rows.append(
                        {
                            "prompt_ids": prompts[sample.prompt_index],
                            "response_ids": sample.response_ids,
                            "behavior_logprobs": sample.logprobs,
                            "reward": 1.0,
                            "env": instance.env,
                            "instance_id": instance.id,
                            "source": "sampled",
                        }
                    )
                    on_trace()
    return rows, sampled, passes


def behavior_passes(sft_examples: int, train_size: int, min_yield: float) -> int:
    """How many passes over the training prompts the behavior stage may sample: three, or as many as a teacher whose
    yield is exactly ``min_yield`` needs to reach ``sft_examples`` verified traces (the stage stops as soon as it has
    them, and after the third pass as soon as its yield falls below ``min_yield``), at most 100."""
    if min_yield <= 0 or train_size <= 0:
        return 3
    return max(3, min(100, math.ceil(sft_examples / (min_yield * train_size))))
