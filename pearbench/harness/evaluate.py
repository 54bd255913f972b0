"""Evaluation of a policy on held-out instances: n samples per problem, verdicts, pass@k with CIs (docs/design.md §6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pearbench.envs.base import Game, Instance
from pearbench.harness.corpus import prompt_text
from pearbench.metrics import maj_at_n, pass_at_k_array, summarise
from pearbench.models.families import encode_prompt
from pearbench.models.generation import GenerationConfig, sample_grouped


@dataclass
class EvalResult:
    outcomes: list[dict[str, Any]]
    metrics: dict[str, dict[str, float]]
    examples: list[dict[str, Any]] = field(default_factory=list)


def evaluate_policy(
    model,
    tokenizer,
    games: dict[str, Game],
    instances: Sequence[Instance],
    *,
    n: int,
    config: GenerationConfig,
    seed: int,
    ks: Sequence[int],
    prompt_style: str = "compact",
    chat: bool = False,
    n_examples: int = 4,
    progress: bool = True,
    desc: str = "eval",
    backend: Any = None,
) -> EvalResult:
    prompts = [
        encode_prompt(tokenizer, prompt_text(games[i.env], i, prompt_style), chat=chat) for i in instances
    ]
    by_prompt = sample_grouped(
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
    outcomes, maj, examples = [], [], []
    for index, (instance, group) in enumerate(zip(instances, by_prompt)):
        game = games[instance.env]
        verdicts = [game.verify(instance, s.text) for s in group]
        outcomes.append(
            {
                "id": instance.id,
                "env": instance.env,
                "difficulty": instance.difficulty,
                "n": len(group),
                "c": sum(v.correct for v in verdicts),
                "errors": sum(v.error is not None for v in verdicts),
            }
        )
        maj.append(maj_at_n([v.extracted for v in verdicts], [v.correct for v in verdicts]))
        if index < n_examples:
            examples.append(
                {
                    "id": instance.id,
                    "prompt": prompt_text(game, instance, prompt_style),
                    "completion": group[0].text,
                    "correct": verdicts[0].correct,
                }
            )
    metrics = summarise(
        [o["n"] for o in outcomes],
        [o["c"] for o in outcomes],
        ks,
        maj if not any(g.multiple_solutions for g in games.values()) else None,
    )
    return EvalResult(outcomes=outcomes, metrics=metrics, examples=examples)


def mean_pass(outcomes: Sequence[dict[str, Any]], k: int) -> float:
    return float(np.mean(pass_at_k_array([o["n"] for o in outcomes], [o["c"] for o in outcomes], k)))
