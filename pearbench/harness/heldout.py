"""Evaluating a model on a held-out math set (AIME 2025 and the others, docs/design.md §4/§6): sample, then score.

:func:`evaluate_heldout` samples ``n`` completions per problem from a model (KV-cached sampler, one seed), writes
them as the completions-file format of :mod:`pearbench.verify.scoring` (``{"id", "completion"}`` per line), and scores
them exactly as ``pearbench eval --completions`` does: the shared answer-extraction rule, math-verify in a process
pool with a wall-clock bound per check, unbiased pass@k for every k <= n with 95% bootstrap CIs, avg@n, maj@n and
the verifier-error count. Used by ``pearbench eval --model`` and by the harness's ``[eval] heldout`` stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError
from pearbench.io import atomic_write_text
from pearbench.models.families import encode_prompt
from pearbench.models.generation import GenerationConfig, sample_grouped
from pearbench.verify.datasets import Problem
from pearbench.verify.normalize import DEFAULT_TIMEOUT
from pearbench.verify.scoring import ScoreReport, score_completions

#: The instruction appended to every problem: the answer goes in ``\\boxed{}``, which the extraction rule reads.
MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def math_prompt(problem: Problem) -> str:
    """The prompt text of a held-out problem: the problem, a blank line, :data:`MATH_INSTRUCTION`."""
    return f"{problem.problem.strip()}\n\n{MATH_INSTRUCTION}"


@dataclass(frozen=True)
class HeldoutResult:
    report: ScoreReport
    #: ``{"id", "completion", "finish_reason"}`` per sample, n per problem, grouped by problem
    completions: list[dict[str, Any]]


def sample_completions(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    n: int,
    config: GenerationConfig,
    seed: int,
    chat: bool = False,
    progress: bool = False,
    desc: str = "sample",
    backend: Any = None,
) -> list[dict[str, Any]]:
    """``n`` sampled completions per problem (``{"id", "completion", "finish_reason"}``), grouped by problem.

    ``backend``: any generation backend (e.g. :class:`pearbench.models.vllm.VLLMBackend`); default the KV-cached
    HF sampler over ``model``.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise PearbenchError(f"n must be a whole number >= 1, got {n!r}")
    if not problems:
        raise PearbenchError("no problems to evaluate")
    prompts = [encode_prompt(tokenizer, math_prompt(problem), chat=chat) for problem in problems]
    by_problem = sample_grouped(
        prompts,
        model=model,
        tokenizer=tokenizer,
        backend=backend,
        n=n,
        config=config,
        seed=seed,
        progress=progress,
        desc=desc,
    )
    return [
        {"id": problem.id, "completion": sample.text, "finish_reason": sample.finish_reason}
        for problem, group in zip(problems, by_problem)
        for sample in group
    ]


def evaluate_heldout(
    model,
    tokenizer,
    problems: Sequence[Problem],
    *,
    dataset_name: str,
    n: int,
    config: GenerationConfig,
    seed: int,
    chat: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int | None = None,
    progress: bool = False,
    backend: Any = None,
) -> HeldoutResult:
    """Sample ``n`` completions per problem and score them (see the module docstring)."""
    completions = sample_completions(
        model,
        tokenizer,
        problems,
        n=n,
        config=config,
        seed=seed,
        chat=chat,
        progress=progress,
        desc=f"sample {dataset_name}",
        backend=backend,
    )
    report = score_completions(
        completions,
        problems,
        dataset_name=dataset_name,
        timeout=timeout,
        workers=workers,
        progress=progress,
    )
    return HeldoutResult(report=report, completions=completions)


def write_completions(path: str | Path, completions: Sequence[dict[str, Any]]) -> None:
    """Write completions as JSONL (atomically), readable by ``pearbench eval --completions``."""
    import json

    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in completions)
    atomic_write_text(Path(path), lines)
