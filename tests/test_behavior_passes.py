"""The behavior stage's sampling passes (harness.behavior.sample_verified): three passes over the training prompts, then more
while the yield stays at least min_yield, so that min_yield (not a fixed pass count) decides whether a teacher is good
enough; a teacher that reaches sft_examples within three passes samples exactly as before."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

from pearbench.harness.behavior import behavior_passes, sample_verified
from pearbench.harness.config import BehaviorConfig
from pearbench.hashing import hash_seed


@dataclass
class _Sample:
    prompt_index: int
    text: str
    response_ids: list[int]
    logprobs: list[float]
    finish_reason: str = "eos"


@dataclass(frozen=True)
class _Instance:
    id: str
    env: str = "toy"


class _Teacher:
    """Verifies a sample with probability ``rate``, drawn from the call's seed; records every call's seed."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.seeds: list[int] = []

    def generate(self, prompts, n, config, seed):
        self.seeds.append(seed)
        rng = random.Random(seed)
        return [
            _Sample(i, "ok" if rng.random() < self.rate else "no", [5, 2], [-0.1, -0.2])
            for i in range(len(prompts))
        ]


def _run(rate: float, *, train: int = 100, examples: int = 60, min_yield: float = 0.1, batch: int = 32):
    cfg = BehaviorConfig(sft_examples=examples, min_yield=min_yield, batch_size=batch)
    instances = [_Instance(f"t{i}") for i in range(train)]
    order = np.random.default_rng([0, 11]).permutation(train)
    teacher = _Teacher(rate)
    rows, sampled, passes = sample_verified(
        teacher,
        instances,
        order,
        cfg,
        None,
        lambda inst: [7, int(inst.id[1:])],
        lambda inst, text: text == "ok",
        seed=0,
    )
    return rows, sampled, passes, teacher


@pytest.mark.parametrize(
    ("examples", "train", "min_yield", "expected"),
    [
        (2000, 3000, 0.1, 7),
        (2000, 3000, 0.5, 3),
        (100, 3000, 0.1, 3),
        (2000, 3000, 0.0, 3),
        (10**6, 10, 0.1, 100),
    ],
)
def test_pass_budget(examples, train, min_yield, expected):
    assert behavior_passes(examples, train, min_yield) == expected
    if 0 < min_yield and expected < 100:  # a teacher of exactly min_yield gets its traces within the budget
        assert expected * train * min_yield >= examples or expected == 3


def test_a_good_teacher_stops_as_soon_as_it_has_its_traces():
    rows, sampled, passes, teacher = _run(0.9)
    assert len(rows) == 60 and passes == 1
    assert sampled == 32 * len(teacher.seeds) < 100  # stopped within the first pass
    assert (
        teacher.seeds == [hash_seed(0, 0, b) for b in (0, 32, 64)][: len(teacher.seeds)]
    )  # the stage's seeds


def test_a_teacher_between_min_yield_and_three_passes_samples_on():
    # yield ~0.15: three passes over 100 prompts give ~45 of 60 traces, a fourth and fifth reach 60
    rows, sampled, passes, teacher = _run(0.15)
    assert len(rows) == 60
    assert passes > 3
    assert len(rows) / sampled >= 0.1
    assert teacher.seeds[: 4 * 3] == [hash_seed(0, a, b) for a in range(4) for b in (0, 32, 64, 96)][:12]


def test_a_teacher_below_min_yield_stops_after_three_passes():
    rows, sampled, passes, _ = _run(0.05)
    assert passes == 3 and sampled == 300
    assert len(rows) < 60


def test_the_pass_budget_is_the_hard_stop():
    # yield 0.5 over 4 prompts: 2 traces a pass, never 10**4; it stops at the 100-pass cap, short of its traces
    rows, sampled, passes, _ = _run(0.5, train=4, examples=10**4, min_yield=0.1, batch=4)
    assert passes == behavior_passes(10**4, 4, 0.1) == 100
    assert sampled == 400 and len(rows) < 10**4
