"""Fabricate realistic, valid result records (schema_version 1) for the results and leaderboard tests.

Outcomes are drawn per problem from a binomial whose success rate combines a method's skill with a fixed per-problem
easiness, so methods differ the way real runs do, deterministically (seeded by a stable hash of the arguments).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pearbench.metrics import bootstrap_ci, pass_at_k_array
from pearbench.results.records import finalize_record, make_run_id

SUITE = "countdown-mix"
PROFILE = "smoke"
HOSTILE_PROMPT = "Use <b>numbers</b> & reach 24 <!-- comment -->"
HOSTILE_COMPLETION = (
    "<script>document.title='PWNED-SCRIPT'</script>"
    "<img src=x onerror=\"document.title='PWNED-IMG'\">"
    "</pre></td></table> <answer>3*8</answer>"
)


def stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def problem_keys(n_problems: int, env: str = "countdown") -> list[tuple[str, str, str]]:
    """(env, id, difficulty) for a fixed test split."""
    levels = ("easy", "medium", "hard")
    return [(env, f"{env}-test-{i:04d}", levels[i % 3]) for i in range(n_problems)]


def fake_outcomes(
    skill: float, *, n: int, problems: Sequence[tuple[str, str, str]], tag: str, error_rate: float = 0.02
) -> list[dict[str, Any]]:
    """Binomial outcomes: success rate sigmoid(logit(skill) + easiness_p) per problem."""
    rng = np.random.default_rng(stable_seed("outcomes", tag))
    outcomes = []
    logit = math.log(skill / (1 - skill))
    for env, problem_id, difficulty in problems:
        easiness = np.random.default_rng(stable_seed("easiness", env, problem_id)).normal(0.0, 1.5)
        rate = 1.0 / (1.0 + math.exp(-(logit + easiness)))
        c = int(rng.binomial(n, rate))
        errors = int(rng.binomial(n - c, error_rate))
        outcomes.append(
            {"id": problem_id, "env": env, "difficulty": difficulty, "n": n, "c": c, "errors": errors}
        )
    return outcomes


def metrics_of(outcomes: Sequence[dict[str, Any]], ks: Sequence[int]) -> dict[str, dict[str, float]]:
    n = [o["n"] for o in outcomes]
    c = [o["c"] for o in outcomes]
    result = {}
    for k in ks:
        value, low, high = bootstrap_ci(pass_at_k_array(n, c, k), n_resamples=200)
        result[f"pass@{k}"] = {"value": value, "low": low, "high": high}
    value, low, high = bootstrap_ci([ci / ni for ni, ci in zip(n, c)], n_resamples=200)
    result["avg@n"] = {"value": value, "low": low, "high": high}
    return result


def make_body(
    *,
    suite: str = SUITE,
    method: str = "sft",
    method_label: str | None = None,
    seed: int = 0,
    profile: str = PROFILE,
    sft_skill: float = 0.3,
    rl_skill: float = 0.4,
    n: int = 8,
    n_problems: int = 30,
    problems: Sequence[tuple[str, str, str]] | None = None,
    reference: bool = False,
    examples: list[dict[str, Any]] | None = None,
    method_recipe_hash: str | None = None,
    rl_recipe_hash: str = "rl-recipe-0001",
    sft_steps_factor: float = 1.0,
) -> dict[str, Any]:
    """A record body as the harness would produce it (no checksum yet)."""
    label = method_label or method
    problems = list(problems) if problems is not None else problem_keys(n_problems)
    ks = [k for k in (1, 2, 4, 8, 16) if k <= n]
    outcomes = {
        stage: fake_outcomes(skill, n=n, problems=problems, tag=f"{suite}|{label}|{seed}|{profile}|{stage}")
        for stage, skill in (("sft", sft_skill), ("rl", rl_skill))
    }
    body: dict[str, Any] = {
        "run_id": make_run_id(suite, label, seed, profile),
        "suite": suite,
        "method": method,
        "method_label": label,
        "sft_steps_factor": sft_steps_factor,
        "seed": seed,
        "profile": profile,
        "config_hashes": {
            key: f"{key}-{seed:04d}" for key in ("tasks", "base", "teacher", "behavior", "sft", "rl", "eval")
        },
        "method_recipe_hash": method_recipe_hash or f"recipe-{method}",
        "rl_recipe_hash": rl_recipe_hash,
        "method_options": {"gamma": 0.999} if method.startswith("pear") else {},
        "packages": {"pearbench": "0.1.0", "torch": "2.13.0", "transformers": "5.19.0"},
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "mismatch": {"mean_log_ratio": -0.05 - 0.01 * seed, "tokens": 12345},
        "sft_diagnostics": None
        if method == "none"
        else {
            "mean_weight": 0.93,
            "ess_fraction": 0.97,
            "delta_clip_fraction": 0.1,
            "log_weight_clip_fraction": 0.0,
            "nll": 0.71,
        },
        "rl_curve": {"step": [0, 50, 100], "reward_mean": [sft_skill, (sft_skill + rl_skill) / 2, rl_skill]},
        "eval": {"n": n, "temperature": 1.0, "max_new_tokens": 128, "ks": ks},
        "outcomes": outcomes,
        "metrics": {stage: metrics_of(outcomes[stage], ks) for stage in ("sft", "rl")},
        "examples": examples
        if examples is not None
        else [
            {
                "id": problems[0][1],
                "stage": "rl",
                "prompt": "Reach 24 with 3 8 1",
                "completion": "<answer>3*8*1</answer>",
                "correct": True,
            }
        ],
        "timings": {"sft": 12.5, "rl": 40.25, "eval": 3.0},
    }
    if reference:
        body["reference"] = {}
        for name, skill in (("base", 0.15), ("teacher", 0.6)):
            ref = fake_outcomes(skill, n=n, problems=problems, tag=f"{suite}|{profile}|reference|{name}")
            body["reference"][name] = {"outcomes": ref, "metrics": metrics_of(ref, ks)}
    return body


def make_record(**kwargs: Any) -> dict[str, Any]:
    """A finalized (checksummed, validated) record; keyword arguments as :func:`make_body`."""
    return finalize_record(make_body(**kwargs))


#: (method, label, sft skill, rl skill, sft_steps_factor) of a small but realistic sweep.
SWEEP = (
    ("sft", "sft", 0.35, 0.42, 1.0),
    ("sft", "sft@3x", 0.45, 0.40, 3.0),
    ("pear-token", "pear-token", 0.33, 0.50, 1.0),
    ("dft", "dft", 0.30, 0.38, 1.0),
    ("none", "none", 0.15, 0.25, 1.0),
)


def sweep_records(seeds: Sequence[int] = (0, 1, 2), **kwargs: Any) -> list[dict[str, Any]]:
    """One record per (method, seed) of :data:`SWEEP`; the first record carries the reference models."""
    records = []
    for method, label, sft_skill, rl_skill, factor in SWEEP:
        for seed in seeds:
            records.append(
                make_record(
                    method=method,
                    method_label=label,
                    seed=seed,
                    sft_skill=sft_skill,
                    rl_skill=rl_skill,
                    sft_steps_factor=factor,
                    reference=not records,
                    **kwargs,
                )
            )
    return records


def lost_problem_records() -> list[dict[str, Any]]:
    """sft and pear-token over 3 seeds of 30 problems; pear-token's seed 2 lost problem #5 (its rows use 29)."""
    problems = problem_keys(30)
    records = [make_record(method="sft", seed=s, sft_skill=0.35, rl_skill=0.45) for s in range(3)]
    for seed in range(3):
        keep = [p for i, p in enumerate(problems) if not (seed == 2 and i == 5)]
        records.append(
            make_record(method="pear-token", seed=seed, sft_skill=0.3, rl_skill=0.55, problems=keep)
        )
    return records


