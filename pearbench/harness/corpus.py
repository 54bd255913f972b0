"""Trace corpora for pretraining the default base model and teacher (docs/design.md §1, stage 2 and 3).

The base corpus is broad and noisy: solver traces of the suite's games in the *base* style, a share of them in the
teacher's style (the mismatch knob), and a fraction with a corrupted answer (so the base has a prior but is often
wrong). The teacher corpus is clean solver traces in the teacher's style.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.models.families import encode_prompt, encode_response
from pearbench.verify.answer import ANSWER_CLOSE, ANSWER_OPEN


def corrupt_answer(trace: str, rng: random.Random) -> str:
    """Change one or two characters inside the final ``<answer>...</answer>`` (digit -> other digit, letter -> letter).

    Used to make noisy pretraining traces; the result is almost always a wrong answer in the same format.
    """
    open_ = trace.rfind(ANSWER_OPEN)
    close = trace.rfind(ANSWER_CLOSE)
    if open_ < 0 or close <= open_:
        return trace
    begin = open_ + len(ANSWER_OPEN)
    chars = list(trace)
    positions = [i for i in range(begin, close) if chars[i].isalnum()]
    if not positions:
        return trace
    for position in rng.sample(positions, k=min(len(positions), rng.choice((1, 1, 2)))):
        char = chars[position]
        pool = (
            "0123456789"
            if char.isdigit()
            else ("abcdefghijklmnopqrstuvwxyz" if char.islower() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        )
        chars[position] = rng.choice([c for c in pool if c != char])
    return "".join(chars)


def prompt_text(game: Game, instance: Instance, prompt_style: str) -> str:
    return game.compact_prompt(instance) if prompt_style == "compact" else game.prompt(instance)


def trace_corpus(
    games: dict[str, Game],
    instances: Sequence[Instance],
    tokenizer,
    *,
    size: int,
    style: str,
    other_style: str | None = None,
    other_style_share: float = 0.0,
    noise: float = 0.0,
    prompt_style: str = "compact",
    seed: int = 0,
    chat: bool = False,
    per_env: dict[str, dict[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """``size`` examples (prompt_ids, response_ids, text) drawn with replacement from ``instances``.

    ``per_env`` maps an environment name to its own ``other_style_share`` and ``noise`` (the suite's per-environment
    overrides); without it (or when empty) the corpus is exactly what it was before overrides existed.
    """
    per_env = per_env or {}
    rng = random.Random(f"corpus|{style}|{other_style}|{other_style_share}|{noise}|{seed}")
    solved: dict[tuple[str, str], str] = {}
    out = []
    for _ in range(size):
        instance = instances[rng.randrange(len(instances))]
        game = games[instance.env]
        mix = per_env.get(instance.env, {})
        share = mix.get("other_style_share", other_style_share)
        chosen = other_style if other_style and rng.random() < share else style
        key = (instance.id, chosen)
        if key not in solved:
            solved[key] = game.solve(instance, chosen)
        trace = solved[key]
        env_noise = mix.get("noise", noise)
        if env_noise and rng.random() < env_noise:
            trace = corrupt_answer(trace, rng)
        prompt = prompt_text(game, instance, prompt_style)
        out.append(
            {
                "prompt_ids": encode_prompt(tokenizer, prompt, chat=chat),
                "response_ids": encode_response(tokenizer, trace),
                "env": instance.env,
                "instance_id": instance.id,
            }
        )
    return out