def fake_recipe_hashes(method: str, profile: str) -> tuple[str, str]:
    """The committed-recipe hashes matching :func:`make_body`'s defaults. ``method`` is the record's method label:
    an ``@Fx`` factor changes no recipe (options do: ``pear-token+gamma=0.99`` has its own hash)."""
    return "recipe-" + re.sub(r"@[0-9.]+x", "", method), "rl-recipe-0001"


def render_all_to(results_dir: str, out_dir: str) -> None:
    """Every format and plot of every suite under ``results_dir``, written to ``out_dir`` (for byte-stability checks)."""
    from pathlib import Path

    from pearbench.results.leaderboard import build_leaderboards, render
    from pearbench.results.plots import plot_images
    from pearbench.results.records import load_records

    out = Path(out_dir)
    boards = build_leaderboards(load_records(results_dir), progress=False)
    images = {board.suite: plot_images(board) for board in boards}
    captions = {suite: [(caption, png) for _, caption, png in plots] for suite, plots in images.items()}
    for name in ("md", "csv", "tex", "html"):
        (out / f"board.{name}").write_text(render(boards, name, images=captions), encoding="utf-8")
    for suite, plots in images.items():
        for suffix, _, png in plots:
            (out / f"{suite}_{suffix}.png").write_bytes(png)
